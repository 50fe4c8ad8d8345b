//! Drawing the diagnostic pictures: previews of raw frames, alignment arrows, weight maps,
//! the noise plot and the reference-choice chart (lines, arrows, rectangles and text; text in
//! DejaVu Sans, embedded by the `dejavu` crate, rasterised by `ab_glyph`).
//!
//! # Implementation notes
//! The three primitives (a filled rectangle, a Bresenham segment, anti-aliased text) are
//! written here rather than taken from `imageproc`, which brought about 35 crates (nalgebra,
//! rand, num, ...) into every build of the library for them. They follow `imageproc` 0.27's
//! `draw_filled_rect_mut`, `draw_line_segment_mut` and `draw_text_mut` pixel for pixel.

use ab_glyph::{Font, FontRef, GlyphId, OutlinedGlyph, PxScale, ScaleFont, point};
use image::{Rgb, RgbImage};

use crate::align::Alignment;
use crate::demosaic::{Demosaic, demosaic};
use crate::image::{Plane, Rect};
use crate::merge::WeightMap;
use crate::merge::noise::FrameNoise;
use crate::raw::RawFrame;

/// The embedded font (DejaVu Sans).
fn font() -> FontRef<'static> {
    // the crate's bytes are a valid TrueType font; a failure would be a packaging error
    FontRef::try_from_slice(dejavu::sans::regular()).expect("the embedded DejaVu font parses")
}

/// Text size in pixels for labels.
const TEXT: f32 = 14.0;

/// Lays `s` out on one line `size` pixels high, its top at 0, handing each visible glyph to
/// `f`; returns the width and height of the line.
fn layout(size: f32, s: &str, mut f: impl FnMut(OutlinedGlyph)) -> (i32, i32) {
    if s.is_empty() {
        return (0, 0);
    }
    let font = font();
    let scale = PxScale::from(size);
    let font = font.as_scaled(scale);
    let mut w = 0.0;
    let mut prev: Option<GlyphId> = None;
    for c in s.chars() {
        let id = font.glyph_id(c);
        let glyph = id.with_scale_and_position(scale, point(w, font.ascent()));
        w += font.h_advance(id);
        if let Some(g) = font.outline_glyph(glyph) {
            if let Some(prev) = prev {
                w += font.kern(id, prev);
            }
            prev = Some(id);
            f(g);
        }
    }
    (
        1 + w.ceil().max(0.0) as i32,
        font.height().ceil().max(0.0) as i32,
    )
}

/// `text` at (x, y) (top-left) in `color`, `size` pixels high, blended by glyph coverage.
pub(crate) fn text(img: &mut RgbImage, x: i32, y: i32, size: f32, color: [u8; 3], s: &str) {
    let (w, h) = (img.width() as i32, img.height() as i32);
    layout(size, s, |g| {
        let bb = g.px_bounds();
        let (x0, y0) = (x + bb.min.x.round() as i32, y + bb.min.y.round() as i32);
        g.draw(|gx, gy, cover| {
            let (px, py) = (gx as i32 + x0, gy as i32 + y0);
            if (0..w).contains(&px) && (0..h).contains(&py) {
                let cover = cover.clamp(0.0, 1.0);
                let p = img.get_pixel_mut(px as u32, py as u32);
                for (v, c) in p.0.iter_mut().zip(color) {
                    let mixed = f32::from(*v) * (1.0 - cover) + f32::from(c) * cover;
                    // truncated, as imageproc's weighted sum does
                    *v = mixed.clamp(0.0, 255.0) as u8;
                }
            }
        });
    });
}

/// Width and height of `s` drawn `size` pixels high.
fn text_extent(size: f32, s: &str) -> (i32, i32) {
    layout(size, s, |_| {})
}

/// `s` on a dark box at (x, y), legible over any picture.
pub(crate) fn label(img: &mut RgbImage, x: i32, y: i32, s: &str) {
    let (w, h) = text_extent(TEXT, s);
    fill(img, x, y, w + 8, h + 8, [0, 0, 0]);
    text(img, x + 4, y + 3, TEXT, [255, 255, 255], s);
}

/// A filled rectangle (clipped to the image; nothing for an empty one).
pub(crate) fn fill(img: &mut RgbImage, x: i32, y: i32, w: i32, h: i32, color: [u8; 3]) {
    let (iw, ih) = (img.width() as i32, img.height() as i32);
    let (x0, y0) = (x.max(0), y.max(0));
    let (x1, y1) = (x.saturating_add(w).min(iw), y.saturating_add(h).min(ih));
    for py in y0..y1 {
        for px in x0..x1 {
            img.put_pixel(px as u32, py as u32, Rgb(color));
        }
    }
}

