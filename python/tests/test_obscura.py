"""The Python bindings against the command line and the library's own results: same pixels,
same metadata, same errors."""

import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import obscura
from conftest import FIGURES


def read_tiff16(path):
    """The pixels of an uncompressed, chunky, 16-bit RGB TIFF (what `obscura process -o
    x.tif` writes), as uint16 (height, width, 3)."""
    data = path.read_bytes()
    end = {b"II": "<", b"MM": ">"}[data[:2]]
    assert struct.unpack(end + "H", data[2:4])[0] == 42, "not a classic TIFF"
    (ifd,) = struct.unpack(end + "I", data[4:8])
    (n,) = struct.unpack(end + "H", data[ifd : ifd + 2])
    sizes = {3: 2, 4: 4}
    tags = {}
    for k in range(n):
        e = data[ifd + 2 + 12 * k : ifd + 14 + 12 * k]
        tag, typ, count = struct.unpack(end + "HHI", e[:8])
        if typ not in sizes:
            continue
        fmt = end + ("H" if typ == 3 else "I") * count
        size = sizes[typ] * count
        raw = e[8 : 8 + size] if size <= 4 else data[struct.unpack(end + "I", e[8:])[0] :][:size]
        tags[tag] = struct.unpack(fmt, raw)
    w, h = tags[256][0], tags[257][0]
    assert tags.get(259, (1,))[0] == 1, "compressed TIFF"
    assert tags[258][0] == 16 and tags[277][0] == 3 and tags.get(284, (1,))[0] == 1
    strips = b"".join(data[o : o + c] for o, c in zip(tags[273], tags[279]))
    return np.frombuffer(strips, dtype=end + "u2").reshape(h, w, 3)


def quantise16(img):
    """What the TIFF encoder stores for a finished image's values."""
    v = np.nan_to_num(img, nan=0.0).clip(0.0, 1.0).astype(np.float32)
    return np.floor(v * np.float32(65535.0) + np.float32(0.5)).astype(np.uint16)


def without_icc_date(data):
    """A file's bytes with its ICC profile's creation time (header bytes 24 to 36, set to
    the time of writing) blanked."""
    at = data.find(b"acsp") - 36  # the signature is at byte 36 of the profile
    assert at >= 0, "no ICC profile"
    return data[: at + 24] + bytes(12) + data[at + 36 :]


def psnr16(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(65535.0**2 / mse)


# -- process ---------------------------------------------------------------------------------


def test_process_returns_the_pixels_of_the_cli_tiff(burst, cli, tmp_path):
    cli("process", burst, "-o", tmp_path / "cli.tif", "--quiet")
    want = read_tiff16(tmp_path / "cli.tif")
    img, report = obscura.process(str(burst))
    assert img.dtype == np.float32 and img.ndim == 3 and img.shape[2] == 3
    assert img.shape == want.shape
    assert report["output"] is None
    assert report["frames_used"] == 8 and report["size"] == [img.shape[1], img.shape[0]]
    got = quantise16(img)
    p = psnr16(got, want)
    FIGURES["process() vs CLI 16-bit TIFF"] = (
        f"PSNR {p:.2f} dB, {int(np.count_nonzero(got != want))} of {got.size} samples differ"
    )
    assert np.array_equal(got, want), f"PSNR {p:.2f} dB"


def test_process_writes_the_same_file_as_the_cli(burst, cli, tmp_path):
    cli("process", burst, "-o", tmp_path / "cli.tif", "--quiet")
    img, report = obscura.process(burst, tmp_path / "py.tif")
    assert report["output"] == str(tmp_path / "py.tif")
    py, cli_bytes = (tmp_path / "py.tif").read_bytes(), (tmp_path / "cli.tif").read_bytes()
    assert without_icc_date(py) == without_icc_date(cli_bytes)
    assert np.array_equal(quantise16(img), read_tiff16(tmp_path / "py.tif"))


def test_process_options_and_progress(burst, tmp_path):
    seen = []
    img, report = obscura.process(
        [burst / f"frame_0{k}.dng" for k in range(4)],
        frames=3,
        reference=1,
        look="mono",
        dng=tmp_path / "m.dng",
        progress=lambda stage, done, total: seen.append((stage, done, total)),
    )
    assert report["frames_used"] == 3 and report["frames_found"] == 4
    assert report["reference_index"] == 1 and report["look"] == "mono"
    # mono: the three channels agree
    assert np.allclose(img[..., 0], img[..., 1], atol=1e-6)
    assert (tmp_path / "m.dng").is_file()
    stages = {s for s, _, _ in seen}
    assert {"decode", "align", "merge", "finish"} <= stages
    assert ("merge", 2, 2) in seen


def test_process_stops_when_the_progress_callback_raises(burst):
    def stop(stage, done, total):
        if stage == "align" and done == 1:
            raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        obscura.process(burst, progress=stop)


def test_ctrl_c_stops_a_run_between_steps(burst):
    """SIGINT while the library works (the GIL released) stops the run at the next step
    with KeyboardInterrupt, before finishing or writing anything."""
    seen = []

    def progress(stage, done, total):
        seen.append(stage)
        if stage == "align" and done == 1:
            threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGINT)).start()

    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            obscura.process(burst, progress=progress)
            time.sleep(1)  # not reached when the run stops
    finally:
        signal.signal(signal.SIGINT, old)
    assert "finish" not in seen and "encode" not in seen, seen


