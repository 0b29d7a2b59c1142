#!/usr/bin/env bash
# The GPU check (issue 27): on a machine with an NVIDIA GPU, in under 8 minutes, the figures
# BENCHMARKS.md lacks, after the card's name:
#   1. `cantor speed --wgpu` vs `scripts/bench_torch.py --device cuda` at the benchmark shape
#      (vocabulary 300, embedding 128, 2×256, batch 32 × 128), the CPU (Flex) beside them;
#   2. where a training step's time goes on the GPU: cubecl's profile of two steps at the medium
#      preset (batch 8 × 32), kernel launches and time per kernel family;
#   3. the scale-out path on the GPU: a small corpus built, `cantor train --corpus --wgpu` and
#      `torchrun … scripts/torch_train.py` (NCCL, cuDNN) on it, tokens/s each;
#   4. the JSB benchmark on the GPU for 3 minutes (its record: test NLL 4.632 per frame in 25
#      minutes on a 2-core CPU): the NLL reached and the steps taken.
#
#   bash scripts/gpu_check.sh                        # builds what it needs (needs network)
#   CANTOR=path/to/cantor bash scripts/gpu_check.sh  # a `cantor` built with --features wgpu
#
# Without network (this project's device machine): build `cantor` here with
# `cargo build --release --features wgpu --bin cantor`, carry it, set CANTOR. PyTorch comes from
# the first Python that imports it (scripts/torch_env.sh's cached environment, else the system's);
# without one its figures are skipped with a sentence. Each part has its own time limit.
set -uo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
say() { echo "== $* (at $(( $(date +%s) - START )) s)"; }
WORK=$(mktemp -d)

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
[ -n "$PY" ] && "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"

say "1. training and generation at the benchmark shape"
timeout 150 "$CANTOR" speed --wgpu --steps 20 || echo "cantor speed --wgpu failed or did not finish in 150 s"
if [ -n "$PY" ]; then
  timeout 90 "$PY" scripts/bench_torch.py --device cuda || echo "bench_torch.py --device cuda failed or did not finish in 90 s"
else
  echo "no Python here imports torch: the PyTorch figures are skipped (bash scripts/torch_env.sh installs it)"
fi
timeout 60 "$CANTOR" speed --steps 3 || echo "cantor speed (CPU) did not finish in 60 s"

say "2. where a step's time goes on the GPU (medium preset, batch 8 x 32; cubecl's profile)"
CUBECL_DEBUG_LOG="$WORK/profile.log" CUBECL_DEBUG_OPTION=profile timeout 90 \
  "$CANTOR" speed --wgpu --steps 2 --gen-tokens 1 --embed 128 --hidden 256 --layers 2 --batch 8 --seq-len 32 >/dev/null 2>&1
if [ -s "$WORK/profile.log" ]; then
  # 4 steps (2 warm-up, 2 timed) and 11 generated tokens, per kernel family.
  python3 scripts/kernel_profile.py "$WORK/profile.log"
else
  echo "cubecl wrote no profile log"
fi

say "3. the scale-out path on the GPU: a small corpus, cantor train --corpus --wgpu, torchrun"
python3 scripts/band_corpus.py "$WORK/files" --pieces 200 --bars 32 --seed 3 >/dev/null
"$CANTOR" corpus build "$WORK/files" --out "$WORK/corpus" 2>&1 | tail -1
timeout 120 "$CANTOR" train --corpus "$WORK/corpus" --out "$WORK/m.cantor" --wgpu --embed 128 --hidden 256 --layers 2 \
  --batch 32 --seq-len 128 --steps-per-epoch 30 --epochs 1 2>&1 | tail -2 || echo "train --corpus --wgpu did not finish in 120 s"
if [ -n "$PY" ]; then
  "$CANTOR" export-torch --corpus "$WORK/corpus" --out "$WORK/run" --embed 128 --hidden 256 --layers 2 --batch 32 --seq-len 128 --steps 100 2>/dev/null
  NGPU=$(nvidia-smi -L 2>/dev/null | wc -l); NGPU=$(( NGPU > 0 ? NGPU : 1 ))
  timeout 120 "$(dirname "$PY")/torchrun" --standalone --nproc-per-node "$NGPU" scripts/torch_train.py "$WORK/run" --steps 100 --log-every 25 2>&1 | tail -5 \
    || echo "torchrun did not finish in 120 s"
fi

say "4. JSB on the GPU for 3 minutes"
if [ -f ../shared/benchmarks/jsb_chorales.json ] || [ -n "${JSB:-}" ]; then
  timeout 260 "$CANTOR" bench jsb ${JSB:+--data "$JSB"} --wgpu --transpose 6 --minutes 3 --dropout 0.2 --patience 4 2>&1 | tail -5
else
  echo "no JSB data (../shared/benchmarks/jsb_chorales.json, or JSB=path): skipped"
fi
rm -rf "$WORK"
say "done"
