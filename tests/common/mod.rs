//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared` from the repository root; tests that need it fail with a clear message if absent.
pub fn shared(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared").join(rel);
    assert!(p.exists(), "shared test data missing: {} (expected ../shared next to the repository)", p.display());
    p
}

pub fn jazz_soft(name: &str) -> Vec<u8> {
    std::fs::read(shared("midi/jazz-soft-test-midi-files").join(name)).expect("read test file")
}