/// A one-pixel segment from `a` to `b` (Bresenham on the truncated end points, clipped to the
/// image).
fn segment(img: &mut RgbImage, a: (f32, f32), b: (f32, f32), color: [u8; 3]) {
    let ((mut x0, mut y0), (mut x1, mut y1)) = (a, b);
    let steep = (y1 - y0).abs() > (x1 - x0).abs();
    if steep {
        std::mem::swap(&mut x0, &mut y0);
        std::mem::swap(&mut x1, &mut y1);
    }
    if x0 > x1 {
        std::mem::swap(&mut x0, &mut x1);
        std::mem::swap(&mut y0, &mut y1);
    }
    let (dx, dy) = (x1 - x0, (y1 - y0).abs());
    let step = if y0 < y1 { 1 } else { -1 };
    let (mut x, mut y, end) = (x0 as i32, y0 as i32, x1 as i32);
    let mut error = dx / 2.0;
    let (w, h) = (img.width() as i32, img.height() as i32);
    while x <= end {
        let (px, py) = if steep { (y, x) } else { (x, y) };
        if (0..w).contains(&px) && (0..h).contains(&py) {
            img.put_pixel(px as u32, py as u32, Rgb(color));
        }
        x += 1;
        error -= dy;
        if error < 0.0 {
            y += step;
            error += dx;
        }
    }
}

/// A line `width` pixels wide (parallel Bresenham lines).
fn line(img: &mut RgbImage, a: (f32, f32), b: (f32, f32), width: usize, color: [u8; 3]) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt().max(1e-6);
    // offsets across the line, centred
    let (nx, ny) = (-dy / len, dx / len);
    for k in 0..width {
        let o = k as f32 - (width as f32 - 1.0) / 2.0;
        segment(
            img,
            (a.0 + o * nx, a.1 + o * ny),
            (b.0 + o * nx, b.1 + o * ny),
            color,
        );
    }
}

/// An arrow from `a` to `b` with a head of `head` pixels.
fn arrow(img: &mut RgbImage, a: (f32, f32), b: (f32, f32), head: f32, color: [u8; 3]) {
    line(img, a, b, 2, color);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt();
    if len < 1.0 {
        return;
    }
    let (ux, uy) = (dx / len, dy / len);
    let h = head.min(0.6 * len);
    // the two barbs at +-30 degrees from the reversed direction
    let (c, s) = (0.866f32, 0.5f32);
    for sign in [-1.0f32, 1.0] {
        let (bx, by) = (-ux * c - sign * uy * s, -uy * c + sign * ux * s);
        line(img, b, (b.0 + h * bx, b.1 + h * by), 2, color);
    }
}

/// Green (0) through yellow (0.5) to red (1).
pub(crate) fn traffic(t: f32) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0);
    let (r, g) = if t < 0.5 {
        (2.0 * t, 1.0)
    } else {
        (1.0, 2.0 - 2.0 * t)
    };
    [(r * 230.0) as u8 + 25, (g * 200.0) as u8 + 25, 40]
}

/// The sRGB transfer curve, 0..1 linear to 0..255.
fn srgb8(v: f32) -> u8 {
    (crate::color::srgb_encode(v) * 255.0 + 0.5) as u8
}

/// A raw frame seen in grey at half resolution: each 2x2 quad of the area's mosaic averaged
/// (linear RGB frames: the mean of the three planes at each pixel, subsampled by 2).
pub(crate) fn grey_half(frame: &RawFrame, area: Rect) -> Plane<f32> {
    let Some(p) = &frame.rgb else {
        return crate::align::pyramid::bayer_to_grey(&frame.mosaic, area, 1.0, f32::INFINITY);
    };
    let (w, h) = (area.width / 2, area.height / 2);
    let mut g = Plane::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let (bx, by) = (area.x + 2 * x, area.y + 2 * y);
            g.data[y * w + x] = (p[0].get(bx, by) + p[1].get(bx, by) + p[2].get(bx, by)) / 3.0;
        }
    }
    g
}

/// The value below which `share` of `data` lies (0 for none).
pub(crate) fn percentile(data: &[f32], share: f32) -> f32 {
    let mut v: Vec<f32> = data.iter().copied().filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    let k = ((v.len() - 1) as f32 * share) as usize;
    let (_, x, _) = v.select_nth_unstable_by(k, f32::total_cmp);
    *x
}

