//! The resolution chart ([`SceneSource::Chart`](super::SceneSource::Chart), `obscura synth
//! --scene chart`): detail finer than the sensor, for measuring super-resolution and
//! aliasing against the scaled ground truth ([`super::SynthParams::truth_scale`]).
//!
//! All sizes are in reference-frame pixels (one sensor pixel; a pixel of the 2x truth is half
//! of one). [`ChartLayout::new`] places, for a frame of at least 320 x 240 (a smaller frame
//! shows the top-left part of the 320 x 240 layout):
//! - on the left, a **Siemens star** of [`STAR_SPOKES`] black/white spoke pairs above a
//!   **zone plate** `0.465 + 0.435 cos(k r^2)` whose frequency rises linearly from 0 at the
//!   centre to [`ZONE_MAX_FREQUENCY`] (0.8) cycles per pixel at its rim, both of radius
//!   `min(0.2 h, 0.19 w)`. A light/dark pair of spokes spans 2 px (the sensor's Nyquist
//!   period) at radius `64 / pi = 20` px and 1 px (the 2x truth's) at 10 px; the zone plate
//!   passes the sensor's Nyquist frequency (0.5) at 5/8 of its radius;
//! - on the right, from the top: 18 **bar groups** of [`GROUP`] x [`GROUP`] px, 6 px apart
//!   ([`ChartLayout::bars`], [`chart_bars`]): a row of vertical and a row of horizontal
//!   black/white bars at the periods of [`BAR_PERIODS`] (1.25 to 3 px per bar pair, i.e.
//!   2.5 to 6 pixels of the 2x truth), then a row of colour bars, red/cyan and blue/yellow
//!   pairs of roughly equal luminance (so they measure chroma aliasing) at 2 and 3 px. Each
//!   group starts with a light bar at its left (top) edge, on the pixel grid, so frame 0
//!   sees the 2 px bars in phase with its pixels; moved frames see other phases;
//! - then five lines of **text** in a 5 x 7 bitmap font drawn at 1, 1.5 and 2 px per font
//!   pixel, black on white labels ([`ChartLayout::text`]) that start half a pixel off the
//!   grid, so that the sensor blurs the glyphs' edges where the 2x truth keeps them sharp;
//! - then 12 flat **patches** (six greys from 0.03 to 0.9 and six colours) of at most 24 px
//!   ([`ChartLayout::patches`]).
//!
//! Black is 0.03 and white 0.9 (linear sRGB). The background is mid-grey (0.16 to 0.21, a
//! bilinear gradient between the corners) modulated by the procedural scene's fine texture
//! at strength 0.2, so that every 32 x 32 window has structure for alignment: the patches are
//! smaller than 32 px and the bar groups, whose bars vanish or alias in a 2x-downsampled
//! image, are 28 px with textured gaps. The chart's own elements are untextured and
//! point-sampled, so their edges are sharp and the renderer's supersampling integrates them.

use super::shapes::{self, Primitive};
use crate::image::Rect;

/// Spoke pairs of the Siemens star.
pub const STAR_SPOKES: u32 = 64;
/// Frequency of the zone plate at its rim in cycles per pixel (the sensor's Nyquist
/// frequency is 0.5, the 2x truth's 1.0).
pub const ZONE_MAX_FREQUENCY: f64 = 0.8;
/// Periods of the black/white bar groups in pixels per light/dark pair, in layout order.
pub const BAR_PERIODS: [f64; 6] = [1.25, 1.5, 1.75, 2.0, 2.5, 3.0];
/// Side of a bar group in pixels.
pub const GROUP: usize = 28;
/// Gap between bar groups in pixels (textured background).
const GROUP_GAP: usize = 6;
/// Margin to the frame's edges in pixels.
const MARGIN: usize = 8;
/// Vertical space between text lines in pixels.
const LINE_GAP: usize = 3;
/// The text lines: font pixels per scene pixel, text.
const TEXT: [(f64, &str); 5] = [
    (1.0, "OBSCURA 0123456789"),
    (1.0, "THE QUICK BROWN FOX"),
    (1.5, "OBSCURA 0123456789"),
    (2.0, "OBSCURA"),
    (2.0, "0123456789"),
];

