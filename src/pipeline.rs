//! The whole chain in one call: decode → align → merge → finish → look → encode, with
//! progress callbacks and a report of what happened.
//!
//! [`Pipeline`] holds every stage's parameters (plain structs with documented defaults, so a
//! pipeline is built by setting fields or through the builder methods); [`Pipeline::run`]
//! processes one burst into one image file and returns an [`Output`] with the [`Report`]:
//! per-stage wall time, frames used, the reference, the noise model, each frame's median
//! displacement and share of unreliable tiles, the merge's rejected share and effective
//! frame count, the process's peak memory and, for HDR output ([`Pipeline::hdr`], or an
//! `.exr` output), the HDR capacity written. [`Pipeline::debug`] also writes pictures of
//! what the alignment and the merge did ([`crate::diagnostics`]).
//!
//! ```no_run
//! use obscura::look::Look;
//! use obscura::pipeline::Pipeline;
//! let out = Pipeline::new()
//!     .look(Look::resolve("vibrant")?)
//!     .dng("merged.dng")
//!     .run(&["samples/burst".into()], "out.jpg".as_ref())?;
//! println!("{}", serde_json::to_string_pretty(&out.report).unwrap());
//! # Ok::<(), obscura::Error>(())
//! ```
//!
//! A single raw file is developed without aligning or merging.
//!
//! # Memory
//! The burst streams: the reference candidates (the first three frames) are decoded, then
//! every other frame is decoded, aligned, merged into the running sums and dropped
//! ([`crate::merge::Merger`]). Peak memory is that of about four frames and the merge's
//! planes whatever the burst's length (8 x 12 MP: about 0.65 GB; see BENCHMARKS.md). The
//! report's stage times are sums over the frames.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::align::{self, AlignParams};
use crate::burst::{check_match, expand_inputs};
use crate::diagnostics::{DebugParams, Diagnostics};
use crate::encode::{self, EncodeParams, HdrWritten};
use crate::error::Result;
use crate::finish::hdr::HdrParams;
use crate::finish::{self, FinishParams, Finished};
use crate::look::{self, CompiledLook, Look, Lut3d};
use crate::merge::{self, MergeParams, noise::FrameNoise};
use crate::raw::{DecodeLimits, RawFrame};
use rayon::prelude::*;

/// A stage of the pipeline, as progress reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Reading and decoding the raw files (one step per frame).
    Decode,
    /// Aligning the frames to the reference (one step per frame).
    Align,
    /// Merging the alternate frames into the reference (one step per alternate frame).
    Merge,
    /// Developing the merged raw (one step).
    Finish,
    /// Writing the image file (and the merged DNG when asked; one step).
    Encode,
}

impl Stage {
    /// The stage's name in lower case.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Align => "align",
            Stage::Merge => "merge",
            Stage::Finish => "finish",
            Stage::Encode => "encode",
        }
    }
}

