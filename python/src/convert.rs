//! Conversions between the library's types and Python's: errors to exceptions, planes to
//! NumPy arrays (moved, not copied, where the layout allows), inputs to paths or frames.

use std::path::PathBuf;

use numpy::ndarray::{Array2, Array3};
use obscura::{Error, Plane, RawFrame};
use pyo3::exceptions::{
    PyFileNotFoundError, PyIsADirectoryError, PyKeyboardInterrupt, PyMemoryError, PyOSError,
    PyPermissionError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use rayon::prelude::*;

use crate::frame::PyRawFrame;

pyo3::create_exception!(
    obscura,
    DecodeError,
    pyo3::exceptions::PyException,
    "A raw file is corrupt, truncated or not a raw file at all. The message names the file \
     and the problem (as the command line prints it); `path` holds the file."
);

pyo3::create_exception!(
    obscura,
    UnsupportedError,
    DecodeError,
    "A valid raw file of a kind obscura does not process (X-Trans, monochrome, a linear RGB \
     frame given to a stage that needs a Bayer mosaic). A subclass of DecodeError."
);

/// The Python exception for a library error, with the command line's message:
/// `ValueError` for parameters and bursts that do not fit together, `OSError` (its
/// `FileNotFoundError`, `PermissionError`, `IsADirectoryError` subclasses where they apply)
/// for files the system could not read or write, `DecodeError` / `UnsupportedError` for raw
/// files obscura cannot read (a singular colour matrix included), `ValueError` too for an image
/// its format cannot hold (`Error::Encode`), `MemoryError` for resource limits,
/// `KeyboardInterrupt` for an interrupted run.
pub fn to_py(e: Error) -> PyErr {
    let msg = e.to_string();
    match e {
        Error::Parameter { .. }
        | Error::Mismatch { .. }
        | Error::Burst { .. }
        | Error::Encode { .. } => PyValueError::new_err(msg),
        Error::Io { source, .. } => match source.kind() {
            std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
            std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
            std::io::ErrorKind::IsADirectory => PyIsADirectoryError::new_err(msg),
            _ => PyOSError::new_err(msg),
        },
        Error::Decode { path, .. } => with_path(DecodeError::new_err(msg), path),
        Error::Unsupported { path, .. } => with_path(UnsupportedError::new_err(msg), path),
        Error::Limits { .. } => PyMemoryError::new_err(msg),
        Error::Interrupted => PyKeyboardInterrupt::new_err(msg),
        _ => PyRuntimeError::new_err(msg),
    }
}

/// Sets the exception's `path` attribute to the file concerned.
fn with_path(err: PyErr, path: PathBuf) -> PyErr {
    Python::attach(|py| {
        // the exception classes are plain Python classes, so the attribute always sets
        let _ = err
            .value(py)
            .setattr("path", path.to_string_lossy().into_owned());
    });
    err
}

/// `Result<T, obscura::Error>` to `PyResult<T>`.
pub trait IntoPyResult<T> {
    /// Maps the error with [`to_py`].
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for obscura::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// A plane as a 2-D array (height, width): the plane's buffer becomes the array's, no copy.
pub fn plane_array(p: Plane<f32>) -> PyResult<Array2<f32>> {
    Array2::from_shape_vec((p.height, p.width), p.data)
        .map_err(|e| PyValueError::new_err(format!("plane of the wrong size: {e}")))
}

/// Three planes as one (height, width, 3) array (one interleaving copy, in parallel).
pub fn planes_hwc(planes: &[Plane<f32>; 3]) -> PyResult<Array3<f32>> {
    let (w, h) = (planes[0].width, planes[0].height);
    let n = w * h;
    if planes.iter().any(|p| p.data.len() != n) {
        return Err(PyValueError::new_err("RGB planes of different sizes"));
    }
    let mut out = vec![0f32; n * 3];
    const CHUNK: usize = 1 << 14;
    out.par_chunks_mut(3 * CHUNK)
        .enumerate()
        .for_each(|(k, chunk)| {
            let base = k * CHUNK;
            for (j, px) in chunk.chunks_exact_mut(3).enumerate() {
                let i = base + j;
                px[0] = planes[0].data[i];
                px[1] = planes[1].data[i];
                px[2] = planes[2].data[i];
            }
        });
    Array3::from_shape_vec((h, w, 3), out)
        .map_err(|e| PyValueError::new_err(format!("RGB image of the wrong size: {e}")))
}

/// A (height, width, 3) array split back into three planes.
pub fn hwc_planes(a: numpy::ndarray::ArrayView3<'_, f32>) -> PyResult<[Plane<f32>; 3]> {
    let (h, w, c) = a.dim();
    if c != 3 {
        return Err(PyValueError::new_err(format!(
            "rgb must have shape (height, width, 3), not {:?}",
            a.dim()
        )));
    }
    let mut planes = [Plane::new(w, h), Plane::new(w, h), Plane::new(w, h)];
    let [r, g, b] = &mut planes;
    for (((px, r), g), b) in a
        .rows()
        .into_iter()
        .zip(r.data.iter_mut())
        .zip(g.data.iter_mut())
        .zip(b.data.iter_mut())
    {
        (*r, *g, *b) = (px[0], px[1], px[2]);
    }
    Ok(planes)
}

/// What the stages take: raw files (or folders of them), or frames already in memory.
pub enum Inputs {
    /// Files and folders, in the order given (a folder's raw files by name).
    Paths(Vec<PathBuf>),
    /// Frames (copies of the `RawFrame` objects' current pixels).
    Frames(Vec<RawFrame>),
}

impl Inputs {
    /// Reads a path, a `RawFrame`, or a list or tuple of either kind.
    pub fn extract(obj: &Bound<'_, PyAny>) -> PyResult<Inputs> {
        if let Ok(p) = obj.extract::<PathBuf>() {
            return Ok(Inputs::Paths(vec![p]));
        }
        if let Ok(f) = obj.extract::<PyRef<'_, PyRawFrame>>() {
            return Ok(Inputs::Frames(vec![f.to_frame(obj.py())?]));
        }
        if !(obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>()) {
            return Err(PyTypeError::new_err(
                "expected a path, a RawFrame, or a list of paths or of RawFrames",
            ));
        }
        let mut paths = Vec::new();
        let mut frames = Vec::new();
        for item in obj.try_iter()? {
            let item = item?;
            if let Ok(p) = item.extract::<PathBuf>() {
                paths.push(p);
            } else if let Ok(f) = item.extract::<PyRef<'_, PyRawFrame>>() {
                frames.push(f.to_frame(obj.py())?);
            } else {
                return Err(PyTypeError::new_err(format!(
                    "expected paths or RawFrames, found {}",
                    item.get_type().name()?
                )));
            }
        }
        match (paths.is_empty(), frames.is_empty()) {
            (false, false) => Err(PyTypeError::new_err(
                "give either paths or RawFrames, not both",
            )),
            (true, false) => Ok(Inputs::Frames(frames)),
            _ => Ok(Inputs::Paths(paths)),
        }
    }

    /// Paths only (for the pipeline, which streams its files).
    pub fn paths(self) -> PyResult<Vec<PathBuf>> {
        match self {
            Inputs::Paths(p) => Ok(p),
            Inputs::Frames(_) => Err(PyTypeError::new_err(
                "process() reads raw files: give paths (merge() takes RawFrames)",
            )),
        }
    }

    /// The burst: files decoded in parallel, or the frames given; checked to match.
    pub fn burst(self) -> obscura::Result<obscura::Burst> {
        match self {
            Inputs::Paths(p) => obscura::Burst::open(&p),
            Inputs::Frames(f) => obscura::Burst::from_frames(f),
        }
    }
}

/// A value serialised with serde, as Python objects (through JSON: dicts, lists, numbers,
/// strings, None).
pub fn to_python<'py>(py: Python<'py>, v: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(v).map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}
