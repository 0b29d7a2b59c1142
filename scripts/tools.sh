#!/usr/bin/env bash
# Installs what building the page needs, once per machine: the wasm32 target, Trunk 0.21.14 and the
# wasm-bindgen-cli that matches Cargo.lock. Sourced by serve.sh and test.sh.
set -euo pipefail
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cantor-target}"
export PATH="$HOME/.cargo/bin:$PATH"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
# Trunk 0.21.14 builds only with --locked (newer parcel_selectors break it); 0.22 needs a newer rustc.
if ! trunk --version 2>/dev/null | grep -q "0.21.14"; then
  cargo install trunk --version 0.21.14 --locked
fi
# wasm-bindgen-cli must equal the wasm-bindgen in Cargo.lock; it installs only *without* --locked.
WBG=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WBG"; then
  cargo install wasm-bindgen-cli --version "$WBG"
fi
