//! Python bindings of obscura: `import obscura`.
//!
//! Each stage of the library is one function, and its results are NumPy arrays:
//! `open` -> `RawFrame`, `align` -> `Alignment`, `merge` -> `RawFrame`, `finish` -> an
//! (height, width, 3) float32 image, `process` (the whole pipeline) -> (image, report),
//! `synth` -> `SynthBurst`. Parameters mean what the command line's options mean and are
//! checked by the same library code, so errors carry the same messages.
//!
//! The GIL is released while the library works (`Python::detach`), so Python threads run
//! bursts side by side; the library's own parallelism (rayon) spans the machine's cores.
//! Pixels cross into Python without a copy where the layouts agree (a mosaic's buffer
//! becomes the array's); RGB planes are interleaved once into (height, width, 3).
// pyo3's generated code for `PyResult`-returning functions trips this lint
#![allow(clippy::useless_conversion)]

mod convert;
mod frame;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use numpy::ndarray::{Array2, Array3, Array4};
use numpy::{IntoPyArray, PyArray2, PyArray3, PyArray4};
use obscura::finish::FinishParams;
use obscura::finish::color::WhiteBalance;
use obscura::look::{Look, Lut3d};
use obscura::pipeline::{Pipeline, Progress, Stage};
use obscura::raw::RawFrame;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use convert::{DecodeError, Inputs, IntoPyResult, UnsupportedError, planes_hwc, to_python};
use frame::{MergeInfo, PyRawFrame};

/// Decodes a raw file (DNG of any compression, or a camera format: CR2, CR3, NEF, ARW, ...).
#[pyfunction]
fn open(py: Python<'_>, path: PathBuf) -> PyResult<PyRawFrame> {
    let prepared = py.detach(move || -> PyResult<_> {
        let f = RawFrame::open(&path).py()?;
        PyRawFrame::prepare(f)
    })?;
    Ok(PyRawFrame::from_prepared(py, prepared, None))
}

/// Where each frame of a burst sees each tile of the reference.
#[pyclass(name = "Alignment", module = "obscura", frozen)]
struct PyAlignment {
    al: obscura::align::BurstAlignment,
    files: Vec<String>,
}

#[pymethods]
impl PyAlignment {
    /// The reference frame's index.
    #[getter]
    fn reference(&self) -> usize {
        self.al.reference
    }

    /// The frames' files, in burst order ("" for frames made in memory).
    #[getter]
    fn files(&self) -> Vec<String> {
        self.files.clone()
    }

    /// Tiles per row.
    #[getter]
    fn tiles_x(&self) -> usize {
        self.al.frames[0].tiles_x
    }

    /// Tile rows.
    #[getter]
    fn tiles_y(&self) -> usize {
        self.al.frames[0].tiles_y
    }

    /// Distance between tile origins, full-resolution pixels.
    #[getter]
    fn tile_step(&self) -> usize {
        self.al.frames[0].tile_step
    }

    /// Tile side, full-resolution pixels.
    #[getter]
    fn tile_size(&self) -> usize {
        self.al.frames[0].tile_size
    }

    /// Top-left corner (x, y) of the area the tiles cover (the active area).
    #[getter]
    fn origin(&self) -> (usize, usize) {
        let o = self.al.frames[0].origin;
        (o[0], o[1])
    }

    /// Displacements, float32 (frames, tiles_y, tiles_x, 2) of (dx, dy) in full-resolution
    /// pixels: the reference pixel at p is found at p + (dx, dy) in frame k. Tile (i, j) is
    /// centred at origin + (j * tile_step + tile_size / 2, i * tile_step + tile_size / 2).
    #[getter]
    fn field<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray4<f32>> {
        let (ty, tx) = (self.tiles_y(), self.tiles_x());
        let n = self.al.frames.len();
        Array4::from_shape_fn((n, ty, tx, 2), |(k, i, j, c)| {
            self.al.frames[k].field[i * tx + j][c]
        })
        .into_pyarray(py)
    }

    /// RMS difference per tile between the reference and the aligned frame, float32
    /// (frames, tiles_y, tiles_x); high values mark poor matches.
    #[getter]
    fn residual<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray3<f32>> {
        let (ty, tx) = (self.tiles_y(), self.tiles_x());
        let n = self.al.frames.len();
        Array3::from_shape_fn((n, ty, tx), |(k, i, j)| {
            self.al.frames[k].residual[i * tx + j]
        })
        .into_pyarray(py)
    }

