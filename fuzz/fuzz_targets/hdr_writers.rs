//! The HDR writers' inputs: an SDR image and its scene-referred HDR planes of any size
//! (including empty and one pixel by 70 000) and any values (NaN, infinities, negatives,
//! huge), through the Ultra HDR encoder (in memory) and the OpenEXR writer (to a temporary
//! file). Every outcome is a written file or a clean error; an Ultra HDR file that is
//! written must be a JPEG that starts and ends as one.
#![no_main]
use libfuzzer_sys::fuzz_target;
use obscura::encode::EncodeParams;
use obscura::encode::exr::write_exr;
use obscura::encode::ultrahdr::{GainMapParams, ultrahdr_bytes};
use obscura::finish::Finished;
use obscura::color::ColorSpace;
use obscura::finish::color::ColorTransform;
use obscura::finish::hdr::{Hdr, HdrParams};
use obscura::image::Plane;
use obscura::raw::Metadata;

/// Reads the fuzz input as a stream of numbers.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u32(&mut self) -> u32 {
        let (head, rest) = self.0.split_at(self.0.len().min(4));
        self.0 = rest;
        let mut b = [0u8; 4];
        b[..head.len()].copy_from_slice(head);
        u32::from_le_bytes(b)
    }
    /// A value: mostly ordinary levels, sometimes any f32 bit pattern.
    fn value(&mut self) -> f32 {
        let bits = self.u32();
        if bits & 0xf == 0 {
            f32::from_bits(self.u32())
        } else {
            (bits >> 8) as f32 / (1u32 << 20) as f32
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let w = (input.u32() % 70_001) as usize;
    let mut h = (input.u32() % 64) as usize;
    if w * h > 200_000 {
        h = 200_000 / w.max(1);
    }
    let space = if input.u32() & 1 == 0 {
        ColorSpace::Srgb
    } else {
        ColorSpace::DisplayP3
    };
    let headroom = 1.0 + (input.u32() % 6) as f32;
    let quality = (input.u32() % 101) as u8;
    let plane = |input: &mut Input| {
        let mut p = Plane::new(w, h);
        for v in p.data.iter_mut() {
            *v = input.value();
        }
        p
    };
    let scene: [Plane<f32>; 3] = std::array::from_fn(|_| plane(&mut input));
    let sdr = Finished {
        rgb: scene.each_ref().map(|p| {
            let mut q = p.clone();
            q.data.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
            q
        }),
        space,
        color: ColorTransform {
            multipliers: [1.0; 3],
            white_xy: [0.3127, 0.3290],
            temperature: 6504.0,
            tint: 0.0,
            weight: 1.0,
            camera_to_xyz: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            camera_to_output: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            notes: Vec::new(),
        },
        notes: Vec::new(),
        orientation: 1,
    };
    let hdr = Hdr::new(
        scene.clone(),
        space,
        &HdrParams {
            headroom,
            ..HdrParams::default()
        },
    );
    let gain = GainMapParams {
        quality: quality.max(1),
        ..GainMapParams::default()
    };
    if let Ok((bytes, written)) = ultrahdr_bytes(
        &sdr,
        &hdr,
        &Metadata::default(),
        &EncodeParams::default(),
        &gain,
    ) {
        assert!(bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9]));
        assert!(written.capacity_stops.is_finite());
    }
    let dir = std::env::temp_dir().join(format!("obscura-fuzz-exr-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("out.exr");
    if write_exr(&scene, space, &path).is_err() {
        assert!(!path.exists(), "a failed EXR write left a file");
    }
    let _ = std::fs::remove_file(&path);
});