# -- merge -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["robust", "kernel"])
def test_merge_agrees_exactly_with_the_cli(burst, cli, tmp_path, method):
    cli("merge", burst, "--merge", method, "-o", tmp_path / "cli.dng")
    merged = obscura.merge(str(burst), method=method)
    merged.write_dng(tmp_path / "py.dng")
    assert (tmp_path / "py.dng").read_bytes() == (tmp_path / "cli.dng").read_bytes()
    back = obscura.open(tmp_path / "cli.dng")
    assert np.array_equal(merged.raw(), back.raw())
    assert merged.is_rgb == (method == "kernel") == back.is_rgb
    info = merged.merge_info
    assert info["frames"] == 8 and info["effective_frames"] > 3
    FIGURES[f"merge({method}) vs obscura merge DNG"] = "identical bytes"


def test_merge_of_frames_in_memory_equals_merge_of_files(burst):
    frames = [obscura.open(p) for p in sorted(burst.glob("*.dng"))]
    a = obscura.merge(frames)
    b = obscura.merge(burst)
    assert np.array_equal(a.mosaic, b.mosaic)


def test_merge_sees_edits_to_the_arrays(burst):
    frames = [obscura.open(p) for p in sorted(burst.glob("*.dng"))[:3]]
    for f in frames:
        f.mosaic[...] = 0.25  # in place: the frame's own buffer
    m = obscura.merge(frames, denoise=0)
    y, x, h, w = m.active_area[1], m.active_area[0], m.active_area[3], m.active_area[2]
    area = m.mosaic[y : y + h, x : x + w]
    assert np.allclose(area, 0.25 / m.merge_info["scale"], atol=2e-3)


def test_merge_along_a_given_alignment(burst):
    al = obscura.align(burst)
    # the alignment align() made gives the merge merge() makes
    assert np.array_equal(obscura.merge(burst, alignment=al).mosaic, obscura.merge(burst).mosaic)
    # an alignment edited in Python is used as given: without the motion, the shaken frames
    # ghost and the merge is further from the clean truth than the reference alone
    b = obscura.synth(frames=8, width=256, height=192, seed=5)
    bal = obscura.align(b.frames, reference=0)
    still = obscura.merge(b.frames, alignment=bal.with_field(np.zeros_like(bal.field)))
    good = obscura.merge(b.frames, alignment=bal)

    def rms(m, scale=1.0):
        return float(np.sqrt(np.mean((m * scale - b.clean_mosaic) ** 2)))

    alone = rms(b.frames[0].mosaic)
    e_good = rms(good.mosaic, good.merge_info["scale"])
    e_still = rms(still.mosaic, still.merge_info["scale"])
    FIGURES["merge(alignment=...) RMS error to the clean frame: reference / aligned / zero field"] = (
        f"{alone:.4f} / {e_good:.4f} / {e_still:.4f}"
    )
    assert e_good < 0.75 * alone and e_still > 1.5 * e_good
    with pytest.raises(ValueError, match="shape"):
        al.with_field(np.zeros((2, 2, 2, 2), np.float32))
    with pytest.raises(ValueError, match="alignment"):
        obscura.merge(burst, frames=4, alignment=al)
    other = obscura.synth(frames=8, width=256, height=192)
    with pytest.raises(ValueError, match="tiles"):
        obscura.merge(other.frames, alignment=al)


