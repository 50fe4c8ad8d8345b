//! Inputs the corruption sweep (tests/corruption.rs) found, made again from the bundled
//! sample: each once reached a panic inside rawler (caught, and reported as "caught a panic
//! while decoding"), or an unclear error; now each is refused before rawler with an error
//! that says what is wrong, and no panic happens anywhere. The fuzzers' own findings are
//! files in tests/data/fuzz/, replayed by tests/robustness.rs.
//!
//! The sweep's findings in the real camera files of `../shared/raw/` (which may not be copied
//! into the project) are made again here from those files by the sweep's own seeded mutation
//! (the file, the kind and the generator's state), and skipped with a notice when the files
//! are absent: each reached a panic inside rawloader or rawler, and is now refused by
//! obscura's CRW or KDC checks before the decoder sees it.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::mutate::{Kind, Rng, mutate, tiff_fields};
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

    camera_files_that_reached_decoder_panics_are_refused_first();
}

/// A mutation of a real camera file the corruption sweep found reaching a panic inside a
/// decoder: the file, the kind and generator state that make it again, where the decoder
/// panicked, and what obscura's refusal says (`None`: the file decodes, the decoder that
/// panicked being no longer asked).
struct Finding {
    file: &'static str,
    kind: Kind,
    state: u64,
    decoder_panic: &'static str,
    refusal: Option<&'static str>,
}

const FINDINGS: &[Finding] = &[
    Finding {
        file: "kodak_dc50.kdc",
        kind: Kind::FlipAny,
        state: 0x15f4_b3e8_e69e_3556,
        decoder_panic: "rawler-0.8.0/src/decompressors/radc.rs:180: attempt to divide by zero",
        refusal: Some("corrupt Kodak DC50 KDC: colour 1 of rows 332 to 335 has a zero scale"),
    },
    Finding {
        file: "kodak_dc50.kdc",
        kind: Kind::Truncate,
        state: 0x452f_4232_9736_cd18,
        decoder_panic: "rawler-0.8.0/src/pumps.rs:77: Can't refill bitpump, buffer exhausted",
        refusal: Some("corrupt Kodak DC50 KDC: the compressed data ends in row 508"),
    },
    Finding {
        file: "kodak_dc50.kdc",
        kind: Kind::FlipHead,
        state: 0x8d08_48ce_317a_52d6,
        decoder_panic: "rawloader-0.37.2/src/decoders/tiff.rs:420: range end index 805306369 out of range for slice of length 92691",
        refusal: None,
    },
    Finding {
        file: "kodak_dc50.kdc",
        kind: Kind::Stomp,
        state: 0xb181_4050_b070_34e9,
        decoder_panic: "rawloader-0.37.2/src/decoders/basics.rs:76: range start index 4294967295 out of range for slice of length 92691",
        refusal: None,
    },
    Finding {
        file: "canon_powershot_g2.crw",
        kind: Kind::Truncate,
        state: 0x40a8_8145_4872_4264,
        decoder_panic: "rawloader-0.37.2/src/decoders/basics.rs:80: range start index 3998245990 out of range for slice of length 1629474",
        refusal: Some(
            "corrupt or truncated Canon CRW (CIFF structure): the heap at offset 26 puts its directory at offset 3998245964, beyond its 1629432 bytes",
        ),
    },
    Finding {
        file: "canon_powershot_g2.crw",
        kind: Kind::Repeat,
        state: 0xfcec_0beb_b131_9a01,
        decoder_panic: "rawloader-0.37.2/src/decoders/basics.rs:80: range start index 3010996296 out of range for slice of length 3350893",
        refusal: Some(
            "corrupt or truncated Canon CRW (CIFF structure): the heap at offset 26 lists 12453 entries",
        ),
    },
    Finding {
        file: "canon_powershot_g2.crw",
        kind: Kind::Repeat,
        state: 0x3138_6130_766b_8cb7,
        decoder_panic: "rawloader-0.37.2/src/decoders/ciff.rs:110: range start index 83887386 out of range for slice of length 3353561",
        refusal: Some(
            "corrupt or truncated Canon CRW (CIFF structure): the heap at offset 26 lists 1280 entries",
        ),
    },
    Finding {
        file: "canon_powershot_g2.crw",
        kind: Kind::Repeat,
        state: 0x2963_4e4c_b352_80ad,
        decoder_panic: "rawloader-0.37.2/src/decoders/ciff.rs:110: range end index 2147489818 out of range for slice of length 3352827",
        refusal: Some(
            "corrupt or truncated Canon CRW (CIFF structure): the heap at offset 26 lists 256 entries",
        ),
    },
];

