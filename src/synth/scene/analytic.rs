//! Analytic scenes: the procedural scene and the resolution chart, sharp primitives over a
//! smooth background found through a lookup grid; and the moving object's pattern.

use std::f64::consts::PI;

use super::SampleGrid;
use super::texture::{TEXEL_PX, TILE, TextureTile, gain};
use crate::color::srgb_to_linear;
use crate::synth::floor_i64;
use crate::synth::resolution::{self, ChartLayout};
use crate::synth::rng::Rng;
use crate::synth::shapes::{Primitive, SHAPE_TEXTURE, STAR_TEXTURE};

/// Side of the primitive lookup grid's cells in pixels.
pub(super) const GRID_CELL: f64 = 16.0;

/// Texture strength of the procedural scene's background.
pub(super) const BACKGROUND_TEXTURE: f64 = 0.3;
/// Spoke pairs of the procedural scene's Siemens star.
pub(super) const STAR_SPOKES: u32 = 36;

/// An analytic scene: sharp primitives drawn over a smooth background, both modulated by the
/// fine texture (the procedural scene and the resolution chart).
#[derive(Debug, Clone)]
pub(super) struct Analytic {
    tile: &'static TextureTile,
    /// Scene to texel coordinates: `u = a x + b y + offset[0]`, `v = -b x + a y + offset[1]`.
    tex_a: f64,
    tex_b: f64,
    tex_offset: [f64; 2],
    /// Background colours at the frame's corners (top-left, top-right, bottom-left,
    /// bottom-right), interpolated bilinearly inside the frame and held constant outside.
    corners: [[f64; 3]; 4],
    /// Texture strength of the background.
    background_texture: f64,
    /// 1 / width and 1 / height.
    inv_size: [f64; 2],
    /// Linear colours of the colour chart's patches.
    chart: [[f64; 3]; 24],
    /// The layout, bottom first.
    pub(super) primitives: Vec<Primitive>,
    /// For each grid cell (row-major), the primitives whose bounding box meets it, topmost
    /// first: `cell_items[cell_start[i]..cell_start[i + 1]]`. Cells with none (most of the
    /// frame) cost one lookup.
    cell_start: Vec<u32>,
    cell_items: Vec<u16>,
    grid_origin: [f64; 2],
    grid_size: [usize; 2],
}

/// The seeded placement of the texture: its angle (radians) and texel offset.
pub(super) fn texture_placement(rng: &mut Rng) -> (f64, [f64; 2]) {
    // An angle away from the axes keeps the tile's period and lattices off the pixel grid.
    let angle = rng.range(0.2, 1.3);
    (
        angle,
        [rng.range(0.0, TILE as f64), rng.range(0.0, TILE as f64)],
    )
}

impl Analytic {
    /// The procedural test scene for a `w` x `h` frame (see the module docs).
    pub(super) fn procedural(w: f64, h: f64, seed: u64) -> Analytic {
        let mut rng = Rng::for_stream(seed, crate::synth::SCENE_STREAM, 0);
        let texture = texture_placement(&mut rng);
        let corners = std::array::from_fn(|_| std::array::from_fn(|_| rng.range(0.12, 0.42)));
        let m = w.min(h);
        let mut primitives = Vec::new();
        for i in 0..20 {
            let c = [rng.range(0.0, w), rng.range(0.0, h)];
            let size = rng.range(0.025, 0.08) * m;
            let rgb = std::array::from_fn(|_| rng.range(0.03, 0.7));
            if i % 2 == 0 {
                let angle = rng.range(0.0, PI);
                primitives.push(Primitive::Rect {
                    c,
                    half: [size, size * rng.range(0.4, 1.0)],
                    cs: [angle.cos(), angle.sin()],
                    rgb,
                    texture: SHAPE_TEXTURE,
                });
            } else {
                primitives.push(Primitive::Disc {
                    c,
                    r2: size * size,
                    rgb,
                });
            }
        }
        let ramp_h = (0.07 * h).max(10.0);
        primitives.push(Primitive::GreyRamp([
            0.06 * w,
            0.08 * h,
            0.54 * w,
            0.08 * h + ramp_h,
        ]));
        primitives.push(Primitive::HueRamp([
            0.06 * w,
            0.2 * h,
            0.54 * w,
            0.2 * h + ramp_h,
        ]));
        let star_r = 0.2 * m;
        primitives.push(Primitive::Star {
            c: [0.72 * w, 0.34 * h],
            r2: star_r * star_r,
            spokes: STAR_SPOKES,
            tones: [0.75, 0.03],
            texture: STAR_TEXTURE,
        });
        primitives.push(Primitive::ColorChart {
            origin: [(0.08 * w).round(), (0.58 * h).round()],
        });
        Analytic::new(w, h, texture, corners, BACKGROUND_TEXTURE, primitives)
    }

