"""obscura: burst photography from RAW files, on NumPy arrays.

Each stage of the pipeline is one function: ``open`` -> ``RawFrame``, ``align`` ->
``Alignment``, ``merge`` -> ``RawFrame``, ``finish`` -> an (height, width, 3) float32 image,
``process`` (the whole chain) -> ``(image, report)``, ``synth`` -> ``SynthBurst``. Options mean
what the command line's options of the same name mean. The GIL is released while the work
runs, so bursts in several Python threads run side by side.

Errors: ``ValueError`` for parameters (and frames that do not match), ``OSError`` (its
``FileNotFoundError`` / ``PermissionError`` / ``IsADirectoryError`` subclasses where they apply)
for files the system could not read or write, ``DecodeError`` for corrupt raw files,
``UnsupportedError`` (a ``DecodeError``) for raw files of a kind obscura does not process,
``MemoryError`` for resource limits. Messages are the command line's.
"""

import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union, final

import numpy as np
import numpy.typing as npt

__version__: str
__all__ = [
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
]

_Path = Union[str, "os.PathLike[str]"]
_Inputs = Union[_Path, "RawFrame", Sequence[_Path], Sequence["RawFrame"]]
_Numbers = Union[float, Sequence[float], str]

class DecodeError(Exception):
    """A raw file is corrupt, truncated or not a raw file at all. ``path`` names it."""

    path: str

class UnsupportedError(DecodeError):
    """A valid raw file of a kind obscura does not process (X-Trans, monochrome, ...)."""

