#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/) for SECONDS each (default 60), two at a time,
# seeded from fuzz/corpus/TARGET (made by this script from the bundled samples when absent).
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). A crash leaves its
# input in fuzz/artifacts/TARGET/; minimise it with `cargo +nightly fuzz tmin TARGET FILE` and
# add it to tests/fuzz_regressions.rs.
# Usage: bash scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(raw_open dng_tags cube hald look_toml manifest)
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
    cube) "$bin" -q look export authentic --size 3 -o "$c/authentic3.cube" ;;
    hald) python3 -c "
from PIL import Image
im = Image.new('RGB', (8, 8))
im.putdata([((i % 4) * 85, (i // 4 % 4) * 85, (i // 16) * 85) for i in range(64)])
im.save('$c/hald2.png')" ;;
    look_toml) cp looks/*.toml "$c/" ;;
    manifest) printf 'samples/burst\n# comment\na/b.dng\tc/d.dng\n' >"$c/m.txt" ;;
  esac
  rm -rf "$t"
}
for t in "${targets[@]}"; do seed "$t"; done
(cd fuzz && cargo +nightly fuzz build -O 2>/dev/null)
run() {
  (cd fuzz && cargo +nightly fuzz run -O "$1" "corpus/$1" -- -max_total_time="$secs" \
    -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 >"../target/fuzz-$1.log" 2>&1) \
    && echo "$1: no finding in $secs s ($(grep -o 'stat::number_of_executed_units: [0-9]*' "target/fuzz-$1.log" | grep -o '[0-9]*$') runs)" \
    || { echo "$1: FINDING, see target/fuzz-$1.log and fuzz/artifacts/$1/"; return 1; }
}
status=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  run "${targets[i]}" & a=$!
  if [[ $((i + 1)) -lt ${#targets[@]} ]]; then run "${targets[i+1]}" & b=$!; wait $b || status=1; fi
  wait $a || status=1
done
exit $status
