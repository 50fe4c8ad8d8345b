#!/usr/bin/env bash
# Renders the bundled sample burst in each built-in look into docs/looks/NAME.jpg (the
# README's gallery). Usage: bash scripts/looks-gallery.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/looks
for look in natural authentic vibrant mono; do
  cargo run --release -q -- process samples/burst --look "$look" --quality 85 -o "docs/looks/$look.jpg"
done