/// Receives progress from [`Pipeline::run_with`]. Every method has an empty default, so an
/// implementation overrides only what it shows. Calls come from the thread that called
/// `run_with`, except [`Progress::advance`] during decoding, which comes from rayon's
/// workers (hence `Sync`).
pub trait Progress: Sync {
    /// `stage` starts, with `steps` steps to do.
    fn start(&self, stage: Stage, steps: usize) {
        let _ = (stage, steps);
    }
    /// One step of `stage` is done.
    fn advance(&self, stage: Stage) {
        let _ = stage;
    }
    /// `stage` is done; it took `seconds`.
    fn finish(&self, stage: Stage, seconds: f64) {
        let _ = (stage, seconds);
    }
    /// Asked between stages: `true` stops the run with [`crate::Error::Interrupted`] before
    /// anything is written. Default `false`.
    fn cancelled(&self) -> bool {
        false
    }
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// Every stage's parameters. `Default`: the standard rendering in the `natural` look, JPEG
/// quality 92 (or the output's extension), all frames, the sharpest of the first three as
/// reference, the robust merge.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    /// Alignment (reference choice, tile search).
    pub align: AlignParams,
    /// Merging (method, robustness, denoising).
    pub merge: MergeParams,
    /// Finishing (a look's tone and sharpening settings: [`FinishParams::with_look`]).
    pub finish: FinishParams,
    /// The look applied to the finished image ([`crate::look`]: its colour, vignette and
    /// grain), compiled once per run. Default `natural` (changes nothing).
    pub look: Look,
    /// Encoding (format, quality, metadata).
    pub encode: EncodeParams,
    /// A 3D LUT applied to the finished image after the look, and how much of it (0 to 1).
    /// Default none.
    pub lut: Option<(Arc<Lut3d>, f32)>,
    /// Use at most this many frames (the first in input order; the others are never
    /// decoded). Default all.
    pub max_frames: Option<usize>,
    /// Also write the merged raw as a 16-bit DNG here. Default none.
    pub dng: Option<PathBuf>,
    /// Limits checked before decoding each frame. Default: 400 million photosites.
    pub limits: DecodeLimits,
    /// Write the HDR rendition too (see [`crate::finish::hdr`]): a `.jpg` becomes an Ultra
    /// HDR JPEG (the same SDR image plus a gain map); PNG and TIFF refuse it. An `.exr`
    /// output is always HDR (scene-referred linear) and takes the default when this is
    /// `None`. Default `None`: SDR only.
    pub hdr: Option<HdrParams>,
    /// Write diagnostics (pictures of the alignment and the merge, and a page showing them)
    /// to this folder ([`crate::diagnostics`]). Default none: no extra work.
    pub debug: Option<DebugParams>,
}

/// Seconds spent in each stage of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageTimes {
    /// Reading and decoding every frame.
    pub decode: f64,
    /// Aligning (0 for a single frame).
    pub align: f64,
    /// Merging (0 for a single frame).
    pub merge: f64,
    /// Finishing, look and LUT included.
    pub finish: f64,
    /// Writing the image (and the merged DNG).
    pub encode: f64,
    /// The whole run, from the first file read to the last byte written.
    pub total: f64,
}

/// One frame's part in the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameReport {
    /// The raw file.
    pub file: PathBuf,
    /// Median displacement from the reference over all tiles, `[dx, dy]` in pixels.
    pub median_displacement: [f32; 2],
    /// Share of the frame's tiles whose match is unreliable (merged from the reference).
    pub unreliable_fraction: f32,
}

/// What a run did and how long it took. Serialises to the JSON `--report` writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The image written (empty when none was: [`Pipeline::develop`]).
    pub output: PathBuf,
    /// The merged DNG written, if asked.
    pub dng: Option<PathBuf>,
    /// Frames found in the inputs.
    pub frames_found: usize,
    /// Frames processed (after `max_frames`).
    pub frames_used: usize,
    /// The reference frame's file.
    pub reference: PathBuf,
    /// The reference's index among the frames used (in input order).
    pub reference_index: usize,
    /// The reference's noise model (variance = scale * signal + offset per colour,
    /// normalised signal), from its NoiseProfile or estimated from its pixels.
    pub noise: FrameNoise,
    /// Every frame used, in order; the reference's displacement is zero.
    pub frames: Vec<FrameReport>,
    /// Share of (alternate frame, tile) pairs the merge kept from the reference.
    pub rejected_fraction: f32,
    /// The noise reduction reached, as an equivalent number of averaged frames.
    pub effective_frames: f32,
    /// The look's name.
    pub look: String,
    /// Output size in pixels, `[width, height]`.
    pub size: [usize; 2],
    /// Wall time per stage.
    pub seconds: StageTimes,
    /// The process's peak resident memory in bytes so far (Linux `VmHWM`; `None` elsewhere).
    pub peak_memory_bytes: Option<u64>,
    /// Notes from the stages (skipped optional opcodes and the like).
    pub notes: Vec<String>,
    /// The HDR output written (Ultra HDR or OpenEXR), with its capacity; `None` for SDR.
    pub hdr: Option<HdrWritten>,
}

