#!/usr/bin/env bash
# Runs every test: the native core and CLI tests (Flex), WebGPU-vs-Flex tests in headless Chromium
# (wasm-bindgen-test), then the built page driven end to end in headless Chromium (Playwright).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cantor-target}"
test -d ../shared || { echo "../shared (test data) is missing next to the repository" >&2; exit 1; }

# lavapipe (Mesa's software Vulkan) gives wgpu a device without a GPU: the LSTM sequence kernels
# are tested natively against Flex on it.
if ! dpkg -s mesa-vulkan-drivers >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mesa-vulkan-drivers >/dev/null
fi

echo "== the pinned PyTorch for the scale-out tests (a virtual environment cached in ~/.cache)"
bash scripts/torch_env.sh >/dev/null

echo "== native tests (core + CLI on Flex; the GPU kernels on wgpu, lavapipe where there is no GPU)"
cargo test --release --features wgpu

source scripts/tools.sh
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

echo "== WebGPU tests in headless Chromium (software adapter where there is no GPU)"
CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=600 WASM_BINDGEN_TEST_DRIVER_TIMEOUT=60 \
  cargo test --release --target wasm32-unknown-unknown --no-default-features --features wgpu --test webgpu

echo "== the page end to end in headless Chromium"
(cd tests/browser && npm ci --no-audit --no-fund --silent)
TRUNK_SKIP_VERSION_CHECK=true trunk build --release
node --test tests/browser/