/// Bilinear sample of `p` at (x, y) (pixel centres at integers), clamped to its edges.
fn sample(p: &Plane<f32>, x: f32, y: f32) -> f32 {
    let x = x.clamp(0.0, (p.width - 1) as f32);
    let y = y.clamp(0.0, (p.height - 1) as f32);
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(p.width - 1), (y0 + 1).min(p.height - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let top = p.get(x0, y0) * (1.0 - fx) + p.get(x1, y0) * fx;
    let bottom = p.get(x0, y1) * (1.0 - fx) + p.get(x1, y1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// The half-resolution grey `g` at `size` (scale `s` from full-resolution pixels), times
/// `gain`, sRGB-encoded, then multiplied by `dim` (1: as is; 0.5: dimmed under overlays).
pub(crate) fn preview(g: &Plane<f32>, size: (u32, u32), s: f32, gain: f32, dim: f32) -> RgbImage {
    RgbImage::from_fn(size.0, size.1, |x, y| {
        // preview pixel centre -> full-resolution -> half-resolution pixel centres
        let fx = (x as f32 + 0.5) / s / 2.0 - 0.5;
        let fy = (y as f32 + 0.5) / s / 2.0 - 0.5;
        let v = (f32::from(srgb8(gain * sample(g, fx, fy))) * dim) as u8;
        Rgb([v, v, v])
    })
}

/// The alignment field over the dimmed reference `base` (scale `s` from full-resolution
/// pixels): one arrow per tile, `magnify` times its displacement, coloured by the share of
/// unreliable tiles among it and its eight neighbours ([`traffic`]); every `every`-th tile
/// per axis when tiles are closer than a legible arrow.
pub(crate) fn alignment_arrows(base: &RgbImage, al: &Alignment, s: f32, magnify: f32) -> RgbImage {
    let mut img = base.clone();
    let bad = al.unreliable();
    let (nx, ny) = (al.tiles_x, al.tiles_y);
    let spacing = al.tile_step as f32 * s;
    let every = arrow_every(spacing);
    for i in (0..ny).step_by(every) {
        for j in (0..nx).step_by(every) {
            let (mut n, mut b) = (0usize, 0usize);
            for ii in i.saturating_sub(1)..(i + 2).min(ny) {
                for jj in j.saturating_sub(1)..(j + 2).min(nx) {
                    n += 1;
                    b += usize::from(bad[ii * nx + jj]);
                }
            }
            let color = traffic(b as f32 / n.max(1) as f32);
            let c = al.tile_centre(i, j);
            let d = al.field[i * nx + j];
            let a = (c[0] * s, c[1] * s);
            let e = (a.0 + d[0] * magnify * s, a.1 + d[1] * magnify * s);
            fill(&mut img, a.0 as i32 - 1, a.1 as i32 - 1, 3, 3, color);
            arrow(
                &mut img,
                a,
                e,
                (0.35 * spacing * every as f32).clamp(3.0, 8.0),
                color,
            );
        }
    }
    img
}

/// Arrows are drawn for every this many tiles per axis, so that they stand at least 24
/// preview pixels apart (`spacing`: the tiles' distance in preview pixels).
pub(crate) fn arrow_every(spacing: f32) -> usize {
    ((24.0 / spacing.max(1e-3)).ceil() as usize).max(1)
}

/// The magnification that makes the field's larger displacements about 80% of the arrow
/// spacing (`spacing` preview pixels at scale `s`): 1, 2 or 5 times a power of ten, at
/// least 1.
pub(crate) fn arrow_magnification(al: &Alignment, spacing: f32, s: f32) -> f32 {
    let len: Vec<f32> = al
        .field
        .iter()
        .map(|d| (d[0] * d[0] + d[1] * d[1]).sqrt())
        .collect();
    let big = percentile(&len, 0.95) * s;
    if big <= 0.0 {
        return 1.0;
    }
    let want = (0.8 * spacing / big).max(1.0);
    let p = 10f32.powf(want.log10().floor());
    let m = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|k| k * p)
        .take_while(|&m| m <= want)
        .last()
        .unwrap_or(p);
    m.max(1.0)
}

/// A weight map at `size` (scale `s` from the merge area's photosites), each preview pixel
/// the weight of the nearest cell, as grey (black 0: rejected; white 1: averaged in).
pub(crate) fn weight_map(m: &WeightMap, size: (u32, u32), s: f32) -> RgbImage {
    let w = &m.weights;
    RgbImage::from_fn(size.0, size.1, |x, y| {
        let cell = |p: u32, n: usize| {
            let f = (p as f32 + 0.5) / s;
            (((f - m.first) / m.step).round().max(0.0) as usize).min(n.saturating_sub(1))
        };
        let v = w.get(cell(x, w.width), cell(y, w.height));
        let g = (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
        Rgb([g, g, g])
    })
}

/// The mask of recovered highlights at `size` (scale `s`, area `area`): white where a
/// photosite of the reference that clipped was recovered from a shorter frame, grey where
/// the reference clipped and nothing recovered it, black elsewhere.
pub(crate) fn highlight_mask(
    clipped: &[[usize; 2]],
    recovered: &[[usize; 2]],
    area: Rect,
    size: (u32, u32),
    s: f32,
) -> RgbImage {
    let mut img = RgbImage::new(size.0, size.1);
    let at = |p: &[usize; 2]| {
        let x = ((p[0] - area.x) as f32 * s) as u32;
        let y = ((p[1] - area.y) as f32 * s) as u32;
        (x.min(size.0 - 1), y.min(size.1 - 1))
    };
    // a photosite covers s x s preview pixels when enlarged
    let reach = s.ceil().max(1.0) as u32;
    let mut paint = |p: &[usize; 2], v: u8| {
        let (x, y) = at(p);
        for yy in y..(y + reach).min(size.1) {
            for xx in x..(x + reach).min(size.0) {
                let px = img.get_pixel_mut(xx, yy);
                px.0 = [px.0[0].max(v); 3];
            }
        }
    };
    for p in clipped {
        paint(p, 110);
    }
    for p in recovered {
        paint(p, 255);
    }
    img
}

/// A region of a raw frame at 100% (`rect` in buffer coordinates; a linear RGB frame's
/// planes are taken as they are), rendered plainly: bilinear demosaic, white balance
/// `wb`, `gain`, the sRGB curve. Both crops of the comparison go through this one path.
pub(crate) fn render_crop(frame: &RawFrame, rect: Rect, wb: [f32; 3], gain: f32) -> RgbImage {
    let planes: [Plane<f32>; 3] = match &frame.rgb {
        Some(p) => [p[0].crop(rect), p[1].crop(rect), p[2].crop(rect)],
        None => {
            // a margin of 2 photosites (where the buffer has it) keeps the demosaic's
            // border rule out of the crop
            let x0 = rect.x.saturating_sub(2) & !1;
            let y0 = rect.y.saturating_sub(2) & !1;
            let x1 = (rect.x + rect.width + 2).min(frame.mosaic.width);
            let y1 = (rect.y + rect.height + 2).min(frame.mosaic.height);
            let outer = Rect::new(x0, y0, x1 - x0, y1 - y0);
            let full = demosaic(
                &frame.mosaic.crop(outer),
                frame.cfa_at(outer),
                Demosaic::Bilinear,
            );
            let inner = Rect::new(rect.x - x0, rect.y - y0, rect.width, rect.height);
            full.map(|p| p.crop(inner))
        }
    };
    let (w, h) = (planes[0].width, planes[0].height);
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let i = y as usize * w + x as usize;
        Rgb([0, 1, 2].map(|c| srgb8(planes[c].data[i] * wb[c] * gain)))
    })
}

/// Plot geometry: the image and the axes' box inside it.
struct Axes {
    img: RgbImage,
    x0: f32,
    y0: f32,
    w: f32,
    h: f32,
    xmax: f32,
    ymax: f32,
}

impl Axes {
    /// A white `width x height` plot with axes from 0 to at least `xmax` and `ymax` (each
    /// rounded up to a whole number of 1, 2 or 5 x 10^k ticks, labelled with `xfmt` and
    /// `yfmt`), axis labels and a title.
    #[allow(clippy::too_many_arguments)]
    fn new(
        width: u32,
        height: u32,
        xmax: f32,
        ymax: f32,
        xlabel: &str,
        ylabel: &str,
        title: &str,
        xfmt: &dyn Fn(f32) -> String,
        yfmt: &dyn Fn(f32) -> String,
    ) -> Axes {
        let mut img = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
        let (x0, y0) = (92.0f32, 58.0f32);
        let (w, h) = (width as f32 - x0 - 24.0, height as f32 - y0 - 62.0);
        let ink = [40, 40, 40];
        text(&mut img, 12, 8, 16.0, ink, title);
        let (xstep, nx) = nice_ticks(xmax);
        let (ystep, ny) = nice_ticks(ymax);
        let (xmax, ymax) = (xstep * nx as f32, ystep * ny as f32);
        for k in 0..=nx {
            let x = x0 + k as f32 / nx as f32 * w;
            line(&mut img, (x, y0), (x, y0 + h), 1, [225, 225, 225]);
            line(&mut img, (x, y0 + h), (x, y0 + h + 5.0), 1, ink);
            let lx = xfmt(k as f32 * xstep);
            let (tw, _) = text_extent(TEXT - 1.0, &lx);
            text(
                &mut img,
                x as i32 - tw / 2,
                (y0 + h + 8.0) as i32,
                TEXT - 1.0,
                ink,
                &lx,
            );
        }
        for k in 0..=ny {
            let y = y0 + h - k as f32 / ny as f32 * h;
            line(&mut img, (x0, y), (x0 + w, y), 1, [225, 225, 225]);
            line(&mut img, (x0 - 5.0, y), (x0, y), 1, ink);
            let ly = yfmt(k as f32 * ystep);
            let (tw, th) = text_extent(TEXT - 1.0, &ly);
            text(
                &mut img,
                x0 as i32 - 8 - tw,
                y as i32 - th / 2 - 2,
                TEXT - 1.0,
                ink,
                &ly,
            );
        }
        line(&mut img, (x0, y0 + h), (x0 + w, y0 + h), 2, ink);
        line(&mut img, (x0, y0), (x0, y0 + h), 2, ink);
        let (tw, _) = text_extent(TEXT, xlabel);
        text(
            &mut img,
            (x0 + w / 2.0) as i32 - tw / 2,
            (y0 + h + 32.0) as i32,
            TEXT,
            ink,
            xlabel,
        );
        // the y label above its axis (text is not rotated)
        text(&mut img, 12, (y0 - 30.0) as i32, TEXT, ink, ylabel);
        Axes {
            img,
            x0,
            y0,
            w,
            h,
            xmax,
            ymax,
        }
    }

    /// Image position of data point (x, y).
    fn at(&self, x: f32, y: f32) -> (f32, f32) {
        (
            self.x0 + x / self.xmax * self.w,
            self.y0 + self.h - y / self.ymax * self.h,
        )
    }

    fn inside(&self, p: (f32, f32)) -> bool {
        p.0 >= self.x0 - 0.5
            && p.0 <= self.x0 + self.w + 0.5
            && p.1 >= self.y0 - 0.5
            && p.1 <= self.y0 + self.h + 0.5
    }
}

/// A tick step of 1, 2 or 5 times a power of ten giving 3 to 7 ticks up to `max`, and how
/// many ticks reach it.
fn nice_ticks(max: f32) -> (f32, usize) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 5.0;
    let p = 10f32.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|k| k * p)
        .find(|&s| s >= raw * 0.999)
        .unwrap_or(10.0 * p);
    (step, ((max / step - 1e-4).ceil() as usize).max(1))
}