/// What [`Pipeline::run_merge`] did: the merge part of a [`Report`]. Serialises to the JSON
/// `obscura merge --report` would write.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergeReport {
    /// The DNG written.
    pub dng: PathBuf,
    /// Frames found in the inputs.
    pub frames_found: usize,
    /// Frames decoded and merged (after `max_frames`).
    pub frames_used: usize,
    /// The reference frame's file.
    pub reference: PathBuf,
    /// The reference's index among the frames used (in input order).
    pub reference_index: usize,
    /// The reference's noise model.
    pub noise: FrameNoise,
    /// Every frame used, in order; the reference's displacement is zero.
    pub frames: Vec<FrameReport>,
    /// Share of (alternate frame, tile) pairs the merge kept from the reference.
    pub rejected_fraction: f32,
    /// The noise reduction reached, as an equivalent number of averaged frames.
    pub effective_frames: f32,
    /// Wall time per stage (`finish` 0; `encode` is the DNG's writing).
    pub seconds: StageTimes,
    /// The process's peak resident memory in bytes so far (Linux `VmHWM`; `None` elsewhere).
    pub peak_memory_bytes: Option<u64>,
}

/// The result of [`Pipeline::run_merge`].
#[derive(Debug, Clone)]
pub struct MergeOutput {
    /// The merged raw frame that was written (private metadata removed as
    /// [`EncodeParams::keep_metadata`] and [`EncodeParams::keep_location`] say).
    pub frame: RawFrame,
    /// What happened.
    pub report: MergeReport,
}

/// What decode, align and merge hand on to finishing.
struct MergedBurst {
    /// The merged frame (the reference itself for a single frame).
    frame: RawFrame,
    found: usize,
    used: usize,
    reference: usize,
    frames: Vec<FrameReport>,
    noise: FrameNoise,
    rejected: f32,
    effective: f32,
}

/// The result of [`Pipeline::run`].
#[derive(Debug, Clone)]
pub struct Output {
    /// The finished image that was encoded.
    pub image: Finished,
    /// What happened.
    pub report: Report,
}

impl Pipeline {
    /// The default pipeline (see [`Pipeline`]).
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// Renders in `look`: finishing takes over its tone and sharpening settings (keeping the
    /// other finish settings), and the look stage applies its colour, vignette and grain.
    pub fn look(mut self, look: Look) -> Pipeline {
        self.finish.set_look(&look);
        self.look = look;
        self
    }

    /// The look stage of this pipeline, compiled: [`Pipeline::look`] and [`Pipeline::lut`].
    /// [`Pipeline::run`] compiles it once per run; a caller running many bursts compiles
    /// it once and passes it to [`Pipeline::run_compiled`]. Errors: the look's fields or
    /// the LUT's strength out of range.
    pub fn compile_look(&self) -> Result<CompiledLook> {
        let c = look::compile(&self.look)?;
        match &self.lut {
            Some((l, s)) => c.with_lut(l.clone(), *s),
            None => Ok(c),
        }
    }

    /// Applies `lut` at `strength` (0 to 1) to the finished image.
    pub fn lut(mut self, lut: Lut3d, strength: f32) -> Pipeline {
        self.lut = Some((Arc::new(lut), strength));
        self
    }

    /// Uses frame `index` (after sorting) as the reference.
    pub fn reference(mut self, index: usize) -> Pipeline {
        self.align.reference = Some(index);
        self
    }

    /// Uses at most `n` frames.
    pub fn max_frames(mut self, n: usize) -> Pipeline {
        self.max_frames = Some(n);
        self
    }

    /// Merges with `method`.
    pub fn merge_method(mut self, method: merge::MergeMethod) -> Pipeline {
        self.merge.method = method;
        self
    }

