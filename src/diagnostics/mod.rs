//! Diagnostics you can look at (`--debug DIR`): pictures of what alignment and merging did,
//! and one `index.html` that shows them beside the run's figures.
//!
//! A [`Diagnostics`] collector follows a run: the command line and [`crate::pipeline`]
//! hand it the reference candidates, the reference, each alternate frame with its alignment
//! and robustness map, and the merged frame; it draws what it needs at once (so no frame is
//! kept), and [`Diagnostics::finish`] writes the page. Without `--debug` there is no
//! collector and the stages do no extra work (the merge records robustness maps only when
//! asked, [`crate::merge::Merger::record_weights`]).
//!
//! # Files
//! | file | what it shows |
//! | --- | --- |
//! | `reference.png` | the reference, dimmed (the background of the overlays) |
//! | `frame_KK_alignment.png` | frame KK's alignment field: an arrow per tile (magnified, the factor is printed), coloured by the share of unreliable tiles around it (green none, red all) |
//! | `frame_KK_weights.png` | frame KK's robustness weights as the merge applied them: white where it was averaged in, black where it was rejected (motion, occlusion, poor alignment) |
//! | `noise.png` | the noise model's lines against the variance measured in the reference |
//! | `reference_choice.png` | every frame's score under the rule that picked the reference ([`crate::align::best_reference`]) |
//! | `crop_reference.png`, `crop_merged.png` | the most detailed region of the reference and of the merge, at 100% |
//! | `highlights.png` | the reference's clipped photosites: white where a shorter frame recovered them, grey where nothing did |
//! | `report.json`, `index.html` | the run's figures, and the page |
//!
//! The overview pictures (`reference.png`, the alignment, weight and highlight maps) share
//! one size: the merge area scaled to [`DebugParams::max_side`] on its longer side (small
//! frames are enlarged, at most 2x).
//!
//! # Cost
//! Measured on a 4-frame 4000x3000 synthetic burst, 2 cores: `obscura process` takes 4.6 s
//! without `--debug` and 5.5 s with it (the pictures, the frames' scores, the noise
//! measurement, PNG encoding), peak memory 614 MB and 618 MB; the folder holds 6 MB.
//!
//! # The folder
//! An unwritable folder is an error before any work. Everything is written into a
//! temporary sibling folder, which replaces `DIR` only once complete: a folder from an
//! earlier run is replaced whole, never mixed with this run's files. A folder holding
//! anything else (files obscura did not write there) is refused, so a mistyped `--debug ~`
//! deletes nothing.

mod draw;
mod html;

use std::path::{Path, PathBuf};

use image::RgbImage;
use serde::Serialize;

use crate::align::{self, Alignment, ReferenceRule};
use crate::error::{Error, Result};
use crate::image::{Plane, Rect};
use crate::merge::WeightMap;
use crate::merge::noise::{measured_variance, noise_model};
use crate::raw::RawFrame;

/// The file that marks a folder as written by [`Diagnostics`].
const MARKER: &str = ".obscura-debug";

/// Where and how big the diagnostics are.
#[derive(Debug, Clone, PartialEq)]
pub struct DebugParams {
    /// The folder written (replaced when it holds an earlier run's diagnostics).
    pub dir: PathBuf,
    /// Longer side of the overview pictures in pixels, 128 to 8192; default 960. Frames
    /// smaller than that are enlarged up to 2x.
    pub max_side: usize,
    /// Side of the 100% crops in photosites, 32 to 2048; default 256 (less where the frame
    /// is smaller).
    pub crop: usize,
}

impl DebugParams {
    /// The defaults, writing to `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> DebugParams {
        DebugParams {
            dir: dir.into(),
            max_side: 960,
            crop: 256,
        }
    }

    /// Checks the sizes against their documented ranges.
    pub fn validate(&self) -> Result<()> {
        if !(128..=8192).contains(&self.max_side) {
            return Err(Error::parameter(
                "debug max_side",
                format!("{} (allowed: 128 to 8192)", self.max_side),
            ));
        }
        if !(32..=2048).contains(&self.crop) {
            return Err(Error::parameter(
                "debug crop",
                format!("{} (allowed: 32 to 2048)", self.crop),
            ));
        }
        Ok(())
    }
}

impl Default for DebugParams {
    /// [`DebugParams::new`] with the folder `debug`.
    fn default() -> DebugParams {
        DebugParams::new("debug")
    }
}