    /// Tiles whose match is unreliable (merged from the reference), bool (frames, tiles_y,
    /// tiles_x).
    #[getter]
    fn unreliable<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray3<bool>> {
        let (ty, tx) = (self.tiles_y(), self.tiles_x());
        let flags: Vec<Vec<bool>> = self.al.frames.iter().map(|f| f.unreliable()).collect();
        Array3::from_shape_fn((flags.len(), ty, tx), |(k, i, j)| flags[k][i * tx + j])
            .into_pyarray(py)
    }

    /// Each frame's median displacement over all tiles, float32 (frames, 2) of (dx, dy).
    #[getter]
    fn median<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f32>> {
        let m: Vec<[f32; 2]> = self.al.frames.iter().map(|f| f.median()).collect();
        Array2::from_shape_fn((m.len(), 2), |(k, c)| m[k][c]).into_pyarray(py)
    }

    /// A copy with the displacements replaced by `field`, float32-convertible (frames,
    /// tiles_y, tiles_x, 2) of (dx, dy): an alignment made or edited in Python, for
    /// `merge(..., alignment=...)`. Residuals are kept.
    fn with_field(&self, field: numpy::PyReadonlyArray4<'_, f32>) -> PyResult<PyAlignment> {
        let v = field.as_array();
        let want = (self.al.frames.len(), self.tiles_y(), self.tiles_x(), 2);
        if v.dim() != want {
            return Err(PyValueError::new_err(format!(
                "invalid field: shape {:?}, this alignment needs {want:?}",
                v.dim()
            )));
        }
        if v.iter().any(|d| !d.is_finite()) {
            return Err(PyValueError::new_err(
                "invalid field: displacements must be finite",
            ));
        }
        let mut al = self.al.clone();
        for (k, f) in al.frames.iter_mut().enumerate() {
            for (t, d) in f.field.iter_mut().enumerate() {
                let (i, j) = (t / want.2, t % want.2);
                *d = [v[[k, i, j, 0]], v[[k, i, j, 1]]];
            }
        }
        Ok(PyAlignment {
            al,
            files: self.files.clone(),
        })
    }

    /// The whole alignment as `obscura align --json` prints it (a dict).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.al)
    }

    fn __len__(&self) -> usize {
        self.al.frames.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<obscura.Alignment {} frames, reference {}, {}x{} tiles of {} px every {} px>",
            self.al.frames.len(),
            self.al.reference,
            self.tiles_x(),
            self.tiles_y(),
            self.tile_size(),
            self.tile_step()
        )
    }
}

/// Aligns every frame of a burst to its reference (HDR+ tile alignment with sub-pixel
/// refinement), as `obscura align` does.
#[pyfunction]
#[pyo3(signature = (frames_or_paths, reference=None))]
fn align(
    py: Python<'_>,
    frames_or_paths: &Bound<'_, PyAny>,
    reference: Option<usize>,
) -> PyResult<PyAlignment> {
    let inputs = Inputs::extract(frames_or_paths)?;
    py.detach(move || {
        let burst = inputs.burst()?;
        let params = obscura::align::AlignParams {
            reference,
            ..Default::default()
        };
        let al = obscura::align::align(&burst, &params)?;
        let files = burst
            .frames
            .iter()
            .map(|f| f.path.to_string_lossy().into_owned())
            .collect();
        Ok(PyAlignment { al, files })
    })
    .py()
}