    /// Sets the merge's output scale (1 to 3; above 1 needs [`merge::MergeMethod::Kernel`]):
    /// super-resolution.
    pub fn scale(mut self, scale: f32) -> Pipeline {
        self.merge.scale = scale;
        self
    }

    /// Also writes the merged raw as a DNG at `path`.
    pub fn dng(mut self, path: impl Into<PathBuf>) -> Pipeline {
        self.dng = Some(path.into());
        self
    }

    /// Writes diagnostics (pictures of the alignment and the merge, and a page showing them)
    /// to the folder `dir`, with the default sizes ([`crate::diagnostics`]).
    pub fn debug(mut self, dir: impl Into<PathBuf>) -> Pipeline {
        self.debug = Some(DebugParams::new(dir));
        self
    }

    /// Writes the HDR rendition with `headroom` stops above SDR white (1 to 6): Ultra HDR
    /// for a `.jpg` output.
    pub fn hdr(mut self, headroom: f32) -> Pipeline {
        self.hdr = Some(HdrParams {
            headroom,
            ..HdrParams::default()
        });
        self
    }

    /// The HDR settings a run to `output` uses: `self.hdr`, or the default for an OpenEXR
    /// output; `None` for SDR. Errors: HDR asked of a format that cannot carry it (PNG,
    /// TIFF), a headroom out of range.
    pub fn hdr_for(&self, output: &Path) -> Result<Option<HdrParams>> {
        let format = encode::resolve_format(output, &self.encode)?;
        if let Some(h) = &self.hdr {
            h.validate()?;
            if !format.carries_hdr() {
                return Err(encode::hdr_unsupported(format));
            }
        }
        Ok(match format {
            encode::Format::Exr => Some(self.hdr.clone().unwrap_or_default()),
            _ => self.hdr.clone(),
        })
    }

    /// Checks every parameter before any work.
    pub fn validate(&self) -> Result<()> {
        self.align.validate()?;
        self.merge.validate()?;
        self.finish.validate()?;
        if let Some(h) = &self.hdr {
            h.validate()?;
        }
        if let Some(d) = &self.debug {
            d.validate()?;
        }
        crate::burst::check_max_frames(self.max_frames)?;
        self.look.validate()?;
        if let Some((_, s)) = &self.lut {
            look::check_strength(*s)?;
        }
        Ok(())
    }

    /// Processes the burst in `inputs` (directories and/or raw files) into the image file
    /// `output`; see the [module docs](self).
    pub fn run(&self, inputs: &[PathBuf], output: &Path) -> Result<Output> {
        self.run_with(inputs, output, &NoProgress)
    }

    /// [`Pipeline::run`], reporting progress to `progress`.
    pub fn run_with(
        &self,
        inputs: &[PathBuf],
        output: &Path,
        progress: &dyn Progress,
    ) -> Result<Output> {
        self.run_to(inputs, Some(output), progress, None)
    }

    /// [`Pipeline::run_with`] with the look stage compiled beforehand (by
    /// [`Pipeline::compile_look`]), for runs over many bursts: `look` replaces
    /// [`Pipeline::look`] and [`Pipeline::lut`].
    pub fn run_compiled(
        &self,
        inputs: &[PathBuf],
        output: &Path,
        progress: &dyn Progress,
        look: &CompiledLook,
    ) -> Result<Output> {
        self.run_to(inputs, Some(output), progress, Some(look))
    }

    /// [`Pipeline::run_with`] without the encode step: returns the finished image and writes
    /// no image file (the merged DNG is still written when [`Pipeline::dng`] asks for it). The
    /// report's `output` is empty. For callers that keep the pixels, such as the Python
    /// bindings.
    pub fn develop(&self, inputs: &[PathBuf], progress: &dyn Progress) -> Result<Output> {
        self.run_to(inputs, None, progress, None)
    }

