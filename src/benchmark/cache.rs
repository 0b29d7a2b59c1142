//! The neural cache (Grave, Joulin, Usunier 2017, "Improving Neural Language Models with a
//! Continuous Cache"): the model's prediction is mixed with a distribution over the tokens that
//! followed earlier moments of the same piece whose hidden state resembles the present one, so a
//! phrase the piece has already played is expected again when the model's state comes back to it
//! (an LSTM's state does not hold a phrase well enough to predict its repeat by itself).
//!
//! ```text
//! p(w | x_≤t) = (1 − λ)·p_model(w | x_≤t) + λ·Σ_{i<t} a_i·[x_{i+1} = w] / Σ_{i<t} a_i,   a_i = exp(θ·cos(h_t, h_i))
//! ```
//!
//! with `h` the top layer's output and both sums over the tokens the frame order allows at `t`
//! (so the mixture is a distribution over what may follow). The weights never change and each
//! token's probability depends only on the tokens before it in its piece: the figures are an exact
//! likelihood of the held-out music under a fixed model, scored as the static evaluation is.
//! θ and λ are chosen on the validation pieces.

use crate::train::evaluate::{by_length, read_back, score, values, Group};
use crate::train::{Evaluation, TrainError};
use crate::encoding::FrameVocab;
use crate::model::LstmLm;
use burn::prelude::*;
use burn::tensor::Transaction;

/// What the model said at every position of every piece: enough to mix in the cache afterwards,
/// for any θ and λ, without running the model again.
pub struct CacheReadings {
    pieces: Vec<PieceReading>,
    vocab_size: usize,
}

struct PieceReading {
    /// The top layer's output at each position, scaled to unit length, `[n, H]` row-major.
    hidden: Vec<f32>,
    width: usize,
    /// The model's NLL of each target (tokens 1.. of the piece).
    nll: Vec<f32>,
    /// The token after each position (the target) …
    targets: Vec<usize>,
    /// … and whether each token may follow at that position (`[n, V]`; all true without the
    /// frame order).
    allowed: Vec<bool>,
}

/// Runs `model` (without autodiff) over `sequences` as [`crate::train::evaluate()`] does (each from a fresh
/// state, in chunks with the state carried over) and keeps each position's hidden state and NLL.
pub async fn read_for_cache(
    model: &LstmLm,
    sequences: &[Vec<u16>],
    chunk: usize,
    batch: usize,
    frame_mask: Option<&FrameVocab>,
    device: &Device,
) -> Result<CacheReadings, TrainError> {
    let mut hidden: Vec<Vec<f32>> = vec![Vec::new(); sequences.len()];
    let mut nll_of: Vec<Vec<f32>> = vec![Vec::new(); sequences.len()];
    let mut width = 0;
    for rows in by_length(sequences).chunks(batch.max(1)) {
        let group = Group::new(model, sequences, rows, frame_mask);
        let mut state = None;
        for (pos, t) in group.spans(chunk) {
            let c = group.chunk(pos, t, device);
            let (logits, h, next) = model.forward_hidden(c.input, state, c.context);
            state = Some(next);
            width = h.dims()[2];
            let (nll, _) = score(logits, c.mask, c.target);
            let [nll, h] = read_back(Transaction::default().register(nll).register(h)).await?;
            group.keep_real(pos, t, &values::<f32>(nll)?, 1, &mut nll_of);
            group.keep_real(pos, t, &values::<f32>(h)?, width, &mut hidden);
        }
    }
    let vocab_size = model.vocab_size();
    if frame_mask.is_some_and(|v| v.size() != vocab_size) {
        return Err(TrainError::Setting(crate::settings::SettingError("The frame vocabulary is not the model's.".into())));
    }
    let pieces = sequences
        .iter()
        .zip(hidden.into_iter().zip(nll_of))
        .map(|(s, (hidden, nll))| {
            let n = nll.len();
            let inputs: Vec<i64> = s.iter().take(n).map(|&x| x as i64).collect();
            let allowed = match frame_mask {
                Some(v) => v.order_mask(&inputs).into_iter().map(|m| m == 0.0).collect(),
                None => vec![true; n * vocab_size],
            };
            // Unit length: the cache compares directions (cosine similarity). Raw dot products
            // (Grave et al.'s form) measured 0.05 nats/frame worse on JSB's validation pieces.
            let mut hidden = hidden;
            for row in hidden.chunks_mut(width.max(1)) {
                let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                row.iter_mut().for_each(|x| *x /= norm);
            }
            PieceReading { hidden, width, nll, targets: s.iter().skip(1).take(n).map(|&x| x as usize).collect(), allowed }
        })
        .collect();
    Ok(CacheReadings { pieces, vocab_size })
}

