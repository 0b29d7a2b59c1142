#!/usr/bin/env bash
# Builds the page and serves it on http://127.0.0.1:8080 (installs the tools it needs first).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
TRUNK_SKIP_VERSION_CHECK=true exec trunk serve --release --address 127.0.0.1 --port "${PORT:-8080}"