    /// The pipeline stopped after the merge: the burst in `inputs` decoded (only the first
    /// [`Pipeline::max_frames`] files: the others are never read), aligned and merged as
    /// [`Pipeline::run`] does it, streamed, with the memory check and
    /// `progress.cancelled()` between frames (then [`crate::Error::Interrupted`], and no
    /// DNG), and written as a 16-bit DNG at `dng`, atomically. [`Pipeline::dng`],
    /// [`Pipeline::finish`], the look and the image encoding are not used; the DNG keeps or
    /// strips private metadata as [`Pipeline::encode`] says.
    pub fn run_merge(
        &self,
        inputs: &[PathBuf],
        dng: &Path,
        progress: &dyn Progress,
    ) -> Result<MergeOutput> {
        self.validate()?;
        check_output(dng, None)?;
        let mut diag = self.debug.as_ref().map(Diagnostics::start).transpose()?;
        let t0 = Instant::now();
        let mut times = StageTimes::default();
        let m = self.merge_burst(inputs, progress, &mut diag, &mut times)?;
        if progress.cancelled() {
            return Err(crate::Error::Interrupted);
        }
        let t = Instant::now();
        progress.start(Stage::Encode, 1);
        let mut frame = m.frame;
        frame.meta = frame
            .meta
            .private_removed(self.encode.keep_metadata, self.encode.keep_location);
        crate::raw::write_dng(&frame, dng)?;
        progress.advance(Stage::Encode);
        times.encode = t.elapsed().as_secs_f64();
        progress.finish(Stage::Encode, times.encode);
        times.total = t0.elapsed().as_secs_f64();
        let report = MergeReport {
            dng: dng.to_path_buf(),
            frames_found: m.found,
            frames_used: m.used,
            reference: m.frames[m.reference].file.clone(),
            reference_index: m.reference,
            noise: m.noise,
            frames: m.frames,
            rejected_fraction: m.rejected,
            effective_frames: m.effective,
            seconds: times,
            peak_memory_bytes: peak_memory(),
        };
        if let Some(d) = diag {
            d.finish(&report)?;
        }
        Ok(MergeOutput { frame, report })
    }

    /// The run, encoding to `output` when there is one.
    fn run_to(
        &self,
        inputs: &[PathBuf],
        output: Option<&Path>,
        progress: &dyn Progress,
        compiled: Option<&CompiledLook>,
    ) -> Result<Output> {
        self.validate()?;
        let own;
        let compiled = match compiled {
            Some(c) => c,
            None => {
                own = self.compile_look()?;
                &own
            }
        };
        if let Some(output) = output {
            check_output(output, Some(&self.encode))?;
        }
        let hdr_params = match output {
            Some(o) => self.hdr_for(o)?,
            None => None,
        };
        if let Some(d) = &self.dng {
            check_output(d, None)?;
        }
        // the debug folder is checked (and its work folder made) before any work
        let mut diag = self.debug.as_ref().map(Diagnostics::start).transpose()?;
        let t0 = Instant::now();
        let mut times = StageTimes::default();
        let MergedBurst {
            frame: mut raw,
            found,
            used: n,
            reference,
            frames,
            noise,
            rejected,
            effective,
        } = self.merge_burst(inputs, progress, &mut diag, &mut times)?;
        let mut t;
        let reference_file = frames[reference].file.clone();

        // finish
        if progress.cancelled() {
            return Err(crate::Error::Interrupted);
        }
        t = Instant::now();
        progress.start(Stage::Finish, 1);
        let (mut image, hdr) = match &hdr_params {
            Some(h) => {
                let (img, hdr) = finish::finish_hdr(&raw, &self.finish, h)?;
                (img, Some(hdr))
            }
            None => (finish::finish(&raw, &self.finish)?, None),
        };
        // the look stage (timed with finish, as the report's stages are)
        look::apply(&mut image.rgb, compiled, image.orientation);
        progress.advance(Stage::Finish);
        times.finish = t.elapsed().as_secs_f64();
        progress.finish(Stage::Finish, times.finish);

        // encode (and the merged DNG)
        if progress.cancelled() {
            return Err(crate::Error::Interrupted);
        }
        t = Instant::now();
        progress.start(Stage::Encode, 1);
        if let Some(d) = &self.dng {
            // private data leaves with no output (encode strips the same again)
            raw.meta = raw
                .meta
                .private_removed(self.encode.keep_metadata, self.encode.keep_location);
            crate::raw::write_dng(&raw, d)?;
        }
        let hdr_written = match (output, &hdr) {
            (Some(output), Some(h)) => Some(encode::encode_hdr(
                &image,
                h,
                &raw.meta,
                output,
                &self.encode,
            )?),
            (Some(output), None) => {
                encode::encode(&image, &raw.meta, output, &self.encode)?;
                None
            }
            (None, _) => None,
        };
        progress.advance(Stage::Encode);
        times.encode = t.elapsed().as_secs_f64();
        progress.finish(Stage::Encode, times.encode);
        times.total = t0.elapsed().as_secs_f64();

        let report = Report {
            output: output.map(Path::to_path_buf).unwrap_or_default(),
            dng: self.dng.clone(),
            frames_found: found,
            frames_used: n,
            reference: reference_file,
            reference_index: reference,
            noise,
            frames,
            rejected_fraction: rejected,
            effective_frames: effective,
            look: compiled.name().to_string(),
            size: [image.width(), image.height()],
            seconds: times,
            peak_memory_bytes: peak_memory(),
            notes: image.notes.clone(),
            hdr: hdr_written,
        };
        if let Some(d) = diag {
            d.finish(&report)?;
        }
        Ok(Output { image, report })
    }

