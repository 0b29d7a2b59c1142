//! The Boulanger-Lewandowski polyphonic benchmarks (JSB Chorales, Nottingham): piano-roll pieces,
//! frame tokens, test NLL in nats per frame averaged over all test frames, and the per-key
//! baselines that check the metric.

mod cache;
mod dynamic;

pub use cache::{read_for_cache, CacheReadings, Mix};
pub use dynamic::{evaluate_dynamic, gradient_rms, DynamicConfig};

use crate::encoding::corpus::TokenCorpus;
use crate::encoding::{FrameVocab, TokenId};
use crate::train::{evaluate, Evaluation, TrainError};
use crate::model::LstmLm;
use burn::prelude::Device;
use serde::Deserialize;

/// A piece: time steps, each the set of sounding MIDI pitches.
pub type Piece = Vec<Vec<u8>>;

#[derive(Debug, Clone, Deserialize)]
pub struct PianoRollDataset {
    pub train: Vec<Piece>,
    pub valid: Vec<Piece>,
    pub test: Vec<Piece>,
}

impl PianoRollDataset {
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub fn frames(pieces: &[Piece]) -> usize {
        pieces.iter().map(Vec::len).sum()
    }
}

/// A piano-roll piece as notes: a pitch held over consecutive frames is one note; `beats_per_frame`
/// is 1 for JSB (quarter notes) and 0.5 for Nottingham (eighths); tempo 120 bpm, velocity 80.
pub fn piece_notes(piece: &Piece, beats_per_frame: f64) -> Vec<crate::midi::Note> {
    let note = |pitch: u8, from: usize, to: usize| {
        let (start, duration) = (from as f64 * beats_per_frame, (to - from) as f64 * beats_per_frame);
        crate::midi::Note { pitch, velocity: 80, start, duration, start_s: start * 0.5, duration_s: duration * 0.5, channel: 0, program: 0, drum: false, track: 0 }
    };
    let mut notes = Vec::new();
    let mut open: Vec<(u8, usize)> = Vec::new();
    for (i, frame) in piece.iter().enumerate() {
        open.retain(|&(p, from)| {
            let held = frame.contains(&p);
            if !held {
                notes.push(note(p, from, i));
            }
            held
        });
        for &p in frame {
            if !open.iter().any(|o| o.0 == p) {
                open.push((p, i));
            }
        }
    }
    notes.extend(open.into_iter().map(|(p, from)| note(p, from, piece.len())));
    notes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.pitch.cmp(&b.pitch)));
    notes
}

/// Frame tokens for the three splits; training pieces are shifted by each of `shifts` semitones
/// (0 = as written; shifts that leave the vocabulary's range are skipped for that piece).
pub fn frame_corpus(data: &PianoRollDataset, vocab: &FrameVocab, shifts: &[i32]) -> (TokenCorpus, Vec<Vec<TokenId>>) {
    let encode = |p: &Piece| vocab.encode(p).ok();
    let mut train = Vec::new();
    for piece in &data.train {
        for &shift in shifts {
            let shifted: Option<Piece> = piece
                .iter()
                .map(|f| f.iter().map(|&p| u8::try_from(p as i32 + shift).ok()).collect())
                .collect();
            if let Some(tokens) = shifted.as_ref().and_then(encode) {
                train.push(tokens);
            }
        }
    }
    let valid: Vec<_> = data.valid.iter().filter_map(encode).collect();
    let test: Vec<_> = data.test.iter().filter_map(encode).collect();
    let corpus = TokenCorpus {
        train,
        valid,
        train_files: (0..data.train.len()).collect(),
        valid_files: (0..data.valid.len()).collect(),
        ..TokenCorpus::default()
    };
    (corpus, test)
}

/// Sums token NLLs into frame NLLs: each frame's tokens end with FRAME_END.
pub fn frame_nll(tokens: &[TokenId], token_nll: &[f32], vocab: &FrameVocab) -> Vec<f64> {
    let mut frames = Vec::new();
    let mut acc = 0.0;
    for (&t, &nll) in tokens.iter().skip(1).zip(token_nll) {
        acc += nll as f64;
        if t == vocab.frame_end() {
            frames.push(acc);
            acc = 0.0;
        }
    }
    frames
}

/// Test NLL in nats per frame (Boulanger-Lewandowski: the mean over all frames of all pieces).
pub struct FrameScore {
    pub nll_per_frame: f64,
    pub frames: usize,
    pub nll_per_token: f64,
}

pub fn score(eval: &Evaluation, sequences: &[Vec<TokenId>], vocab: &FrameVocab) -> FrameScore {
    let frames: Vec<f64> = sequences
        .iter()
        .zip(&eval.token_nll)
        .flat_map(|(s, n)| frame_nll(s, n, vocab))
        .collect();
    FrameScore {
        nll_per_frame: frames.iter().sum::<f64>() / frames.len().max(1) as f64,
        frames: frames.len(),
        nll_per_token: eval.metrics().nll,
    }
}

/// `masked`: the model was trained with the ascending-frame mask (`TrainConfig::frame_mask`).
pub async fn test_nll(model: &LstmLm, test: &[Vec<TokenId>], vocab: &FrameVocab, masked: bool, device: &Device) -> Result<FrameScore, TrainError> {
    let eval = evaluate(model, test, 256, 16, masked.then_some(vocab), device).await?;
    Ok(score(&eval, test, vocab))
}

/// Keys of the 88-key piano roll.
const KEYS: std::ops::RangeInclusive<u8> = 21..=108;

fn bernoulli_nll(p: f64, on: bool) -> f64 {
    -(if on { p } else { 1.0 - p }).ln()
}

/// Per-key marginal baseline: each key on with its training frequency (add-one smoothing).
pub fn marginal_baseline(data: &PianoRollDataset) -> f64 {
    let n = PianoRollDataset::frames(&data.train) as f64;
    let p: Vec<f64> = KEYS
        .map(|k| (data.train.iter().flatten().filter(|f| f.contains(&k)).count() as f64 + 1.0) / (n + 2.0))
        .collect();
    let frames: Vec<&Vec<u8>> = data.test.iter().flatten().collect();
    let total: f64 = frames
        .iter()
        .map(|f| KEYS.zip(&p).map(|(k, &pk)| bernoulli_nll(pk, f.contains(&k))).sum::<f64>())
        .sum();
    total / frames.len() as f64
}

/// Per-key first-order Markov baseline: each key's state given its own state in the previous
/// frame (off before the first frame), add-one smoothing.
pub fn markov_baseline(data: &PianoRollDataset) -> f64 {
    let nk = KEYS.count();
    // counts[key][prev][now]
    let mut counts = vec![[[1.0f64; 2]; 2]; nk];
    let walk = |piece: &Piece, f: &mut dyn FnMut(usize, usize, usize)| {
        let mut prev = vec![0usize; nk];
        for frame in piece {
            for (i, k) in KEYS.enumerate() {
                let now = frame.contains(&k) as usize;
                f(i, prev[i], now);
                prev[i] = now;
            }
        }
    };
    for piece in &data.train {
        walk(piece, &mut |i, a, b| counts[i][a][b] += 1.0);
    }
    let (mut total, mut frames) = (0.0, 0usize);
    for piece in &data.test {
        frames += piece.len();
        walk(piece, &mut |i, a, b| {
            let c = counts[i][a];
            total += -(c[b] / (c[0] + c[1])).ln();
        });
    }
    total / frames as f64
}