/// Aligns and merges a burst into one raw frame, as `obscura merge` does.
#[pyfunction]
#[pyo3(signature = (paths, method="robust", scale=1.0, frames=None, *, reference=None, denoise=None, alignment=None))]
#[allow(clippy::too_many_arguments)] // Python keyword arguments, as the command line's options
fn merge(
    py: Python<'_>,
    paths: &Bound<'_, PyAny>,
    method: &str,
    scale: f32,
    frames: Option<usize>,
    reference: Option<usize>,
    denoise: Option<f32>,
    alignment: Option<PyRef<'_, PyAlignment>>,
) -> PyResult<PyRawFrame> {
    let mut params = obscura::merge::MergeParams {
        method: method.parse().py()?,
        scale,
        ..Default::default()
    };
    if let Some(d) = denoise {
        params.spatial_denoise = d;
        params.kernel.spatial_denoise = d;
    }
    params.validate().py()?;
    if frames == Some(0) {
        return Err(PyValueError::new_err("invalid frames: 0 (at least 1)"));
    }
    if alignment.is_some() && reference.is_some() {
        return Err(PyValueError::new_err(
            "give reference or alignment, not both (the alignment has its reference)",
        ));
    }
    let given = alignment.map(|a| a.al.clone());
    let inputs = Inputs::extract(paths)?;
    let (prepared, info) = py.detach(move || -> PyResult<_> {
        let mut burst = inputs.burst().py()?;
        if let Some(n) = frames {
            burst.frames.truncate(n); // the first n in input order
        }
        let al = match given {
            Some(al) => {
                check_grid(&burst, &al).py()?;
                al
            }
            None => obscura::align::align(
                &burst,
                &obscura::align::AlignParams {
                    reference,
                    ..Default::default()
                },
            )
            .py()?,
        };
        let limit = obscura::raw::DecodeLimits::default().max_pixels;
        obscura::merge::check_output_size(&burst.frames[al.reference], &params, limit).py()?;
        let merged = obscura::merge::merge(&burst, &al, &params).py()?;
        let info = MergeInfo {
            frames: merged.frames,
            reference: al.reference,
            rejected_fraction: merged.rejected_fraction,
            effective_frames: merged.effective_frames,
            scale: merged.scale,
        };
        Ok((PyRawFrame::prepare(merged.frame)?, info))
    })?;
    Ok(PyRawFrame::from_prepared(py, prepared, Some(info)))
}

/// An alignment given to `merge` must be of this burst: as many frames, and the tile grid
/// `align` makes for its reference.
fn check_grid(burst: &obscura::Burst, al: &obscura::align::BurstAlignment) -> obscura::Result<()> {
    let n = burst.frames.len();
    let bad = |reason: String| Err(obscura::Error::parameter("alignment", reason));
    if al.frames.len() != n || al.reference >= n {
        return bad(format!(
            "has {} frames and reference {} for a burst of {n} frames",
            al.frames.len(),
            al.reference
        ));
    }
    let plan = obscura::align::AlignPlan::new(
        &burst.frames[al.reference],
        &obscura::align::AlignParams::default(),
    )?;
    let want = plan.identity();
    for f in &al.frames {
        let grid = (f.tiles_x, f.tiles_y, f.tile_step, f.tile_size, f.origin);
        let expect = (
            want.tiles_x,
            want.tiles_y,
            want.tile_step,
            want.tile_size,
            want.origin,
        );
        if grid != expect || f.field.len() != want.field.len() {
            return bad(format!(
                "its tiles (x, y, step, size, origin) {grid:?} are not this burst's {expect:?}"
            ));
        }
    }
    Ok(())
}

/// The finish options shared by `finish` and `process`, as the command line's.
struct FinishOptions<'a, 'py> {
    look: &'a str,
    wb: Option<&'a Bound<'py, PyAny>>,
    wb_temp: Option<&'a Bound<'py, PyAny>>,
    colorspace: &'a str,
    exposure: f64,
    tone: &'a str,
    tone_strength: Option<f32>,
    highlights: &'a str,
    demosaic: &'a str,
    sharpen: Option<f32>,
    shading: bool,
    keep_orientation: bool,
    lut: Option<PathBuf>,
    lut_strength: f32,
}

/// A LUT to apply after finishing, with its strength.
type LutChoice = Option<(Arc<Lut3d>, f32)>;

/// "a,b,c" from a string or a sequence of numbers.
fn numbers_text(v: &Bound<'_, PyAny>, name: &str) -> PyResult<String> {
    if let Ok(s) = v.extract::<String>() {
        return Ok(s);
    }
    if let Ok(x) = v.extract::<f64>() {
        return Ok(x.to_string());
    }
    match v.extract::<Vec<f64>>() {
        Ok(xs) => Ok(xs.iter().map(f64::to_string).collect::<Vec<_>>().join(",")),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{name} must be a number, a sequence of numbers or a string"
        ))),
    }
}