    /// Decode, align and merge, streamed (see the [module docs](self)): the frames used
    /// are decoded one at a time, the memory is checked before any decoding and
    /// `progress.cancelled()` is honoured between frames.
    fn merge_burst(
        &self,
        inputs: &[PathBuf],
        progress: &dyn Progress,
        diag: &mut Option<Diagnostics>,
        times: &mut StageTimes,
    ) -> Result<MergedBurst> {
        // The burst streams through decode, align and merge one frame at a time, so memory
        // holds the reference, the running merge and one frame whatever the burst's length.
        let mut t = Instant::now();
        let mut files = expand_inputs(inputs)?;
        let found = files.len();
        if let Some(n) = self.max_frames {
            files.truncate(n);
        }
        let n = files.len();
        check_memory(&files, n.min(STREAMED_FRAMES), &self.merge, &self.limits)?;
        progress.start(Stage::Decode, n);
        let open = |k: usize| -> Result<RawFrame> {
            let f = RawFrame::open_with(&files[k], &self.limits)?;
            progress.advance(Stage::Decode);
            Ok(f)
        };
        // the reference: the one asked for, or the best of the first three (the sharpest, or
        // in a bracket the one with the most usable signal)
        let candidates = align::reference_candidates(self.align.reference, n)?;
        let mut held: Vec<Option<RawFrame>> = (0..n).map(|_| None).collect();
        let decoded: Vec<Result<RawFrame>> = candidates.par_iter().map(|&k| open(k)).collect();
        for (&k, f) in candidates.iter().zip(decoded) {
            held[k] = Some(f?);
        }
        let firsts: Vec<&RawFrame> = candidates
            .iter()
            .filter_map(|&k| held[k].as_ref())
            .collect();
        let reference = match self.align.reference {
            Some(r) => r,
            None => candidates[align::best_reference(&firsts)],
        };
        if let Some(d) = diag.as_mut() {
            d.files(&files);
            d.candidates(&candidates, &firsts, self.align.reference.is_some());
        }
        let ref_frame = held[reference].take().ok_or_else(|| {
            crate::Error::parameter("reference", format!("{reference}: not decoded"))
        })?;
        for f in held.iter().flatten() {
            check_match(&ref_frame, f)?;
        }
        if n > 1 {
            merge::check_output_size(&ref_frame, &self.merge, self.limits.max_pixels)?;
        }
        times.decode += t.elapsed().as_secs_f64();
        if let Some(d) = diag.as_mut() {
            d.reference(reference, &ref_frame)?;
        }

        let noise = merge::noise::noise_model(&ref_frame);
        let mut frames: Vec<FrameReport> = files
            .iter()
            .map(|f| FrameReport {
                file: f.clone(),
                median_displacement: [0.0; 2],
                unreliable_fraction: 0.0,
            })
            .collect();
        let (raw, rejected, effective) = if n == 1 {
            progress.finish(Stage::Decode, times.decode);
            (ref_frame, 0.0, 1.0)
        } else {
            t = Instant::now();
            progress.start(Stage::Align, n - 1);
            progress.start(Stage::Merge, n - 1);
            let plan = align::AlignPlan::new(&ref_frame, &self.align)?;
            times.align += t.elapsed().as_secs_f64();
            t = Instant::now();
            let mut merger = merge::Merger::new(ref_frame, &self.merge)?;
            merger.record_weights(diag.is_some());
            times.merge += t.elapsed().as_secs_f64();
            for k in (0..n).filter(|&k| k != reference) {
                if progress.cancelled() {
                    return Err(crate::Error::Interrupted);
                }
                t = Instant::now();
                let frame = match held[k].take() {
                    Some(f) => f,
                    None => {
                        let f = open(k)?;
                        // before aligning, whose own check would not name both files
                        check_match(merger.reference(), &f)?;
                        f
                    }
                };
                times.decode += t.elapsed().as_secs_f64();
                t = Instant::now();
                let al = plan.align(&frame)?;
                frames[k].median_displacement = al.median();
                frames[k].unreliable_fraction = al.unreliable_fraction();
                progress.advance(Stage::Align);
                times.align += t.elapsed().as_secs_f64();
                t = Instant::now();
                merger.add(&frame, &al)?;
                progress.advance(Stage::Merge);
                times.merge += t.elapsed().as_secs_f64();
                if let Some(d) = diag.as_mut() {
                    d.frame(k, &frame, &al, merger.last_weights())?;
                }
            }
            t = Instant::now();
            let recovered = diag.as_ref().and_then(|_| merger.recovered_highlights());
            let merged = merger.finish();
            times.merge += t.elapsed().as_secs_f64();
            if let Some(d) = diag.as_mut() {
                d.merged(&merged.frame, merged.scale, recovered)?;
            }
            progress.finish(Stage::Decode, times.decode);
            progress.finish(Stage::Align, times.align);
            progress.finish(Stage::Merge, times.merge);
            (
                merged.frame,
                merged.rejected_fraction,
                merged.effective_frames,
            )
        };
        Ok(MergedBurst {
            frame: raw,
            found,
            used: n,
            reference,
            frames,
            noise,
            rejected,
            effective,
        })
    }
}

