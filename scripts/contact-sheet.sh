#!/usr/bin/env bash
# Develops every RAW file in ../shared/raw (plus the bundled burst, a colour chart and, when
# cached, Adobe's Sony sample) with default settings and assembles docs/contact-sheet.jpg.
# Needs Python 3 with Pillow for the montage. Usage: bash scripts/contact-sheet.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=target/release/obscura
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
labels=()
for f in ../shared/raw/*; do
  case "${f,,}" in *.dng|*.crw|*.cr2|*.cr3|*.nef|*.arw|*.raf|*.orf|*.rw2|*.pef|*.srw) ;; *) continue ;; esac
  out="$work/$(basename "$f").jpg"
  "$bin" develop "$f" -o "$out" && labels+=("$out|$(basename "$f")")
done
sony="${OBSCURA_RAW_CACHE:-$HOME/.cache/obscura/raw}/03_jxl_bayer_raw_integer.dng"
if [[ -f $sony ]]; then
  "$bin" develop "$sony" -o "$work/sony.jpg" && labels+=("$work/sony.jpg|Adobe sample: Sony ILCE-7RM4 (JPEG XL DNG)")
fi
"$bin" process samples/burst -o "$work/burst.jpg" && labels+=("$work/burst.jpg|samples/burst (8 frames merged)")
"$bin" synth --chart --light a --out "$work" >/dev/null
"$bin" develop "$work/chart.dng" -o "$work/chart.jpg" && labels+=("$work/chart.jpg|synth --chart --light a")
python3 - "$work" "${labels[@]}" <<'PY'
import sys
from PIL import Image, ImageDraw
items = [a.split("|", 1) for a in sys.argv[2:]]
cell_w, cell_h, pad, text_h = 400, 300, 8, 18
cols = 2
rows = (len(items) + cols - 1) // cols
sheet = Image.new("RGB", (cols * (cell_w + pad) + pad, rows * (cell_h + text_h + pad) + pad), (24, 24, 24))
draw = ImageDraw.Draw(sheet)
for k, (path, label) in enumerate(items):
    im = Image.open(path)
    im.thumbnail((cell_w, cell_h))
    x = pad + (k % cols) * (cell_w + pad)
    y = pad + (k // cols) * (cell_h + text_h + pad)
    sheet.paste(im, (x + (cell_w - im.width) // 2, y + (cell_h - im.height) // 2))
    draw.text((x, y + cell_h + 3), label, fill=(230, 230, 230))
sheet.save("docs/contact-sheet.jpg", quality=85)
print("docs/contact-sheet.jpg", sheet.size)
PY
