#!/usr/bin/env bash
# Times obscura against LibRaw's dcraw_emu on the 12 MP reference burst, in one run:
#   burst:   obscura process DIR -o OUT.jpg -q          (all frames: decode, align, merge,
#                                                        finish, encode)
#   dcraw:   dcraw_emu -w -6 -T frame_00.dng            (one frame to a 16-bit TIFF, AHD)
#   develop: obscura develop frame_00.dng -o OUT.jpg -q (one frame, no merge)
# The three alternate, ROUNDS times, so a slow spell of the machine hits all of them alike.
# Prints each one's median wall time and peak RSS (largest over the rounds), the ratios
# burst/dcraw and develop/dcraw, and a headline; the goal is a burst of 8 in at most twice
# dcraw_emu's time for one frame.
#
# The burst is the benches' reference burst (benches/common/mod.rs), made once with the
# release binary into TARGET/bench-burst/Nx12MP/ (TARGET: $CARGO_TARGET_DIR or target/) and
# reused while its marker file .complete is there.
#
# Usage: bash scripts/bench-vs-dcraw.sh [--rounds N] [--frames N]
#   --rounds N   rounds of the three timings (default 3)
#   --frames N   frames in the burst (default 8; --frames 30 shows the peak memory of a
#                long burst, in TARGET/bench-burst/30x12MP/)
# Needs dcraw_emu (apt install libraw-bin) and GNU time at /usr/bin/time (apt install time).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() {
  echo "bench-vs-dcraw: $*" >&2
  exit 1
}

rounds=3
frames=8
while (($#)); do
  case $1 in
    --rounds)
      rounds=${2:-}
      shift 2 || die "--rounds needs a number"
      ;;
    --frames)
      frames=${2:-}
      shift 2 || die "--frames needs a number"
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive whole number, not '$rounds'"
[[ $frames =~ ^[1-9][0-9]?$ ]] || die "--frames must be 1 to 99, not '$frames'"

command -v dcraw_emu >/dev/null ||
  die "dcraw_emu is not installed; it comes with LibRaw's tools: apt install libraw-bin"
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is missing: apt install time"

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
obscura=$target/release/obscura
burst=$target/bench-burst/${frames}x12MP
frame0=$burst/frame_00.dng
# the same text as benches/common/mod.rs marker_text()
marker_text="synth --frames $frames --width 4000 --height 3000 --motion 16"

echo "building the release binary..." >&2
cargo build --release -q

burst_complete() {
  [[ -f $burst/.complete && $(<"$burst/.complete") == "$marker_text" ]] || return 1
  local k
  for ((k = 0; k < frames; k++)); do
    [[ -f $(printf '%s/frame_%02d.dng' "$burst" "$k") ]] || return 1
  done
}
if ! burst_complete; then
  echo "making the reference burst ($frames frames of 4000x3000) in $burst..." >&2
  rm -f "$burst/.complete"
  # (stdout: the list of frame files, not needed)
  "$obscura" synth -q --frames "$frames" --width 4000 --height 3000 --motion 16 -o "$burst" >/dev/null
  printf '%s\n' "$marker_text" >"$burst/.complete"
fi

tmp=$(mktemp -d "$target/bench-vs-dcraw.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# run NAME CMD...: runs CMD under GNU time, appends its wall time in seconds to
# $tmp/NAME.s and its peak RSS in KiB to $tmp/NAME.kb; on failure shows its output and stops.
run() {
  local name=$1 t0 t1
  shift
  t0=$(date +%s%N)
  if ! /usr/bin/time -f %M -o "$tmp/rss" "$@" >"$tmp/log" 2>&1; then
    cat "$tmp/log" >&2
    die "failed: $*"
  fi
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }' >>"$tmp/$name.s"
  tail -n 1 "$tmp/rss" >>"$tmp/$name.kb"
}

# median FILE: the median of the numbers in FILE, one per line
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# peak_mb FILE: the largest of the KiB figures in FILE, in MB
peak_mb() { sort -g "$1" | tail -n 1 | awk '{ printf "%.0f", $1 / 1024 }'; }
# ratio X Y: X / Y to two decimals
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.2f", x / y }'; }

cpus=$(nproc)
echo "timing $rounds rounds on $cpus CPUs..." >&2
for ((r = 1; r <= rounds; r++)); do
  run burst "$obscura" process "$burst" -o "$tmp/burst.jpg" -q
  # -Z names the output: without it dcraw_emu writes frame_00.dng.tiff beside the burst
  rm -f "$tmp/dcraw.tiff"
  run dcraw dcraw_emu -w -6 -T -Z "$tmp/dcraw.tiff" "$frame0"
  # dcraw_emu exits 0 even when it cannot write its output
  [[ -s $tmp/dcraw.tiff ]] || die "dcraw_emu wrote no TIFF: $(<"$tmp/log")"
  run develop "$obscura" develop "$frame0" -o "$tmp/develop.jpg" -q
  tb=$(tail -n 1 "$tmp/burst.s")
  td=$(tail -n 1 "$tmp/dcraw.s")
  tv=$(tail -n 1 "$tmp/develop.s")
  printf '  round %d: burst %.2f s, dcraw_emu %.2f s, develop %.2f s\n' "$r" "$tb" "$td" "$tv" >&2
done
[[ ! -e $frame0.tiff ]] || die "dcraw_emu left $frame0.tiff beside the burst"

b=$(median "$tmp/burst.s")
d=$(median "$tmp/dcraw.s")
v=$(median "$tmp/develop.s")
mb=$(peak_mb "$tmp/burst.kb")
md=$(peak_mb "$tmp/dcraw.kb")
mv=$(peak_mb "$tmp/develop.kb")
rb=$(ratio "$b" "$d")
rv=$(ratio "$v" "$d")
goal="(goal <= 2)"
((frames == 8)) || goal="(the goal of <= 2 is for 8 frames)"
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
commit=$(git describe --always --dirty 2>/dev/null || echo unknown)

echo "obscura ($commit) vs dcraw_emu: $frames x 12 MP synthetic burst, $rounds rounds"
echo "machine: $cpus CPUs, ${cpu:-unknown CPU}"
printf '%-46s %9s %12s\n' "command" "median s" "peak RSS MB"
printf '%-46s %9.2f %12s\n' "obscura process (burst of $frames -> JPEG)" "$b" "$mb"
printf '%-46s %9.2f %12s\n' "dcraw_emu -w -6 -T (frame_00 -> 16-bit TIFF)" "$d" "$md"
printf '%-46s %9.2f %12s\n' "obscura develop (frame_00 -> JPEG)" "$v" "$mv"
echo "ratios: burst/dcraw = $rb, develop/dcraw = $rv"
echo "headline: burst of $frames to JPEG = $rb x dcraw_emu of one frame $goal"