/// Checks an output path before any work: its folder exists, and (for an image, when
/// `encode` does not name the format) its extension names a format.
pub fn check_output(path: &Path, encode: Option<&EncodeParams>) -> Result<()> {
    if let Some(e) = encode
        && e.format.is_none()
    {
        encode::Format::from_path(path)?;
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        Ok(())
    } else {
        Err(crate::Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the output folder does not exist; create it first",
            ),
        ))
    }
}

/// Frames a streamed burst holds at once at most: the first three (the reference candidates)
/// and the one being decoded.
const STREAMED_FRAMES: usize = 4;

/// Bytes per photosite a run needs besides the frames themselves (merge planes and
/// accumulators, the demosaiced RGB planes, tone-mapping and sharpening buffers), measured:
/// the 8-frame 512x384 sample peaks at about 40 MB.
const WORKING_SET_PER_PIXEL: u64 = 48;

/// Bytes per output pixel of the kernel merge: 13 running sums and the three RGB planes
/// (times the square of its scale).
const KERNEL_SET_PER_PIXEL: u64 = 64;

/// Checks, before decoding, that a burst of `frames` frames the size the first file declares
/// fits in the memory available (Linux `MemAvailable`); a clear error if not. Files whose
/// size cannot be read from their header are not checked here (the decoders' own pixel
/// limit still holds).
fn check_memory(
    files: &[PathBuf],
    frames: usize,
    merge: &MergeParams,
    limits: &DecodeLimits,
) -> Result<()> {
    let Some(first) = files.first() else {
        return Ok(());
    };
    // beyond the pixel limit the decoder refuses the file itself, with that reason
    let Some(px) = crate::raw::declared_pixels(first).filter(|&p| p <= limits.max_pixels) else {
        return Ok(());
    };
    // the kernel merge's sums and planes grow with the square of its scale
    let merge_set = if merge.method == merge::MergeMethod::Kernel {
        (f64::from(merge.scale).powi(2) * KERNEL_SET_PER_PIXEL as f64) as u64
    } else {
        0
    };
    let need = px * (4 * frames as u64 + WORKING_SET_PER_PIXEL + merge_set);
    let Some(avail) = available_memory() else {
        return Ok(());
    };
    if need > avail {
        return Err(crate::Error::Limits {
            path: first.clone(),
            reason: format!(
                "frames of {:.1} MP need about {:.1} GB ({frames} frames at a time and the \
                 merge's planes), and {:.1} GB of memory is available; free memory or lower \
                 --max-pixels to refuse such files",
                px as f64 / 1e6,
                need as f64 / 1e9,
                avail as f64 / 1e9
            ),
        });
    }
    Ok(())
}

