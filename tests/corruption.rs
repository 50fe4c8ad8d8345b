//! The corruption sweep: every real raw file available, a few hundred seeded mutations each,
//! each mutated file through `RawFrame::from_bytes`, `finish` and the JPEG encoder in-process.
//!
//! Files: the bundled sample burst (`samples/burst`), the real camera files of `../shared/raw/`
//! (Canon CRW, Kodak KDC) when present, and Adobe's DNG sample set when
//! `../shared/raw/fetch-dng-samples.sh` has fetched it (each skipped with a notice when absent).
//!
//! Mutations (xorshift64, seeded per file, so a failure names a reproducible case): byte flips
//! in the first 4 kB and anywhere, truncations, 32-bit fields stomped with 0, 0x7fffffff and
//! 0xffffffff (TIFF entry counts and value offsets found by walking the IFDs, or any offset),
//! and repeated chunks (a run of bytes copied over, or inserted at, another place).
//!
//! Every outcome must be `Ok` or a clean `Error`:
//! - a panic that reaches the sweep's own `catch_unwind` is counted and must never happen;
//! - a panic anywhere in obscura's code is counted the same way, even if something caught it;
//! - a panic inside the third-party decoders (rawler, rawloader and what they call), which they
//!   and obscura catch and turn into decode errors, is counted and reported separately, and
//!   must not happen either: catch_unwind must never be what saved a case (obscura checks the
//!   structures the decoders trust before handing them the bytes); each site is reported with
//!   the first case that reached it;
//! - a counting global allocator records the largest single allocation and the peak of live
//!   bytes of each case, which must stay within a bound derived from the pixel limit (see
//!   [`BYTES_PER_PIXEL_ONE`]).
//!
//! `OBSCURA_SWEEP_SCALE=N` multiplies the mutation counts and time budgets (default 1: under a
//! minute in release mode on two cores); `OBSCURA_SWEEP_LARGE=1` adds the files above 24 MP;
//! `OBSCURA_SWEEP_VERBOSE=1` prints every decode error.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use obscura::encode::{EncodeParams, Format, encode};
use obscura::finish::{FinishParams, finish};
use obscura::raw::DecodeLimits;
use obscura::{Error, RawFrame};

mod common;

use common::mutate::{KINDS, Rng, mutate, tiff_fields};

// ---------------------------------------------------------------------------------------------
// The counting allocator

/// The system allocator, counting live bytes, their peak and the largest single request.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);
/// The case being run (file index << 32 | mutation index), named when the cap below aborts.
static CASE: AtomicUsize = AtomicUsize::new(0);
/// The mutation generator's state before the case being run made its mutation: with the file
/// and the kind, it makes the same mutated file again.
static SEED: AtomicU64 = AtomicU64::new(0);

/// A single request above this is refused, which aborts the test binary, after a message
/// naming the case: better than letting a corrupt header take the machine's memory. Far
/// above every bound the sweep checks.
const HARD_CAP: usize = 6 << 30;

/// Names the case on stderr without allocating (the allocator cannot allocate).
fn refuse(size: usize) {
    use std::io::Write;
    let mut buf = [0u8; 160];
    let mut cur = std::io::Cursor::new(&mut buf[..]);
    let case = CASE.load(Ordering::Relaxed);
    let _ = writeln!(
        cur,
        "corruption sweep: refused one allocation of {size} bytes (file {}, mutation {})",
        case >> 32,
        case & 0xffff_ffff
    );
    let n = cur.position() as usize;
    let _ = std::io::stderr().write_all(&buf[..n]);
}