@final
class RawFrame:
    """A raw frame: pixels as NumPy arrays, levels, geometry and metadata.

    The arrays are the frame's own: edits made in place are seen by ``finish``, ``merge``,
    ``align``, ``raw`` and ``write_dng``.
    """

    @property
    def path(self) -> str:
        """The file it came from ("" for frames made in memory)."""
    @property
    def mosaic(self) -> Optional[npt.NDArray[np.float32]]:
        """The whole stored buffer (masked borders included), (height, width), normalised
        per photosite: 0 = black level, 1 = white level. None for linear RGB."""
    @property
    def rgb(self) -> Optional[npt.NDArray[np.float32]]:
        """Linear camera RGB (height, width, 3), normalised like the mosaic (LinearRaw DNG,
        kernel merge). None for a Bayer frame."""
    @property
    def is_rgb(self) -> bool: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def cfa(self) -> Optional[str]:
        """Bayer pattern from the buffer's top-left corner: RGGB, BGGR, GRBG or GBRG."""
    @property
    def cfa_at_crop(self) -> Optional[str]:
        """Bayer pattern from the crop's top-left corner."""
    @property
    def black(self) -> Tuple[float, float, float, float]:
        """Black level (raw units) per 2x2 position, index (y % 2) * 2 + (x % 2)."""
    @property
    def white(self) -> float:
        """White (saturation) level in raw units."""
    @property
    def active_area(self) -> Tuple[int, int, int, int]:
        """(x, y, width, height) of the area with image data."""
    @property
    def crop(self) -> Tuple[int, int, int, int]:
        """(x, y, width, height) of the area to show."""
    @property
    def decoder(self) -> str:
        """Rawloader, Rawler or Obscura."""
    @property
    def make(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def orientation(self) -> int:
        """EXIF orientation, 1 to 8."""
    @property
    def exposure_time(self) -> Optional[float]:
        """Seconds."""
    @property
    def iso(self) -> Optional[int]: ...
    @property
    def aperture(self) -> Optional[float]: ...
    @property
    def focal_length(self) -> Optional[float]:
        """Millimetres."""
    @property
    def capture_time(self) -> Optional[str]: ...
    @property
    def baseline_exposure(self) -> float:
        """DNG BaselineExposure, EV."""
    @property
    def bits_per_sample(self) -> int: ...
    @property
    def as_shot_neutral(self) -> Tuple[float, float, float]:
        """Camera-space colour of neutral, green = 1."""
    @property
    def wb_multipliers(self) -> Tuple[float, float, float]:
        """Multipliers that make the as-shot neutral grey, green = 1."""
    @property
    def calibrations(self) -> List[Dict[str, Any]]:
        """Per illuminant: ``illuminant`` (EXIF code), ``color_matrix`` (XYZ -> camera,
        3x3 float64), ``forward_matrix`` (camera -> XYZ D50, or None)."""
    @property
    def noise_profile(self) -> npt.NDArray[np.float64]:
        """(n, 2) of (scale, offset): variance = scale * x + offset, x in [0, 1]."""
    @property
    def metadata(self) -> Dict[str, Any]:
        """Every metadata field, as ``obscura info --json`` prints it."""
    @property
    def merge_info(self) -> Optional[Dict[str, Any]]:
        """For a merged frame: frames, reference, rejected_fraction, effective_frames,
        scale."""
    def noise_model(self) -> Dict[str, Any]:
        """The noise model merge uses: ``channels`` (R, G, B {scale, offset}), ``source``."""
    def raw(self) -> npt.NDArray[np.uint16]:
        """Integer raw values, (height, width) or (height, width, 3) for linear RGB."""
    def with_pixels(
        self,
        *,
        mosaic: Optional[npt.NDArray[np.float32]] = None,
        rgb: Optional[npt.NDArray[np.float32]] = None,
    ) -> "RawFrame":
        """A new frame with this one's metadata and the given pixels (same shape, copied)."""
    def write_dng(self, path: _Path) -> None:
        """Writes a 16-bit DNG (LinearRaw for linear RGB), atomically."""

@final
class Alignment:
    """Where each frame sees each tile of the reference."""

    @property
    def reference(self) -> int: ...
    @property
    def files(self) -> List[str]: ...
    @property
    def tiles_x(self) -> int: ...
    @property
    def tiles_y(self) -> int: ...
    @property
    def tile_step(self) -> int: ...
    @property
    def tile_size(self) -> int: ...
    @property
    def origin(self) -> Tuple[int, int]: ...
    @property
    def field(self) -> npt.NDArray[np.float32]:
        """(frames, tiles_y, tiles_x, 2) of (dx, dy): the reference pixel at p is found at
        p + (dx, dy) in frame k."""
    @property
    def residual(self) -> npt.NDArray[np.float32]:
        """(frames, tiles_y, tiles_x) RMS difference at the match."""
    @property
    def unreliable(self) -> npt.NDArray[np.bool_]:
        """(frames, tiles_y, tiles_x) tiles merged from the reference."""
    @property
    def median(self) -> npt.NDArray[np.float32]:
        """(frames, 2) median displacement per frame."""
    def with_field(self, field: npt.NDArray[np.float32]) -> "Alignment":
        """A copy with the displacements replaced (same shape as ``field``), for
        ``merge(..., alignment=...)``."""
    def to_dict(self) -> Dict[str, Any]: ...
    def __len__(self) -> int: ...

@final
class SynthBurst:
    """A synthetic burst with ground truth."""

    @property
    def frames(self) -> List[RawFrame]: ...
    @property
    def truth(self) -> Dict[str, Any]:
        """What truth.json holds: parameters, per-frame motion and exposure."""
    @property
    def clean_mosaic(self) -> npt.NDArray[np.float32]: ...
    @property
    def clean_rgb(self) -> npt.NDArray[np.float32]: ...
    @property
    def clean_rgb_scaled(self) -> Optional[npt.NDArray[np.float32]]: ...
    @property
    def files(self) -> List[str]: ...
    def __len__(self) -> int: ...

def open(path: _Path) -> RawFrame:
    """Decodes a raw file (DNG, CR2, CR3, NEF, ARW, ...)."""

def align(frames_or_paths: _Inputs, reference: Optional[int] = None) -> Alignment:
    """Aligns a burst (files, folders, or RawFrames) to its reference, as ``obscura align``."""

def merge(
    paths: _Inputs,
    method: str = "robust",
    scale: float = 1.0,
    frames: Optional[int] = None,
    *,
    reference: Optional[int] = None,
    denoise: Optional[float] = None,
    alignment: Optional[Alignment] = None,
) -> RawFrame:
    """Aligns and merges a burst, as ``obscura merge``: method robust, kernel (linear RGB,
    scale 1 to 3), hdrplus or average; ``frames`` uses the first N. With ``alignment`` (from
    ``align``, or edited with ``Alignment.with_field``), merges along it instead of
    aligning."""

def finish(
    frame: Union[RawFrame, _Path],
    look: str = "natural",
    *,
    wb: Optional[_Numbers] = None,
    wb_temp: Optional[_Numbers] = None,
    colorspace: str = "srgb",
    exposure: float = 0.0,
    tone: str = "local",
    tone_strength: Optional[float] = None,
    highlights: str = "reconstruct",
    demosaic: str = "rcd",
    sharpen: Optional[float] = None,
    shading: bool = True,
    keep_orientation: bool = False,
    lut: Optional[_Path] = None,
    lut_strength: float = 1.0,
) -> npt.NDArray[np.float32]:
    """Develops a frame into a display-referred (height, width, 3) float32 image in [0, 1]."""

def process(
    paths: Union[_Path, Sequence[_Path]],
    out: Optional[_Path] = None,
    *,
    reference: Optional[int] = None,
    frames: Optional[int] = None,
    merge: str = "robust",
    scale: float = 1.0,
    dng: Optional[_Path] = None,
    look: str = "natural",
    wb: Optional[_Numbers] = None,
    wb_temp: Optional[_Numbers] = None,
    colorspace: str = "srgb",
    exposure: float = 0.0,
    tone: str = "local",
    tone_strength: Optional[float] = None,
    highlights: str = "reconstruct",
    demosaic: str = "rcd",
    sharpen: Optional[float] = None,
    shading: bool = True,
    keep_orientation: bool = False,
    lut: Optional[_Path] = None,
    lut_strength: float = 1.0,
    format: Optional[str] = None,
    quality: int = 92,
    png16: bool = False,
    keep_location: bool = False,
    progress: Optional[Callable[[str, int, int], Any]] = None,
) -> Tuple[npt.NDArray[np.float32], Dict[str, Any]]:
    """The whole chain, as ``obscura process``; writes ``out`` when given. Returns the
    finished image and the run's report (stage times, frames, reference, noise, ...).
    ``progress(stage, done, total)`` is called as the run advances."""

def synth(
    frames: int = 8,
    width: int = 640,
    height: int = 480,
    *,
    motion: float = 8.0,
    rotate: float = 0.3,
    moving: float = 0.0,
    shot: float = 2e-3,
    read: float = 1e-4,
    seed: int = 1,
    cfa: str = "RGGB",
    black: int = 64,
    white: int = 4095,
    exposure: float = 1.0,
    bracket: Optional[Sequence[float]] = None,
    scene: Optional[_Path] = None,
    truth_scale: int = 1,
    out: Optional[_Path] = None,
) -> SynthBurst:
    """A synthetic burst with ground truth, as ``obscura synth``; written to ``out`` if given."""

def looks() -> Dict[str, str]:
    """The built-in looks and what each does."""