/// One frame's line on the page.
#[derive(Debug, Clone, Serialize)]
struct FrameEntry {
    index: usize,
    file: String,
    /// Its score under the reference rule.
    score: Option<f64>,
    candidate: bool,
    /// Exposure relative to the reference, EV.
    exposure_ev: f64,
    median: [f32; 2],
    unreliable: f32,
    /// Mean robustness weight (merge only).
    mean_weight: Option<f32>,
    alignment_png: Option<String>,
    weights_png: Option<String>,
    /// Arrow magnification in the alignment picture.
    magnify: f32,
}

/// What the collector keeps of the reference.
struct ReferenceView {
    index: usize,
    area: Rect,
    /// Preview scale from photosites, and the overview size.
    scale: f32,
    size: (u32, u32),
    /// The dimmed preview under the arrows.
    dimmed: RgbImage,
    /// The 100% crop's region (buffer coordinates), white balance and gain.
    crop: Rect,
    wb: [f32; 3],
    gain: f32,
    /// The reference's clipped photosites (buffer coordinates).
    clipped: Vec<[usize; 2]>,
    exposure: f64,
}

/// Collects a run's diagnostics and writes them (see the [module docs](self)).
pub struct Diagnostics {
    params: DebugParams,
    /// The temporary sibling folder written until [`Diagnostics::finish`].
    work: PathBuf,
    done: bool,
    rule: ReferenceRule,
    /// The reference was asked for (`--reference`), not chosen.
    forced: bool,
    candidates: Vec<usize>,
    reference: Option<ReferenceView>,
    frames: Vec<FrameEntry>,
    /// Whether the merged result was shown, and the highlights' counts (clipped,
    /// recovered; `None` when the merge cannot tell).
    merged: bool,
    highlights: Option<(usize, Option<usize>)>,
    shorter: bool,
}

