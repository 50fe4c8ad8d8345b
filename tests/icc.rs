//! The embedded ICC profiles: parsed back from their bytes and checked against the ICC v4
//! rules (ICC.1:2022) that libpng and colour-managed viewers enforce, then opened by Little
//! CMS through Pillow when Python has it.

use obscura::color::icc::icc_profile;
use obscura::color::{ColorSpace, D65_XY, xy_to_xyz};

fn u32_at(p: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(p[at..at + 4].try_into().unwrap())
}

fn s15f16_at(p: &[u8], at: usize) -> f64 {
    f64::from(i32::from_be_bytes(p[at..at + 4].try_into().unwrap())) / 65536.0
}

/// The tag table: (signature, offset, size).
fn tags(p: &[u8]) -> Vec<([u8; 4], usize, usize)> {
    let n = u32_at(p, 128) as usize;
    (0..n)
        .map(|i| {
            let e = 132 + 12 * i;
            let sig = p[e..e + 4].try_into().unwrap();
            (sig, u32_at(p, e + 4) as usize, u32_at(p, e + 8) as usize)
        })
        .collect()
}

/// The data of tag `sig`, checked to have type `ty`.
fn tag<'a>(p: &'a [u8], sig: &[u8; 4], ty: &[u8; 4]) -> &'a [u8] {
    let (_, off, len) = *tags(p)
        .iter()
        .find(|t| &t.0 == sig)
        .unwrap_or_else(|| panic!("no {} tag", String::from_utf8_lossy(sig)));
    let d = &p[off..off + len];
    assert_eq!(&d[..4], ty, "type of {}", String::from_utf8_lossy(sig));
    assert_eq!(&d[4..8], &[0; 4], "reserved bytes");
    d
}

fn xyz(p: &[u8], sig: &[u8; 4]) -> [f64; 3] {
    let d = tag(p, sig, b"XYZ ");
    assert_eq!(d.len(), 20);
    [0, 1, 2].map(|i| s15f16_at(d, 8 + 4 * i))
}

fn mluc_text(p: &[u8], sig: &[u8; 4]) -> String {
    let d = tag(p, sig, b"mluc");
    let (records, size) = (u32_at(d, 8), u32_at(d, 12));
    assert!(records >= 1 && size == 12);
    let (len, off) = (u32_at(d, 20) as usize, u32_at(d, 24) as usize);
    assert!(off + len <= d.len() && len % 2 == 0);
    let units: Vec<u16> = d[off..off + len]
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).unwrap()
}