impl FinishOptions<'_, '_> {
    /// The parameters, checked as `obscura develop` checks its options.
    /// `look="none"` is the reference rendering and the `natural` look (no change).
    fn params(&self) -> PyResult<(FinishParams, Look, LutChoice)> {
        let (mut fp, look) = if self.look.eq_ignore_ascii_case("none") {
            (FinishParams::reference(), Look::default())
        } else {
            let look = Look::resolve(self.look).py()?;
            (FinishParams::with_look(&look), look)
        };
        if self.wb.is_some() && self.wb_temp.is_some() {
            return Err(PyValueError::new_err(
                "give wb or wb_temp, not both (multipliers or a colour temperature)",
            ));
        }
        if let Some(w) = self.wb {
            fp.color.white_balance =
                WhiteBalance::parse_multipliers(&numbers_text(w, "wb")?).py()?;
        }
        if let Some(t) = self.wb_temp {
            fp.color.white_balance =
                WhiteBalance::parse_temperature(&numbers_text(t, "wb_temp")?).py()?;
        }
        fp.color.space = self.colorspace.parse().py()?;
        fp.exposure = self.exposure;
        fp.tone.mode = self.tone.parse().py()?;
        if let Some(s) = self.tone_strength {
            if !(0.0..=1.0).contains(&s) {
                return Err(PyValueError::new_err(format!(
                    "invalid tone_strength: {s}: must be between 0 and 1"
                )));
            }
            fp.tone.strength = s;
        }
        fp.highlights = self.highlights.parse().py()?;
        fp.demosaic = self.demosaic.parse().py()?;
        if let Some(a) = self.sharpen {
            fp.sharpen.amount = a;
        }
        fp.skip_shading = !self.shading;
        fp.keep_orientation = self.keep_orientation;
        fp.validate().py()?;
        // the library's check, named as the Python keyword
        if obscura::look::check_strength(self.lut_strength).is_err() {
            return Err(PyValueError::new_err(format!(
                "invalid lut_strength: {}: must be between 0 and 1",
                self.lut_strength
            )));
        }
        let lut = match &self.lut {
            Some(p) => Some((Arc::new(Lut3d::load(p).py()?), self.lut_strength)),
            None => None,
        };
        Ok((fp, look, lut))
    }
}

/// Develops a raw frame (Bayer or linear RGB) into a display-referred image, as
/// `obscura develop` does: float32 (height, width, 3), the output space's transfer curve
/// applied, values in [0, 1], upright.
#[pyfunction]
#[pyo3(signature = (frame, look="natural", *, wb=None, wb_temp=None, colorspace="srgb",
    exposure=0.0, tone="local", tone_strength=None, highlights="reconstruct", demosaic="rcd",
    sharpen=None, shading=true, keep_orientation=false, lut=None, lut_strength=1.0))]
#[allow(clippy::too_many_arguments)] // Python keyword arguments, as the command line's options
fn finish<'py>(
    py: Python<'py>,
    frame: &Bound<'py, PyAny>,
    look: &str,
    wb: Option<&Bound<'py, PyAny>>,
    wb_temp: Option<&Bound<'py, PyAny>>,
    colorspace: &str,
    exposure: f64,
    tone: &str,
    tone_strength: Option<f32>,
    highlights: &str,
    demosaic: &str,
    sharpen: Option<f32>,
    shading: bool,
    keep_orientation: bool,
    lut: Option<PathBuf>,
    lut_strength: f32,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    let (fp, look, lut) = FinishOptions {
        look,
        wb,
        wb_temp,
        colorspace,
        exposure,
        tone,
        tone_strength,
        highlights,
        demosaic,
        sharpen,
        shading,
        keep_orientation,
        lut,
        lut_strength,
    }
    .params()?;
    let raw = match Inputs::extract(frame)? {
        Inputs::Frames(mut f) if f.len() == 1 => f.remove(0),
        Inputs::Paths(p) if p.len() == 1 => {
            let path = p[0].clone();
            py.detach(move || RawFrame::open(&path)).py()?
        }
        _ => {
            return Err(PyTypeError::new_err(
                "finish() takes one RawFrame or one raw file",
            ));
        }
    };
    let mut compiled = obscura::look::compile(&look).py()?;
    if let Some((l, s)) = lut {
        compiled = compiled.with_lut(l, s).py()?;
    }
    let img = py.detach(move || -> PyResult<_> {
        // finish, then the look stage, as the pipeline runs them
        let mut img = obscura::finish::finish(&raw, &fp).py()?;
        obscura::look::apply(&mut img.rgb, &compiled, img.orientation);
        planes_hwc(&img.rgb)
    })?;
    Ok(img.into_pyarray(py))
}