    /// The resolution chart for a `w` x `h` frame (see [`crate::synth::resolution`]); `seed` places
    /// the background texture.
    pub(super) fn resolution_chart(w: usize, h: usize, seed: u64) -> Analytic {
        let mut rng = Rng::for_stream(seed, crate::synth::SCENE_STREAM, 1);
        let texture = texture_placement(&mut rng);
        let layout = ChartLayout::new(w, h);
        Analytic::new(
            w as f64,
            h as f64,
            texture,
            resolution::BACKGROUND_CORNERS,
            resolution::BACKGROUND_TEXTURE,
            layout.primitives(),
        )
    }

    /// Builds the lookup grid of `primitives` (bottom first) over a `w` x `h` frame's
    /// background.
    fn new(
        w: f64,
        h: f64,
        (angle, tex_offset): (f64, [f64; 2]),
        corners: [[f64; 3]; 4],
        background_texture: f64,
        primitives: Vec<Primitive>,
    ) -> Analytic {
        let bbox = primitives.iter().map(Primitive::bbox).fold(
            [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ],
            |a, b| {
                [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[2].max(b[2]),
                    a[3].max(b[3]),
                ]
            },
        );
        let grid_origin = [bbox[0].floor(), bbox[1].floor()];
        let cell = |v: f64, o: f64| floor_i64((v - o) / GRID_CELL) as usize;
        let grid_size = [
            cell(bbox[2], grid_origin[0]) + 1,
            cell(bbox[3], grid_origin[1]) + 1,
        ];
        let mut lists = vec![Vec::new(); grid_size[0] * grid_size[1]];
        // Topmost first: walk the layout from the top down.
        for (i, p) in primitives.iter().enumerate().rev() {
            let b = p.bbox();
            for gy in cell(b[1], grid_origin[1])..=cell(b[3], grid_origin[1]) {
                for gx in cell(b[0], grid_origin[0])..=cell(b[2], grid_origin[0]) {
                    lists[gy * grid_size[0] + gx].push(i as u16);
                }
            }
        }
        let mut cell_start = Vec::with_capacity(lists.len() + 1);
        let mut cell_items = Vec::new();
        for list in &lists {
            cell_start.push(cell_items.len() as u32);
            cell_items.extend_from_slice(list);
        }
        cell_start.push(cell_items.len() as u32);

        Analytic {
            tile: TextureTile::get(),
            tex_a: angle.cos() / TEXEL_PX,
            tex_b: angle.sin() / TEXEL_PX,
            tex_offset,
            corners,
            background_texture,
            inv_size: [1.0 / w, 1.0 / h],
            chart: crate::synth::chart::COLORCHECKER_SRGB
                .map(|c| c.map(|v| srgb_to_linear(f64::from(v) / 255.0))),
            primitives,
            cell_start,
            cell_items,
            grid_origin,
            grid_size,
        }
    }

    /// The grid cell of (`x`, `y`), as signed cell coordinates (possibly outside the grid).
    #[inline(always)]
    fn cell_of(&self, x: f64, y: f64) -> (i64, i64) {
        (
            floor_i64((x - self.grid_origin[0]) * (1.0 / GRID_CELL)),
            floor_i64((y - self.grid_origin[1]) * (1.0 / GRID_CELL)),
        )
    }

    /// The primitives listed for cell (`gx`, `gy`), topmost first (none outside the grid).
    #[inline(always)]
    fn cell_items(&self, (gx, gy): (i64, i64)) -> &[u16] {
        let [nx, ny] = self.grid_size;
        if gx < 0 || gy < 0 || gx as usize >= nx || gy as usize >= ny {
            return &[];
        }
        let cell = gy as usize * nx + gx as usize;
        &self.cell_items[self.cell_start[cell] as usize..self.cell_start[cell + 1] as usize]
    }

