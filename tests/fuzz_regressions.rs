//! Inputs the corruption sweep (tests/corruption.rs) found, made again from the bundled
//! sample: each once reached a panic inside rawler (caught, and reported as "caught a panic
//! while decoding"), or an unclear error; now each is refused before rawler with an error
//! that says what is wrong, and no panic happens anywhere. The fuzzers' own findings are
//! files in tests/data/fuzz/, replayed by tests/robustness.rs.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use obscura::RawFrame;
use obscura::raw::DecodeLimits;

/// Panics seen anywhere in this test binary, caught or not.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    // obscura's hook (installed by the first decode) silences the decoders' panics; ours goes
    // in front of it and counts them all
    let _ = RawFrame::from_bytes(vec![0; 16], Path::new("x"), &DecodeLimits::default());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
}

/// The sample frame with IFD0's `tag` value field set to `value` (little-endian, `width`
/// bytes).
fn patched(tag: u16, value: u32, width: usize) -> Vec<u8> {
    let mut b =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/burst/frame_00.dng"))
            .unwrap();
    let at = common::ifd0_value_offset(&b, tag);
    b[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
    b
}

/// Decodes `bytes`; the error's text, and no panic on the way.
fn refused(name: &str, bytes: Vec<u8>) -> String {
    let before = PANICS.load(Ordering::SeqCst);
    let e = RawFrame::from_bytes(bytes, Path::new(name), &DecodeLimits::default())
        .expect_err(name)
        .to_string();
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        before,
        "{name}: a panic: {e}"
    );
    e
}

// One test function: the panic counter is global, and tests run in parallel.
#[test]
fn inputs_the_corruption_sweep_found_are_refused_before_rawler() {
    count_panics();
    // BitsPerSample 65535: rawler panicked working out a white level for it ("Whitelevel can
    // only be calculated for max. 32 bits"); 0: "unsupported packed compression scheme"
    for bits in [65535, 33, 0] {
        let e = refused("bits.dng", patched(258, bits, 2));
        assert_eq!(
            e,
            format!(
                "bits.dng: cannot decode: BitsPerSample {bits} in an image IFD (possible: 1 to 32)"
            )
        );
    }
    // a strip that ends beyond the file (a truncated file, or a stomped byte count): rawler
    // said "subview(): Offset 8+2147483647 is behind EOF"
    let e = refused("count.dng", patched(279, 0x7fff_ffff, 4));
    assert!(
        e.ends_with(
            "strip 0 (2147483647 bytes at offset 8) ends beyond the end of the 393998-byte file \
             (truncated or corrupt)"
        ),
        "{e}"
    );
    let e = refused("offset.dng", patched(273, 393_000, 4));
    assert!(
        e.contains("strip 0 (393216 bytes at offset 393000) ends beyond the end"),
        "{e}"
    );
    // the unpatched file still decodes, without a panic
    let before = PANICS.load(Ordering::SeqCst);
    let ok = RawFrame::from_bytes(
        patched(258, 16, 2),
        Path::new("ok.dng"),
        &DecodeLimits::default(),
    )
    .unwrap();
    assert_eq!(ok.size(), (512, 384));
    assert_eq!(PANICS.load(Ordering::SeqCst), before);
}
