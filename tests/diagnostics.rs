//! `--debug DIR`: the diagnostic pictures and their page, checked for what they show.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use image::RgbImage;

fn obscura() -> Command {
    Command::cargo_bin("obscura").unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A synthetic burst of 256x192 in `dir/name` with `extra` synth options.
fn synth(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    obscura()
        .args(["synth", "-q", "--width", "256", "--height", "192", "--out"])
        .arg(&out)
        .args(extra)
        .assert()
        .success();
    out
}

fn png(path: &Path) -> RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

/// Mean of the red channel (0 to 1) over the pixels where `keep(x, y)` holds.
fn mean_where(img: &RgbImage, keep: impl Fn(f64, f64) -> bool) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for (x, y, p) in img.enumerate_pixels() {
        if keep(x as f64 + 0.5, y as f64 + 0.5) {
            s += f64::from(p.0[0]) / 255.0;
            n += 1;
        }
    }
    assert!(n > 0, "no pixel selected");
    s / n as f64
}

/// Mean absolute difference of each pixel to the mean of its 4 neighbours (green): noise
/// and fine detail.
fn roughness(img: &RgbImage) -> f64 {
    let g = |x: u32, y: u32| f64::from(img.get_pixel(x, y).0[1]);
    let (mut s, mut n) = (0.0, 0usize);
    for y in 1..img.height() - 1 {
        for x in 1..img.width() - 1 {
            let m = (g(x - 1, y) + g(x + 1, y) + g(x, y - 1) + g(x, y + 1)) / 4.0;
            s += (g(x, y) - m).abs();
            n += 1;
        }
    }
    s / n as f64
}

