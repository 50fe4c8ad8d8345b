//! `obscura.RawFrame`: a decoded (or merged, or synthetic) raw frame, its pixels as NumPy
//! arrays and its metadata as attributes.

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyArray3, PyArrayMethods, PyUntypedArrayMethods};
use obscura::{Plane, RawFrame};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{IntoPyResult, hwc_planes, plane_array, planes_hwc, to_python};

/// The merge's figures, kept with a merged frame.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct MergeInfo {
    /// Frames that took part, the reference included.
    pub frames: usize,
    /// The reference's index among them.
    pub reference: usize,
    /// Share of (alternate frame, tile) pairs kept from the reference.
    pub rejected_fraction: f32,
    /// The noise reduction reached, as an equivalent number of averaged frames.
    pub effective_frames: f32,
    /// The factor the merged values were divided by to fit the output's white level.
    pub scale: f32,
}

/// A raw frame: the mosaic (or linear RGB) as NumPy arrays plus levels, geometry and
/// metadata. The arrays are the frame's own: edit them in place and later stages
/// (`finish`, `merge`, `write_dng`) see the edits.
#[pyclass(name = "RawFrame", module = "obscura", frozen)]
pub struct PyRawFrame {
    /// Everything but the pixels (its mosaic is empty and its `rgb` is `None`).
    meta: RawFrame,
    /// The mosaic, (height, width) float32; `None` for a linear RGB frame.
    mosaic: Option<Py<PyArray2<f32>>>,
    /// Linear camera RGB, (height, width, 3) float32; `None` for a Bayer frame.
    rgb: Option<Py<PyArray3<f32>>>,
    /// The merge's figures, for a frame `merge` made.
    merge_info: Option<MergeInfo>,
}

impl PyRawFrame {
    /// Takes the pixels out of a frame and lays them out as arrays, without the GIL (call it
    /// inside `Python::detach`: the RGB interleave runs on the library's thread pool, whose
    /// workers may be waiting for the GIL to report progress). The mosaic's buffer becomes
    /// the array's, no copy; linear RGB planes are interleaved into one (height, width, 3)
    /// array (one copy).
    pub fn prepare(mut frame: RawFrame) -> PyResult<Prepared> {
        let rgb = match frame.rgb.take() {
            Some(planes) => Some(planes_hwc(&planes)?),
            None => None,
        };
        let mosaic = if rgb.is_some() {
            None
        } else {
            Some(plane_array(std::mem::take(&mut frame.mosaic))?)
        };
        Ok(Prepared {
            meta: frame,
            mosaic,
            rgb,
        })
    }

    /// The Python object from prepared arrays (moves them into NumPy).
    pub fn from_prepared(py: Python<'_>, p: Prepared, merge_info: Option<MergeInfo>) -> Self {
        PyRawFrame {
            meta: p.meta,
            mosaic: p.mosaic.map(|a| a.into_pyarray(py).unbind()),
            rgb: p.rgb.map(|a| a.into_pyarray(py).unbind()),
            merge_info,
        }
    }

    /// The library's frame with the arrays' current pixels (copied: the Python arrays stay
    /// the caller's).
    pub fn to_frame(&self, py: Python<'_>) -> PyResult<RawFrame> {
        let mut f = self.meta.clone();
        if let Some(m) = &self.mosaic {
            let a = m.bind(py).try_readonly()?;
            let v = a.as_array();
            let (rows, cols) = v.dim();
            let data: Vec<f32> = match v.as_slice() {
                Some(s) => s.to_vec(),
                None => v.iter().copied().collect(),
            };
            f.mosaic = Plane::from_vec(cols, rows, data)
                .ok_or_else(|| PyValueError::new_err("mosaic of the wrong size"))?;
        }
        if let Some(rgb) = &self.rgb {
            let a = rgb.bind(py).try_readonly()?;
            f.rgb = Some(Box::new(hwc_planes(a.as_array())?));
        }
        Ok(f)
    }

    /// The frame's size (width, height) from its arrays.
    fn dims(&self, py: Python<'_>) -> (usize, usize) {
        if let Some(m) = &self.mosaic {
            let s = m.bind(py).shape();
            (s[1], s[0])
        } else if let Some(r) = &self.rgb {
            let s = r.bind(py).shape();
            (s[1], s[0])
        } else {
            (0, 0)
        }
    }
}

/// A frame's arrays laid out, before they move into NumPy.
pub struct Prepared {
    meta: RawFrame,
    mosaic: Option<Array2<f32>>,
    rgb: Option<numpy::ndarray::Array3<f32>>,
}

type Rect4 = (usize, usize, usize, usize);

fn rect(r: obscura::Rect) -> Rect4 {
    (r.x, r.y, r.width, r.height)
}

#[pymethods]
impl PyRawFrame {
    /// The file it came from ("" for frames made in memory).
    #[getter]
    fn path(&self) -> String {
        self.meta.path.to_string_lossy().into_owned()
    }

