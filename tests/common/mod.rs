//! Helpers shared by the integration tests: where the real RAW files are, chart patches,
//! TIFF patching.
#![allow(dead_code)]

pub mod color;
pub mod mutate;

use std::path::PathBuf;

/// The DNG frames of the synthetic burst `params` describes, written into `dir` (created if
/// missing; the ground-truth files beside them are left out of the list).
pub fn write_dngs(dir: &std::path::Path, params: &obscura::synth::SynthParams) -> Vec<PathBuf> {
    obscura::synth::synthesize(params)
        .unwrap()
        .write(dir)
        .unwrap()
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "dng"))
        .collect()
}

/// `../shared/raw/` beside the repository (or `$OBSCURA_SHARED_RAW`).
pub fn shared_raw(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("OBSCURA_SHARED_RAW")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/raw"));
    let p = dir.join(name);
    if p.is_file() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: {} is absent (see ../shared/raw/README.md)",
            p.display()
        );
        None
    }
}

/// The Adobe DNG sample cache filled by `../shared/raw/fetch-dng-samples.sh`
/// (`$OBSCURA_RAW_CACHE` or `~/.cache/obscura/raw`).
pub fn dng_cache_dir() -> PathBuf {
    std::env::var_os("OBSCURA_RAW_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/obscura/raw")
        })
}

/// One file of the Adobe DNG sample set, or `None` with a printed notice.
pub fn dng_sample(name: &str) -> Option<PathBuf> {
    let p = dng_cache_dir().join(name);
    if p.is_file() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: {} is absent; run ../shared/raw/fetch-dng-samples.sh to fetch the DNG samples",
            p.display()
        );
        None
    }
}

/// All `.dng` files of the sample cache, sorted.
pub fn all_dng_samples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dng_cache_dir())
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "dng"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    if v.is_empty() {
        eprintln!("SKIPPED: no DNG samples in {}", dng_cache_dir().display());
    }
    v
}

/// Mean encoded RGB over the central half of each of the chart's 24 patches.
pub fn patch_means(
    img: &obscura::finish::Finished,
    p: &obscura::synth::chart::ChartParams,
) -> Vec<[f64; 3]> {
    (0..24)
        .map(|i| {
            let r = p.patch_rect(i);
            let (x0, y0) = (r.x + r.width / 4, r.y + r.height / 4);
            let mut acc = [0.0; 3];
            let mut n = 0.0;
            for y in y0..y0 + r.height / 2 {
                for x in x0..x0 + r.width / 2 {
                    for (c, a) in acc.iter_mut().enumerate() {
                        *a += f64::from(img.rgb[c].get(x, y));
                    }
                    n += 1.0;
                }
            }
            acc.map(|a| a / n)
        })
        .collect()
}

/// Finds IFD0's entry for `tag` in a little-endian TIFF: the offset of its value field.
pub fn ifd0_value_offset(bytes: &[u8], tag: u16) -> usize {
    let ifd = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let n = u16::from_le_bytes(bytes[ifd..ifd + 2].try_into().unwrap()) as usize;
    (0..n)
        .map(|k| ifd + 2 + 12 * k)
        .find(|&e| u16::from_le_bytes(bytes[e..e + 2].try_into().unwrap()) == tag)
        .map(|e| e + 8)
        .expect("tag present")
}