fn grew(size: usize) {
    LARGEST.fetch_max(size, Ordering::Relaxed);
    let now = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; the counters are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > HARD_CAP {
            refuse(layout.size());
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract is `System.alloc`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > HARD_CAP {
            refuse(layout.size());
            return std::ptr::null_mut();
        }
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > HARD_CAP {
            refuse(new_size);
            return std::ptr::null_mut();
        }
        // SAFETY: as for `dealloc` and `alloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Starts measuring one case: the largest request is forgotten, the peak starts at what is
/// live now.
fn start_measuring() -> usize {
    let base = LIVE.load(Ordering::Relaxed);
    LARGEST.store(0, Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    base
}

/// (largest single allocation, peak live bytes above `base`) since [`start_measuring`].
fn measured(base: usize) -> (usize, usize) {
    (
        LARGEST.load(Ordering::Relaxed),
        PEAK.load(Ordering::Relaxed).saturating_sub(base),
    )
}

// ---------------------------------------------------------------------------------------------
// Bounds

/// The pixel limit of a file's sweep: twice its own photosite count (a corrupt header may
/// claim a bigger image, and an honest one of that size is still decoded), at least 4 MP.
fn pixel_limit(pixels: u64) -> u64 {
    (2 * pixels).max(4_000_000)
}

/// Largest single allocation per photosite of the pixel limit. The biggest buffers of a
/// decode and develop are, per photosite: a decoder's output as `u16` times the samples per
/// pixel (LinearRaw: 3 x 2 = 6 B) or `f32` (float DNG: 3 x 4 = 12 B), obscura's `f32` planes
/// (4 B each, allocated separately) and the encoder's interleaved 8-bit RGB (3 B). 12 B covers
/// them all; 16 leaves room for a decoder's padded tiles.
const BYTES_PER_PIXEL_ONE: u64 = 16;

/// Peak of live bytes per photosite of the pixel limit: the decoder's buffer (up to 12 B),
/// the normalised planes (12 B for RGB), the develop's working planes (the demosaiced RGB,
/// the tone-mapping pyramid and the sharpening copy, about 12 B each) and the encoder's
/// copy. 96 B is about twice what the largest honest file needs (measured and printed).
const BYTES_PER_PIXEL_PEAK: u64 = 96;

/// Fixed allowance on top (tables, decoder state, rayon's stacks): 64 MB.
const SLACK: u64 = 64 << 20;

// ---------------------------------------------------------------------------------------------
// Panic accounting

/// Panics seen by the hook, by where they happened: obscura's own code, or a third-party
/// decoder (rawler, rawloader and the crates they call).
#[derive(Default)]
struct Panics {
    ours: Vec<String>,
    /// location and message -> (count, file index, mutation and generator state of the first)
    decoder: BTreeMap<String, (usize, usize, usize, u64)>,
}

static PANICS: Mutex<Option<Panics>> = Mutex::new(None);

/// Installs a hook that counts every panic before the previous hook (obscura's, which
/// silences the decoders' own panics) sees it.
fn count_panics() {
    // the first decode installs obscura's hook; ours goes in front of it
    let _ = RawFrame::from_bytes(vec![0; 16], Path::new("x"), &DecodeLimits::default());
    *PANICS.lock().unwrap() = Some(Panics::default());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let loc = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let in_obscura = !loc.contains("/.cargo/registry/") && !loc.starts_with("/rustc/");
        if let Ok(mut g) = PANICS.lock()
            && let Some(p) = g.as_mut()
        {
            if in_obscura {
                p.ours.push(format!("{loc}: {info}"));
            } else {
                // the crate's folder and the line
                let short = loc.rsplit("/.cargo/registry/src/").next().unwrap_or(&loc);
                let short = short.split_once('/').map_or(short, |(_, s)| s);
                let case = CASE.load(Ordering::Relaxed);
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let e = p.decoder.entry(format!("{short}: {msg}")).or_insert((
                    0,
                    case >> 32,
                    case & 0xffff_ffff,
                    SEED.load(Ordering::Relaxed),
                ));
                e.0 += 1;
            }
        }
        if in_obscura {
            previous(info);
        }
    }));
}

// ---------------------------------------------------------------------------------------------
// The sweep