/// Colours of the R, G and B channels in plots.
const CHANNEL_COLORS: [[u8; 3]; 3] = [[214, 39, 40], [44, 160, 44], [31, 119, 180]];

/// A number with 3 significant digits (trailing zeros dropped), in scientific notation when
/// small.
fn short(v: f32) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    if v.abs() < 0.01 {
        return format!("{v:.1e}");
    }
    let decimals = (2 - v.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The noise plot: per colour, the model's line `variance = S x + O` and the variance
/// measured in the reference's pixels (one dot per brightness bin and plane).
pub(crate) fn noise_plot(noise: &FrameNoise, measured: &[Vec<(f64, f64, f64)>; 3]) -> RgbImage {
    let xmax = measured
        .iter()
        .flatten()
        .map(|p| p.0 as f32)
        .fold(0.0f32, f32::max)
        .clamp(0.2, 1.0);
    let (xstep, nx) = nice_ticks(xmax);
    let xmax = xstep * nx as f32;
    let model_max = (0..3)
        .map(|c| (noise.channels[c].scale * f64::from(xmax) + noise.channels[c].offset) as f32)
        .fold(0.0f32, f32::max);
    let meas_max = measured
        .iter()
        .flatten()
        .map(|p| p.1 as f32)
        .fold(0.0f32, f32::max);
    let ymax = (1.15 * model_max.max(meas_max)).max(1e-9);
    let source = match noise.source {
        crate::merge::noise::NoiseSource::Profile => "the file's NoiseProfile",
        crate::merge::noise::NoiseSource::Estimated => "estimated from the pixels",
    };
    let mut ax = Axes::new(
        720,
        440,
        xmax,
        ymax,
        "signal (0 = black, 1 = white level)",
        "noise variance",
        &format!("Noise model ({source}, lines) vs variance measured in the reference (dots)"),
        &|v| short(v),
        &|v| short(v),
    );
    for (c, color) in CHANNEL_COLORS.iter().enumerate() {
        let m = noise.channels[c];
        let steps = 64;
        let mut prev = None;
        for k in 0..=steps {
            let x = ax.xmax * k as f32 / steps as f32;
            let p = ax.at(x, (m.scale * f64::from(x) + m.offset) as f32);
            if let Some(q) = prev
                && ax.inside(p)
                && ax.inside(q)
            {
                line(&mut ax.img, q, p, 2, *color);
            }
            prev = Some(p);
        }
        for &(x, v, _) in &measured[c] {
            let p = ax.at(x as f32, v as f32);
            if ax.inside(p) {
                fill(&mut ax.img, p.0 as i32 - 3, p.1 as i32 - 3, 7, 7, *color);
                fill(
                    &mut ax.img,
                    p.0 as i32 - 1,
                    p.1 as i32 - 1,
                    3,
                    3,
                    [255, 255, 255],
                );
            }
        }
    }
    // legend
    let (lx, ly) = (ax.x0 as i32 + 14, ax.y0 as i32 + 10);
    fill(
        &mut ax.img,
        lx - 6,
        ly - 4,
        250,
        3 * 20 + 6,
        [250, 250, 250],
    );
    for (c, name) in ["R", "G", "B"].iter().enumerate() {
        let m = noise.channels[c];
        let y = ly + 20 * c as i32;
        fill(&mut ax.img, lx, y + 5, 18, 4, CHANNEL_COLORS[c]);
        text(
            &mut ax.img,
            lx + 26,
            y,
            TEXT - 1.0,
            [40, 40, 40],
            &format!("{name}: {:.2e} x + {:.2e}", m.scale, m.offset),
        );
    }
    ax.img
}

/// One bar of the reference-choice chart.
pub(crate) struct Bar {
    /// The frame's index in the burst.
    pub index: usize,
    /// Its score.
    pub score: f64,
    /// Whether it was a candidate (among the first three).
    pub candidate: bool,
    /// Whether it is the reference.
    pub reference: bool,
}

/// The reference choice: one bar per frame, its score under `rule`, the reference in
/// orange, the other candidates in blue, frames that were not candidates in grey.
pub(crate) fn score_chart(bars: &[Bar], title: &str, unit: &str) -> RgbImage {
    let smax = bars.iter().map(|b| b.score as f32).fold(0.0f32, f32::max);
    let ymax = if smax > 0.0 { smax * 1.2 } else { 1.0 };
    let n = bars.len().max(1);
    let (tw, _) = text_extent(16.0, title);
    let width = (160 + 56 * n as i32).max(tw + 40).clamp(480, 1400) as u32;
    let mut ax = Axes::new(
        width,
        360,
        n as f32,
        ymax,
        "frame (orange: the reference; blue: the other candidates)",
        unit,
        title,
        &|_| String::new(),
        &|v| short(v),
    );
    let slot = ax.w / n as f32;
    for (k, b) in bars.iter().enumerate() {
        let color = if b.reference {
            [240, 140, 20]
        } else if b.candidate {
            [60, 120, 200]
        } else {
            [170, 170, 170]
        };
        let (x, top) = ax.at(k as f32 + 0.5, b.score as f32);
        let (_, base) = ax.at(0.0, 0.0);
        let bw = (0.6 * slot).max(2.0);
        fill(
            &mut ax.img,
            (x - bw / 2.0) as i32,
            top as i32,
            bw as i32,
            (base - top) as i32,
            color,
        );
        let idx = format!("{}", b.index);
        let (tw, _) = text_extent(TEXT - 1.0, &idx);
        text(
            &mut ax.img,
            x as i32 - tw / 2,
            base as i32 + 8,
            TEXT - 1.0,
            [40, 40, 40],
            &idx,
        );
        let v = short(b.score as f32);
        let (tw, th) = text_extent(TEXT - 2.0, &v);
        text(
            &mut ax.img,
            x as i32 - tw / 2,
            top as i32 - th - 6,
            TEXT - 2.0,
            [40, 40, 40],
            &v,
        );
    }
    ax.img
}