/// Progress of a `process` run: Python's signals (Ctrl-C) are checked between steps, and an
/// optional callable is told each step.
struct PyProgress {
    callback: Option<Py<PyAny>>,
    done: Mutex<std::collections::HashMap<Stage, (usize, usize)>>,
    error: Mutex<Option<PyErr>>,
}

impl PyProgress {
    fn report(&self, stage: Stage, step: bool, steps: Option<usize>) {
        let Some(cb) = &self.callback else { return };
        let (done, total) = {
            let Ok(mut m) = self.done.lock() else { return };
            let e = m.entry(stage).or_insert((0, 0));
            if let Some(n) = steps {
                *e = (0, n);
            }
            if step {
                e.0 += 1;
            }
            *e
        };
        Python::attach(|py| {
            if let Err(e) = cb.call1(py, (stage.name(), done, total))
                && let Ok(mut slot) = self.error.lock()
                && slot.is_none()
            {
                *slot = Some(e);
            }
        });
    }
}

impl Progress for PyProgress {
    fn start(&self, stage: Stage, steps: usize) {
        self.report(stage, false, Some(steps));
    }

    fn advance(&self, stage: Stage) {
        self.report(stage, true, None);
    }

    fn cancelled(&self) -> bool {
        if let Ok(slot) = self.error.lock()
            && slot.is_some()
        {
            return true;
        }
        Python::attach(|py| match py.check_signals() {
            Ok(()) => false,
            Err(e) => {
                if let Ok(mut slot) = self.error.lock() {
                    *slot = Some(e);
                }
                true
            }
        })
    }
}

/// The whole chain on a burst, as `obscura process` does: decode, align, merge, finish and,
/// when `out` is given, encode to that file. Returns (image, report): the finished image as
/// `finish` returns it and the run's report as a dict (what `--report` writes).
#[pyfunction]
#[pyo3(signature = (paths, out=None, *, reference=None, frames=None, merge="robust", scale=1.0,
    dng=None, look="natural", wb=None, wb_temp=None, colorspace="srgb", exposure=0.0,
    tone="local", tone_strength=None, highlights="reconstruct", demosaic="rcd", sharpen=None,
    shading=true, keep_orientation=false, lut=None, lut_strength=1.0, format=None, quality=92,
    png16=false, keep_location=false, keep_metadata=false, progress=None))]
#[allow(clippy::too_many_arguments)] // Python keyword arguments, as the command line's options
fn process<'py>(
    py: Python<'py>,
    paths: &Bound<'py, PyAny>,
    out: Option<PathBuf>,
    reference: Option<usize>,
    frames: Option<usize>,
    merge: &str,
    scale: f32,
    dng: Option<PathBuf>,
    look: &str,
    wb: Option<&Bound<'py, PyAny>>,
    wb_temp: Option<&Bound<'py, PyAny>>,
    colorspace: &str,
    exposure: f64,
    tone: &str,
    tone_strength: Option<f32>,
    highlights: &str,
    demosaic: &str,
    sharpen: Option<f32>,
    shading: bool,
    keep_orientation: bool,
    lut: Option<PathBuf>,
    lut_strength: f32,
    format: Option<&str>,
    quality: u8,
    png16: bool,
    keep_location: bool,
    keep_metadata: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let (fp, look, lut) = FinishOptions {
        look,
        wb,
        wb_temp,
        colorspace,
        exposure,
        tone,
        tone_strength,
        highlights,
        demosaic,
        sharpen,
        shading,
        keep_orientation,
        lut,
        lut_strength,
    }
    .params()?;
    let mut p = Pipeline {
        finish: fp,
        look,
        lut,
        encode: obscura::encode::EncodeParams {
            format: format.map(str::parse).transpose().py()?,
            quality,
            png16,
            keep_location,
            keep_metadata,
        },
        ..Pipeline::default()
    };
    p.align.reference = reference;
    p.merge.method = merge.parse().py()?;
    p.merge.scale = scale;
    p.max_frames = frames;
    p.dng = dng;
    p.validate().py()?;
    let inputs = Inputs::extract(paths)?.paths()?;
    let prog = PyProgress {
        callback: progress,
        done: Mutex::new(Default::default()),
        error: Mutex::new(None),
    };
    let result = py.detach(|| -> obscura::Result<_> {
        let output = match &out {
            Some(o) => p.run_with(&inputs, o, &prog)?,
            None => p.develop(&inputs, &prog)?,
        };
        Ok((planes_hwc(&output.image.rgb), output.report))
    });
    if let Ok(mut slot) = prog.error.lock()
        && let Some(e) = slot.take()
    {
        return Err(e);
    }
    let (img, report) = result.py()?;
    let report = to_python(py, &report)?;
    if out.is_none() {
        report.set_item("output", py.None())?;
    }
    PyTuple::new(py, [img?.into_pyarray(py).into_any(), report])
}

