#!/usr/bin/env bash
# The GPU check (issue 27): on a machine with an NVIDIA GPU, in under 8 minutes, the figures
# BENCHMARKS.md lacks, printed as JSON lines after the card's name:
#   1. `cantor speed --wgpu` vs `scripts/bench_torch.py --device cuda` at the benchmark shape
#      (vocabulary 300, embedding 128, 2×256, batch 32 × 128), and the CPU (Flex) beside them;
#   2. GPU dispatches per training step at the small, medium and large presets (cubecl's own
#      kernel log, counted per step);
#   3. the JSB benchmark on the GPU for a fixed time (its record: test NLL 4.632 per frame in 25
#      minutes on a 2-core CPU): the NLL reached and the steps taken in that time.
#
#   bash scripts/gpu_check.sh                 # builds what it needs (network for cargo and pip)
#   CANTOR=path/to/cantor bash scripts/gpu_check.sh   # a `cantor` built with --features wgpu
#
# A machine without network (the device machine of this project's tools): build `cantor` here with
# `cargo build --release --features wgpu --bin cantor`, carry it, and set CANTOR; PyTorch is used
# from the first Python that imports it (the cached environment of scripts/torch_env.sh, else the
# system's), and its figures are skipped with a sentence when none does. Each part has its own time
# limit, so a part that hangs costs only its share.
set -uo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
say() { echo "== $* (at $(( $(date +%s) - START )) s)"; }

say "the card"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi: is there an NVIDIA GPU?"

if [ -z "${CANTOR:-}" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cantor-target}"
  say "building cantor with the wgpu backend"
  cargo build --release --features wgpu --bin cantor >/dev/null || { echo "the build failed"; exit 1; }
  CANTOR="$CARGO_TARGET_DIR/release/cantor"
fi

PY=""
for p in "$HOME/.cache/cantor-torch/bin/python" python3; do
  if "$p" -c "import torch" 2>/dev/null; then PY="$p"; break; fi
done

say "1. training and generation at the benchmark shape"
timeout 150 "$CANTOR" speed --wgpu --steps 20 || echo "cantor speed --wgpu did not finish in 150 s"
if [ -n "$PY" ]; then
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
  timeout 90 "$PY" scripts/bench_torch.py --device cuda || echo "bench_torch.py --device cuda did not finish in 90 s"
else
  echo "no Python here imports torch: the PyTorch figures are skipped (bash scripts/torch_env.sh installs it)"
fi
timeout 60 "$CANTOR" speed --steps 3 || echo "cantor speed (CPU) did not finish in 60 s"

say "2. GPU dispatches per training step (cubecl's kernel log)"
LOG=$(mktemp -d)
for preset in "--embed 64 --hidden 128 --layers 2 --batch 8 --seq-len 32" \
              "--embed 128 --hidden 256 --layers 2 --batch 8 --seq-len 32" \
              "--embed 128 --hidden 256 --layers 2 --batch 32 --seq-len 128" \
              "--embed 256 --hidden 512 --layers 3 --batch 16 --seq-len 64"; do
  # Two timed steps after two warm-up ones: launches logged during the two timed steps / 2.
  CUBECL_DEBUG_LOG="$LOG/kernels.log" CUBECL_DEBUG_OPTION=debug timeout 90 "$CANTOR" speed --wgpu --steps 2 --gen-tokens 1 $preset >/dev/null 2>&1
  echo "{\"shape\": \"$preset\", \"kernel_log_lines\": $(wc -l < "$LOG/kernels.log" 2>/dev/null || echo 0)}"
  rm -f "$LOG/kernels.log"
done

say "3. JSB on the GPU for 3 minutes"
if [ -f ../shared/benchmarks/jsb.json ] || [ -n "${JSB:-}" ]; then
  timeout 260 "$CANTOR" bench jsb ${JSB:+--data "$JSB"} --wgpu --transpose 6 --minutes 3 --dropout 0.2 --patience 4 2>&1 | tail -5
else
  echo "no JSB data (../shared/benchmarks/jsb.json, or JSB=path): skipped"
fi
say "done"
