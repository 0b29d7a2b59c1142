//! Exact held-out likelihood: every sequence is run from its START token with a fresh state, in
//! chunks of `chunk` tokens with the state carried over, several sequences per batch (padding is
//! masked out). Returns each target token's NLL so callers can sum per frame or per file.

use super::{TrainError, ValidMetrics};
use crate::encoding::FrameVocab;
use crate::model::LstmLm;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Transaction, TensorData};

#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    /// For each sequence, the NLL (nats) of tokens 1.. given the tokens before.
    pub token_nll: Vec<Vec<f32>>,
    /// For each sequence, whether the most likely prediction was the actual token.
    pub correct: Vec<Vec<bool>>,
}

impl Evaluation {
    pub fn metrics(&self) -> ValidMetrics {
        let tokens: usize = self.token_nll.iter().map(Vec::len).sum();
        let nll: f64 = self.token_nll.iter().flatten().map(|&x| x as f64).sum::<f64>() / tokens.max(1) as f64;
        let correct = self.correct.iter().flatten().filter(|&&c| c).count();
        ValidMetrics { nll, perplexity: nll.exp(), accuracy: correct as f64 / tokens.max(1) as f64, tokens }
    }
}

/// Evaluates `model` (without autodiff) on `sequences`.
/// `frame_mask`: score piano-roll frames with the ascending-order mask the model was trained with.
pub async fn evaluate(
    model: &LstmLm,
    sequences: &[Vec<u16>],
    chunk: usize,
    batch: usize,
    frame_mask: Option<&FrameVocab>,
    device: &Device,
) -> Result<Evaluation, TrainError> {
    let mut order: Vec<usize> = (0..sequences.len()).filter(|&i| sequences[i].len() >= 2).collect();
    order.sort_by_key(|&i| sequences[i].len());
    let mut out = Evaluation {
        token_nll: sequences.iter().map(|s| Vec::with_capacity(s.len().saturating_sub(1))).collect(),
        correct: sequences.iter().map(|s| Vec::with_capacity(s.len().saturating_sub(1))).collect(),
    };
    let chunk = chunk.max(1);
    for group in order.chunks(batch.max(1)) {
        let b = group.len();
        let max_len = group.iter().map(|&i| sequences[i].len()).max().unwrap_or(0);
        // The group's sequences as the frame context reads them, once per group (not per chunk).
        let context_of = frame_mask.filter(|v| model.context_width() == 2 * v.size()).map(|v| {
            let streams: Vec<Vec<i64>> = group.iter().map(|&i| sequences[i].iter().map(|&x| x as i64).collect()).collect();
            (v, streams)
        });
        let mut state = None;
        let mut pos = 0;
        while pos + 1 < max_len {
            let t = chunk.min(max_len - 1 - pos);
            let mut data = Vec::with_capacity(b * (t + 1));
            for &i in group {
                let s = &sequences[i];
                data.extend((pos..pos + t + 1).map(|k| s.get(k).copied().unwrap_or(0) as i64));
            }
            let tokens = Tensor::<2, Int>::from_data(TensorData::new(data.clone(), [b, t + 1]), device);
            let input = tokens.clone().narrow(1, 0, t);
            let target = tokens.narrow(1, 1, t);
            let context = context_of.as_ref().map(|(v, streams)| {
                let data: Vec<f32> = streams.iter().flat_map(|s| v.context(s, pos, t)).collect();
                Tensor::<3>::from_data(TensorData::new(data, [b, t, 2 * v.size()]), device)
            });
            let (mut logits, next) = model.forward_with(input, state, context);
            state = Some(next);
            if let Some(v) = frame_mask {
                let inputs: Vec<i64> = data.chunks(t + 1).flat_map(|r| r[..t].iter().copied()).collect();
                logits = logits + Tensor::<3>::from_data(TensorData::new(v.order_mask(&inputs), [b, t, v.size()]), device);
            }
            let logp = log_softmax(logits, 2);
            let best = logp.clone().argmax(2).reshape([b, t]);
            let nll = logp.gather(2, target.clone().reshape([b, t, 1])).reshape([b, t]).neg();
            let hit = best.equal(target);
            let [nll, hit] = Transaction::default()
                .register(nll)
                .register(hit.int())
                .execute_async()
                .await
                .map_err(|e| TrainError::Read(format!("{e:?}")))?
                .try_into()
                .map_err(|_| TrainError::Read("transaction size".into()))?;
            let nll: Vec<f32> = nll.convert::<f32>().try_to_vec::<f32>().map_err(|e| TrainError::Read(format!("{e:?}")))?;
            let hit: Vec<i64> = hit.convert::<i64>().try_to_vec::<i64>().map_err(|e| TrainError::Read(format!("{e:?}")))?;
            for (row, &i) in group.iter().enumerate() {
                let len = sequences[i].len();
                for k in 0..t {
                    if pos + k + 1 < len {
                        out.token_nll[i].push(nll[row * t + k]);
                        out.correct[i].push(hit[row * t + k] != 0);
                    }
                }
            }
            pos += t;
        }
    }
    Ok(out)
}