/// A synthetic burst with its ground truth.
#[pyclass(name = "SynthBurst", module = "obscura", frozen)]
struct PySynthBurst {
    frames: Vec<Py<PyRawFrame>>,
    truth: Py<PyAny>,
    clean_mosaic: Py<PyArray2<f32>>,
    clean_rgb: Py<PyArray3<f32>>,
    clean_rgb_scaled: Option<Py<PyArray3<f32>>>,
    files: Vec<String>,
}

#[pymethods]
impl PySynthBurst {
    /// The raw frames, frame 0 (the reference) first.
    #[getter]
    fn frames(&self, py: Python<'_>) -> Vec<Py<PyRawFrame>> {
        self.frames.iter().map(|f| f.clone_ref(py)).collect()
    }

    /// The truth (what truth.json holds): parameters, each frame's motion and exposure,
    /// the moving object.
    #[getter]
    fn truth(&self, py: Python<'_>) -> Py<PyAny> {
        self.truth.clone_ref(py)
    }

    /// Frame 0 without noise or quantisation, float32 (height, width): normalised,
    /// exposure-scaled, clipped at 1.
    #[getter]
    fn clean_mosaic(&self, py: Python<'_>) -> Py<PyArray2<f32>> {
        self.clean_mosaic.clone_ref(py)
    }

    /// Frame 0's clean camera RGB, float32 (height, width, 3), not clipped: what a perfect
    /// merge and demosaic would recover.
    #[getter]
    fn clean_rgb(&self, py: Python<'_>) -> Py<PyArray3<f32>> {
        self.clean_rgb.clone_ref(py)
    }

    /// With truth_scale s > 1, the clean RGB on a grid s times finer (s*height, s*width, 3);
    /// None otherwise.
    #[getter]
    fn clean_rgb_scaled(&self, py: Python<'_>) -> Option<Py<PyArray3<f32>>> {
        self.clean_rgb_scaled.as_ref().map(|a| a.clone_ref(py))
    }

    /// The frame files written (with `out`), in frame order; empty otherwise.
    #[getter]
    fn files(&self) -> Vec<String> {
        self.files.clone()
    }

    fn __len__(&self) -> usize {
        self.frames.len()
    }

    fn __repr__(&self) -> String {
        format!("<obscura.SynthBurst {} frames>", self.frames.len())
    }
}

/// Makes a synthetic burst with ground truth, as `obscura synth` does: frames of a scene
/// moved by simulated hand shake, with Poisson-Gaussian noise. With `out`, also writes
/// frame_00.dng ..., truth.json and the reference TIFFs there.
#[pyfunction]
#[pyo3(signature = (frames=8, width=640, height=480, *, motion=8.0, rotate=0.3, moving=0.0,
    shot=2e-3, read=1e-4, seed=1, cfa="RGGB", black=64, white=4095, exposure=1.0,
    bracket=None, scene=None, truth_scale=1, out=None))]
