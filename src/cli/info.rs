//! `obscura info`: each raw file's metadata, as text or JSON.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use obscura::Error;
use obscura::error::Result;
use obscura::image::{Cfa, Rect};
use obscura::raw::{DecoderKind, Metadata, RawFrame};

use super::{limits, say};

#[derive(Debug, Args)]
pub(crate) struct InfoArgs {
    /// RAW files (DNG, CRW, CR2, CR3, NEF, ARW, ...) or directories of them.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print JSON (one array of objects) instead of text.
    #[arg(long)]
    json: bool,
    /// Also print the noise model merge would use: the DNG NoiseProfile, or an estimate from
    /// the pixels when the file has none (variance = S * signal + O per colour).
    #[arg(long)]
    noise: bool,
}

/// What `obscura info --json` prints per file.
#[derive(Debug, Serialize)]
struct FrameInfo {
    file: String,
    decoder: DecoderKind,
    width: usize,
    height: usize,
    active_area: Rect,
    crop: Rect,
    /// Whether the frame is linear camera RGB (a 3-sample LinearRaw DNG) rather than a Bayer
    /// mosaic.
    linear_rgb: bool,
    /// The Bayer pattern; `null` for linear RGB.
    cfa: Option<Cfa>,
    /// Black levels per 2x2 position; for linear RGB, per plane R, G, B (and G again).
    black: [f64; 4],
    white: f64,
    wb_multipliers: [f64; 3],
    #[serde(flatten)]
    meta: Metadata,
}

fn illuminant_name(code: u16) -> &'static str {
    match code {
        17 => "standard light A",
        18 => "standard light B",
        19 => "standard light C",
        20 => "D55",
        21 => "D65",
        22 => "D75",
        23 => "D50",
        24 => "ISO studio tungsten",
        1 => "daylight",
        2 => "fluorescent",
        3 => "tungsten",
        0 => "unknown",
        _ => "other",
    }
}

fn print_text(f: &RawFrame) {
    let m = &f.meta;
    let r = |r: Rect| format!("{}x{} at ({},{})", r.width, r.height, r.x, r.y);
    say!("{}", f.path.display());
    say!(
        "  camera       {} {} (decoded by {:?})",
        m.make,
        m.model,
        f.decoder
    );
    say!(
        "  raw buffer   {}x{}{}, active {}, crop {}",
        f.size().0,
        f.size().1,
        if f.is_rgb() {
            " linear RGB (LinearRaw, 3 samples per pixel)"
        } else {
            ""
        },
        r(f.active_area),
        r(f.crop)
    );
    let black = if f.is_rgb() {
        say!("  CFA          none (linear RGB, already demosaiced)");
        format!("R {} G {} B {}", f.black[0], f.black[1], f.black[2])
    } else {
        say!(
            "  CFA          {} (at the crop: {})",
            f.cfa,
            f.cfa_at(f.crop)
        );
        f.black.map(|b| format!("{b}")).join(" ")
    };
    say!(
        "  levels       black {black} / white {}, {} bits stored",
        f.white,
        m.bits_per_sample
    );
    let n = m.as_shot_neutral;
    let wb = f.wb_multipliers();
    say!(
        "  white bal.   as-shot neutral {:.4} {:.4} {:.4} (multipliers {:.3} {:.3} {:.3})",
        n[0],
        n[1],
        n[2],
        wb[0],
        wb[1],
        wb[2]
    );
    let mut exp = Vec::new();
    if let Some(t) = m.exposure_time {
        exp.push(if t < 1.0 {
            format!("1/{:.0} s", 1.0 / t)
        } else {
            format!("{t} s")
        });
    }
    if let Some(a) = m.aperture {
        exp.push(format!("f/{a:.1}"));
    }
    if let Some(i) = m.iso {
        exp.push(format!("ISO {i}"));
    }
    if let Some(fl) = m.focal_length {
        exp.push(format!("{fl:.1} mm"));
    }
    exp.push(format!("baseline exposure {:+.2} EV", m.baseline_exposure));
    say!("  exposure     {}", exp.join(", "));
    say!(
        "  captured     {}",
        m.capture_time.as_deref().unwrap_or("(unknown)")
    );
    say!("  orientation  {}", m.orientation);
    for c in &m.calibrations {
        let fmt = |mm: &[[f64; 3]; 3]| {
            mm.iter()
                .map(|row| row.map(|v| format!("{v:.4}")).join(" "))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        say!(
            "  colour       ColorMatrix ({}): {}",
            illuminant_name(c.illuminant),
            fmt(&c.color_matrix)
        );
        if let Some(fm) = &c.forward_matrix {
            say!("               ForwardMatrix: {}", fmt(fm));
        }
    }
    if m.noise_profile.is_empty() {
        say!("  noise        (no NoiseProfile)");
    } else {
        let s: Vec<String> = m
            .noise_profile
            .iter()
            .map(|n| format!("S={:.3e} O={:.3e}", n.scale, n.offset))
            .collect();
        say!("  noise        NoiseProfile {}", s.join(", "));
    }
    for (name, list) in [
        ("OpcodeList1", &m.opcodes1),
        ("OpcodeList2", &m.opcodes2),
        ("OpcodeList3", &m.opcodes3),
    ] {
        if !list.is_empty() {
            let ops: Vec<String> = list
                .iter()
                .map(|o| {
                    format!(
                        "{}{}",
                        o.name(),
                        if o.is_optional() { " (optional)" } else { "" }
                    )
                })
                .collect();
            say!("  {name:<12} {}", ops.join(", "));
        }
    }
}

/// `obscura info FILE...`: every file is tried; the last failure is the error.
pub(crate) fn info(a: InfoArgs) -> Result<()> {
    let files = obscura::burst::expand_inputs(&a.files)?;
    let mut infos = Vec::new();
    let mut errors = Vec::new();
    for path in &files {
        match RawFrame::open_with(path, &limits()) {
            Ok(f) if a.json => infos.push(FrameInfo {
                file: f.path.display().to_string(),
                decoder: f.decoder,
                width: f.size().0,
                height: f.size().1,
                active_area: f.active_area,
                crop: f.crop,
                linear_rgb: f.is_rgb(),
                cfa: (!f.is_rgb()).then_some(f.cfa),
                black: f.black,
                white: f.white,
                wb_multipliers: f.wb_multipliers(),
                meta: f.meta.clone(),
            }),
            Ok(f) => {
                print_text(&f);
                if a.noise {
                    let n = obscura::merge::noise::noise_model(&f);
                    for (name, m) in ["R", "G", "B"].iter().zip(n.channels) {
                        say!(
                            "  noise {name}      variance = {:.3e} * x + {:.3e} ({:?})",
                            m.scale,
                            m.offset,
                            n.source
                        );
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if a.json {
        let text = serde_json::to_string_pretty(&infos)
            .map_err(|e| Error::parameter("--json", e.to_string()))?;
        say!("{text}");
    }
    // Every file was tried; report all failures, and fail with the last one.
    let last = errors.pop();
    for e in &errors {
        eprintln!("error: {e}");
    }
    match last {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
