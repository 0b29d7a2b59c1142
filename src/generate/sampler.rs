//! Turning one step's logits into a token: masks, temperature, top-k, top-p, seeded draw.

use crate::encoding::{MusicVocab, TokenId};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use crate::settings::{SettingError, TEMPERATURE, TOP_K, TOP_P};
use serde::{Deserialize, Serialize};

/// A key to stay in: note-ons outside its scale are never sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scale {
    /// Pitch class of the tonic, 0 = C.
    pub root: u8,
    pub minor: bool,
}

impl Scale {
    pub fn contains(&self, pitch: u8) -> bool {
        const MAJOR: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];
        const MINOR: [u8; 7] = [0, 2, 3, 5, 7, 8, 10];
        let degree = (pitch + 12 - self.root % 12) % 12;
        if self.minor { MINOR.contains(&degree) } else { MAJOR.contains(&degree) }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingParams {
    /// Below 1 sharper (safer), above 1 flatter (wilder). 0 = always the most likely token.
    pub temperature: f32,
    /// Keep only the k most likely tokens (0 = off).
    pub top_k: usize,
    /// Keep the most likely tokens whose probabilities add up to p (1 = off).
    pub top_p: f32,
    pub seed: u64,
    pub scale: Option<Scale>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams { temperature: TEMPERATURE.default as f32, top_k: TOP_K.default_usize(), top_p: TOP_P.default as f32, seed: 1, scale: None }
    }
}

pub struct Sampler {
    params: SamplingParams,
    /// Tokens that may never be drawn (padding, start, note-ons outside the scale).
    banned: Vec<bool>,
    rng: StdRng,
}

impl Sampler {
    /// A sampler over `vocab`: padding and start are never drawn, nor pitches outside the scale.
    pub fn new(vocab: &MusicVocab, params: SamplingParams) -> Sampler {
        let banned = (0..vocab.size() as TokenId)
            .map(|id| vocab.is_control(id) || vocab.pitch(id).is_some_and(|p| params.scale.is_some_and(|s| !s.contains(p))))
            .collect();
        let rng = StdRng::seed_from_u64(params.seed);
        Sampler { params, banned, rng }
    }

    /// Draws a token id from unnormalised log-probabilities, among those `allowed` also lets through.
    pub fn sample_where(&mut self, logits: &[f32], allowed: impl Fn(TokenId) -> bool) -> TokenId {
        let saved = self.banned.clone();
        for (i, b) in self.banned.iter_mut().enumerate() {
            *b = *b || !allowed(i as TokenId);
        }
        let id = self.sample(logits);
        self.banned = saved;
        id
    }

    /// Draws a token id from unnormalised log-probabilities.
    pub fn sample(&mut self, logits: &[f32]) -> TokenId {
        let mut cand: Vec<(usize, f32)> = logits
            .iter()
            .enumerate()
            .filter(|(i, l)| !self.banned.get(*i).copied().unwrap_or(true) && l.is_finite())
            .map(|(i, &l)| (i, l))
            .collect();
        if cand.is_empty() {
            return 2; // END: nothing is allowed
        }
        cand.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let t = self.params.temperature;
        if t <= 1e-4 {
            return cand[0].0 as TokenId;
        }
        if self.params.top_k > 0 {
            cand.truncate(self.params.top_k);
        }
        let max = cand[0].1;
        let mut probs: Vec<f64> = cand.iter().map(|&(_, l)| (((l - max) / t) as f64).exp()).collect();
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= total);
        if self.params.top_p < 1.0 {
            let mut acc = 0.0;
            let keep = probs
                .iter()
                .position(|p| {
                    acc += p;
                    acc >= self.params.top_p as f64
                })
                .map_or(probs.len(), |i| i + 1);
            probs.truncate(keep);
            let total: f64 = probs.iter().sum();
            probs.iter_mut().for_each(|p| *p /= total);
        }
        let mut r: f64 = self.rng.random();
        for (k, p) in probs.iter().enumerate() {
            if r < *p {
                return cand[k].0 as TokenId;
            }
            r -= p;
        }
        cand[probs.len() - 1].0 as TokenId
    }
}

// The bounds are declared in `settings`; the check stands beside the type it checks.
impl SamplingParams {
    pub fn validate(&self) -> Result<(), SettingError> {
        TEMPERATURE.check_f32(self.temperature)?;
        TOP_P.check_f32(self.top_p)?;
        TOP_K.check_usize(self.top_k)?;
        if let Some(s) = self.scale {
            if s.root > 11 {
                return Err(SettingError(format!("A key's root must be a pitch class from 0 (C) to 11 (B); {} is not.", s.root)));
            }
        }
        Ok(())
    }
}