#[allow(clippy::too_many_arguments)] // Python keyword arguments, as the command line's options
fn synth(
    py: Python<'_>,
    frames: usize,
    width: usize,
    height: usize,
    motion: f64,
    rotate: f64,
    moving: f64,
    shot: f64,
    read: f64,
    seed: u64,
    cfa: &str,
    black: u32,
    white: u32,
    exposure: f64,
    bracket: Option<Vec<f64>>,
    scene: Option<PathBuf>,
    truth_scale: usize,
    out: Option<PathBuf>,
) -> PyResult<PySynthBurst> {
    let cfa = obscura::Cfa::parse(cfa).ok_or_else(|| {
        PyValueError::new_err(format!(
            "invalid --cfa: {cfa:?}; use RGGB, BGGR, GRBG or GBRG"
        ))
    })?;
    let params = obscura::synth::SynthParams {
        frames,
        width,
        height,
        motion,
        rotate,
        moving,
        shot,
        read,
        seed,
        cfa,
        black,
        white,
        exposure,
        bracket: bracket.unwrap_or_default(),
        scene: match scene {
            Some(p) if p.as_os_str() == "chart" => obscura::synth::SceneSource::Chart,
            Some(p) => obscura::synth::SceneSource::Image(p),
            None => obscura::synth::SceneSource::Procedural,
        },
        truth_scale,
        ..Default::default()
    };
    type Laid = (
        Vec<frame::Prepared>,
        obscura::synth::Truth,
        Array2<f32>,
        Array3<f32>,
        Option<Array3<f32>>,
        Vec<String>,
    );
    let laid: Laid = py.detach(move || -> PyResult<Laid> {
        let mut b = obscura::synth::synthesize(&params).py()?;
        let files = match &out {
            Some(dir) => b
                .save(dir)
                .py()?
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
            None => Vec::new(),
        };
        let scaled = b.clean_rgb_scaled.as_ref().map(planes_hwc).transpose()?;
        let rgb = planes_hwc(&b.clean_rgb)?;
        let mosaic = convert::plane_array(std::mem::take(&mut b.clean_mosaic))?;
        let frames = b
            .frames
            .into_iter()
            .map(PyRawFrame::prepare)
            .collect::<PyResult<Vec<_>>>()?;
        Ok((frames, b.truth, mosaic, rgb, scaled, files))
    })?;
    let (prepared, truth, mosaic, rgb, scaled, files) = laid;
    let frames = prepared
        .into_iter()
        .map(|p| Py::new(py, PyRawFrame::from_prepared(py, p, None)))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PySynthBurst {
        frames,
        truth: to_python(py, &truth)?.unbind(),
        clean_mosaic: mosaic.into_pyarray(py).unbind(),
        clean_rgb: rgb.into_pyarray(py).unbind(),
        clean_rgb_scaled: scaled.map(|a| a.into_pyarray(py).unbind()),
        files,
    })
}

/// The built-in looks: {name: description}.
#[pyfunction]
fn looks(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for name in Look::BUILTIN {
        if let Some(l) = Look::builtin(name) {
            d.set_item(name, l.description)?;
        }
    }
    Ok(d)
}

/// obscura: burst photography from RAW files, on NumPy arrays.
#[pymodule]
#[pyo3(name = "obscura")]
fn obscura_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DecodeError", py.get_type::<DecodeError>())?;
    m.add("UnsupportedError", py.get_type::<UnsupportedError>())?;
    m.add_class::<PyRawFrame>()?;
    m.add_class::<PyAlignment>()?;
    m.add_class::<PySynthBurst>()?;
    m.add_function(wrap_pyfunction!(open, m)?)?;
    m.add_function(wrap_pyfunction!(align, m)?)?;
    m.add_function(wrap_pyfunction!(merge, m)?)?;
    m.add_function(wrap_pyfunction!(finish, m)?)?;
    m.add_function(wrap_pyfunction!(process, m)?)?;
    m.add_function(wrap_pyfunction!(synth, m)?)?;
    m.add_function(wrap_pyfunction!(looks, m)?)?;
    m.add(
        "__all__",
        [
            "__version__",
            "DecodeError",
            "UnsupportedError",
            "RawFrame",
            "Alignment",
            "SynthBurst",
            "open",
            "align",
            "merge",
            "finish",
            "process",
            "synth",
            "looks",
        ],
    )?;
    Ok(())
}