/// Linear sRGB black and white of the chart.
pub const BLACK: f64 = 0.03;
/// See [`BLACK`].
pub const WHITE: f64 = 0.9;
/// Red and cyan of the colour bars (luminance 0.27 and 0.25).
pub const RED_CYAN: [[f64; 3]; 2] = [[0.9, 0.1, 0.1], [0.05, 0.3, 0.3]];
/// Blue and yellow of the colour bars (luminance 0.19 and 0.22).
pub const BLUE_YELLOW: [[f64; 3]; 2] = [[0.1, 0.15, 0.9], [0.3, 0.22, 0.02]];
/// Colours of the flat patches: six greys, then red, green, blue, cyan, magenta, yellow.
const PATCHES: [[f64; 3]; 12] = [
    [0.03; 3],
    [0.07; 3],
    [0.15; 3],
    [0.3; 3],
    [0.55; 3],
    [0.9; 3],
    [0.45, 0.04, 0.04],
    [0.05, 0.35, 0.06],
    [0.05, 0.06, 0.45],
    [0.05, 0.35, 0.4],
    [0.4, 0.05, 0.35],
    [0.6, 0.5, 0.04],
];

/// Background colours at the frame's corners (top-left, top-right, bottom-left,
/// bottom-right): greys with a slight tint.
pub(super) const BACKGROUND_CORNERS: [[f64; 3]; 4] = [
    [0.19, 0.18, 0.17],
    [0.16, 0.17, 0.19],
    [0.17, 0.18, 0.18],
    [0.21, 0.2, 0.18],
];
/// Texture strength of the background.
pub(super) const BACKGROUND_TEXTURE: f64 = 0.2;

/// One group of bars on the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct BarGroup {
    /// The group's square in reference pixels.
    pub rect: Rect,
    /// Length of one light/dark pair in pixels (the bars are half as wide).
    pub period: f64,
    /// Vertical bars (the colour changes along x) or horizontal ones (along y).
    pub vertical: bool,
    /// Linear sRGB of the first bar of each pair (at the left or top edge of `rect`) and of
    /// the second.
    pub colors: [[f64; 3]; 2],
}

/// One line of text on the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct TextLine {
    /// Top-left corner of the white label in reference pixels (half a pixel off the grid).
    pub origin: [f64; 2],
    /// Width and height of the label in pixels.
    pub size: [f64; 2],
    /// Pixels per font pixel (1 to 2).
    pub scale: f64,
    /// The text.
    pub text: &'static str,
}

/// One flat patch of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatPatch {
    /// The patch in reference pixels.
    pub rect: Rect,
    /// Its linear sRGB colour.
    pub rgb: [f64; 3],
}

/// Where everything is on the resolution chart of one frame size (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct ChartLayout {
    /// Centre of the Siemens star.
    pub star_centre: [f64; 2],
    /// Centre of the zone plate.
    pub zone_centre: [f64; 2],
    /// Radius of the star and of the zone plate in pixels.
    pub radius: f64,
    /// The bar groups: vertical black/white at [`BAR_PERIODS`], horizontal black/white at the
    /// same periods, then the colour groups.
    pub bars: Vec<BarGroup>,
    /// The text lines, top first.
    pub text: Vec<TextLine>,
    /// The flat patches.
    pub patches: Vec<FlatPatch>,
}

/// The bar groups of the chart for a `width` x `height` frame ([`ChartLayout::bars`]).
pub fn chart_bars(width: usize, height: usize) -> Vec<BarGroup> {
    ChartLayout::new(width, height).bars
}

