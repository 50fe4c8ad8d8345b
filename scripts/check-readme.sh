#!/usr/bin/env bash
# Runs every command of README.md's shell blocks marked `<!-- checked -->`, as a newcomer
# would type them, in a scratch folder that holds a link to samples/: `obscura` is the freshly
# built binary, `cargo run --release --` is replaced by it and `cargo run --release --example
# NAME --` by the built example. `cargo test` and `pip install ./python` lines are left to CI's
# own steps; `python3` lines run when the Python module is installed and are skipped otherwise.
# Usage: bash scripts/check-readme.sh    (exit 1 if any command fails)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
cargo build --release -q --bins --examples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ln -s "$repo/samples" "$work/samples"
export PATH="$repo/target/release:$PATH"
# the marked blocks' lines, one command per line
commands=$(awk '
  /^<!-- checked/ { armed = 1; next }
  armed && /^```sh/ { inblock = 1; armed = 0; next }
  inblock && /^```/ { inblock = 0; next }
  inblock { print }
' README.md)
n=0
failed=0
while IFS= read -r line; do
  [[ -z ${line// /} || $line == \#* || $line == "cargo test"* || $line == "pip install ./python"* ]] && continue
  # Python lines use the module CI's Python step installed (the `pip install` line above)
  if [[ $line == python3* ]] && ! python3 -c "import obscura" 2>/dev/null; then
    echo "skipped $line (the obscura Python module is not installed: pip install ./python)"
    continue
  fi
  cmd=$(sed -E "s#cargo run --release --example ([a-z_]+) --#$repo/target/release/examples/\1#; s#cargo run --release --#obscura#" <<<"$line")
  n=$((n + 1))
  if (cd "$work" && bash -euo pipefail -c "$cmd" >"$work/.log" 2>&1); then
    echo "ok      $line"
  else
    echo "FAILED  $line"
    sed 's/^/        /' "$work/.log"
    failed=$((failed + 1))
  fi
done <<<"$commands"
echo "README: $n commands, $failed failed"
[[ $n -gt 0 && $failed -eq 0 ]]
