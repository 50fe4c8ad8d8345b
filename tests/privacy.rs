//! Privacy by default: a burst whose DNGs carry a location, serial numbers, owner and artist
//! names, an image unique ID and a maker note is processed into every output format (JPEG,
//! PNG, TIFF and the merged DNG). By default each output keeps the capture settings and none
//! of those tags; `--keep-metadata` keeps all but the location; with `--keep-location` too,
//! everything. Each output is checked twice: its EXIF parsed by `kamadak-exif` (and by
//! exiftool when it is installed), and its bytes searched for every private string.

use std::path::{Path, PathBuf};
use std::process::Command;

use obscura::raw::{Gps, Identity, write_dng};
use obscura::synth::{SynthParams, synthesize};

const BODY: &str = "BODYSN-4711-0815";
const LENS: &str = "LENSSN-2468-1357";
const OWNER: &str = "Alice Privateowner";
const ARTIST: &str = "Bob Privateartist";
const UNIQUE: &str = "0123456789abcdef0123456789abcdef";
const NOTE: &[u8] = b"MAKERNOTE-SECRET-FACE-DATA-0042";

/// The capture settings, which every output keeps.
const CAPTURE: [&str; 7] = [
    "make",
    "model",
    "exposure",
    "aperture",
    "ISO",
    "focal length",
    "capture time",
];

fn identity() -> Identity {
    Identity {
        body_serial: Some(BODY.into()),
        lens_serial: Some(LENS.into()),
        owner: Some(OWNER.into()),
        artist: Some(ARTIST.into()),
        unique_id: Some(UNIQUE.into()),
        maker_note: Some(NOTE.to_vec()),
    }
}

/// A 3-frame burst whose DNGs carry every private tag.
fn private_burst(dir: &Path) -> PathBuf {
    let sb = synthesize(&SynthParams {
        frames: 3,
        width: 96,
        height: 64,
        ..SynthParams::default()
    })
    .unwrap();
    let burst = dir.join("burst");
    std::fs::create_dir_all(&burst).unwrap();
    for (k, f) in sb.frames.iter().enumerate() {
        let mut f = f.clone();
        f.meta.gps = Some(Gps {
            latitude: 48.858_37,
            longitude: 2.294_48,
            altitude: Some(35.0),
        });
        f.meta.identity = identity();
        write_dng(&f, &burst.join(format!("frame_{k:02}.dng"))).unwrap();
    }
    burst
}

/// What an output shows, by tag: (name, present).
fn tags_of(path: &Path) -> Vec<(&'static str, bool)> {
    let file = std::fs::File::open(path).unwrap();
    let ex = exif::Reader::new()
        .read_from_container(&mut std::io::BufReader::new(file))
        .unwrap_or_else(|e| panic!("{}: no EXIF: {e}", path.display()));
    let has = |t: exif::Tag| ex.fields().any(|f| f.tag == t);
    let bytes = std::fs::read(path).unwrap();
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    vec![
        (
            "GPS",
            has(exif::Tag::GPSLatitude) || has(exif::Tag::GPSLongitude),
        ),
        (
            "body serial",
            has(exif::Tag::BodySerialNumber) || contains(BODY.as_bytes()),
        ),
        (
            "lens serial",
            has(exif::Tag::LensSerialNumber) || contains(LENS.as_bytes()),
        ),
        (
            "owner",
            has(exif::Tag::CameraOwnerName) || contains(OWNER.as_bytes()),
        ),
        (
            "artist",
            has(exif::Tag::Artist) || contains(ARTIST.as_bytes()),
        ),
        (
            "unique ID",
            has(exif::Tag::ImageUniqueID) || contains(UNIQUE.as_bytes()),
        ),
        ("maker note", has(exif::Tag::MakerNote) || contains(NOTE)),
        // the capture settings stay
        ("make", has(exif::Tag::Make)),
        ("model", has(exif::Tag::Model)),
        ("exposure", has(exif::Tag::ExposureTime)),
        ("aperture", has(exif::Tag::FNumber)),
        ("ISO", has(exif::Tag::PhotographicSensitivity)),
        ("focal length", has(exif::Tag::FocalLength)),
        ("capture time", has(exif::Tag::DateTimeOriginal)),
    ]
}

