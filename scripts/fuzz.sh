#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/) for SECONDS each (default 60), two at a time,
# seeded from fuzz/corpus/TARGET (made by this script from the bundled samples when absent).
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). A crash,
# an out-of-memory (one allocation or the RSS above 2 GB) or a timeout (20 s on one input)
# fails the run and leaves its input in fuzz/artifacts/TARGET/; minimise it with
# `cargo +nightly fuzz tmin TARGET FILE` and add it to tests/data/fuzz/ (replayed by
# tests/robustness.rs). Prints each target's executions; target/fuzz-TARGET.log has the rest.
#
# Usage: bash scripts/fuzz.sh [SECONDS] [TARGET...]
# Environment: FUZZ_SANITIZER=address (default) or none (no ASAN: builds about twice as fast
# and runs several times more inputs, but misses memory errors in unsafe code; obscura's own
# code has little unsafe, its decoders some).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(raw_open dng_tags linear_raw cr3_boxes hdr_writers cube hald look_toml manifest)
sanitizer=${FUZZ_SANITIZER:-address}
cargo build --release -q
bin=target/release/obscura
seed() {
  local c=fuzz/corpus/$1
  [[ -d $c && -n $(ls -A "$c") ]] && return
  mkdir -p "$c"
  local t
  t=$(mktemp -d)
  case $1 in
    raw_open|dng_tags)
      "$bin" -q synth --out "$t/a" --frames 1 --width 24 --height 16 --motion 0 >/dev/null
      "$bin" -q synth --out "$t/b" --frames 1 --width 32 --height 16 --motion 0 --cfa BGGR >/dev/null
      cp "$t/a/frame_00.dng" "$c/rggb.dng"; cp "$t/b/frame_00.dng" "$c/bggr.dng" ;;
    linear_raw)
      # LinearRaw DNGs as the kernel merge writes them (16-bit RGB, uncompressed), at 1x and 2x
      "$bin" -q synth --out "$t/a" --frames 2 --width 48 --height 32 --motion 1 >/dev/null
      "$bin" -q merge "$t/a" --merge kernel -o "$c/kernel1x.dng" >/dev/null 2>&1
      "$bin" -q merge "$t/a" --merge kernel --scale 2 -o "$c/kernel2x.dng" >/dev/null 2>&1 ;;
    cr3_boxes)
      # a crafted CR3 after its ftyp box (the target prepends that): moov with Canon's uuid
      # and one trak down to CRAW/CMP1, stsz and co64, then mdat (the layout of
      # src/raw/bmff.rs's tests)
      python3 - "$c/crafted.bin" <<'PY'
import struct, sys
def bx(t, p): return struct.pack('>I', 8 + len(p)) + t + p
canon = bytes.fromhex('85c0b687820f11e08111f4ce462b6a48') + bx(b'CNCV', b'CanonCR3_001/00.09.00/00.00.00')
cmp1 = bytearray(36)
cmp1[2:6] = struct.pack('>HH', 48, 256)
cmp1[8:24] = struct.pack('>IIII', 64, 48, 64, 48)
cmp1[24], cmp1[25] = 14, 0x41
craw = bytearray(82); craw[7] = 1; craw[24:28] = struct.pack('>HH', 64, 48)
stsd = bytes(7) + b'\x01' + bx(b'CRAW', bytes(craw) + bx(b'CMP1', bytes(cmp1)))
stsz = bytes(4) + struct.pack('>III', 0, 1, 256)
def moov(off):
    co64 = bx(b'co64', bytes(7) + b'\x01' + struct.pack('>Q', off))
    stbl = bx(b'stbl', bx(b'stsd', stsd) + bx(b'stsz', stsz) + co64)
    return bx(b'moov', bx(b'uuid', canon) + bx(b'trak', bx(b'mdia', bx(b'minf', stbl))))
off = 24 + len(moov(0)) + 8
open(sys.argv[1], 'wb').write(moov(off) + bx(b'mdat', b'\x5a' * 256))
PY
      ;;
    cube) "$bin" -q look export authentic --size 3 -o "$c/authentic3.cube" ;;
    hald)
      # a level-2 Hald CLUT (8x8 RGB PNG), written with the standard library alone
      python3 - "$c/hald2.png" <<'PY'
import struct, sys, zlib
px = [((i % 4) * 85, (i // 4 % 4) * 85, (i // 16) * 85) for i in range(64)]
raw = b''.join(b'\0' + bytes(v for p in px[y * 8:y * 8 + 8] for v in p) for y in range(8))
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 8, 8, 8, 2, 0, 0, 0)) \
    + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b'')
open(sys.argv[1], 'wb').write(png)
PY
      ;;
    look_toml) cp looks/*.toml "$c/" ;;
    manifest) printf 'samples/burst\n# comment\na/b.dng\tc/d.dng\n' >"$c/m.txt" ;;
    # sizes, colour space, headroom, quality, then values (see the target)
    hdr_writers) python3 -c "
import struct, sys
vals = [((i * 2654435761) % (1 << 24)) << 8 | 1 for i in range(3 * 24 * 16)]
sys.stdout.buffer.write(struct.pack('<5I', 24, 16, 0, 2, 90) + struct.pack('<%dI' % len(vals), *vals))
" >"$c/small.bin" ;;
  esac
  rm -rf "$t"
}
for t in "${targets[@]}"; do seed "$t"; done
mkdir -p target
start=$(date +%s)
if ! (cd fuzz && cargo +nightly fuzz build -O -s "$sanitizer" >../target/fuzz-build.log 2>&1); then
  tail -30 target/fuzz-build.log
  echo "fuzz targets did not build (see target/fuzz-build.log)"
  exit 1
fi
echo "fuzz targets built in $(($(date +%s) - start)) s (sanitizer: $sanitizer)"
# FUZZ_SEED and FUZZ_RUNS make a run repeatable: the same seed from the same seeded corpus
# mutates in the same order, so a run stopped by time or by FUZZ_RUNS executions is a prefix
# of any longer one (CI uses this, so a landing is not decided by chance; by hand, leave them
# unset for fresh random runs).
extra=()
[[ -n ${FUZZ_SEED:-} ]] && extra+=("-seed=$FUZZ_SEED")
[[ -n ${FUZZ_RUNS:-} ]] && extra+=("-runs=$FUZZ_RUNS")
run() {
  (cd fuzz && cargo +nightly fuzz run -O -s "$sanitizer" "$1" "corpus/$1" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 "${extra[@]}" \
    >"../target/fuzz-$1.log" 2>&1) \
    && echo "$1: no finding in $secs s ($(grep -o 'stat::number_of_executed_units: [0-9]*' "target/fuzz-$1.log" | grep -o '[0-9]*$') runs)" \
    || { echo "$1: FINDING (crash, OOM or timeout), see target/fuzz-$1.log and fuzz/artifacts/$1/"; tail -20 "target/fuzz-$1.log"; return 1; }
}
status=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  run "${targets[i]}" & a=$!
  if [[ $((i + 1)) -lt ${#targets[@]} ]]; then run "${targets[i+1]}" & b=$!; wait $b || status=1; fi
  wait $a || status=1
done
exit $status