/// `obscura process --debug` on a burst with a moving object: every picture is there at its
/// size; the robustness weights are low on the object and high elsewhere; the arrows are
/// drawn at the tiles; the merged crop is smoother than the reference's; the page links
/// only files that exist. `obscura align` and `obscura merge` write theirs.
#[test]
fn process_debug_shows_the_moving_object_and_every_tile() {
    let dir = tempfile::tempdir().unwrap();
    let burst = synth(
        dir.path(),
        "burst",
        &["--frames", "5", "--moving", "6", "--seed", "3"],
    );
    let dbg = dir.path().join("debug");
    let o = obscura()
        .args(["process", "--reference", "0", "-q", "-o"])
        .arg(dir.path().join("out.jpg"))
        .arg("--debug")
        .arg(&dbg)
        .arg(&burst)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    // the overview pictures: the 256x192 area enlarged 2x
    let overview = [
        "reference.png".to_string(),
        "highlights.png".into(),
        "frame_01_alignment.png".into(),
        "frame_04_alignment.png".into(),
        "frame_01_weights.png".into(),
        "frame_04_weights.png".into(),
    ];
    for f in &overview {
        assert_eq!(png(&dbg.join(f)).dimensions(), (512, 384), "{f}");
    }
    for f in ["crop_reference.png", "crop_merged.png"] {
        assert_eq!(png(&dbg.join(f)).dimensions(), (192, 192), "{f}");
    }
    for f in [
        "noise.png",
        "reference_choice.png",
        "report.json",
        "index.html",
    ] {
        assert!(dbg.join(f).is_file(), "{f} missing");
    }
    assert!(!dbg.join("frame_00_weights.png").exists());

    // the object hides the scene where it is in the reference and where it is in frame k:
    // the merge must reject frame k there and keep it elsewhere
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(burst.join("truth.json")).unwrap()).unwrap();
    let obj = &truth["moving_object"];
    let radius = obj["radius"].as_f64().unwrap();
    let centre = |k: usize| {
        let c = &obj["centres"][k];
        // preview pixels: 2x the frame's
        (2.0 * c[0].as_f64().unwrap(), 2.0 * c[1].as_f64().unwrap())
    };
    let within = |p: (f64, f64), c: (f64, f64), r: f64| {
        (p.0 - c.0).powi(2) + (p.1 - c.1).powi(2) < (2.0 * r).powi(2)
    };
    // the kernel merge's per-pixel robustness shows the same
    let dk = dir.path().join("debug-kernel");
    obscura()
        .args([
            "process",
            "--reference",
            "0",
            "--merge",
            "kernel",
            "-q",
            "-o",
        ])
        .arg(dir.path().join("k.jpg"))
        .arg("--debug")
        .arg(&dk)
        .arg(&burst)
        .assert()
        .success();
    for (k, d) in [(1usize, &dbg), (4, &dbg), (4, &dk)] {
        let w = png(&d.join(format!("frame_{k:02}_weights.png")));
        assert_eq!(w.dimensions(), (512, 384));
        let (c0, ck) = (centre(0), centre(k));
        let inside = mean_where(&w, |x, y| within((x, y), c0, 0.6 * radius));
        let outside = mean_where(&w, |x, y| {
            !within((x, y), c0, 1.8 * radius) && !within((x, y), ck, 1.8 * radius)
        });
        eprintln!(
            "{}: frame {k}: weight {inside:.3} on the object, {outside:.3} away",
            d.display()
        );
        assert!(
            inside < 0.3 && outside > 0.7,
            "{}: frame {k}: weight {inside:.3} on the object, {outside:.3} away from it",
            d.display()
        );
    }

    // the arrows: a coloured dot at every tile centre (the label's box aside), on the grey
    // reference
    let o = obscura()
        .args(["align", "--reference", "0", "--json"])
        .arg(&burst)
        .output()
        .unwrap();
    let al: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f1 = &al["frames"][1];
    let (nx, ny) = (
        f1["tiles_x"].as_u64().unwrap() as u32,
        f1["tiles_y"].as_u64().unwrap() as u32,
    );
    let (step, size) = (
        f1["tile_step"].as_u64().unwrap() as u32,
        f1["tile_size"].as_u64().unwrap() as u32,
    );
    let base = png(&dbg.join("reference.png"));
    let arrows = png(&dbg.join("frame_01_alignment.png"));
    assert!(base.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]));
    let (mut tiles, mut marked) = (0, 0);
    for i in 0..ny {
        for j in 0..nx {
            let (x, y) = (2 * (j * step + size / 2), 2 * (i * step + size / 2));
            if y < 40 || x >= 512 || y >= 384 {
                continue;
            }
            tiles += 1;
            let p = arrows.get_pixel(x, y).0;
            marked += usize::from(p != base.get_pixel(x, y).0 && (p[0] != p[1] || p[1] != p[2]));
        }
    }
    assert!(
        tiles > 100 && marked == tiles,
        "{marked} of {tiles} tiles drawn"
    );

    // the merge averaged the noise away: the merged crop is smoother
    let (r, m) = (
        roughness(&png(&dbg.join("crop_reference.png"))),
        roughness(&png(&dbg.join("crop_merged.png"))),
    );
    // (the region is the most detailed one, so detail keeps much of the roughness: measured
    // 4.95 vs 6.03)
    assert!(m < 0.9 * r, "roughness {m:.2} merged vs {r:.2} reference");

    // the page: self-contained, every image it shows is there
    let html = std::fs::read_to_string(dbg.join("index.html")).unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"));
    let srcs: Vec<&str> = html
        .split("src=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert!(srcs.len() >= 13, "{srcs:?}");
    for s in &srcs {
        assert!(dbg.join(s).is_file(), "{s} is shown but missing");
    }
    assert!(html.contains("frame_04_weights.png") && html.contains("as asked (--reference)"));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dbg.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["frames_used"], 5);

    // align: arrows only; merge: arrows and weights
    let (da, dm) = (dir.path().join("da"), dir.path().join("dm"));
    obscura()
        .args(["align", "--debug"])
        .arg(&da)
        .arg(&burst)
        .assert()
        .success();
    assert!(da.join("frame_03_alignment.png").is_file() && da.join("index.html").is_file());
    assert!(!da.join("frame_03_weights.png").exists() && !da.join("crop_merged.png").exists());
    obscura()
        .args(["merge", "--reference", "0", "-o"])
        .arg(dir.path().join("m.dng"))
        .arg("--debug")
        .arg(&dm)
        .arg(&burst)
        .assert()
        .success();
    let w = png(&dm.join("frame_04_weights.png"));
    assert_eq!(w, png(&dbg.join("frame_04_weights.png")));
}

/// Highlights: a bracket's long reference gets its clipped photosites back from the short
/// frames (white in the mask); a burst of one exposure clips the same way and recovers
/// nothing (grey only).
#[test]
fn a_bracket_recovers_highlights_and_one_exposure_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let count = |img: &RgbImage, v: u8| img.pixels().filter(|p| p.0[0] == v).count();
    for (name, extra, recovers) in [
        ("bracket", &["--bracket", "0,-2"][..], true),
        ("equal", &[][..], false),
    ] {
        let mut args = vec!["--frames", "4", "--exposure", "3", "--seed", "5"];
        args.extend_from_slice(extra);
        let burst = synth(dir.path(), name, &args);
        let dbg = dir.path().join(format!("debug-{name}"));
        obscura()
            .args(["process", "--reference", "0", "-q", "-o"])
            .arg(dir.path().join(format!("{name}.jpg")))
            .arg("--debug")
            .arg(&dbg)
            .arg(&burst)
            .assert()
            .success();
        let mask = png(&dbg.join("highlights.png"));
        let (recovered, clipped) = (count(&mask, 255), count(&mask, 110));
        assert!(
            recovered + clipped > 5000,
            "{name}: the reference clips ({recovered} + {clipped})"
        );
        if recovers {
            assert!(recovered > 10 * clipped, "{name}: {recovered} vs {clipped}");
        } else {
            assert_eq!(recovered, 0, "{name}");
        }
    }
}