def test_a_burst_made_in_numpy(burst):
    """Frames made from arrays (with_pixels) merge like decoded ones: four copies of one
    frame shifted by whole Bayer quads in NumPy come back aligned and averaged."""
    ref = obscura.open(burst / "frame_00.dng")
    shifts = [(0, 0), (2, 0), (0, 4), (-2, 2)]  # (dx, dy), even: the CFA stays in phase
    frames = [ref.with_pixels(mosaic=np.roll(ref.mosaic, (dy, dx), axis=(0, 1)))
              for dx, dy in shifts]
    assert frames[1].path == "" and frames[1].cfa == ref.cfa
    al = obscura.align(frames, reference=0)
    med = al.median
    for k, (dx, dy) in enumerate(shifts):
        # the reference pixel p is at p + (dx, dy) in a frame rolled by (dx, dy)
        assert np.allclose(med[k], (dx, dy), atol=0.05), (k, med[k])
    m = obscura.merge(frames, alignment=al, denoise=0)
    x, y, w, h = m.active_area
    inner = (slice(y + 8, y + h - 8), slice(x + 8, x + w - 8))
    # copies of one frame merge back into it
    assert np.allclose(m.mosaic[inner] * m.merge_info["scale"], ref.mosaic[inner], atol=2e-3)
    with pytest.raises(ValueError, match="shape"):
        ref.with_pixels(mosaic=np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="Bayer"):
        ref.with_pixels()


# -- open and metadata -----------------------------------------------------------------------