impl ChartLayout {
    /// The layout for a `width` x `height` reference frame.
    pub fn new(width: usize, height: usize) -> ChartLayout {
        let (w, h) = (width.max(320), height.max(240));
        let radius = (0.2 * h as f64).min(0.19 * w as f64).floor();
        let r = radius as usize;
        // Left column: star above zone plate, equal space above, between and below.
        let v_gap = (h - 4 * r) / 3;
        let cx = (MARGIN + r) as f64;
        let star_centre = [cx, (v_gap + r) as f64];
        let zone_centre = [cx, (2 * v_gap + 3 * r) as f64];

        // Right column: bars, text and patches stacked, each centred horizontally.
        let left = 2 * (MARGIN + r);
        let right_w = w - MARGIN - left;
        let m = w.min(h) as f64;
        let patch = ((0.04 * m).round() as usize).clamp(16, 24);
        let patch_gap = patch / 4;
        let bars_size = [6 * GROUP + 5 * GROUP_GAP, 3 * GROUP + 2 * GROUP_GAP];
        let line_h: Vec<usize> = TEXT
            .iter()
            .map(|(scale, _)| (shapes::label_size(0)[1] as f64 * scale).ceil() as usize)
            .collect();
        let text_size = [
            TEXT.iter()
                .map(|(scale, t)| (shapes::label_size(t.len())[0] as f64 * scale).ceil() as usize)
                .max()
                .unwrap_or(0),
            line_h.iter().sum::<usize>() + LINE_GAP * (TEXT.len() - 1),
        ];
        let patches_size = [6 * patch + 5 * patch_gap, 2 * patch + patch_gap];
        let blocks = [bars_size, text_size, patches_size];
        let used: usize = blocks.iter().map(|b| b[1]).sum();
        let gap = h.saturating_sub(used) / (blocks.len() + 1);
        let mut y = gap;
        let mut origins = [[0usize; 2]; 3];
        for (origin, size) in origins.iter_mut().zip(blocks) {
            *origin = [left + right_w.saturating_sub(size[0]) / 2, y];
            y += size[1] + gap;
        }

        let [bx, by] = origins[0];
        let group = |col: usize, row: usize, period: f64, vertical: bool, colors| BarGroup {
            rect: Rect::new(
                bx + col * (GROUP + GROUP_GAP),
                by + row * (GROUP + GROUP_GAP),
                GROUP,
                GROUP,
            ),
            period,
            vertical,
            colors,
        };
        let mono = [[WHITE; 3], [BLACK; 3]];
        let mut bars = Vec::with_capacity(18);
        for (row, vertical) in [(0, true), (1, false)] {
            for (col, &period) in BAR_PERIODS.iter().enumerate() {
                bars.push(group(col, row, period, vertical, mono));
            }
        }
        for (col, (period, vertical, colors)) in [
            (2.0, true, RED_CYAN),
            (3.0, true, RED_CYAN),
            (2.0, true, BLUE_YELLOW),
            (3.0, true, BLUE_YELLOW),
            (2.0, false, RED_CYAN),
            (2.0, false, BLUE_YELLOW),
        ]
        .into_iter()
        .enumerate()
        {
            bars.push(group(col, 2, period, vertical, colors));
        }

        let [tx, mut ty] = origins[1];
        let text = TEXT
            .iter()
            .zip(&line_h)
            .map(|(&(scale, text), &lh)| {
                let [lw, lh_font] = shapes::label_size(text.len());
                let line = TextLine {
                    origin: [tx as f64 + 0.5, ty as f64 + 0.5],
                    size: [lw as f64 * scale, lh_font as f64 * scale],
                    scale,
                    text,
                };
                ty += lh + LINE_GAP;
                line
            })
            .collect();

        let [px, py] = origins[2];
        let patches = PATCHES
            .iter()
            .enumerate()
            .map(|(i, &rgb)| FlatPatch {
                rect: Rect::new(
                    px + (i % 6) * (patch + patch_gap),
                    py + (i / 6) * (patch + patch_gap),
                    patch,
                    patch,
                ),
                rgb,
            })
            .collect();

        ChartLayout {
            star_centre,
            zone_centre,
            radius,
            bars,
            text,
            patches,
        }
    }