impl Diagnostics {
    /// Checks the folder and starts writing: an error naming the folder, before any work,
    /// when it cannot be written, is a file, or holds files that are not an earlier run's
    /// diagnostics.
    pub fn start(params: &DebugParams) -> Result<Diagnostics> {
        params.validate()?;
        let dir = &params.dir;
        let refuse = |kind: std::io::ErrorKind, why: String| {
            Error::io(
                dir,
                std::io::Error::new(kind, format!("debug folder: {why}")),
            )
        };
        let name = dir.file_name().ok_or_else(|| {
            Error::parameter(
                "dir",
                format!("{}: name a folder (not . or ..)", dir.display()),
            )
        })?;
        let parent = crate::io::folder_of(dir);
        if dir.exists() {
            if !dir.is_dir() {
                return Err(refuse(
                    std::io::ErrorKind::AlreadyExists,
                    "a file is in the way".into(),
                ));
            }
            let foreign = std::fs::read_dir(dir)
                .map_err(|e| refuse(e.kind(), format!("cannot read it: {e}")))?
                .next()
                .is_some()
                && !dir.join(MARKER).is_file();
            if foreign {
                return Err(refuse(
                    std::io::ErrorKind::AlreadyExists,
                    "it holds files that are not obscura diagnostics; name a new or empty \
                     folder (an earlier run's diagnostics are replaced)"
                        .into(),
                ));
            }
            // replacing it needs its files removable
            let probe = dir.join(format!(".obscura-probe-{}", std::process::id()));
            std::fs::write(&probe, b"")
                .map_err(|e| refuse(e.kind(), format!("not writable: {e}")))?;
            let _ = std::fs::remove_file(&probe);
        }
        let work = parent.join(format!(
            ".{}.obscura-tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        if work.exists() {
            let _ = std::fs::remove_dir_all(&work);
        }
        std::fs::create_dir(&work)
            .map_err(|e| refuse(e.kind(), format!("cannot be written: {e}")))?;
        std::fs::write(work.join(MARKER), b"written by obscura --debug\n")
            .map_err(|e| refuse(e.kind(), format!("cannot be written: {e}")))?;
        Ok(Diagnostics {
            params: params.clone(),
            work,
            done: false,
            rule: ReferenceRule::First,
            forced: false,
            candidates: Vec::new(),
            reference: None,
            frames: Vec::new(),
            merged: false,
            highlights: None,
            shorter: false,
        })
    }

    /// The reference candidates (`indices` into the burst, the frames themselves), scored
    /// as [`align::best_reference`] scores them; `forced` when the user named the reference.
    pub fn candidates(&mut self, indices: &[usize], frames: &[&RawFrame], forced: bool) {
        self.forced = forced;
        self.candidates = indices.to_vec();
        let (rule, scores) = align::reference_scores(frames);
        self.rule = rule;
        for (&k, s) in indices.iter().zip(scores) {
            self.entry(k).score = Some(s);
        }
    }

    /// The burst's files, in order (names the frames on the page).
    pub fn files(&mut self, files: &[PathBuf]) {
        for (k, f) in files.iter().enumerate() {
            self.entry(k).file = file_name(f);
        }
    }

    /// The frame entry of burst index `k` (made when new).
    fn entry(&mut self, k: usize) -> &mut FrameEntry {
        if let Some(i) = self.frames.iter().position(|f| f.index == k) {
            return &mut self.frames[i];
        }
        self.frames.push(FrameEntry {
            index: k,
            file: String::new(),
            score: None,
            candidate: false,
            exposure_ev: 0.0,
            median: [0.0; 2],
            unreliable: 0.0,
            mean_weight: None,
            alignment_png: None,
            weights_png: None,
            magnify: 1.0,
        });
        self.frames.sort_by_key(|f| f.index);
        let i = self.frames.iter().position(|f| f.index == k).unwrap_or(0);
        &mut self.frames[i]
    }

    /// Scores frame `k` under the reference rule, unless it was scored as a candidate.
    fn score(&mut self, k: usize, frame: &RawFrame) {
        let rule = self.rule;
        let e = self.entry(k);
        if e.score.is_none() && rule != ReferenceRule::First {
            e.score = Some(rule.score(frame));
        }
    }

    /// The reference frame, burst index `index`: draws its preview, the noise plot and its
    /// 100% crop.
    pub fn reference(&mut self, index: usize, frame: &RawFrame) -> Result<()> {
        let a = frame.active_area;
        let area = Rect::new(a.x, a.y, a.width & !1, a.height & !1);
        let long = area.width.max(area.height).max(1) as f32;
        let scale = (self.params.max_side as f32 / long).min(2.0);
        let size = (
            ((area.width as f32 * scale).round() as u32).max(1),
            ((area.height as f32 * scale).round() as u32).max(1),
        );
        let grey = draw::grey_half(frame, area);
        let gain = 0.9 / draw::percentile(&grey.data, 0.995).max(1e-6);
        let dimmed = draw::preview(&grey, size, scale, gain, 0.5);
        self.save(&dimmed, "reference.png")?;
        let noise = noise_model(frame);
        self.save(
            &draw::noise_plot(&noise, &measured_variance(frame)),
            "noise.png",
        )?;
        let side = self.params.crop.min(area.width).min(area.height) & !1;
        let crop = detailed_region(&grey, area, side);
        let wb = frame.wb_multipliers().map(|m| m as f32);
        // the crop's white balance lifts red and blue; bring green down to match
        let gmax = wb.iter().copied().fold(1.0f32, f32::max);
        let crop_gain = gain / gmax.sqrt();
        self.save(
            &draw::render_crop(frame, crop, wb, crop_gain),
            "crop_reference.png",
        )?;
        let clipped = if frame.rgb.is_none() {
            let m = &frame.mosaic;
            (area.y..area.y + area.height)
                .flat_map(|y| (area.x..area.x + area.width).map(move |x| [x, y]))
                .filter(|&[x, y]| m.get(x, y) >= crate::raw::CLIP_LEVEL)
                .collect()
        } else {
            Vec::new()
        };
        self.score(index, frame);
        self.reference = Some(ReferenceView {
            index,
            area,
            scale,
            size,
            dimmed,
            crop,
            wb,
            gain: crop_gain,
            clipped,
            exposure: frame.exposure_product(),
        });
        Ok(())
    }

    /// An alternate frame, burst index `k`, aligned by `al`, with the robustness map the
    /// merge gave it (`None` when it was not merged): draws its pictures.
    pub fn frame(
        &mut self,
        k: usize,
        frame: &RawFrame,
        al: &Alignment,
        weights: Option<&WeightMap>,
    ) -> Result<()> {
        let Some(r) = &self.reference else {
            return Err(Error::parameter(
                "diagnostics",
                "a frame came before the reference",
            ));
        };
        let spacing = al.tile_step as f32 * r.scale;
        let every = draw::arrow_every(spacing) as f32;
        let magnify = draw::arrow_magnification(al, spacing * every, r.scale);
        let mut arrows = draw::alignment_arrows(&r.dimmed, al, r.scale, magnify);
        let m = al.median();
        let unreliable = al.unreliable_fraction();
        draw::label(
            &mut arrows,
            6,
            6,
            &format!(
                "frame {k}: median shift ({:+.2}, {:+.2}) px, unreliable tiles {:.1}%, arrows x{magnify}",
                m[0],
                m[1],
                100.0 * unreliable
            ),
        );
        let alignment_png = format!("frame_{k:02}_alignment.png");
        self.save(&arrows, &alignment_png)?;
        let (weights_png, mean_weight) = match weights {
            Some(w) => {
                let img = draw::weight_map(w, r.size, r.scale);
                let name = format!("frame_{k:02}_weights.png");
                self.save(&img, &name)?;
                let mean = w.weights.data.iter().sum::<f32>() / w.weights.data.len().max(1) as f32;
                (Some(name), Some(mean))
            }
            None => (None, None),
        };
        let exposure_ev = (frame.exposure_product() / r.exposure).log2();
        if exposure_ev < -0.05 {
            self.shorter = true;
        }
        self.score(k, frame);
        let e = self.entry(k);
        e.exposure_ev = exposure_ev;
        e.median = m;
        e.unreliable = unreliable;
        e.alignment_png = Some(alignment_png);
        e.weights_png = weights_png;
        e.mean_weight = mean_weight;
        e.magnify = magnify;
        Ok(())
    }

    /// The merged frame (as [`crate::merge::Merged`] has it: `scale` brings its values back
    /// to the reference's) and the highlights recovered from shorter frames
    /// ([`crate::merge::Merger::recovered_highlights`]; `None` when the merge cannot tell).
    pub fn merged(
        &mut self,
        merged: &RawFrame,
        scale: f32,
        recovered: Option<Vec<[usize; 2]>>,
    ) -> Result<()> {
        let Some(r) = &self.reference else {
            return Err(Error::parameter(
                "diagnostics",
                "the merge came before the reference",
            ));
        };
        // a super-resolved merge (linear RGB) covers the same area with more pixels
        let crop = match &merged.rgb {
            Some(p) => {
                let f = p[0].width as f32 / r.area.width as f32;
                let s = |v: usize| (v as f32 * f).round() as usize;
                let (x, y) = (s(r.crop.x - r.area.x), s(r.crop.y - r.area.y));
                Rect::new(
                    x,
                    y,
                    s(r.crop.width).min(p[0].width - x),
                    s(r.crop.height).min(p[0].height - y),
                )
            }
            None => r.crop,
        };
        let img = draw::render_crop(merged, crop, r.wb, r.gain * scale);
        let recovered_n = recovered.as_ref().map(Vec::len);
        let mask = draw::highlight_mask(
            &r.clipped,
            recovered.as_deref().unwrap_or(&[]),
            r.area,
            r.size,
            r.scale,
        );
        self.highlights = Some((r.clipped.len(), recovered_n));
        self.save(&img, "crop_merged.png")?;
        self.save(&mask, "highlights.png")?;
        self.merged = true;
        Ok(())
    }

    /// Writes the reference-choice chart, `report` (the run's figures, any serialisable
    /// value) and the page, then puts the folder in place of [`DebugParams::dir`] (an
    /// earlier run's folder there is removed). Returns the folder.
    pub fn finish(mut self, report: &impl Serialize) -> Result<PathBuf> {
        let reference = self.reference.as_ref().map(|r| r.index);
        let bars: Vec<draw::Bar> = self
            .frames
            .iter()
            .map(|f| draw::Bar {
                index: f.index,
                score: f.score.unwrap_or(0.0),
                candidate: self.candidates.contains(&f.index),
                reference: Some(f.index) == reference,
            })
            .collect();
        for f in &mut self.frames {
            f.candidate = self.candidates.contains(&f.index);
        }
        let why = self.why();
        let unit = match self.rule {
            ReferenceRule::Sharpest => "gradient energy / mean^2",
            ReferenceRule::UsableSignal => "bits per photosite",
            ReferenceRule::First => "(no score)",
        };
        self.save(
            &draw::score_chart(&bars, &why, unit),
            "reference_choice.png",
        )?;
        let json = serde_json::to_string_pretty(report)
            .map_err(|e| Error::io(self.work.join("report.json"), std::io::Error::other(e)))?;
        self.write("report.json", json.as_bytes())?;
        let value = serde_json::to_value(report).unwrap_or(serde_json::Value::Null);
        let page = html::page(&html::Page {
            why: &why,
            frames: &self.frames,
            reference,
            merged: self.merged,
            highlights: self.highlights,
            shorter: self.shorter,
            report: &value,
            size: self.reference.as_ref().map(|r| r.size),
        });
        self.write("index.html", page.as_bytes())?;
        self.put_in_place()?;
        self.done = true;
        Ok(self.params.dir.clone())
    }

    /// One line on why the reference is the one it is.
    fn why(&self) -> String {
        let r = self.reference.as_ref().map_or(0, |r| r.index);
        let n = self.candidates.len();
        if self.forced {
            return format!("Reference: frame {r}, as asked (--reference)");
        }
        match self.rule {
            ReferenceRule::Sharpest => format!(
                "Reference: frame {r}, the sharpest of the first {n} (one exposure: gradient energy)"
            ),
            ReferenceRule::UsableSignal => format!(
                "Reference: frame {r}, the most usable signal of the first {n} (an exposure bracket)"
            ),
            ReferenceRule::First => format!("Reference: frame {r} (nothing to compare)"),
        }
    }

    /// Writes `img` as PNG into the work folder.
    fn save(&self, img: &RgbImage, name: &str) -> Result<()> {
        let path = self.work.join(name);
        img.save_with_format(&path, image::ImageFormat::Png)
            .map_err(|e| Error::io(&path, std::io::Error::other(e)))
    }

    /// Writes `bytes` into the work folder.
    fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.work.join(name);
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))
    }

    /// Replaces the folder with the work folder: the old one is renamed aside, the new one
    /// renamed into place, the old one removed (two renames: the folder is never mixed, and
    /// missing only between them).
    fn put_in_place(&self) -> Result<()> {
        let dir = &self.params.dir;
        let aside = self.work.with_file_name(format!(
            ".{}.obscura-old-{}",
            file_name(dir),
            std::process::id()
        ));
        let had = dir.exists();
        if had {
            std::fs::rename(dir, &aside).map_err(|e| Error::io(dir, e))?;
        }
        if let Err(e) = std::fs::rename(&self.work, dir) {
            if had {
                let _ = std::fs::rename(&aside, dir);
            }
            return Err(Error::io(dir, e));
        }
        if had {
            std::fs::remove_dir_all(&aside).map_err(|e| Error::io(&aside, e))?;
        }
        Ok(())
    }
}

