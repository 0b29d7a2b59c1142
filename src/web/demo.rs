//! The built-in example: a public-domain melody (Beethoven's "Ode to Joy" theme, typed in by us),
//! a tiny model trained for a few steps on Flex, and a short generated continuation.

use crate::encoding::corpus::TokenCorpus;
use crate::encoding::EventVocab;
use crate::generate::{generate, GenerateConfig};
use crate::midi::Note;
use crate::model::{CellKind, ModelConfig};
use crate::train::{TrainConfig, Trainer};
use burn::prelude::Device;

/// (MIDI pitch, beats) of the Ode to Joy theme.
const ODE: &[(u8, f64)] = &[
    (64, 1.0), (64, 1.0), (65, 1.0), (67, 1.0), (67, 1.0), (65, 1.0), (64, 1.0), (62, 1.0),
    (60, 1.0), (60, 1.0), (62, 1.0), (64, 1.0), (64, 1.5), (62, 0.5), (62, 2.0),
    (64, 1.0), (64, 1.0), (65, 1.0), (67, 1.0), (67, 1.0), (65, 1.0), (64, 1.0), (62, 1.0),
    (60, 1.0), (60, 1.0), (62, 1.0), (64, 1.0), (62, 1.5), (60, 0.5), (60, 2.0),
];

fn melody() -> Vec<Note> {
    let mut t = 0.0;
    ODE.iter()
        .map(|&(pitch, beats)| {
            let n = Note { pitch, velocity: 80, start: t, duration: beats, start_s: t / 2.0, duration_s: beats / 2.0, channel: 0, program: 0, drum: false, track: 0 };
            t += beats;
            n
        })
        .collect()
}

pub async fn run() -> Result<String, String> {
    let device = Device::flex();
    let vocab = EventVocab::default();
    let tokens = vocab.encode(&vocab.quantize(&melody()));
    let corpus = TokenCorpus { train: vec![tokens.clone()], valid: vec![tokens], train_files: vec![0], valid_files: vec![0] };
    let model_config = ModelConfig { vocab_size: vocab.size(), embed: 16, hidden: 32, layers: 1, dropout: 0.0, cell: CellKind::Fused };
    let config = TrainConfig { seq_len: 32, batch: 4, lr: 1e-2, warmup_steps: 2, max_epochs: 1, steps_per_epoch: Some(20), ..TrainConfig::default() };
    let mut trainer = Trainer::new(model_config, config, &corpus, &device).map_err(|e| e.to_string())?;
    let first = trainer.train_step().await.map_err(|e| e.to_string())?;
    let mut last = first;
    for _ in 1..20 {
        last = trainer.train_step().await.map_err(|e| e.to_string())?;
    }
    let model = trainer.best_model();
    let out = generate(&model, &vocab, &[], &GenerateConfig { max_beats: Some(8.0), ..GenerateConfig::default() }, &device, |_| {})
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "Trained 20 steps on the CPU (loss {first:.2} → {last:.2}) and generated {} notes ({} tokens).",
        out.notes.len(),
        out.tokens.len() - out.primer_len
    ))
}