/// Every raw file the sweep can use, with a notice for each group that is absent.
fn files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<PathBuf> = std::fs::read_dir(root.join("samples/burst"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dng"))
        .collect();
    v.sort();
    for name in ["canon_powershot_g2.crw", "kodak_dc50.kdc"] {
        v.extend(common::shared_raw(name));
    }
    v.extend(common::all_dng_samples());
    v
}

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Decoded, developed and encoded.
    Developed,
    /// Decoded with only pixel values changed; the develop was sampled out (see
    /// [`run_case`]).
    Decoded,
    /// Decoded; the develop refused it with an error.
    DevelopError(&'static str),
    /// Refused by the decoder with an error of this kind.
    DecodeError(&'static str),
    /// A panic reached the sweep's `catch_unwind`.
    Panic,
}

fn kind_of(e: &Error) -> &'static str {
    match e {
        Error::Decode { .. } => "decode",
        Error::Unsupported { .. } => "unsupported",
        Error::Limits { .. } => "limits",
        Error::Io { .. } => "io",
        Error::Parameter { .. } => "parameter",
        _ => "other",
    }
}

/// Everything about a frame but its pixel values: what steers the develop.
fn fingerprint(f: &RawFrame) -> String {
    format!(
        "{:?} {:?} {:?} {} {:?} {:?} {:?}",
        f.size(),
        f.cfa,
        f.black,
        f.white,
        f.active_area,
        f.crop,
        f.meta
    )
}

/// Photosites of the window a frame is developed in: bigger frames are developed in their
/// centre (a 61 MP develop takes seconds and gigabytes; its branches are those of a small one).
const DEVELOP_PIXELS: usize = 1 << 20;

/// The centre `DEVELOP_PIXELS` of a big frame, with its active area and crop cut to it (kept
/// as decoded when they miss the window, so odd geometry still reaches the develop).
fn window(f: RawFrame) -> RawFrame {
    let (w, h) = f.size();
    if w * h <= DEVELOP_PIXELS {
        return f;
    }
    let (ww, wh) = (w.min(1024), h.min(1024));
    let win = obscura::Rect::new(((w - ww) / 2) & !1, ((h - wh) / 2) & !1, ww, wh);
    let cut = |r: obscura::Rect| {
        let x0 = r.x.max(win.x);
        let y0 = r.y.max(win.y);
        let x1 = (r.x + r.width).min(win.x + win.width);
        let y1 = (r.y + r.height).min(win.y + win.height);
        if x1 > x0 && y1 > y0 {
            obscura::Rect::new(x0 - win.x, y0 - win.y, x1 - x0, y1 - y0)
        } else {
            r
        }
    };
    RawFrame {
        mosaic: if f.mosaic.data.is_empty() {
            f.mosaic.clone()
        } else {
            f.mosaic.crop(win)
        },
        rgb: f
            .rgb
            .as_ref()
            .map(|p| Box::new(p.each_ref().map(|p| p.crop(win)))),
        active_area: cut(f.active_area),
        crop: cut(f.crop),
        ..f
    }
}

/// Decodes one input, and develops and encodes what decodes: always when anything but the
/// pixel values differs from the unmutated file's frame (`honest`), and every fourth time
/// otherwise (`case % 4 == 0`; pixel values alone rarely change the develop's course).
fn run_case(
    bytes: Vec<u8>,
    name: &Path,
    limits: &DecodeLimits,
    honest: Option<&str>,
    case: usize,
) -> (Outcome, Option<String>, u64) {
    let r = catch_unwind(AssertUnwindSafe(|| {
        let frame = match RawFrame::from_bytes(bytes, name, limits) {
            Ok(f) => f,
            Err(e) => {
                if std::env::var_os("OBSCURA_SWEEP_VERBOSE").is_some() {
                    eprintln!("case {case}: {e}");
                }
                return (Outcome::DecodeError(kind_of(&e)), None, 0);
            }
        };
        // the limit counts samples (3 per pixel for LinearRaw)
        let (w, h) = frame.size();
        let samples = (w * h * if frame.is_rgb() { 3 } else { 1 }) as u64;
        let print = fingerprint(&frame);
        if honest == Some(print.as_str()) && !case.is_multiple_of(4) {
            return (Outcome::Decoded, Some(print), samples);
        }
        let frame = window(frame);
        // a required opcode obscura does not apply (the Adobe LinearRaw samples' MapPolynomial)
        // refuses the default develop: then without the opcodes, as `--no-shading` does
        let developed = match finish(&frame, &FinishParams::default()) {
            Err(Error::Unsupported { .. }) => finish(
                &frame,
                &FinishParams {
                    skip_shading: true,
                    ..FinishParams::default()
                },
            ),
            other => other,
        };
        let done = developed.and_then(|img| {
            let params = EncodeParams {
                format: Some(Format::Jpeg),
                ..EncodeParams::default()
            };
            encode(&img, &frame.meta, Path::new("/dev/null"), &params)
        });
        match done {
            Ok(()) => (Outcome::Developed, Some(print), samples),
            Err(e) => (Outcome::DevelopError(kind_of(&e)), Some(print), samples),
        }
    }));
    r.unwrap_or((Outcome::Panic, None, 0))
}

/// What one file's sweep measured.
struct FileResult {
    name: String,
    mutations: usize,
    outcomes: BTreeMap<Outcome, usize>,
    /// (largest single allocation, peak) of the unmutated file.
    honest: (usize, usize),
    /// The worst of the mutated cases.
    worst: (usize, usize),
    time: Duration,
}

/// Files declaring more photosites than this (the 61 MP Sony and LinearRaw samples) are
/// swept only with `OBSCURA_SWEEP_LARGE=1`: one decode takes 2 to 5 s on two cores, so even a
/// handful of mutations would double the sweep's time.
const LARGE_PIXELS: u64 = 24_000_000;

/// Most mutations per file (`OBSCURA_SWEEP_SCALE` multiplies); the sample burst's eight
/// near-identical frames share one file's count.
const MUTATIONS: usize = 300;

/// Seconds a file's mutations may take before the sweep moves on (`OBSCURA_SWEEP_SCALE`
/// multiplies): small files reach [`MUTATIONS`] well within it, files that take a second or
/// more to decode (the 61 MP Sony, the JPEG XL LinearRaw samples) get at least one.
const SECONDS_PER_FILE: f64 = 2.0;

/// The same for the real camera files of `../shared/raw/` (Canon CRW, Kodak KDC): formats
/// whose structure obscura checks itself before the decoders see them, and whose decoders
/// trust their files most; a CRW decode takes about 40 ms, so they reach [`MUTATIONS`].
const SECONDS_PER_CAMERA_FILE: f64 = 15.0;

#[test]
fn corrupted_raw_files_give_errors_never_panics_or_huge_allocations() {
    count_panics();
    let scale: f64 = std::env::var("OBSCURA_SWEEP_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let large = std::env::var_os("OBSCURA_SWEEP_LARGE").is_some_and(|v| v == "1");
    let t0 = Instant::now();
    let mut results = Vec::new();
    CASE.store(usize::MAX, Ordering::Relaxed);
    let mut failures = Vec::new();
    let all = files();
    let names: Vec<String> = all
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for (fi, path) in all.iter().enumerate() {
        let orig = std::fs::read(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let start = Instant::now();
        CASE.store((fi << 32) | 0xffff_ffff, Ordering::Relaxed);
        if let Some(px) = obscura::raw::declared_pixels(path)
            && px > LARGE_PIXELS
            && !large
        {
            eprintln!(
                "SKIPPED: {name} ({:.0} MP; each decode takes seconds): set \
                 OBSCURA_SWEEP_LARGE=1 to sweep it too",
                px as f64 / 1e6
            );
            continue;
        }
        // the honest file through decode and develop, under the default limits: its size
        // sets the limit of the mutated ones; the allocation figures of an honest case
        let base = start_measuring();
        let (outcome, honest_print, samples_count) =
            run_case(orig.clone(), path, &DecodeLimits::default(), None, 0);
        let honest_mem = measured(base);
        assert_ne!(outcome, Outcome::Panic, "{name} (unmutated) panicked");
        if let Outcome::DecodeError(e) = outcome {
            eprintln!("{name}: not decodable unmutated ({e}); swept with the 4 MP floor");
        } else {
            assert_eq!(outcome, Outcome::Developed, "{name} (unmutated)");
        }
        let limits = DecodeLimits {
            max_pixels: pixel_limit(samples_count),
        };
        let one_bound = (BYTES_PER_PIXEL_ONE * limits.max_pixels + SLACK) as usize;
        let peak_bound = (BYTES_PER_PIXEL_PEAK * limits.max_pixels + SLACK) as usize;

        let fields = tiff_fields(&orig);
        let share = if path.starts_with(&samples) { 8 } else { 1 };
        let most = ((MUTATIONS / share) as f64 * scale).round().max(1.0) as usize;
        let camera = !path.starts_with(&samples) && path.extension().is_none_or(|e| e != "dng");
        let seconds = if camera {
            SECONDS_PER_CAMERA_FILE
        } else {
            SECONDS_PER_FILE
        };
        let budget = Duration::from_secs_f64(seconds * scale);
        let mut rng = Rng::new(0x0b5c_0000 + fi as u64);
        let mut outcomes = BTreeMap::new();
        let mut worst = (0, 0);
        let mut n = 0;
        let muts_start = Instant::now();
        for m in 0..most {
            if m > 0 && muts_start.elapsed() > budget {
                break;
            }
            n += 1;
            let kind = KINDS[m % KINDS.len()];
            let seed_state = rng.0;
            SEED.store(seed_state, Ordering::Relaxed);
            CASE.store((fi << 32) | m, Ordering::Relaxed);
            let bytes = mutate(&orig, kind, &mut rng, &fields);
            let base = start_measuring();
            let (outcome, _, _) = run_case(bytes, path, &limits, honest_print.as_deref(), m);
            let (one, peak) = measured(base);
            worst = (worst.0.max(one), worst.1.max(peak));
            *outcomes.entry(outcome).or_insert(0) += 1;
            let case = format!("{name} mutation {m} ({kind:?}, rng state {seed_state:#x})");
            if outcome == Outcome::Panic {
                failures.push(format!("{case}: panicked"));
            }
            if one > one_bound {
                failures.push(format!(
                    "{case}: one allocation of {one} bytes, above the bound {one_bound} \
                     ({BYTES_PER_PIXEL_ONE} B x {} pixels + 64 MB)",
                    limits.max_pixels
                ));
            }
            if peak > peak_bound {
                failures.push(format!(
                    "{case}: peak {peak} bytes, above the bound {peak_bound}"
                ));
            }
        }
        results.push(FileResult {
            name,
            mutations: n,
            outcomes,
            honest: honest_mem,
            worst,
            time: start.elapsed(),
        });
    }
    let elapsed = t0.elapsed();

    // the report
    let mb = |b: usize| b as f64 / 1e6;
    let mut totals: BTreeMap<Outcome, usize> = BTreeMap::new();
    eprintln!(
        "{:<40} {:>5} {:>6} {:>6} {:>6} {:>6} {:>10} {:>10} {:>10} {:>10} {:>6}",
        "file",
        "muts",
        "ok",
        "dev-e",
        "dec-e",
        "panic",
        "honest MB",
        "worst MB",
        "hon.peak",
        "worstpeak",
        "s"
    );
    for r in &results {
        let count = |f: &dyn Fn(&Outcome) -> bool| -> usize {
            r.outcomes
                .iter()
                .filter(|(o, _)| f(o))
                .map(|(_, n)| n)
                .sum()
        };
        eprintln!(
            "{:<40} {:>5} {:>6} {:>6} {:>6} {:>6} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>6.2}",
            r.name,
            r.mutations,
            count(&|o| matches!(o, Outcome::Developed | Outcome::Decoded)),
            count(&|o| matches!(o, Outcome::DevelopError(_))),
            count(&|o| matches!(o, Outcome::DecodeError(_))),
            count(&|o| *o == Outcome::Panic),
            mb(r.honest.0),
            mb(r.worst.0),
            mb(r.honest.1),
            mb(r.worst.1),
            r.time.as_secs_f64()
        );
        for (o, n) in &r.outcomes {
            *totals.entry(*o).or_insert(0) += n;
        }
    }
    let total: usize = results.iter().map(|r| r.mutations).sum();
    eprintln!(
        "{} files, {total} mutations in {:.1} s; outcomes: {totals:?}",
        results.len(),
        elapsed.as_secs_f64()
    );
    let panics = PANICS.lock().unwrap().take().unwrap_or_default();
    eprintln!(
        "panics inside third-party decoders: {}",
        panics.decoder.values().map(|v| v.0).sum::<usize>()
    );
    for p in &panics.ours {
        failures.push(format!("panic in obscura's code (even if caught): {p}"));
    }
    // a decoder panic was caught (by the decoder or by obscura) and became a decode error, but
    // catch_unwind must never be what saved it: the file should have been refused before the
    // decoder saw it
    for (site, (n, file, m, state)) in &panics.decoder {
        let name = names.get(*file).map_or("?", String::as_str);
        let kind = KINDS[*m % KINDS.len()];
        failures.push(format!(
            "{n} panics inside a third-party decoder at {site}; the first: {name} mutation {m} \
             ({kind:?}, rng state {state:#x})"
        ));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 24 * 8, "only {total} mutations");
}
