#!/usr/bin/env bash
# Writes a PNG and a JPEG in each output space with the freshly built `obscura` and reads them
# back with libpng (a small C reader that prints libpng's warnings, which is how viewers
# report a malformed iCCP profile) and with Pillow / Little CMS (the embedded profile opened).
# Needs a C compiler and libpng's headers; the Pillow part runs when `python3 -c 'import
# PIL.ImageCms'` works. The byte-level rules are checked by `cargo test --test icc`.
# Usage: bash scripts/check-icc.sh [path/to/obscura]    (exit 1 on any warning or failure)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$repo/target/release/obscura}
[[ -x $bin ]] || { echo "no obscura binary at $bin (cargo build --release)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/pngread.c" <<'C'
#include <png.h>
#include <stdio.h>
static int warnings = 0;
static void warn(png_structp p, png_const_charp m) { (void)p; fprintf(stderr, "libpng warning: %s\n", m); warnings++; }
int main(int argc, char **argv) {
  for (int a = 1; a < argc; a++) {
    FILE *f = fopen(argv[a], "rb");
    if (!f) return 2;
    png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, warn);
    png_infop i = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p))) { fprintf(stderr, "libpng error in %s\n", argv[a]); return 1; }
    png_init_io(p, f);
    png_read_png(p, i, PNG_TRANSFORM_IDENTITY, NULL);
    png_charp name; int comp; png_bytep prof; png_uint_32 len;
    if (!png_get_iCCP(p, i, &name, &comp, &prof, &len)) { fprintf(stderr, "%s: no iCCP\n", argv[a]); return 1; }
    printf("%s: libpng read %ux%u, iCCP %u bytes\n", argv[a], png_get_image_width(p, i), png_get_image_height(p, i), len);
    png_destroy_read_struct(&p, &i, NULL);
    fclose(f);
  }
  return warnings ? 1 : 0;
}
C
cc -O1 "$work/pngread.c" -o "$work/pngread" -lpng16 2>/dev/null || cc -O1 "$work/pngread.c" -o "$work/pngread" -lpng
frame=$(ls "$repo"/samples/burst/*.dng | head -1)
files=()
for space in srgb p3; do
  for ext in png jpg; do
    "$bin" -q develop "$frame" --colorspace "$space" -o "$work/$space.$ext"
    files+=("$work/$space.$ext")
  done
done
status=0
"$work/pngread" "$work/srgb.png" "$work/p3.png" || status=1
if python3 -c 'import PIL.ImageCms' 2>/dev/null; then
  python3 - "${files[@]}" <<'PY' || status=1
import io, sys, warnings
from PIL import Image, ImageCms
warnings.simplefilter("error")
for f in sys.argv[1:]:
    im = Image.open(f)
    im.load()
    p = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
    print(f"{f}: Pillow/LittleCMS opened {ImageCms.getProfileDescription(p).strip()!r}, "
          f"version {p.profile.version}, wtpt {p.profile.media_white_point[0]}")
    if "srgb.png" in f:
        # converting to Little CMS's own sRGB must change (almost) nothing
        srgb = ImageCms.createProfile("sRGB")
        out = ImageCms.profileToProfile(im.convert("RGB"), p, srgb, outputMode="RGB")
        a, b = im.convert("RGB").tobytes(), out.tobytes()
        worst = max(abs(x - y) for x, y in zip(a, b))
        print(f"{f}: embedded sRGB -> LittleCMS sRGB, largest change {worst} of 255")
        assert worst <= 2, worst
PY
else
  echo "Pillow not installed: skipped"
fi
exit $status