impl Drop for Diagnostics {
    /// A run that failed leaves no half-written folder behind.
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.work);
        }
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The `side x side` region of the area (buffer coordinates, even origin) with the most
/// gradient energy in the half-resolution grey `g`, clipped pixels left out.
fn detailed_region(g: &Plane<f32>, area: Rect, side: usize) -> Rect {
    let half = (side / 2).max(1);
    let step = (half / 4).max(1);
    let clip = crate::raw::CLIP_LEVEL;
    // gradient energy per half-resolution pixel, then windows summed over a coarse grid
    let energy = |x: usize, y: usize| -> f64 {
        let (mut e, x1, y1) = (
            0.0f64,
            (x + half).min(g.width - 1),
            (y + half).min(g.height - 1),
        );
        for yy in y..y1 {
            for xx in x..x1 {
                let v = g.get(xx, yy);
                let (r, d) = (g.get(xx + 1, yy), g.get(xx, yy + 1));
                if v < clip && r < clip && d < clip {
                    e += f64::from((r - v) * (r - v) + (d - v) * (d - v));
                }
            }
        }
        e
    };
    let mut best = (f64::MIN, 0usize, 0usize);
    let xs = g.width.saturating_sub(half);
    let ys = g.height.saturating_sub(half);
    for y in (0..=ys).step_by(step) {
        for x in (0..=xs).step_by(step) {
            let e = energy(x, y);
            if e > best.0 {
                best = (e, x, y);
            }
        }
    }
    Rect::new(area.x + 2 * best.1, area.y + 2 * best.2, side, side)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_under_a_file_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let e = Diagnostics::start(&DebugParams::new(file.join("debug")))
            .err()
            .unwrap();
        assert!(e.to_string().contains("file/debug"), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_foreign_folder_is_refused_and_an_old_run_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("debug");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("mine.txt"), b"keep").unwrap();
        assert!(Diagnostics::start(&DebugParams::new(&d)).is_err());
        assert!(d.join("mine.txt").is_file());
        std::fs::write(d.join(MARKER), b"").unwrap();
        let diag = Diagnostics::start(&DebugParams::new(&d)).unwrap();
        // a failed run (dropped) leaves the old folder as it was and no work folder
        drop(diag);
        assert!(d.join("mine.txt").is_file());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_detailed_region_is_where_the_texture_is() {
        let mut g = Plane::new(64, 48);
        for y in 30..46 {
            for x in 40..60 {
                g.set(x, y, ((x + y) % 2) as f32 * 0.5);
            }
        }
        let r = detailed_region(&g, Rect::new(0, 0, 128, 96), 32);
        assert!(
            (70..=100).contains(&r.x) && (50..=80).contains(&r.y),
            "{r:?}"
        );
    }
}