def test_open_matches_info_json(burst, cli):
    path = burst / "frame_03.dng"
    (info,) = json.loads(cli("info", "--json", path).stdout)
    f = obscura.open(path)
    assert f.path == info["file"] == str(path)
    assert f.mosaic.dtype == np.float32
    # the decoded buffer itself, handed over without a copy, and the frame's own
    assert not f.mosaic.flags.owndata and f.mosaic.flags.writeable and f.mosaic is f.mosaic
    assert f.mosaic.shape == (info["height"], info["width"]) == (f.height, f.width)
    assert f.cfa == "".join(c[0] for c in info["cfa"]["colors"]).upper()
    assert list(f.black) == info["black"] and f.white == info["white"]
    assert f.active_area == tuple(info["active_area"][k] for k in ("x", "y", "width", "height"))
    assert f.crop == tuple(info["crop"][k] for k in ("x", "y", "width", "height"))
    assert list(f.wb_multipliers) == info["wb_multipliers"]
    assert list(f.as_shot_neutral) == info["as_shot_neutral"]
    assert f.decoder == info["decoder"] and not f.is_rgb and info["linear_rgb"] is False
    for k in ("make", "model", "orientation", "iso", "exposure_time", "baseline_exposure"):
        assert getattr(f, k) == info[k], k
    assert len(f.calibrations) == len(info["calibrations"])
    for c, j in zip(f.calibrations, info["calibrations"]):
        assert c["illuminant"] == j["illuminant"]
        assert np.array_equal(c["color_matrix"], np.array(j["color_matrix"]))
    want_noise = [[n["scale"], n["offset"]] for n in info["noise_profile"]]
    assert np.array_equal(f.noise_profile, np.array(want_noise).reshape(-1, 2))
    # every metadata field, as the JSON has it
    assert all(f.metadata[k] == v for k, v in f.metadata.items() if k in info)
    # the raw values round-trip through the normalised mosaic exactly
    raw = f.raw()
    assert raw.dtype == np.uint16 and raw.shape == f.mosaic.shape
    b = np.array(f.black).reshape(2, 2)
    b = np.tile(b, (f.height // 2, f.width // 2))
    back = np.rint(f.mosaic.astype(np.float64) * (f.white - b) + b)
    assert np.array_equal(back.astype(np.uint16), raw)


def test_open_the_kernel_merge_as_linear_rgb(burst, tmp_path, cli):
    cli("merge", burst, "--merge", "kernel", "-o", tmp_path / "k.dng")
    f = obscura.open(tmp_path / "k.dng")
    (info,) = json.loads(cli("info", "--json", tmp_path / "k.dng").stdout)
    assert f.is_rgb and info["linear_rgb"] and f.mosaic is None and f.cfa is None
    assert f.rgb.shape == (info["height"], info["width"], 3) and f.rgb.dtype == np.float32
    img = obscura.finish(f)
    assert img.shape[2] == 3 and 0.05 < img.mean() < 0.95
    # a stage that needs a mosaic refuses it, naming the file
    with pytest.raises(obscura.UnsupportedError, match="needs a Bayer mosaic") as e:
        obscura.align([f, f])
    assert e.value.path == str(tmp_path / "k.dng")


# -- errors ----------------------------------------------------------------------------------


def test_corrupt_file_raises_decode_error_naming_it(burst, cli, tmp_path):
    bad = tmp_path / "truncated.dng"
    bad.write_bytes((burst / "frame_00.dng").read_bytes()[:5000])
    with pytest.raises(obscura.DecodeError) as e:
        obscura.open(bad)
    assert str(bad) in str(e.value) and e.value.path == str(bad)
    r = cli("info", bad, check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == f"error: {e.value}"
    junk = tmp_path / "junk.dng"
    junk.write_bytes(b"not a raw file at all" * 10)
    with pytest.raises(obscura.DecodeError, match="junk.dng"):
        obscura.merge([burst / "frame_00.dng", junk])


def test_errors_map_to_python_exceptions_with_the_cli_messages(burst, cli, tmp_path):
    missing = tmp_path / "missing.dng"
    with pytest.raises(FileNotFoundError) as e:
        obscura.open(missing)
    assert cli("info", missing, check=False).stderr.strip() == f"error: {e.value}"
    with pytest.raises(ValueError, match="robust, kernel, hdrplus or average"):
        obscura.merge(burst, method="median")
    # the command line's parser checks an enumerated option itself, naming the option and
    # its values: the same choice, a usage error
    r = cli("merge", burst, "--merge", "median", "-o", tmp_path / "x.dng", check=False)
    assert r.returncode == 2, r.stderr
    assert "--merge" in r.stderr and "robust, kernel, hdrplus, average" in r.stderr, r.stderr
    with pytest.raises(ValueError, match="exposure"):
        obscura.process(burst, exposure=12)
    with pytest.raises(ValueError, match="kernel"):
        obscura.merge(burst, scale=2)
    with pytest.raises(ValueError, match="no raw files"):
        obscura.align(tmp_path)
    with pytest.raises(TypeError):
        obscura.merge(42)
    assert issubclass(obscura.UnsupportedError, obscura.DecodeError)
    assert not list(tmp_path.glob("*.dng")), "no partial output"


# -- align, finish, synth --------------------------------------------------------------------


def test_align_matches_align_json(burst, cli):
    want = json.loads(cli("align", "--json", burst).stdout)
    al = obscura.align(str(burst))
    assert al.reference == want["reference"] and len(al) == 8
    field = al.field
    assert field.dtype == np.float32
    assert field.shape == (8, al.tiles_y, al.tiles_x, 2)
    for k, fr in enumerate(want["frames"]):
        assert (fr["tiles_y"], fr["tiles_x"]) == (al.tiles_y, al.tiles_x)
        assert np.array_equal(field[k].reshape(-1, 2), np.array(fr["field"], dtype=np.float32))
    assert np.all(field[al.reference] == 0)
    assert al.unreliable.shape == al.residual.shape == (8, al.tiles_y, al.tiles_x)


def test_align_recovers_synthetic_motion():
    b = obscura.synth(frames=4, width=256, height=192, motion=6.0, rotate=0.0, seed=3)
    al = obscura.align(b.frames, reference=0)
    truth = b.truth["frames"]
    err = []
    for k in range(1, 4):
        # without rotation, the reference pixel p is at p + translation in frame k
        want = np.array(truth[k]["translation"], dtype=np.float32)
        err.append(np.abs(np.median(al.field[k].reshape(-1, 2), axis=0) - want).max())
    FIGURES["align() on synth, median field error"] = f"{max(err):.3f} px"
    assert max(err) < 0.25, err


def test_finish_equals_the_cli_develop(burst, cli, tmp_path):
    path = burst / "frame_00.dng"
    cli("develop", path, "-o", tmp_path / "d.tif", "--look", "vibrant", "--exposure", "0.5")
    img = obscura.finish(obscura.open(path), look="vibrant", exposure=0.5)
    assert img.dtype == np.float32 and img.min() >= 0 and img.max() <= 1
    assert np.array_equal(quantise16(img), read_tiff16(tmp_path / "d.tif"))
    # white balance as a temperature, as the CLI's --wb-temp: a white balance for warm light
    # (3500 K) makes the image bluer than one for shade (8000 K)
    cli("develop", path, "-o", tmp_path / "t.tif", "--look", "none", "--wb-temp", "3500,0")
    warm = obscura.finish(path, wb_temp=(3500, 0), look="none")
    assert np.array_equal(quantise16(warm), read_tiff16(tmp_path / "t.tif"))
    cool = obscura.finish(path, wb_temp="8000", look="none")
    assert warm[..., 2].mean() > cool[..., 2].mean() + 0.05
    with pytest.raises(ValueError, match="white_balance"):
        obscura.finish(path, wb=(1, 2))


def test_synth_in_memory_equals_the_files_it_writes(tmp_path):
    b = obscura.synth(frames=3, width=64, height=48, seed=7, out=tmp_path)
    assert len(b) == 3 and len(b.files) == 3
    assert b.clean_mosaic.shape == (48, 64) and b.clean_rgb.shape == (48, 64, 3)
    assert b.truth["params"]["seed"] == 7
    for f, path in zip(b.frames, b.files):
        back = obscura.open(path)
        assert np.array_equal(back.raw(), f.raw())
        assert back.cfa == f.cfa == "RGGB"
    with pytest.raises(ValueError, match="width"):
        obscura.synth(width=15)


def test_looks_lists_the_builtin_looks():
    assert {"natural", "authentic", "vibrant", "mono"} <= set(obscura.looks())


# -- threads ---------------------------------------------------------------------------------


THREADS_SCRIPT = """
import sys, threading, time
import obscura
burst, runs = sys.argv[1], 3
obscura.process(burst)  # warm up: looks, tables, the thread pool
def timed(f):
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best
def seq():
    for _ in range(2):
        obscura.process(burst)
def par():
    ts = [threading.Thread(target=obscura.process, args=(burst,)) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
print(timed(seq), timed(par))
"""


def test_bursts_in_two_threads(burst):
    """Two bursts in two Python threads against the same two in sequence (best of 3), in a
    fresh interpreter. The library spreads each burst over every core already (rayon), so
    threads gain from overlapping the serial parts (file reads, encode, Python). Measured
    and reported, not asserted."""
    out = subprocess.run(
        [sys.executable, "-c", THREADS_SCRIPT, str(burst)],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    sequential, parallel = float(out[0]), float(out[1])
    FIGURES[f"2 bursts (8 x 512x384, {os.cpu_count()} cores): sequence / 2 threads"] = (
        f"{sequential:.3f} s / {parallel:.3f} s ({sequential / parallel:.2f}x)"
    )


def test_the_gil_is_released_while_a_burst_runs(burst):
    """Python code in the main thread keeps running while another thread is inside
    process(): a held GIL would stop this loop from the call to its return."""
    started, done = threading.Event(), threading.Event()

    def work():
        started.set()
        obscura.process(burst)
        done.set()

    th = threading.Thread(target=work)
    th.start()
    started.wait()
    spins = 0
    while not done.is_set():
        spins += 1
    th.join()
    FIGURES["main-thread Python loop iterations during process() in another thread"] = spins
    assert spins > 10_000, spins


def test_threads_give_the_same_results(burst):
    results = [None, None]

    def run(k):
        results[k] = obscura.process(burst)[0]

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert np.array_equal(results[0], results[1])
    assert np.array_equal(results[0], obscura.process(burst)[0])


# -- type stubs ------------------------------------------------------------------------------


def test_the_type_stubs_match_the_module():
    """obscura.pyi against the compiled module: every function's parameters and defaults,
    every class and attribute (mypy's stubtest)."""
    pytest.importorskip("mypy.stubtest", reason="mypy is not installed (pip install mypy)")
    allow = os.path.join(os.path.dirname(__file__), "stubtest-allowlist.txt")
    r = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "obscura", "--ignore-disjoint-bases",
         "--allowlist", allow],
        capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
