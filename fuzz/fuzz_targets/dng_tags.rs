//! The TIFF/DNG tag reader and the opcode-list parser on any bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use obscura::bench::parse_opcode_list;
use obscura::raw::tiff::Tiff;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Tiff::parse(data) {
        let _ = t.is_dng();
        let _ = t.largest_image();
        if let Some(ifd) = t.raw_ifd() {
            for tag in [256u16, 257, 50740, 51008, 51009, 51022] {
                if let Some(e) = ifd.get(tag) {
                    let _ = e.u32s();
                    let _ = e.f64s();
                    let _ = e.ascii();
                }
            }
        }
    }
    let _ = parse_opcode_list(data);
});