    /// The chart as scene primitives.
    pub(super) fn primitives(&self) -> Vec<Primitive> {
        let r2 = self.radius * self.radius;
        let rect = |r: &Rect| {
            [
                r.x as f64,
                r.y as f64,
                (r.x + r.width) as f64,
                (r.y + r.height) as f64,
            ]
        };
        let mut out = vec![
            Primitive::Star {
                c: self.star_centre,
                r2,
                spokes: STAR_SPOKES,
                tones: [WHITE, BLACK],
                texture: 0.0,
            },
            // Local frequency k r / pi reaches ZONE_MAX_FREQUENCY at the rim.
            Primitive::ZonePlate {
                c: self.zone_centre,
                r2,
                k: std::f64::consts::PI * ZONE_MAX_FREQUENCY / self.radius,
            },
        ];
        out.extend(self.bars.iter().map(|b| Primitive::Bars {
            rect: rect(&b.rect),
            period: b.period,
            vertical: b.vertical,
            colors: b.colors,
        }));
        out.extend(self.text.iter().map(|t| Primitive::Text {
            origin: t.origin,
            scale: t.scale,
            text: t.text,
            ink: [BLACK; 3],
            paper: [WHITE; 3],
        }));
        out.extend(self.patches.iter().map(|p| {
            let [x0, y0, x1, y1] = rect(&p.rect);
            Primitive::Rect {
                c: [(x0 + x1) / 2.0, (y0 + y1) / 2.0],
                half: [(x1 - x0) / 2.0, (y1 - y0) / 2.0],
                cs: [1.0, 0.0],
                rgb: p.rgb,
                texture: 0.0,
            }
        }));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::Scene;

    /// Bounding boxes `[x0, y0, x1, y1]` of every element of the layout.
    fn boxes(l: &ChartLayout) -> Vec<(String, [f64; 4])> {
        let mut out = Vec::new();
        for (name, c) in [("star", l.star_centre), ("zone plate", l.zone_centre)] {
            let r = l.radius;
            out.push((name.to_string(), [c[0] - r, c[1] - r, c[0] + r, c[1] + r]));
        }
        let rect = |r: &Rect| {
            [
                r.x as f64,
                r.y as f64,
                (r.x + r.width) as f64,
                (r.y + r.height) as f64,
            ]
        };
        for b in &l.bars {
            out.push((format!("bars {} {}", b.period, b.vertical), rect(&b.rect)));
        }
        for t in &l.text {
            let [x, y] = t.origin;
            out.push((t.text.to_string(), [x, y, x + t.size[0], y + t.size[1]]));
        }
        for p in &l.patches {
            out.push((format!("patch {:?}", p.rgb), rect(&p.rect)));
        }
        out
    }

    #[test]
    fn layout_fits_without_overlap() {
        for (w, h) in [
            (320, 240),
            (384, 256),
            (512, 512),
            (480, 640),
            (640, 480),
            (1920, 1080),
            (4000, 3000),
        ] {
            let l = ChartLayout::new(w, h);
            assert_eq!(l.bars.len(), 18);
            assert!(l.radius >= 48.0, "{w}x{h}: radius {}", l.radius);
            let b = boxes(&l);
            for (i, (name, r)) in b.iter().enumerate() {
                assert!(
                    r[0] >= 4.0 && r[1] >= 4.0 && r[2] <= w as f64 - 4.0 && r[3] <= h as f64 - 4.0,
                    "{w}x{h}: {name} {r:?} leaves the frame"
                );
                for (other, s) in &b[i + 1..] {
                    let apart = r[2] <= s[0] || s[2] <= r[0] || r[3] <= s[1] || s[3] <= r[1];
                    assert!(apart, "{w}x{h}: {name} {r:?} overlaps {other} {s:?}");
                }
            }
        }
    }

    #[test]
    fn bars_cover_the_periods_and_colours() {
        let bars = chart_bars(640, 480);
        for vertical in [true, false] {
            let periods: Vec<f64> = bars
                .iter()
                .filter(|b| b.vertical == vertical && b.colors[0] == [WHITE; 3])
                .map(|b| b.period)
                .collect();
            assert_eq!(periods, BAR_PERIODS);
        }
        for colors in [RED_CYAN, BLUE_YELLOW] {
            for period in [2.0, 3.0] {
                assert!(
                    bars.iter()
                        .any(|b| b.colors == colors && b.period == period && b.vertical)
                );
            }
        }
        assert!(
            bars.iter()
                .all(|b| b.rect.width >= 24 && b.rect.height >= 24)
        );
    }

    #[test]
    fn scene_draws_the_layout() {
        let l = ChartLayout::new(640, 480);
        let s = Scene::chart(640, 480, 1);
        // The first bar of a group is white, the second black, at their centres.
        let b = &l.bars[0];
        let (x, y) = (b.rect.x as f64, b.rect.y as f64 + 10.0);
        assert_eq!(s.sample(x + 0.3, y), [WHITE as f32; 3]);
        assert_eq!(s.sample(x + 0.9, y), [BLACK as f32; 3]);
        let h = &l.bars[6];
        assert!(!h.vertical);
        let (x, y) = (h.rect.x as f64 + 10.0, h.rect.y as f64);
        assert_eq!(s.sample(x, y + 0.3), [WHITE as f32; 3]);
        assert_eq!(s.sample(x, y + 0.9), [BLACK as f32; 3]);
        // Patches are flat.
        let p = &l.patches[7];
        let at = |dx: f64, dy: f64| s.sample(p.rect.x as f64 + dx, p.rect.y as f64 + dy);
        assert_eq!(at(0.1, 0.1), at(15.9, 15.9));
        assert_eq!(at(8.0, 8.0), p.rgb.map(|v| v as f32));
        // The zone plate is white at its centre, the star alternates around its rim.
        assert_eq!(s.sample(l.zone_centre[0], l.zone_centre[1]), [0.9; 3]);
        let [cx, cy] = l.star_centre;
        let r = 0.9 * l.radius;
        let step = std::f64::consts::PI / f64::from(STAR_SPOKES);
        let tone = |k: f64| {
            s.sample(
                cx + r * ((k + 0.5) * step).cos(),
                cy + r * ((k + 0.5) * step).sin(),
            )
        };
        assert_eq!(tone(0.0), [WHITE as f32; 3]);
        assert_eq!(tone(1.0), [BLACK as f32; 3]);
    }

    #[test]
    fn every_32x32_window_has_structure() {
        // Green at pixel centres in windows 16 px apart over a 640x480 frame: relative
        // standard deviation of each window (flat ones would be ~0).
        let s = Scene::chart(640, 480, 1);
        let g: Vec<f64> = (0..640 * 480)
            .map(|i| f64::from(s.sample((i % 640) as f64 + 0.5, (i / 640) as f64 + 0.5)[1]))
            .collect();
        let mut weakest = (f64::INFINITY, 0, 0);
        for wy in (0..=448).step_by(16) {
            for wx in (0..=608).step_by(16) {
                let vals = (0..1024).map(|k| g[(wy + k / 32) * 640 + wx + k % 32]);
                let (n, sum, sum2) = vals.fold((0.0, 0.0, 0.0), |(n, s, s2), v| {
                    (n + 1.0, s + v, s2 + v * v)
                });
                let mean: f64 = sum / n;
                let sd = (sum2 / n - mean * mean).max(0.0).sqrt();
                let rel = sd / mean;
                if rel < weakest.0 {
                    weakest = (rel, wx, wy);
                }
            }
        }
        assert!(weakest.0 > 0.05, "weakest window {weakest:?}");
    }
}
