//! The `obscura` binary, driven as a user would.

use assert_cmd::Command;

fn obscura() -> Command {
    Command::cargo_bin("obscura").unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn synth_then_info_json_describes_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("burst");
    obscura()
        .args([
            "synth", "--frames", "3", "--width", "128", "--height", "96", "--seed", "7", "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    for f in [
        "frame_00.dng",
        "frame_01.dng",
        "frame_02.dng",
        "truth.json",
        "reference_mosaic.tiff",
        "reference_rgb.tiff",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let o = obscura()
        .args(["info", "--json"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let frames = v.as_array().unwrap();
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0]["width"], 128);
    assert_eq!(frames[0]["cfa"]["colors"][0], "R");
    assert_eq!(frames[0]["white"], 4095.0);
    assert_eq!(frames[1]["noise_profile"][0]["scale"], 2e-3);
    assert_eq!(frames[2]["capture_time"], "2026:01:01 12:00:00.066");

    let o = obscura()
        .arg("info")
        .arg(out.join("frame_00.dng"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("RGGB") && text.contains("128x96") && text.contains("NoiseProfile"),
        "{text}"
    );
}

#[test]
fn synth_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["a", "b"] {
        obscura()
            .args([
                "synth", "--frames", "2", "--width", "64", "--height", "64", "--moving", "3",
                "--out",
            ])
            .arg(dir.path().join(sub))
            .assert()
            .success();
    }
    for f in ["frame_00.dng", "frame_01.dng", "truth.json"] {
        let a = std::fs::read(dir.path().join("a").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("b").join(f)).unwrap();
        assert_eq!(a, b, "{f} differs between two runs with the same seed");
    }
}

#[test]
fn synth_chart_with_a_2x_truth() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chart");
    let o = obscura()
        .args([
            "synth",
            "--scene",
            "chart",
            "--truth-scale",
            "2",
            "--frames",
            "2",
            "--width",
            "320",
            "--height",
            "240",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("reference_rgb_2x.tiff"),
        "{}",
        stderr(&o)
    );
    let file = std::fs::File::open(out.join("reference_rgb_2x.tiff")).unwrap();
    let mut dec = tiff::decoder::Decoder::new(std::io::BufReader::new(file)).unwrap();
    assert_eq!(dec.dimensions().unwrap(), (640, 480));
    let truth = obscura::synth::Truth::load(out.join("truth.json")).unwrap();
    assert_eq!(truth.params.truth_scale, 2);
    assert_eq!(truth.params.scene, obscura::synth::SceneSource::Chart);

    let o = obscura()
        .args(["synth", "--truth-scale", "5", "--out"])
        .arg(dir.path().join("bad"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--truth-scale"), "{}", stderr(&o));
}

/// The noise of a flat scene, measured on the decoded DNG, matches the requested profile
/// variance = S * x + O within 5% in every CFA channel.
#[test]
fn synth_noise_matches_the_requested_profile() {
    let dir = tempfile::tempdir().unwrap();
    let grey = dir.path().join("grey.png");
    image::RgbImage::from_pixel(64, 64, image::Rgb([150, 150, 150]))
        .save(&grey)
        .unwrap();
    let (s, o) = (4e-3, 2e-4);
    obscura()
        .args([
            "synth", "--frames", "1", "--width", "320", "--height", "320", "--motion", "0",
            "--rotate", "0",
        ])
        .args([
            "--shot",
            &s.to_string(),
            "--read",
            &o.to_string(),
            "--scene",
        ])
        .arg(&grey)
        .arg("--out")
        .arg(dir.path().join("flat"))
        .assert()
        .success();
    let f = obscura::RawFrame::open(dir.path().join("flat/frame_00.dng")).unwrap();
    assert_eq!(f.meta.noise_profile[0].scale, s);
    assert_eq!(f.meta.noise_profile[0].offset, o);
    let mut sums = [[0.0f64; 3]; 4];
    for y in 0..f.mosaic.height {
        for x in 0..f.mosaic.width {
            let v = f64::from(f.mosaic.get(x, y));
            let k = (y % 2) * 2 + x % 2;
            sums[k][0] += 1.0;
            sums[k][1] += v;
            sums[k][2] += v * v;
        }
    }
    for (k, [n, s1, s2]) in sums.into_iter().enumerate() {
        let mean = s1 / n;
        let var = s2 / n - mean * mean;
        let want = s * mean + o;
        let err = (var / want - 1.0).abs();
        eprintln!(
            "CFA position {k}: mean {mean:.4}, variance {var:.4e}, profile {want:.4e}, error {:.2}%",
            err * 100.0
        );
        assert!(mean > 0.05, "flat scene too dark to test: {mean}");
        assert!(
            err < 0.05,
            "position {k}: variance {var:e} vs profile {want:e}"
        );
    }
}

#[test]
fn bad_files_name_the_file_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.dng");
    std::fs::write(&bad, b"II*\0garbage garbage garbage").unwrap();
    let o = obscura().arg("info").arg(&bad).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains(&*bad.to_string_lossy()) && !e.contains("panicked"),
        "{e}"
    );

    let o = obscura()
        .args(["info", "/nonexistent/x.dng"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/x.dng"));

    let empty = dir.path().join("empty_dir");
    std::fs::create_dir(&empty).unwrap();
    let o = obscura().arg("info").arg(&empty).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no raw files"), "{}", stderr(&o));
}

#[test]
fn usage_errors_and_absurd_parameters_exit_2() {
    let o = obscura().arg("frobnicate").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let o = obscura()
        .args(["synth", "--frames", "0", "--out"])
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("frames"), "{}", stderr(&o));
    let o = obscura()
        .args(["synth", "--width", "7", "--out"])
        .arg(dir.path().join("y"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = obscura()
        .args(["synth", "--cfa", "XTRANS", "--out"])
        .arg(dir.path().join("z"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("RGGB"), "{}", stderr(&o));
    assert!(
        !dir.path().join("x").exists() && !dir.path().join("z").exists(),
        "nothing is written on bad parameters"
    );
}

#[test]
fn help_explains_the_commands() {
    let o = obscura().arg("--help").output().unwrap();
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(
        t.contains("info") && t.contains("synth") && t.contains("Exit codes"),
        "{t}"
    );
}

#[test]
fn align_json_has_the_documented_form() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    obscura()
        .args([
            "synth", "--frames", "3", "--width", "256", "--height", "192", "--motion", "6", "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let o = obscura()
        .args(["align", "--reference", "1", "--json"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["reference"], 1);
    let frames = v["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 3);
    let truth = obscura::synth::Truth::load(out.join("truth.json")).unwrap();
    for (k, f) in frames.iter().enumerate() {
        let mut keys: Vec<&str> = f.as_object().unwrap().keys().map(|s| s.as_str()).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "field",
                "file",
                "tile_size",
                "tile_step",
                "tiles_x",
                "tiles_y"
            ]
        );
        assert_eq!(f["file"], format!("frame_{k:02}.dng"));
        let (nx, ny) = (
            f["tiles_x"].as_u64().unwrap(),
            f["tiles_y"].as_u64().unwrap(),
        );
        let field = f["field"].as_array().unwrap();
        assert_eq!(field.len() as u64, nx * ny);
        // tile (i, j) centre, and the field against the truth (relative to frame 1)
        let (s, t) = (
            f["tile_step"].as_f64().unwrap(),
            f["tile_size"].as_f64().unwrap(),
        );
        let (i, j) = (ny / 2, nx / 2);
        let (cx, cy) = (j as f64 * s + t / 2.0, i as f64 * s + t / 2.0);
        let d = &field[(i * nx + j) as usize];
        // reference point p (in frame 1) is at truth.to_reference(1, p) in frame 0 coordinates
        let p0 = truth.to_reference(1, cx, cy);
        let q = truth.to_frame(k, p0[0], p0[1]);
        let (ex, ey) = (q[0] - cx, q[1] - cy);
        let (gx, gy) = (d[0].as_f64().unwrap(), d[1].as_f64().unwrap());
        assert!(
            (gx - ex).abs() < 0.5 && (gy - ey).abs() < 0.5,
            "frame {k}: {gx},{gy} vs {ex},{ey}"
        );
        if k == 1 {
            assert!(field.iter().all(|d| d[0] == 0.0 && d[1] == 0.0));
        }
    }
}

#[test]
fn merge_writes_a_dng_and_refuses_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    obscura()
        .args([
            "synth", "--frames", "4", "--width", "192", "--height", "128", "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let dng = dir.path().join("merged.dng");
    let o = obscura()
        .arg("merge")
        .arg(&out)
        .arg("-o")
        .arg(&dng)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let f = obscura::RawFrame::open(&dng).unwrap();
    assert_eq!((f.mosaic.width, f.mosaic.height), (192, 128));

    let o = obscura()
        .arg("merge")
        .arg(&out)
        .args(["--merge", "median", "-o"])
        .arg(&dng)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("possible values: robust, kernel, hdrplus, average"),
        "{}",
        stderr(&o)
    );

    let missing = dir.path().join("no/such/dir/m.dng");
    let o = obscura()
        .arg("merge")
        .arg(&out)
        .arg("-o")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no/such/dir"), "{}", stderr(&o));
    assert!(!missing.exists());

    // --frames 2 keeps the first two frames
    let two = dir.path().join("two.dng");
    obscura()
        .arg("merge")
        .arg(&out)
        .args(["--frames", "2", "-o"])
        .arg(&two)
        .assert()
        .success();
}

/// `obscura merge` streams through the pipeline: with `--frames 2`, a corrupt third file is
/// never read and the merge succeeds; with all frames it is, and the run fails (exit 1)
/// without leaving a DNG. `--frames 0` is a usage error.
#[test]
fn merge_decodes_only_the_frames_it_uses() {
    let dir = tempfile::tempdir().unwrap();
    let burst = dir.path().join("burst");
    std::fs::create_dir(&burst).unwrap();
    for k in 0..2 {
        let name = format!("frame_0{k}.dng");
        std::fs::copy(sample_burst().join(&name), burst.join(&name)).unwrap();
    }
    std::fs::write(burst.join("frame_02.dng"), b"II*\0 not a raw file at all").unwrap();
    let dng = dir.path().join("two.dng");
    let o = obscura()
        .arg("merge")
        .arg(&burst)
        .args(["--frames", "2", "-o"])
        .arg(&dng)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("merged 2 frames"), "{}", stderr(&o));
    assert!(obscura::RawFrame::open(&dng).is_ok());

    let all = dir.path().join("all.dng");
    let o = obscura()
        .arg("merge")
        .arg(&burst)
        .arg("-o")
        .arg(&all)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("frame_02.dng"), "{}", stderr(&o));
    assert!(!all.exists());

    let o = obscura()
        .arg("merge")
        .arg(&burst)
        .args(["--frames", "0", "-o"])
        .arg(&all)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--frames"), "{}", stderr(&o));
}

fn sample_burst() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/burst")
}

#[test]
fn process_the_sample_burst_to_each_format() {
    let dir = tempfile::tempdir().unwrap();
    // every format in every look (three frames, to keep it quick), and the options
    let mut runs: Vec<(String, Vec<&str>)> = Vec::new();
    for look in obscura::look::Look::BUILTIN {
        for ext in ["jpg", "png", "tif"] {
            runs.push((
                format!("{look}.{ext}"),
                vec!["--look", look, "--frames", "3"],
            ));
        }
    }
    runs.push(("out.png".into(), vec!["--png16"]));
    runs.push(("out.tif".into(), vec!["--colorspace", "p3"]));
    runs.push((
        "out.image".into(),
        vec!["--format", "png", "--tone", "global"],
    ));
    let n = runs.len();
    for (name, extra) in runs {
        let out = dir.path().join(&name);
        let o = obscura()
            .arg("process")
            .arg(sample_burst())
            .arg("-o")
            .arg(&out)
            .args(&extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let img = image::ImageReader::open(&out)
            .unwrap()
            .with_guessed_format()
            .unwrap()
            .decode()
            .unwrap();
        assert_eq!((img.width(), img.height()), (512, 384), "{name}");
    }
    // nothing but the outputs was written
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), n);
}

#[test]
fn develop_a_chart_with_the_reference_rendering() {
    let dir = tempfile::tempdir().unwrap();
    let o = obscura()
        .args(["synth", "--chart", "--light", "a", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let chart = dir.path().join("chart.dng");
    let out = dir.path().join("chart.png");
    let o = obscura()
        .arg("develop")
        .arg(&chart)
        .args(["--look", "none", "--tone", "none", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // the white balance found is the chart's tungsten light
    assert!(stderr(&o).contains("white 28"), "{}", stderr(&o));
    assert!(out.is_file());
}

#[test]
fn develop_and_process_refuse_bad_requests_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.jpg");
    let crw = sample_burst().join("frame_00.dng");
    for (args, code, says) in [
        (vec!["--wb", "1,2"], 2, "--wb"),
        (vec!["--wb-temp", "100"], 2, "--wb-temp"),
        (vec!["--exposure", "99"], 2, "between -10 and 10"),
        (vec!["--tone", "fancy"], 2, "tone"),
        (vec!["--quality", "0"], 2, "quality"),
        (
            vec!["--colorspace", "adobe"],
            2,
            "possible values: srgb, p3",
        ),
        (
            vec!["--look", "sepia"],
            2,
            "\"sepia\" is neither a built-in look",
        ),
    ] {
        let o = obscura()
            .arg("develop")
            .arg(&crw)
            .arg("-o")
            .arg(&out)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert!(!out.exists());
    }
    // an output folder that does not exist, an unknown extension
    for (o_path, says) in [
        (
            dir.path().join("no/such/dir/x.jpg"),
            "output folder does not exist",
        ),
        (dir.path().join("x.webp"), "extension"),
    ] {
        let o = obscura()
            .arg("process")
            .arg(sample_burst())
            .arg("-o")
            .arg(&o_path)
            .output()
            .unwrap();
        assert_ne!(o.status.code(), Some(0));
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
        assert!(!o_path.exists());
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn lut_option_applies_cube_files_and_reports_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let frame = sample_burst().join("frame_00.dng");
    let run = |extra: &[&str], out: &std::path::Path| {
        obscura()
            .arg("develop")
            .arg(&frame)
            .arg("-o")
            .arg(out)
            .args(["--png16"])
            .args(extra)
            .output()
            .unwrap()
    };
    let plain = dir.path().join("plain.png");
    assert!(run(&[], &plain).status.success());
    // an identity cube changes nothing beyond 1/4096; a channel swap swaps
    let id = dir.path().join("id.cube");
    obscura::look::Lut3d::identity(33).save_cube(&id).unwrap();
    let swap = dir.path().join("swap.cube");
    obscura::look::Lut3d::from_fn(17, |[r, g, b]| [b, g, r])
        .save_cube(&swap)
        .unwrap();
    let with_id = dir.path().join("id.png");
    let o = run(&["--lut", id.to_str().unwrap()], &with_id);
    assert!(o.status.success(), "{}", stderr(&o));
    let with_swap = dir.path().join("swap.png");
    assert!(
        run(&["--lut", swap.to_str().unwrap()], &with_swap)
            .status
            .success()
    );
    let load = |p: &std::path::Path| image::open(p).unwrap().into_rgb16();
    let (a, b, c) = (load(&plain), load(&with_id), load(&with_swap));
    let mut worst = 0i32;
    for ((pa, pb), pc) in a.pixels().zip(b.pixels()).zip(c.pixels()) {
        for k in 0..3 {
            worst = worst.max((i32::from(pa[k]) - i32::from(pb[k])).abs());
        }
        assert!((i32::from(pa[0]) - i32::from(pc[2])).abs() <= 16);
        assert!((i32::from(pa[2]) - i32::from(pc[0])).abs() <= 16);
    }
    assert!(worst <= 16, "identity LUT moved a sample by {worst}/65535");
    // a broken cube: exit 1, the file and line named, nothing written
    let bad = dir.path().join("bad.cube");
    std::fs::write(&bad, "LUT_3D_SIZE 2\n0 0 0\n1 1\n").unwrap();
    let out = dir.path().join("bad.png");
    let o = run(&["--lut", bad.to_str().unwrap()], &out);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("bad.cube") && stderr(&o).contains("line 3"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

#[test]
fn looks_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    // every built-in look, and a look file, through the whole chain
    let custom = dir.path().join("faded.toml");
    std::fs::write(
        &custom,
        "name = \"faded\"\ndescription = \"lifted blacks\"\ncurve = [[0, 0.08], [1, 0.95]]\n",
    )
    .unwrap();
    let mut means = Vec::new();
    for look in [
        "natural",
        "authentic",
        "vibrant",
        "mono",
        custom.to_str().unwrap(),
    ] {
        let out = dir.path().join("out.png");
        let o = obscura()
            .arg("process")
            .arg(sample_burst())
            .args(["--look", look, "-o"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{look}: {}", stderr(&o));
        let img = image::open(&out).unwrap().into_rgb8();
        let n = img.pixels().len() as f64;
        let mean: f64 = img.pixels().map(|p| f64::from(p[1])).sum::<f64>() / n;
        let min = img.pixels().map(|p| p[1]).min().unwrap();
        let grey = img.pixels().all(|p| p[0] == p[1] && p[1] == p[2]);
        means.push((mean, min, grey));
    }
    eprintln!("mean green, darkest green, all grey per look: {means:?}");
    let [natural, authentic, vibrant, mono, faded] = means.try_into().unwrap();
    assert!(authentic.0 < natural.0 - 5.0 && vibrant.0 > natural.0 + 5.0);
    assert!(mono.2 && !natural.2);
    // the faded curve lifts black to 0.08 (20 codes)
    assert!(faded.1 >= 19, "{faded:?}");

    // list, export
    let o = obscura().args(["look", "list"]).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    for name in obscura::look::Look::BUILTIN {
        assert!(text.contains(name), "{text}");
    }
    let cube = dir.path().join("authentic.cube");
    let o = obscura()
        .args(["look", "export", "authentic", "-o"])
        .arg(&cube)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let lut = obscura::look::Lut3d::load(&cube).unwrap();
    let want = obscura::look::Look::builtin("authentic")
        .unwrap()
        .bake(65)
        .unwrap();
    assert_eq!(lut.size, 65);
    let worst = lut
        .table
        .iter()
        .zip(&want.table)
        .flat_map(|(a, b)| (0..3).map(move |k| (a[k] - b[k]).abs()))
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-6, "{worst}");

    // a broken look file: exit 1, the file and line named, nothing written; a bad export
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nsaturation = \"lots\"\n").unwrap();
    let out = dir.path().join("bad.jpg");
    let o = obscura()
        .arg("develop")
        .arg(sample_burst().join("frame_00.dng"))
        .args(["--look", bad.to_str().unwrap(), "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("bad.toml") && stderr(&o).contains("line 2"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    for (args, says) in [
        (
            vec!["look", "export", "authentic", "--size", "1"],
            "2 to 256",
        ),
        (vec!["look", "export", "sepia"], "neither a built-in look"),
    ] {
        let out = dir.path().join("x.cube");
        let o = obscura().args(&args).arg("-o").arg(&out).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert!(!out.exists());
    }
    let o = obscura()
        .args(["look", "export", "authentic", "-o"])
        .arg(dir.path().join("x.png"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn process_writes_a_report_and_the_merged_dng() {
    let dir = tempfile::tempdir().unwrap();
    let (out, report, dng) = (
        dir.path().join("out.tif"),
        dir.path().join("report.json"),
        dir.path().join("merged.dng"),
    );
    let o = obscura()
        .arg("process")
        .arg(sample_burst())
        .args(["--look", "authentic", "-v", "--threads", "1", "--report"])
        .arg(&report)
        .arg("--dng")
        .arg(&dng)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // -v prints the stage times and every frame
    assert!(
        stderr(&o).contains("time: decode") && stderr(&o).contains("frame_07.dng"),
        "{}",
        stderr(&o)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let s = &r["seconds"];
    let parts: f64 = ["decode", "align", "merge", "finish", "encode"]
        .iter()
        .map(|k| s[k].as_f64().unwrap())
        .sum();
    let total = s["total"].as_f64().unwrap();
    assert!(
        parts <= total + 1e-6 && parts >= 0.95 * total,
        "{parts} of {total}"
    );
    assert!(s["align"].as_f64().unwrap() > 0.0 && s["merge"].as_f64().unwrap() > 0.0);
    assert_eq!(r["frames_used"], 8);
    assert_eq!(r["look"], "authentic");
    assert_eq!(r["frames"].as_array().unwrap().len(), 8);
    // the reported displacement is the true motion (samples/burst/truth.json): within 1 px
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sample_burst().join("truth.json")).unwrap())
            .unwrap();
    let reference = r["reference_index"].as_u64().unwrap() as usize;
    let shift = |k: usize| {
        let t = &truth["frames"][k]["translation"];
        [t[0].as_f64().unwrap(), t[1].as_f64().unwrap()]
    };
    for (k, f) in r["frames"].as_array().unwrap().iter().enumerate() {
        let d = &f["median_displacement"];
        let (t, t0) = (shift(k), shift(reference));
        let err = ((d[0].as_f64().unwrap() - (t[0] - t0[0])).powi(2)
            + (d[1].as_f64().unwrap() - (t[1] - t0[1])).powi(2))
        .sqrt();
        assert!(err < 1.0, "frame {k}: {err} px off");
    }
    assert!(r["peak_memory_bytes"].as_u64().unwrap() > 1_000_000);
    // the merged DNG decodes, at the burst's size
    let merged = obscura::RawFrame::open(&dng).unwrap();
    assert_eq!((merged.mosaic.width, merged.mosaic.height), (512, 384));
}

/// Three bursts for a batch: two copies of the sample and one broken (a truncated file).
fn batch_input(dir: &std::path::Path) -> std::path::PathBuf {
    let input = dir.join("bursts");
    for name in ["beach", "city"] {
        let d = input.join(name);
        std::fs::create_dir_all(&d).unwrap();
        for k in 0..3 {
            let f = format!("frame_0{k}.dng");
            std::fs::copy(sample_burst().join(&f), d.join(&f)).unwrap();
        }
    }
    let broken = input.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    let bytes = std::fs::read(sample_burst().join("frame_00.dng")).unwrap();
    std::fs::write(broken.join("frame_00.dng"), &bytes[..bytes.len() / 3]).unwrap();
    input
}

#[test]
fn batch_processes_each_burst_resumes_and_lists_failures() {
    let dir = tempfile::tempdir().unwrap();
    let input = batch_input(dir.path());
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        obscura()
            .args(["process", "--batch"])
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("failed: broken") && stderr(&o).contains("frame_00.dng"),
        "{}",
        stderr(&o)
    );
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["beach.jpg", "city.jpg"]);
    // a rerun skips what exists
    let before = std::fs::metadata(out.join("beach.jpg"))
        .unwrap()
        .modified()
        .unwrap();
    let o = run(&["--report", dir.path().join("batch.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("0 processed, 2 skipped"),
        "{}",
        stderr(&o)
    );
    let after = std::fs::metadata(out.join("beach.jpg"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("batch.json")).unwrap())
            .unwrap();
    assert_eq!(r["skipped"].as_array().unwrap().len(), 2);
    assert_eq!(r["failed"][0]["burst"], "broken");
}

#[test]
fn shards_split_a_batch_without_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let input = batch_input(dir.path());
    // a manifest of the two good bursts plus two more names for the same frames
    let manifest = dir.path().join("bursts.txt");
    std::fs::write(
        &manifest,
        format!(
            "# name: the directory's name\n{0}/beach\n{0}/city\n\n{0}/beach/frame_00.dng\t{0}/beach/frame_01.dng\n{0}/city/frame_02.dng\n",
            input.display()
        ),
    )
    .unwrap();
    let mut seen = Vec::new();
    for shard in ["1/2", "2/2"] {
        let out = dir.path().join(format!("out{}", &shard[..1]));
        let o = obscura()
            .args(["process", "-q", "--png16", "--format", "png", "--manifest"])
            .arg(&manifest)
            .args(["--shard", shard, "-o"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{shard}: {}", stderr(&o));
        assert!(stderr(&o).is_empty(), "quiet: {}", stderr(&o));
        for e in std::fs::read_dir(&out).unwrap() {
            seen.push(e.unwrap().file_name().to_string_lossy().into_owned());
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        ["beach.png", "city.png", "frame_00.png", "frame_02.png"],
        "each burst exactly once"
    );
    let o = obscura()
        .args(["process", "--threads", "0", "--manifest"])
        .arg(&manifest)
        .arg("-o")
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--threads"), "{}", stderr(&o));
    let o = obscura()
        .args(["process", "--manifest"])
        .arg(&manifest)
        .args(["--shard", "3/2", "-o"])
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--shard"), "{}", stderr(&o));
}

#[test]
fn kernel_merge_writes_linear_raw_at_any_scale_and_refuses_bad_scales() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    obscura()
        .args([
            "synth", "--frames", "4", "--width", "192", "--height", "128", "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    for (scale, size) in [("1", (192, 128)), ("2", (384, 256))] {
        let dng = dir.path().join(format!("k{scale}.dng"));
        let o = obscura()
            .arg("merge")
            .arg(&out)
            .args(["--merge", "kernel", "--scale", scale, "-o"])
            .arg(&dng)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let f = obscura::RawFrame::open(&dng).unwrap();
        assert!(f.is_rgb(), "the kernel merge writes a LinearRaw DNG");
        assert_eq!(f.size(), size);
    }
    let png = dir.path().join("k2.png");
    obscura()
        .arg("process")
        .arg(&out)
        .args(["--merge", "kernel", "--scale", "2", "-q", "-o"])
        .arg(&png)
        .assert()
        .success();
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (384, 256));
    // usage errors name the option; nothing is written
    let bad = dir.path().join("bad.png");
    for args in [
        vec!["--scale", "2"],
        vec!["--merge", "kernel", "--scale", "5"],
        vec!["--merge", "kernel", "--scale", "0.5"],
        vec!["--merge", "kernel", "--scale", "2", "--max-pixels", "50000"],
    ] {
        let o = obscura()
            .arg("process")
            .arg(&out)
            .args(&args)
            .arg("-o")
            .arg(&bad)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("scale"), "{args:?}: {}", stderr(&o));
        assert!(!bad.exists());
    }
}

/// A corrupt file is the file's fault (exit 1, the file named), whatever the command and
/// however far it gets: truncated before decoding, or decoded with a singular ColorMatrix.
#[test]
fn corrupt_files_exit_1_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(sample_burst().join("frame_00.dng")).unwrap();
    let cut = dir.path().join("cut.dng");
    std::fs::write(&cut, &good[..good.len() / 3]).unwrap();
    let out = dir.path().join("x.jpg");
    for cmd in ["develop", "process", "merge", "info"] {
        let mut c = obscura();
        c.arg(cmd).arg(&cut);
        if cmd != "info" {
            c.arg("-o").arg(&out);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{cmd}: {}", stderr(&o));
        assert!(stderr(&o).contains("cut.dng"), "{cmd}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
    // a file whose ColorMatrix cannot be inverted (raised as a usage error, exit 2, before)
    let mut frame =
        obscura::synth::chart::chart(&obscura::synth::chart::ChartParams::default()).unwrap();
    for c in &mut frame.meta.calibrations {
        c.color_matrix = [[1.0, 1.0, 1.0]; 3];
    }
    let singular = dir.path().join("singular.dng");
    obscura::raw::write_dng(&frame, &singular).unwrap();
    let o = obscura()
        .arg("develop")
        .arg(&singular)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("singular.dng"), "{}", stderr(&o));
    assert!(!out.exists());
}

/// An absurd parameter is a usage error (exit 2) that names the option the user typed, not
/// the library's field.
#[test]
fn absurd_parameters_exit_2_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.jpg");
    let raw = sample_burst().join("frame_00.dng");
    for (args, flag) in [
        (vec!["--exposure", "99"], "--exposure"),
        (vec!["--tone-strength", "5"], "--tone-strength"),
        (vec!["--sharpen", "9"], "--sharpen"),
        (vec!["--quality", "0"], "--quality"),
        (vec!["--hdr", "--hdr-headroom", "9"], "--hdr-headroom"),
    ] {
        let o = obscura()
            .arg("develop")
            .arg(&raw)
            .arg("-o")
            .arg(&out)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(flag), "{args:?}: {}", stderr(&o));
        assert!(!out.exists());
    }
    let dng = dir.path().join("m.dng");
    for (args, flag) in [
        (vec!["--denoise", "50"], "--denoise"),
        (vec!["--scale", "9", "--merge", "kernel"], "--scale"),
        (vec!["--reference", "99"], "--reference"),
    ] {
        let o = obscura()
            .arg("merge")
            .arg(sample_burst())
            .arg("-o")
            .arg(&dng)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(flag), "{args:?}: {}", stderr(&o));
        assert!(!dng.exists());
    }
}
