//! Cantor: train an LSTM on your own MIDI files, generate new music, share it by link.
//!
//! The core modules (no web-sys) are used by both the browser app and the native `cantor` command.

pub mod benchmark;
pub mod encoding;
pub mod generate;
pub mod metrics;
pub mod midi;
pub mod model;
pub mod protocol;
pub mod sequences;
pub mod settings;
pub mod share;
// A corpus on disk, memory-mapped (native only: the page reads dropped files).
#[cfg(not(target_arch = "wasm32"))]
pub mod shards;
pub mod synth;
// The bridge to PyTorch's distributed training (native only).
#[cfg(not(target_arch = "wasm32"))]
pub mod torch;
pub mod train;

#[cfg(target_arch = "wasm32")]
pub mod web;
