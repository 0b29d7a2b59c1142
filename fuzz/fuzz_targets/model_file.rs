//! Any bytes as an imported model file (what a stranger sends): reading the header must return a
//! model file or an error in words, with every size bounded before anything is allocated from it;
//! small models that pass are also built and loaded on Flex (damaged weights are an error, not a
//! panic).
#![no_main]

use burn::prelude::Device;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match cantor::model::ModelFile::from_bytes(data) {
        Ok(file) => {
            assert!(file.config.validate().is_ok() && file.vocab.validate().is_ok());
            // Building a model costs milliseconds per 100 k parameters: load only small ones.
            if file.config.param_count() <= 200_000 {
                let _ = file.load(&Device::flex());
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