/// exiftool's view of the private tags (names as exiftool gives them), when installed.
fn exiftool_private(path: &Path) -> Option<Vec<String>> {
    let out = Command::new("exiftool")
        .args(["-j", "-a", "-u", "-G1", "-n"])
        .arg(path)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let obj = v.get(0)?.as_object()?;
    let private = [
        "GPSLatitude",
        "GPSLongitude",
        "SerialNumber",
        "BodySerialNumber",
        "LensSerialNumber",
        "OwnerName",
        "CameraOwnerName",
        "Artist",
        "ImageUniqueID",
        "MakerNote",
        "MakerNoteUnknown",
        "DNGPrivateData",
        "CameraSerialNumber",
    ];
    Some(
        obj.keys()
            .filter(|k| {
                let name = k.rsplit(':').next().unwrap_or(k);
                private.contains(&name)
            })
            .cloned()
            .collect(),
    )
}

fn run(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_obscura"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "obscura {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn private_tags_are_dropped_unless_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let burst = private_burst(dir.path());
    // the premise: the input carries every private tag
    let input = burst.join("frame_00.dng");
    let back = obscura::RawFrame::open(&input).unwrap();
    assert_eq!(back.meta.identity, identity());
    assert!(back.meta.gps.is_some());
    assert!(
        tags_of(&input).iter().all(|&(_, present)| present),
        "{:?}",
        tags_of(&input)
    );
    let exiftool = exiftool_private(&input);
    match &exiftool {
        Some(tags) => {
            eprintln!("exiftool sees in the input: {tags:?}");
            for t in [
                "SerialNumber",
                "LensSerialNumber",
                "OwnerName",
                "Artist",
                "ImageUniqueID",
            ] {
                assert!(tags.iter().any(|k| k.ends_with(t)), "{t} in {tags:?}");
            }
        }
        None => eprintln!("exiftool is not installed: EXIF checked with kamadak-exif only"),
    }

    // (name, flags, which private tags the outputs should keep)
    type Mode<'a> = (&'a str, &'a [&'a str], fn(&str) -> bool);
    let modes: [Mode; 3] = [
        ("default", &[], |_| false),
        ("--keep-metadata", &["--keep-metadata"], |t| t != "GPS"),
        (
            "--keep-metadata --keep-location",
            &["--keep-metadata", "--keep-location"],
            |_| true,
        ),
    ];
    for (name, flags, expect_private) in modes {
        let out = dir.path().join(name.replace(' ', "_"));
        std::fs::create_dir_all(&out).unwrap();
        let jpg = out.join("out.jpg");
        let dng = out.join("merged.dng");
        let mut args = vec![
            "-q",
            "process",
            burst.to_str().unwrap(),
            "-o",
            jpg.to_str().unwrap(),
            "--dng",
            dng.to_str().unwrap(),
        ];
        args.extend_from_slice(flags);
        run(&args);
        let mut outputs = vec![jpg, dng];
        for ext in ["png", "tif"] {
            let p = out.join(format!("out.{ext}"));
            let mut a = vec![
                "-q",
                "process",
                burst.to_str().unwrap(),
                "-o",
                p.to_str().unwrap(),
            ];
            a.extend_from_slice(flags);
            run(&a);
            outputs.push(p);
        }
        // `obscura merge` writes the DNG on its own
        let merged = out.join("merge-cmd.dng");
        let mut a = vec![
            "-q",
            "merge",
            burst.to_str().unwrap(),
            "-o",
            merged.to_str().unwrap(),
        ];
        a.extend_from_slice(flags);
        run(&a);
        outputs.push(merged);

        for p in &outputs {
            let tags = tags_of(p);
            for &(tag, present) in &tags {
                let private = !CAPTURE.contains(&tag);
                let want = !private || expect_private(tag);
                assert_eq!(
                    present,
                    want,
                    "{name}: {} {} {tag}",
                    p.file_name().unwrap().to_string_lossy(),
                    if want { "lost" } else { "leaks" }
                );
            }
            if let Some(found) = exiftool_private(p) {
                let gps = found.iter().any(|k| k.contains("GPS"));
                let ids = found.iter().filter(|k| !k.contains("GPS")).count();
                assert_eq!(
                    gps,
                    expect_private("GPS"),
                    "{name}: exiftool {found:?} in {p:?}"
                );
                assert_eq!(
                    ids > 0,
                    expect_private("body serial"),
                    "{name}: exiftool {found:?} in {p:?}"
                );
            }
            eprintln!(
                "{name}: {}: private tags present: {:?}",
                p.file_name().unwrap().to_string_lossy(),
                tags.iter()
                    .filter(|(t, present)| *present && !CAPTURE.contains(t))
                    .map(|(t, _)| *t)
                    .collect::<Vec<_>>()
            );
        }
    }
}