/// Every [`FINDINGS`] case is refused with its error, and no panic happens anywhere.
fn camera_files_that_reached_decoder_panics_are_refused_first() {
    for file in ["canon_powershot_g2.crw", "kodak_dc50.kdc"] {
        let Some(path) = common::shared_raw(file) else {
            eprintln!("SKIPPED: the sweep's findings in {file} (file absent)");
            continue;
        };
        let orig = std::fs::read(&path).unwrap();
        let fields = tiff_fields(&orig);
        // the unmutated file decodes, without a panic
        let before = PANICS.load(Ordering::SeqCst);
        RawFrame::from_bytes(orig.clone(), &path, &DecodeLimits::default()).unwrap();
        assert_eq!(PANICS.load(Ordering::SeqCst), before, "{file} unmutated");
        for f in FINDINGS.iter().filter(|f| f.file == file) {
            let bytes = mutate(&orig, f.kind, &mut Rng(f.state), &fields);
            let name = format!("{file} ({:?}, state {:#x})", f.kind, f.state);
            let Some(refusal) = f.refusal else {
                // the decoder that panicked is no longer asked; the other decodes it
                let before = PANICS.load(Ordering::SeqCst);
                let r = RawFrame::from_bytes(bytes, Path::new(&name), &DecodeLimits::default());
                assert_eq!(PANICS.load(Ordering::SeqCst), before, "{name}: a panic");
                assert!(r.is_ok(), "{name}: {:?}", r.err());
                continue;
            };
            let e = refused(&name, bytes);
            assert!(
                e.contains(refusal),
                "{name}, which reached {}: refused with \"{e}\", expected \"{refusal}\"",
                f.decoder_panic
            );
        }
        // fields the decoders index without a check, set by hand (offsets in the README's
        // files): each would panic inside the decoder
        let patch = |at: usize, v: &[u8]| {
            let mut b = orig.clone();
            b[at..at + v.len()].copy_from_slice(v);
            b
        };
        let cases: &[(&str, Vec<u8>, &str)] = if file.ends_with(".crw") {
            &[
                // the sensor size (entry 0x1031 at 3349922): rawloader allocates what it
                // reads and panics above 50,000 a side
                (
                    "wide.crw",
                    patch(3_349_924, &60_000u16.to_le_bytes()),
                    "a sensor of 60000x1728 photosites",
                ),
                (
                    "empty.crw",
                    patch(3_349_926, &0u16.to_le_bytes()),
                    "a sensor of 2376x0 photosites",
                ),
                // a taller sensor than the raw data holds the low bits and compressed data of
                (
                    "tall.crw",
                    patch(3_349_926, &20_000u16.to_le_bytes()),
                    "the raw data (entry 0x2005) is 3272478 bytes; a 2376x20000 sensor's needs",
                ),
                // a sensor narrower than the G2's masked columns (2326 to 2375), which
                // rawloader averages for the black level without looking at the width
                (
                    "narrow.crw",
                    patch(3_349_924, &2_000u16.to_le_bytes()),
                    "a 2000x1728 sensor, too small for the Canon PowerShot G2's masked areas \
                     (up to column 2376, row 0)",
                ),
                // the decoder table (entry 0x1835 at 3349956): Canon defines three
                (
                    "table.crw",
                    patch(3_349_956, &7u32.to_le_bytes()),
                    "decoder table 7; Canon defines 0, 1 and 2",
                ),
                // the header length: rawloader starts the root heap wherever it says
                ("header.crw", patch(2, &[0, 0, 0, 0]), "a header of 0 bytes"),
            ]
        } else {
            // the Model (40 bytes at 458) not UTF-8: rawloader's camera lookup panics
            &[(
                "model.kdc",
                patch(470, &[0xff]),
                "corrupt TIFF: tag 272 (Make, Model or Software) is not text",
            )]
        };
        for (name, bytes, reason) in cases {
            let e = refused(name, bytes.clone());
            assert!(e.contains(reason), "{name}: {e}");
        }
    }
}