    /// The whole stored buffer (masked borders included), float32 (height, width),
    /// normalised per photosite: 0 = black level, 1 = white level; below-black noise stays
    /// negative. `None` for a linear RGB frame.
    #[getter]
    fn mosaic(&self, py: Python<'_>) -> Option<Py<PyArray2<f32>>> {
        self.mosaic.as_ref().map(|m| m.clone_ref(py))
    }

    /// Linear camera RGB, float32 (height, width, 3), normalised like the mosaic: a LinearRaw
    /// DNG or the kernel merge's output. `None` for a Bayer frame.
    #[getter]
    fn rgb(&self, py: Python<'_>) -> Option<Py<PyArray3<f32>>> {
        self.rgb.as_ref().map(|m| m.clone_ref(py))
    }

    /// Whether the frame holds linear RGB rather than a Bayer mosaic.
    #[getter]
    fn is_rgb(&self) -> bool {
        self.rgb.is_some()
    }

    /// Buffer width in pixels.
    #[getter]
    fn width(&self, py: Python<'_>) -> usize {
        self.dims(py).0
    }

    /// Buffer height in pixels.
    #[getter]
    fn height(&self, py: Python<'_>) -> usize {
        self.dims(py).1
    }

    /// The Bayer pattern from the buffer's top-left corner ("RGGB", "BGGR", "GRBG" or
    /// "GBRG"); `None` for linear RGB.
    #[getter]
    fn cfa(&self) -> Option<&'static str> {
        (self.rgb.is_none()).then(|| self.meta.cfa.name())
    }

    /// The Bayer pattern as seen from the crop's top-left corner.
    #[getter]
    fn cfa_at_crop(&self) -> Option<&'static str> {
        (self.rgb.is_none()).then(|| self.meta.cfa_at(self.meta.crop).name())
    }

    /// Black level in raw units per 2x2 position, indexed (y % 2) * 2 + (x % 2); for
    /// linear RGB, per plane R, G, B (and G again).
    #[getter]
    fn black(&self) -> (f64, f64, f64, f64) {
        let b = self.meta.black;
        (b[0], b[1], b[2], b[3])
    }

    /// White (saturation) level in raw units.
    #[getter]
    fn white(&self) -> f64 {
        self.meta.white
    }

    /// The area with image data (x, y, width, height), buffer coordinates.
    #[getter]
    fn active_area(&self) -> Rect4 {
        rect(self.meta.active_area)
    }

    /// The area to show (x, y, width, height), buffer coordinates.
    #[getter]
    fn crop(&self) -> Rect4 {
        rect(self.meta.crop)
    }

    /// Which library decoded the pixels: "Rawloader", "Rawler" or "Obscura".
    #[getter]
    fn decoder(&self) -> String {
        format!("{:?}", self.meta.decoder)
    }

    /// Camera maker.
    #[getter]
    fn make(&self) -> &str {
        &self.meta.meta.make
    }

    /// Camera model.
    #[getter]
    fn model(&self) -> &str {
        &self.meta.meta.model
    }

    /// EXIF orientation, 1 to 8 (1 = as stored).
    #[getter]
    fn orientation(&self) -> u16 {
        self.meta.meta.orientation
    }

    /// Exposure time in seconds.
    #[getter]
    fn exposure_time(&self) -> Option<f64> {
        self.meta.meta.exposure_time
    }

    /// ISO sensitivity.
    #[getter]
    fn iso(&self) -> Option<u32> {
        self.meta.meta.iso
    }

    /// Aperture (f-number).
    #[getter]
    fn aperture(&self) -> Option<f64> {
        self.meta.meta.aperture
    }

    /// Focal length in millimetres.
    #[getter]
    fn focal_length(&self) -> Option<f64> {
        self.meta.meta.focal_length
    }

    /// Capture time as EXIF gives it.
    #[getter]
    fn capture_time(&self) -> Option<&str> {
        self.meta.meta.capture_time.as_deref()
    }

    /// DNG BaselineExposure in EV.
    #[getter]
    fn baseline_exposure(&self) -> f64 {
        self.meta.meta.baseline_exposure
    }

    /// Bits per sample of the stored data.
    #[getter]
    fn bits_per_sample(&self) -> u16 {
        self.meta.meta.bits_per_sample
    }

    /// As-shot white balance: the camera-space colour of neutral (R, G, B), green = 1.
    #[getter]
    fn as_shot_neutral(&self) -> (f64, f64, f64) {
        let n = self.meta.meta.as_shot_neutral;
        (n[0], n[1], n[2])
    }

    /// The white-balance multipliers (R, G, B) that make the as-shot neutral grey, green = 1.
    #[getter]
    fn wb_multipliers(&self) -> (f64, f64, f64) {
        let m = self.meta.wb_multipliers();
        (m[0], m[1], m[2])
    }

    /// The colour calibrations, one per illuminant: dicts with `illuminant` (EXIF
    /// LightSource code, 21 = D65, 17 = A), `color_matrix` (XYZ -> camera, 3x3 float64
    /// array) and `forward_matrix` (camera -> XYZ D50, or None).
    #[getter]
    fn calibrations<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let mat =
            |m: &[[f64; 3]; 3]| Array2::from_shape_fn((3, 3), |(i, j)| m[i][j]).into_pyarray(py);
        self.meta
            .meta
            .calibrations
            .iter()
            .map(|c| {
                let d = PyDict::new(py);
                d.set_item("illuminant", c.illuminant)?;
                d.set_item("color_matrix", mat(&c.color_matrix))?;
                d.set_item("forward_matrix", c.forward_matrix.as_ref().map(mat))?;
                Ok(d)
            })
            .collect()
    }

    /// The DNG NoiseProfile as a float64 array (n, 2) of (scale, offset): variance = scale
    /// * x + offset for a signal x normalised to [0, 1]; n is 0 (none), 1 (all planes) or 3
    /// (R, G, B).
    #[getter]
    fn noise_profile<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        let n = &self.meta.meta.noise_profile;
        Array2::from_shape_fn(
            (n.len(), 2),
            |(i, j)| {
                if j == 0 { n[i].scale } else { n[i].offset }
            },
        )
        .into_pyarray(py)
    }

    /// The noise model merge uses for this frame: a dict with `channels` (R, G, B, each
    /// {scale, offset}) and `source` (the NoiseProfile, or an estimate from the pixels).
    fn noise_model<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let f = self.to_frame(py)?;
        let n = py.detach(move || obscura::merge::noise::noise_model(&f));
        to_python(py, &n)
    }

    /// Every metadata field as a dict (what `obscura info --json` prints besides the
    /// geometry: camera, exposure, white balance, calibrations, noise profile, opcode lists,
    /// GPS).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.meta.meta)
    }

    /// For a frame `merge` made: frames, reference, rejected_fraction, effective_frames,
    /// scale. None otherwise.
    #[getter]
    fn merge_info<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.merge_info
            .as_ref()
            .map(|m| to_python(py, m))
            .transpose()
    }

    /// The buffer as integer raw values (rounded, clamped to 0..65535), uint16: (height,
    /// width) for a mosaic, (height, width, 3) for linear RGB; what a 16-bit DNG of the frame
    /// stores.
    fn raw<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let f = self.to_frame(py)?;
        let (w, h) = f.size();
        let rgb = f.is_rgb();
        let v = py.detach(move || f.raw_u16());
        let shape: Vec<usize> = if rgb { vec![h, w, 3] } else { vec![h, w] };
        let a = numpy::ndarray::ArrayD::from_shape_vec(shape, v)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(a.into_pyarray(py).into_any())
    }

    /// Writes the frame as an uncompressed 16-bit DNG (LinearRaw for linear RGB), as
    /// `obscura merge -o` does; the write is atomic.
    fn write_dng(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        let f = self.to_frame(py)?;
        py.detach(move || obscura::raw::write_dng(&f, &path)).py()
    }

    /// A new frame with this one's metadata and levels and the pixels given: `mosaic`
    /// (height, width) for a Bayer frame or `rgb` (height, width, 3) for a linear RGB one,
    /// the same size as this frame's, normalised like them (copied into the new frame).
    /// For bursts made or altered in NumPy.
    #[pyo3(signature = (*, mosaic=None, rgb=None))]
    fn with_pixels(
        &self,
        py: Python<'_>,
        mosaic: Option<numpy::PyReadonlyArray2<'_, f32>>,
        rgb: Option<numpy::PyReadonlyArray3<'_, f32>>,
    ) -> PyResult<PyRawFrame> {
        let (w, h) = self.dims(py);
        let mut meta = self.meta.clone();
        meta.path = std::path::PathBuf::new();
        let (m, c) = match (mosaic, rgb) {
            (Some(m), None) if self.mosaic.is_some() => {
                if m.as_array().dim() != (h, w) {
                    return Err(PyValueError::new_err(format!(
                        "invalid mosaic: shape {:?}, the frame's is ({h}, {w})",
                        m.as_array().dim()
                    )));
                }
                (
                    Some(m.as_array().to_owned().into_pyarray(py).unbind()),
                    None,
                )
            }
            (None, Some(c)) if self.rgb.is_some() => {
                if c.as_array().dim() != (h, w, 3) {
                    return Err(PyValueError::new_err(format!(
                        "invalid rgb: shape {:?}, the frame's is ({h}, {w}, 3)",
                        c.as_array().dim()
                    )));
                }
                (
                    None,
                    Some(c.as_array().to_owned().into_pyarray(py).unbind()),
                )
            }
            _ => {
                return Err(PyValueError::new_err(if self.rgb.is_some() {
                    "this frame is linear RGB: give rgb= (height, width, 3)"
                } else {
                    "this frame is a Bayer mosaic: give mosaic= (height, width)"
                }));
            }
        };
        Ok(PyRawFrame {
            meta,
            mosaic: m,
            rgb: c,
            merge_info: None,
        })
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let (w, h) = self.dims(py);
        let kind = match self.cfa() {
            Some(c) => c.to_string(),
            None => "linear RGB".into(),
        };
        format!(
            "<obscura.RawFrame {:?} {w}x{h} {kind}, black {:?}, white {}>",
            self.path(),
            self.meta.black,
            self.meta.white
        )
    }
}
