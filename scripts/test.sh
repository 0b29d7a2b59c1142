#!/usr/bin/env bash
# Runs every test: the native core and CLI tests (Flex), then the page in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cantor-target}"
test -d ../shared || { echo "../shared (test data) is missing next to the repository" >&2; exit 1; }

echo "== native tests (core + CLI on Flex)"
cargo test --release

echo "== browser tests (the served page in headless Chromium)"
source scripts/tools.sh
if ! command -v chromium >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
(cd tests/browser && npm ci --no-audit --no-fund --silent)
TRUNK_SKIP_VERSION_CHECK=true trunk build --release
node --test tests/browser/
