//! Look files: any text through the TOML parser and validation, then compiled and applied.
#![no_main]
use libfuzzer_sys::fuzz_target;
use obscura::look::Look;
use obscura::Plane;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(look) = Look::from_toml(&text, std::path::Path::new("fuzz.toml")) {
        let mut rgb: [Plane<f32>; 3] = std::array::from_fn(|k| {
            Plane::from_vec(3, 2, vec![0.0, 0.2, 0.5, 0.8, 1.0, k as f32 / 3.0]).unwrap()
        });
        if let Ok(c) = look.color() {
            let _ = c.apply([0.1, 0.5, 0.9]);
        }
        if let Ok(compiled) = obscura::look::compile(&look) {
            obscura::look::apply(&mut rgb, &compiled, 1);
        }
        for p in &rgb {
            assert!(p.data.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
        }
    }
});
