use super::*;
use crate::synth::shapes::{PATCH_PITCH, Primitive};

#[test]
fn procedural_is_deterministic_and_seeded() {
    let a = Scene::procedural(640, 480, 1);
    let b = Scene::procedural(640, 480, 1);
    let c = Scene::procedural(640, 480, 2);
    let mut differs = false;
    for i in 0..1000 {
        let (x, y) = (i as f64 * 0.731 - 100.0, i as f64 * 0.517 - 50.0);
        assert_eq!(a.sample(x, y), b.sample(x, y));
        differs |= a.sample(x, y) != c.sample(x, y);
    }
    assert!(differs);
}

#[test]
fn procedural_is_positive_bounded_and_defined_outside_the_frame() {
    let s = Scene::procedural(640, 480, 3);
    let mut max = 0.0f32;
    for j in -50..530 {
        for i in -50..690 {
            let v = s.sample(i as f64 + 0.5, j as f64 + 0.5);
            for c in v {
                assert!(c.is_finite() && c > 0.0, "({i}, {j}): {v:?}");
                max = max.max(c);
            }
        }
    }
    assert!(max < 2.0, "max {max}");
}

#[test]
fn every_16x16_tile_has_texture() {
    // Green standard deviation within each tile of a 640x480 frame sampled at pixel
    // centres: flat tiles would be ~0.
    let s = Scene::procedural(640, 480, 1);
    let mut weakest = f64::INFINITY;
    for ty in 0..30 {
        for tx in 0..40 {
            let vals: Vec<f64> = (0..256)
                .map(|k| {
                    let x = (tx * 16 + k % 16) as f64 + 0.5;
                    let y = (ty * 16 + k / 16) as f64 + 0.5;
                    f64::from(s.sample(x, y)[1])
                })
                .collect();
            let mean = vals.iter().sum::<f64>() / 256.0;
            let sd = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 256.0).sqrt();
            // Relative to the tile mean, so that dark tiles count too.
            weakest = weakest.min(sd / mean.max(1e-3));
        }
    }
    assert!(weakest > 0.02, "weakest tile relative contrast {weakest}");
}

#[test]
fn patches_are_flat_and_linearised() {
    let s = Scene::procedural(640, 480, 1);
    let Kind::Analytic(p) = &s.kind else {
        unreachable!()
    };
    let [x0, y0] = p
        .primitives
        .iter()
        .find_map(|p| match p {
            Primitive::ColorChart { origin } => Some(*origin),
            _ => None,
        })
        .unwrap();
    // Patch 19 (white, row 3, column 0) sampled at its centre and near a corner.
    let centre = s.sample(x0 + 7.0, y0 + 3.0 * PATCH_PITCH + 7.0);
    let corner = s.sample(x0 + 0.5, y0 + 3.0 * PATCH_PITCH + 13.5);
    assert_eq!(centre, corner);
    assert!((centre[0] - 0.896).abs() < 0.002, "{centre:?}");
    // Between patches: textured background.
    assert_ne!(s.sample(x0 + 16.0, y0 + 5.0), s.sample(x0 + 17.0, y0 + 5.0));
}

#[test]
fn image_scene_interpolates_and_fits() {
    let mut r = Plane::new(4, 2);
    r.data = vec![0.0, 0.2, 0.4, 0.6, 0.0, 0.2, 0.4, 0.6];
    let planes = [r.clone(), r.clone(), r];
    let s = Scene::from_linear_rgb(planes).unwrap();
    // Pixel centres reproduce the samples; a linear ramp is reproduced between them.
    assert!((s.sample(1.5, 0.5)[0] - 0.2).abs() < 1e-6);
    assert!((s.sample(2.0, 1.0)[0] - 0.3).abs() < 1e-6);
    // Clamped at the border.
    assert!((s.sample(-5.0, 0.5)[0] - 0.0).abs() < 1e-6);
    // Fitted to an 8x4 frame: scale 2, the image centre lands on the frame centre.
    let f = s.fit(8, 4);
    assert!((f.sample(3.0, 1.0)[0] - 0.2).abs() < 1e-6);
    assert!((f.sample(4.0, 2.0)[0] - 0.3).abs() < 1e-6);
}

#[test]
fn image_scene_rejects_bad_planes() {
    let a = Plane::<f32>::new(4, 4);
    let b = Plane::<f32>::new(4, 3);
    assert!(Scene::from_linear_rgb([a.clone(), a.clone(), b]).is_err());
    let mut n = a.clone();
    n.data[3] = f32::NAN;
    assert!(Scene::from_linear_rgb([a.clone(), n, a.clone()]).is_err());
    assert!(
        Scene::from_linear_rgb([Plane::new(0, 0), Plane::new(0, 0), Plane::new(0, 0)]).is_err()
    );
    assert!(Scene::flat([0.1, -0.1, 0.1]).is_err());
}

#[test]
fn loading_decodes_srgb_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grey.png");
    let img = image::RgbImage::from_pixel(4, 4, image::Rgb([128, 128, 128]));
    img.save(&path).unwrap();
    let s = Scene::load(&path, 8, 8).unwrap();
    // sRGB 128 is linear 0.2159.
    assert!((s.sample(4.0, 4.0)[1] - 0.2159).abs() < 1e-3);

    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, b"not an image").unwrap();
    let e = Scene::load(&bad, 8, 8).unwrap_err();
    assert!(e.to_string().contains("bad.png"), "{e}");
    let missing = dir.path().join("missing.png");
    let e = Scene::load(&missing, 8, 8).unwrap_err();
    assert!(e.to_string().contains("missing.png"), "{e}");
}