/// Memory available to new work (Linux `/proc/meminfo` `MemAvailable`).
fn available_memory() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The process's peak resident set size (Linux `/proc/self/status` `VmHWM`).
pub fn peak_memory() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn develop_returns_the_image_run_encodes_and_writes_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let inputs = [Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/burst")];
        let p = Pipeline::new().max_frames(3);
        let out = dir.path().join("run.tif");
        let ran = p.run(&inputs, &out).unwrap();
        let developed = p.develop(&inputs, &NoProgress).unwrap();
        assert!(ran.image.rgb == developed.image.rgb);
        assert_eq!(developed.report.output, PathBuf::new());
        assert_eq!(ran.report.output, out);
        assert_eq!(developed.report.frames_used, 3);
        // only the run's image is in the folder
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A [`Progress`] that asks to stop after `after` steps of any stage.
    struct StopAfter {
        after: usize,
        steps: std::sync::atomic::AtomicUsize,
    }

    impl Progress for StopAfter {
        fn advance(&self, _: Stage) {
            self.steps.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        fn cancelled(&self) -> bool {
            self.steps.load(std::sync::atomic::Ordering::SeqCst) >= self.after
        }
    }

    /// `run_merge` writes the DNG `run` writes beside its image; interrupted between
    /// frames it stops with `Interrupted` and leaves no DNG.
    #[test]
    fn run_merge_writes_the_merged_dng_and_nothing_when_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let inputs = [Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/burst")];
        let p = Pipeline::new().max_frames(3);
        let merged = dir.path().join("merged.dng");
        let out = p.run_merge(&inputs, &merged, &NoProgress).unwrap();
        assert_eq!(out.report.frames_used, 3);
        assert_eq!(out.report.frames_found, 8);
        let beside = dir.path().join("beside.dng");
        p.clone()
            .dng(&beside)
            .run(&inputs, &dir.path().join("x.tif"))
            .unwrap();
        assert!(std::fs::read(&merged).unwrap() == std::fs::read(&beside).unwrap());

        let stopped = dir.path().join("stopped.dng");
        let stop = StopAfter {
            after: 4,
            steps: Default::default(),
        };
        let e = p.run_merge(&inputs, &stopped, &stop).unwrap_err();
        assert!(matches!(e, crate::Error::Interrupted), "{e}");
        assert!(!stopped.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            3,
            "no temporary file is left"
        );
    }
}