    /// The background colour at (`x`, `y`).
    #[inline(always)]
    fn background(&self, x: f64, y: f64) -> [f64; 3] {
        let u = (x * self.inv_size[0]).clamp(0.0, 1.0);
        let v = (y * self.inv_size[1]).clamp(0.0, 1.0);
        let [c00, c10, c01, c11] = &self.corners;
        std::array::from_fn(|c| {
            let top = c00[c] + (c10[c] - c00[c]) * u;
            let bottom = c01[c] + (c11[c] - c01[c]) * u;
            top + (bottom - top) * v
        })
    }

    /// The untextured colour and the texture strength at (`x`, `y`).
    #[inline(always)]
    fn base(&self, x: f64, y: f64) -> ([f64; 3], f64) {
        for &i in self.cell_items(self.cell_of(x, y)) {
            if let Some(hit) = self.primitives[usize::from(i)].hit(x, y, &self.chart) {
                return hit;
            }
        }
        (self.background(x, y), self.background_texture)
    }

    /// Applies the texture at (`x`, `y`) with `strength` to an untextured colour (a strength
    /// of 0 returns it unchanged: the gain is exactly 1).
    #[inline(always)]
    fn shade(&self, rgb: [f64; 3], strength: f64, x: f64, y: f64) -> [f64; 3] {
        let u = self.tex_a * x + self.tex_b * y + self.tex_offset[0];
        let v = -self.tex_b * x + self.tex_a * y + self.tex_offset[1];
        let t = self.tile.sample(u, v);
        std::array::from_fn(|c| rgb[c] * gain(strength * f64::from(t[c])))
    }

    #[inline(always)]
    pub(super) fn sample(&self, x: f64, y: f64) -> [f64; 3] {
        let (rgb, strength) = self.base(x, y);
        // Untextured primitives skip the texture lookup. The test is here rather than in
        // `shade`, whose background caller knows its strength is not 0.
        if strength == 0.0 {
            return rgb;
        }
        self.shade(rgb, strength, x, y)
    }

    /// [`Scene::grid_sum`] for this scene. When the whole grid lies in one cell that lists no
    /// primitive (or outside the grid), every sample is background, so the per-sample cell
    /// lookup is skipped; the arithmetic per sample is the same as in [`Analytic::sample`],
    /// so the sum is bit-identical either way.
    #[inline]
    pub(super) fn grid_sum(&self, g: &SampleGrid) -> [f64; 3] {
        // Bounding box of the grid's corners, widened by 1e-9 px to absorb any rounding
        // difference between this corner arithmetic and the sample positions in `sum`.
        let last = (g.k - 1) as f64;
        let (ex, ey) = (g.dx.map(|d| last * d), g.dy.map(|d| last * d));
        let (mut lo, mut hi) = (g.origin, g.origin);
        for d in [ex, ey, [ex[0] + ey[0], ex[1] + ey[1]]] {
            for axis in 0..2 {
                lo[axis] = lo[axis].min(g.origin[axis] + d[axis]);
                hi[axis] = hi[axis].max(g.origin[axis] + d[axis]);
            }
        }
        let first = self.cell_of(lo[0] - 1e-9, lo[1] - 1e-9);
        // Cell coordinates grow monotonically with x and y: opposite corners of the box in
        // one cell mean the whole grid is in it.
        let one_cell = first == self.cell_of(hi[0] + 1e-9, hi[1] + 1e-9);
        if one_cell && self.cell_items(first).is_empty() {
            g.sum(|x, y| self.shade(self.background(x, y), self.background_texture, x, y))
        } else {
            g.sum(|x, y| self.sample(x, y))
        }
    }
}

/// The moving object's colour at offset (`dx`, `dy`) from its centre, for an object of
/// radius `r`: a checkerboard of saturated orange and teal (cells of r/4, turned by 30
/// degrees) with fine texture, unlike anything in the procedural scene.
#[inline]
pub(crate) fn object_sample(dx: f64, dy: f64, r: f64) -> [f64; 3] {
    // cos and sin of 30 degrees.
    const C: f64 = 0.866_025_403_784_438_6;
    const S: f64 = 0.5;
    let inv_cell = 4.0 / r;
    let u = floor_i64((C * dx + S * dy) * inv_cell);
    let v = floor_i64((-S * dx + C * dy) * inv_cell);
    let rgb = if (u + v) & 1 == 0 {
        [0.85, 0.32, 0.04]
    } else {
        [0.03, 0.42, 0.5]
    };
    let t = TextureTile::get().sample(dx * 1.1 + 311.0, dy * 1.1 + 97.0)[1];
    rgb.map(|v| v * gain(0.3 * f64::from(t)))
}
