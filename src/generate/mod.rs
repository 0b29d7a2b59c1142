//! Sampling new music from a trained model: primer, length, temperature, top-k, top-p and an
//! optional key/scale lock. The same seed gives the same tokens. Sampling runs on the host from
//! the logits of each step (no sort or top-k on the GPU, which burn's wgpu backend lacks).

mod sampler;

pub use sampler::{Sampler, SamplingParams, Scale};

use crate::encoding::{EventVocab, Token, TokenId};
use crate::midi::Note;
use crate::model::LstmLm;
use crate::train::TrainError;
use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateConfig {
    pub sampling: SamplingParams,
    /// Stop after this many new tokens.
    pub max_tokens: usize,
    /// Stop once the music is this many beats long (counting the primer).
    pub max_beats: Option<f64>,
    /// General MIDI program of the output notes.
    pub program: u8,
    /// Tempo of the output, beats per minute.
    pub bpm: f64,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        GenerateConfig { sampling: SamplingParams::default(), max_tokens: 2000, max_beats: Some(64.0), program: 0, bpm: 120.0 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// Primer followed by the sampled tokens.
    pub tokens: Vec<TokenId>,
    pub primer_len: usize,
    /// All notes (primer included); every note has an end.
    pub notes: Vec<Note>,
}

/// Generates a continuation of `primer` (START is put in front when missing).
/// `on_token` is called with the number of new tokens so far (for a progress bar).
pub async fn generate(
    model: &LstmLm,
    vocab: &EventVocab,
    primer: &[TokenId],
    config: &GenerateConfig,
    device: &Device,
    mut on_token: impl FnMut(usize),
) -> Result<Generated, TrainError> {
    let mut tokens: Vec<TokenId> = Vec::with_capacity(primer.len() + config.max_tokens + 1);
    if primer.first() != Some(&vocab.start()) {
        tokens.push(vocab.start());
    }
    tokens.extend(primer.iter().copied().filter(|&t| t != vocab.end()));
    let primer_len = tokens.len();
    let mut beats: f64 = tokens
        .iter()
        .filter_map(|&t| match vocab.token(t) {
            Token::Shift(k) => Some(k as f64 / vocab.steps_per_beat as f64),
            _ => None,
        })
        .sum();
    let mut sampler = Sampler::new(vocab, config.sampling.clone());
    let mut input: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
    let mut state = None;
    for n in 0..config.max_tokens {
        if config.max_beats.is_some_and(|m| beats >= m) {
            break;
        }
        let len = input.len();
        let x = Tensor::<2, Int>::from_data(TensorData::new(std::mem::take(&mut input), [1, len]), device);
        let (logits, next) = model.forward(x, state);
        state = Some(next);
        let [_, t, v] = logits.dims();
        let last = logits.narrow(1, t - 1, 1).reshape([v]);
        let data = last.into_data_async().await.map_err(|e| TrainError::Read(format!("{e:?}")))?;
        let logits: Vec<f32> = data.convert::<f32>().try_to_vec::<f32>().map_err(|e| TrainError::Read(format!("{e:?}")))?;
        let id = sampler.sample(&logits);
        if id == vocab.end() {
            break;
        }
        if let Token::Shift(k) = vocab.token(id) {
            beats += k as f64 / vocab.steps_per_beat as f64;
        }
        tokens.push(id);
        input.push(id as i64);
        on_token(n + 1);
    }
    let notes = vocab.decode(&tokens, config.program, config.bpm);
    Ok(Generated { tokens, primer_len, notes })
}