/// An unwritable debug folder (under a regular file: refused even to root) fails before any
/// work, with the usual I/O exit code and a message naming it; nothing is written.
#[test]
fn an_unwritable_debug_folder_fails_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let burst = synth(dir.path(), "burst", &["--frames", "3"]);
    let file = dir.path().join("file");
    std::fs::write(&file, b"not a folder").unwrap();
    let bad = file.join("debug");
    let before = std::fs::read_dir(dir.path()).unwrap().count();
    for cmd in [
        vec!["process", "-o", "out.jpg"],
        vec!["merge", "-o", "out.dng"],
        vec!["align"],
    ] {
        let o = obscura()
            .current_dir(dir.path())
            .args(&cmd)
            .arg("--debug")
            .arg(&bad)
            .arg(&burst)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{cmd:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("file/debug") && e.contains("debug folder"),
            "{e}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), before);
        assert!(o.stdout.is_empty(), "{cmd:?} did work");
    }
}

/// A second run replaces the first's folder whole (no file of the first is left), and a
/// folder holding other files is refused and left alone.
#[test]
fn an_old_run_is_replaced_not_mixed() {
    let dir = tempfile::tempdir().unwrap();
    let burst = synth(dir.path(), "burst", &["--frames", "5"]);
    let dbg = dir.path().join("debug");
    let run = |frames: &str, d: &Path| {
        obscura()
            .args(["process", "-q", "--frames", frames, "-o"])
            .arg(dir.path().join("out.jpg"))
            .arg("--debug")
            .arg(d)
            .arg(&burst)
            .output()
            .unwrap()
    };
    assert!(run("5", &dbg).status.success());
    assert!(dbg.join("frame_04_alignment.png").is_file());
    assert!(run("3", &dbg).status.success());
    let names: Vec<String> = std::fs::read_dir(&dbg)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("frame_03") || n.starts_with("frame_04")),
        "{names:?}"
    );
    assert!(dbg.join("frame_02_alignment.png").is_file());
    // no temporary folder is left beside it
    let beside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside.len(), 3, "{beside:?}"); // burst, debug, out.jpg
    // someone else's folder
    let other = dir.path().join("photos");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("holiday.jpg"), b"precious").unwrap();
    let o = run("3", &other);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("photos"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1);
}

/// The page in headless Chromium: every image loads (the page's own check, read from the
/// dumped DOM) and the screenshot shows them. Skipped where Chromium is not installed.
#[test]
fn the_page_renders_in_headless_chromium() {
    let Some(chromium) = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
    else {
        eprintln!("SKIPPED: Chromium is not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let burst = synth(dir.path(), "burst", &["--frames", "3", "--moving", "4"]);
    let dbg = dir.path().join("debug");
    obscura()
        .args(["process", "-q", "-o"])
        .arg(dir.path().join("out.jpg"))
        .arg("--debug")
        .arg(&dbg)
        .arg(&burst)
        .assert()
        .success();
    let url = format!("file://{}", dbg.join("index.html").display());
    let browse = |extra: &[&str]| {
        std::process::Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                // lets the page load every image before the DOM is dumped or the
                // screenshot taken
                "--virtual-time-budget=10000",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap()
    };
    let o = browse(&["--dump-dom"]);
    let dom = String::from_utf8_lossy(&o.stdout);
    let n = std::fs::read_dir(&dbg)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    // every PNG is shown; the reference's is shown twice (the frame table, highlights aside)
    assert!(n >= 10);
    let mark = dom
        .split("data-images=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("absent");
    let counts: Vec<&str> = mark.trim_start_matches("loaded ").split('/').collect();
    assert!(
        mark.starts_with("loaded ")
            && counts[0] == counts[1]
            && counts[0].parse::<usize>().unwrap() >= n,
        "{mark} ({n} PNGs): {}",
        stderr(&o)
    );
    // the screenshot shows the pictures: many colours, and the bar chart's orange reference
    // bar (headless Chromium may shoot before the last image is painted: up to 3 tries)
    let shot = dir.path().join("shot.png");
    let mut seen = String::new();
    for _ in 0..3 {
        let o = browse(&[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,3000",
        ]);
        assert!(shot.is_file(), "{}", stderr(&o));
        let img = png(&shot);
        assert_eq!(img.dimensions(), (1200, 3000));
        let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        colours.sort_unstable();
        colours.dedup();
        let orange = img.pixels().any(|p| p.0 == [240, 140, 20]);
        if colours.len() > 1000 && orange {
            return;
        }
        seen += &format!("{} colours, orange bar {orange}; ", colours.len());
    }
    panic!("the screenshot lacks the pictures: {seen}");
}