/// Checks every rule of the module docs of `obscura::color::icc` on one profile.
fn check(p: &[u8]) {
    // header
    assert_eq!(u32_at(p, 0) as usize, p.len(), "size field");
    assert_eq!(p.len() % 4, 0, "length a multiple of 4");
    assert_eq!(p[8], 4, "major version 4");
    assert_eq!(&p[12..24], b"mntrRGB XYZ ");
    assert_eq!(&p[36..40], b"acsp");
    assert_eq!(u32_at(p, 64), 0, "perceptual intent");
    let pcs = [0, 1, 2].map(|i| u32_at(p, 68 + 4 * i));
    assert_eq!(
        pcs,
        [0x0000_F6D6, 0x0001_0000, 0x0000_D32D],
        "PCS illuminant D50"
    );
    assert!(p[100..128].iter().all(|&b| b == 0), "reserved header bytes");

    // tag table: every tag 4-aligned, inside the profile, after the table, no overlap
    // (tags may share identical data)
    let t = tags(p);
    let table_end = 132 + 12 * t.len();
    for (i, &(sig, off, len)) in t.iter().enumerate() {
        let name = String::from_utf8_lossy(&sig);
        assert_eq!(off % 4, 0, "{name} starts on a 4-byte boundary");
        assert!(
            off >= table_end && off + len <= p.len(),
            "{name} within bounds"
        );
        assert!(len >= 8, "{name} has a type");
        for &(sig2, off2, len2) in &t[..i] {
            let shared = off == off2 && len == len2;
            let apart = off + len <= off2 || off2 + len2 <= off;
            assert!(
                shared || apart,
                "{name} overlaps {}",
                String::from_utf8_lossy(&sig2)
            );
            assert_ne!(sig, sig2, "{name} twice");
        }
    }
    let required: [&[u8; 4]; 10] = [
        b"desc", b"cprt", b"wtpt", b"chad", b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC",
    ];
    for sig in required {
        assert!(
            t.iter().any(|x| &x.0 == sig),
            "{}",
            String::from_utf8_lossy(sig)
        );
    }

    // desc and cprt are mluc (v4); wtpt is the PCS illuminant (v4)
    assert!(!mluc_text(p, b"desc").is_empty());
    assert!(!mluc_text(p, b"cprt").is_empty());
    let d = tag(p, b"wtpt", b"XYZ ");
    assert_eq!([0, 1, 2].map(|i| u32_at(d, 8 + 4 * i)), pcs, "wtpt = D50");
    let d50 = pcs.map(|v| f64::from(v) / 65536.0);

    // chad adapts D65 to D50
    let c = tag(p, b"chad", b"sf32");
    assert_eq!(c.len(), 8 + 36);
    let m: [[f64; 3]; 3] =
        std::array::from_fn(|r| std::array::from_fn(|k| s15f16_at(c, 8 + 12 * r + 4 * k)));
    let d65 = xy_to_xyz(D65_XY);
    let adapted: [f64; 3] = std::array::from_fn(|r| (0..3).map(|k| m[r][k] * d65[k]).sum());
    for i in 0..3 {
        assert!(
            (adapted[i] - d50[i]).abs() < 1e-4,
            "chad * D65 = {adapted:?}, not D50"
        );
    }

    // the colourants sum to D50
    let (r, g, b) = (xyz(p, b"rXYZ"), xyz(p, b"gXYZ"), xyz(p, b"bXYZ"));
    for i in 0..3 {
        let s = r[i] + g[i] + b[i];
        assert!((s - d50[i]).abs() < 1e-3, "colourant sum {i}: {s}");
    }

    // the TRCs: parametric type 3 with the sRGB parameters
    let want = [2.4, 1.0 / 1.055, 0.055 / 1.055, 1.0 / 12.92, 0.04045];
    for sig in [b"rTRC", b"gTRC", b"bTRC"] {
        let d = tag(p, sig, b"para");
        assert_eq!(d.len(), 12 + 20);
        assert_eq!(u16::from_be_bytes([d[8], d[9]]), 3, "function type");
        for (i, w) in want.iter().enumerate() {
            let v = s15f16_at(d, 12 + 4 * i);
            assert!((v - w).abs() <= 0.5 / 65536.0, "parameter {i}: {v} vs {w}");
        }
    }
}

#[test]
fn profiles_follow_the_icc_v4_rules() {
    for space in [ColorSpace::Srgb, ColorSpace::DisplayP3] {
        let p = icc_profile(space);
        check(&p);
        assert_eq!(p, icc_profile(space), "reproducible");
    }
    // the spaces differ in their colourants: P3's red is more saturated
    let (s, p) = (
        icc_profile(ColorSpace::Srgb),
        icc_profile(ColorSpace::DisplayP3),
    );
    assert!(xyz(&p, b"rXYZ")[0] > xyz(&s, b"rXYZ")[0]);
}

/// The checks can fail: a profile with the faults the old one had is rejected.
#[test]
fn the_check_rejects_a_broken_profile() {
    let good = icc_profile(ColorSpace::Srgb);
    let broken = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut p = good.clone();
        f(&mut p);
        std::panic::catch_unwind(|| check(&p)).is_err()
    };
    assert!(broken(&|p| p[71] = 0xD7)); // PCS illuminant X off by one
    assert!(broken(&|p| p.push(0))); // size field wrong
    assert!(broken(&|p| {
        // first tag's offset moved off its 4-byte boundary
        let off = u32_at(p, 136) + 2;
        p[136..140].copy_from_slice(&off.to_be_bytes());
    }));
    assert!(broken(&|p| p[8] = 2)); // version 2
}

/// Little CMS (through Pillow) opens both profiles, when Python with Pillow is installed.
#[test]
fn pillow_opens_the_profiles() {
    let script = "import sys, io\n\
                  from PIL import ImageCms\n\
                  p = ImageCms.ImageCmsProfile(io.BytesIO(sys.stdin.buffer.read()))\n\
                  print(ImageCms.getProfileDescription(p).strip())";
    for space in [ColorSpace::Srgb, ColorSpace::DisplayP3] {
        let child = std::process::Command::new("python3")
            .args(["-c", "import PIL.ImageCms"])
            .output();
        if !child.is_ok_and(|o| o.status.success()) {
            eprintln!("python3 with Pillow not found: skipped");
            return;
        }
        use std::io::Write;
        let mut c = std::process::Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(&icc_profile(space))
            .unwrap();
        let out = c.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{space:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = match space {
            ColorSpace::Srgb => "sRGB",
            ColorSpace::DisplayP3 => "Display P3",
        };
        assert!(text.contains(want), "{space:?}: description {text:?}");
    }
}