/// How much of the probability the cache gets at a position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    pub lambda: f64,
    /// `(τ, λ′)`: where some earlier state of the piece is at least τ alike (cosine), the cache
    /// gets λ′ instead: a passage the piece has played before is trusted more than a loose
    /// resemblance. Which λ applies depends only on the states so far, so it is still one fixed
    /// model's distribution.
    pub near: Option<(f32, f64)>,
}

impl Mix {
    /// The same λ everywhere (Grave et al.'s mixture).
    pub fn plain(lambda: f64) -> Self {
        Mix { lambda, near: None }
    }
}

impl CacheReadings {
    /// The cache's own distribution at position `t` of piece `piece` (over the vocabulary; zero
    /// where the frame order forbids a token), or `None` before anything allowed has been heard.
    /// Through the same similarities and weights as [`evaluate`](Self::evaluate) (the whole piece's,
    /// computed per call: for tests and inspection).
    pub fn cache_distribution(&self, piece: usize, t: usize, theta: f32) -> Option<Vec<f64>> {
        let p = &self.pieces[piece];
        let n = p.nll.len();
        let (mass, _) = p.mass(t, &p.gram()[t * n..t * n + t], theta, self.vocab_size);
        let total: f64 = mass.iter().sum();
        (total > 0.0).then(|| mass.into_iter().map(|m| m / total).collect())
    }

    /// Each target's NLL under the model mixed with the cache, for each of `mixes` at this θ
    /// (λ = 0 is the model alone; θ ≥ 0 and λ < 1 are the caller's to check). The hits are left
    /// empty (so `metrics().accuracy` reads 0): the cache changes probabilities, not which token
    /// the model ranks first. Holds one piece's `[n, n]` similarities at a time.
    pub fn evaluate(&self, theta: f32, mixes: &[Mix]) -> Vec<Evaluation> {
        let mut out: Vec<Evaluation> = mixes
            .iter()
            .map(|_| Evaluation { token_nll: vec![Vec::new(); self.pieces.len()], correct: vec![Vec::new(); self.pieces.len()] })
            .collect();
        for (k, p) in self.pieces.iter().enumerate() {
            let gram = p.gram();
            let n = p.nll.len();
            for t in 0..n {
                let (mass, nearest) = p.mass(t, &gram[t * n..t * n + t], theta, self.vocab_size);
                let total: f64 = mass.iter().sum();
                let cache = (total > 0.0).then(|| mass[p.targets[t]] / total);
                let model = (-(p.nll[t] as f64)).exp();
                for (e, mix) in out.iter_mut().zip(mixes) {
                    let lambda = match mix.near {
                        Some((tau, near)) if nearest >= tau => near,
                        _ => mix.lambda,
                    };
                    let nll = match cache {
                        Some(c) if lambda > 0.0 => -((1.0 - lambda) * model + lambda * c).ln(),
                        _ => p.nll[t] as f64,
                    };
                    e.token_nll[k].push(nll as f32);
                }
            }
        }
        out
    }
}

impl PieceReading {
    /// `cos(h_t, h_i)` for every pair of positions, `[n, n]` row-major, as one matrix product.
    fn gram(&self) -> Vec<f32> {
        let (n, w) = (self.nll.len(), self.width);
        let mut gram = vec![0.0f32; n * n];
        if n > 0 && w > 0 {
            // SAFETY: `gram` is n×n, `hidden` n×w (read once as H and once, transposed, as Hᵀ).
            unsafe {
                gemm::gemm(
                    n, n, w, gram.as_mut_ptr(), 1, n as isize, false, self.hidden.as_ptr(), 1, w as isize, self.hidden.as_ptr(), w as isize, 1, 0.0,
                    1.0, false, false, false, gemm::Parallelism::None,
                );
            }
        }
        gram
    }

    /// The cache's unnormalised weight on each token at position `t`: `scores[i] = cos(h_t, h_i)` for the
    /// earlier positions `i < t`, each adding `exp(θ·score)` to the token that followed it, where
    /// the frame order allows that token at `t`; and the highest of those scores (−∞ for none).
    fn mass(&self, t: usize, scores: &[f32], theta: f32, vocab: usize) -> (Vec<f64>, f32) {
        let allowed = &self.allowed[t * vocab..(t + 1) * vocab];
        let top = (0..t).filter(|&i| allowed[self.targets[i]]).map(|i| scores[i]).fold(f32::NEG_INFINITY, f32::max);
        let mut mass = vec![0.0f64; vocab];
        for i in 0..t {
            let w = self.targets[i];
            if allowed[w] {
                mass[w] += ((theta * (scores[i] - top)) as f64).exp();
            }
        }
        (mass, top)
    }
}
