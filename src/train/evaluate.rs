//! Exact held-out likelihood: every sequence is run from its START token with a fresh state, in
//! chunks of `chunk` tokens with the state carried over, several sequences per batch (padding is
//! masked out). Returns each target token's NLL so callers can sum per frame or per file.

use super::{TrainError, ValidMetrics};
use crate::encoding::sounding::{self, sounding_context};
use crate::encoding::{BarVocab, FrameVocab};
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
    let mut out = Evaluation::for_sequences(sequences);
    for rows in by_length(sequences).chunks(batch.max(1)) {
        let group = Group::new(model, sequences, rows, frame_mask);
        let mut state = None;
        for (pos, t) in group.spans(chunk) {
            let c = group.chunk(pos, t, device);
            let (logits, next) = model.forward_with(c.input, state, c.context);
            state = Some(next);
            let (nll, hit) = score(logits, c.mask, c.target);
            group.record(&mut out, pos, t, nll, hit).await?;
        }
    }
    Ok(out)
}

/// The sequences that have a token to score (two or more tokens), shortest first, so a batch of
/// them side by side wastes little on padding.
pub(crate) fn by_length(sequences: &[Vec<u16>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sequences.len()).filter(|&i| sequences[i].len() >= 2).collect();
    order.sort_by_key(|&i| sequences[i].len());
    order
}

/// Reads the `N` tensors registered in `transaction` back (asynchronously, in one transaction) as
/// host data, in registration order.
pub(crate) async fn read_back<const N: usize>(transaction: Transaction) -> Result<[TensorData; N], TrainError> {
    let data = transaction.execute_async().await.map_err(|e| TrainError::Read(format!("{e:?}")))?;
    data.try_into().map_err(|_| TrainError::Read("transaction size".into()))
}

/// One read-back tensor's values as `E`.
pub(crate) fn values<E: burn::tensor::Element>(data: TensorData) -> Result<Vec<E>, TrainError> {
    data.convert::<E>().try_to_vec::<E>().map_err(|e| TrainError::Read(format!("{e:?}")))
}

impl Evaluation {
    /// Room for the figures of `sequences`, none scored yet.
    pub(crate) fn for_sequences(sequences: &[Vec<u16>]) -> Self {
        Evaluation {
            token_nll: sequences.iter().map(|s| Vec::with_capacity(s.len().saturating_sub(1))).collect(),
            correct: sequences.iter().map(|s| Vec::with_capacity(s.len().saturating_sub(1))).collect(),
        }
    }
}

/// Some sequences read side by side, chunk by chunk, each from its START token (a shorter one is
/// padded with 0 past its end; padding is never scored).
pub(crate) struct Group<'a> {
    sequences: &'a [Vec<u16>],
    rows: &'a [usize],
    frame_mask: Option<&'a FrameVocab>,
    /// The rows as the frame context or the sounding features read them, once per group (not
    /// per chunk), for a model with either.
    context: Context<'a>,
    pub max_len: usize,
}

/// What a [`Group`]'s chunks carry besides their tokens.
enum Context<'a> {
    None,
    Frames(&'a FrameVocab, Vec<Vec<i64>>),
    /// The model's bar layout and the rows; each chunk reads its rows from their start.
    Sounding(BarVocab, Vec<Vec<i64>>),
}

/// One chunk of a [`Group`] as the model takes it.
pub(crate) struct Chunk {
    pub input: Tensor<2, Int>,
    pub target: Tensor<2, Int>,
    pub context: Option<Tensor<3>>,
    /// The frame order mask for the chunk's logits.
    pub mask: Option<Tensor<3>>,
    /// 1 where the target is a real token, 0 where it is padding (`[b * t]`, row-major).
    pub real: Vec<f32>,
}

impl<'a> Group<'a> {
    pub fn new(model: &LstmLm, sequences: &'a [Vec<u16>], rows: &'a [usize], frame_mask: Option<&'a FrameVocab>) -> Self {
        let streams = || rows.iter().map(|&i| sequences[i].iter().map(|&x| x as i64).collect()).collect();
        let context = match frame_mask.filter(|v| model.context_width() == 2 * v.size()) {
            Some(v) => Context::Frames(v, streams()),
            None => match model.sounding_layout() {
                Some(v) => Context::Sounding(v.clone(), streams()),
                None => Context::None,
            },
        };
        let max_len = rows.iter().map(|&i| sequences[i].len()).max().unwrap_or(0);
        Group { sequences, rows, frame_mask, context, max_len }
    }

    /// Tokens `pos..pos + t` as inputs and the `t` tokens after each as targets.
    pub fn chunk(&self, pos: usize, t: usize, device: &Device) -> Chunk {
        let b = self.rows.len();
        let mut data = Vec::with_capacity(b * (t + 1));
        let mut real = Vec::with_capacity(b * t);
        for &i in self.rows {
            let s = &self.sequences[i];
            data.extend((pos..pos + t + 1).map(|k| s.get(k).copied().unwrap_or(0) as i64));
            real.extend((0..t).map(|k| if pos + k + 1 < s.len() { 1.0f32 } else { 0.0 }));
        }
        let mask = self.frame_mask.map(|v| {
            let inputs: Vec<i64> = data.chunks(t + 1).flat_map(|r| r[..t].iter().copied()).collect();
            Tensor::<3>::from_data(TensorData::new(v.order_mask(&inputs), [b, t, v.size()]), device)
        });
        let context = match &self.context {
            Context::Frames(v, streams) => {
                let data: Vec<f32> = streams.iter().flat_map(|s| v.context(s, pos, t)).collect();
                Some(Tensor::<3>::from_data(TensorData::new(data, [b, t, 2 * v.size()]), device))
            }
            Context::Sounding(v, streams) => {
                let data: Vec<f32> = streams.iter().flat_map(|s| sounding_context(v, s, pos, t)).collect();
                Some(Tensor::<3>::from_data(TensorData::new(data, [b, t, sounding::WIDTH]), device))
            }
            Context::None => None,
        };
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(data, [b, t + 1]), device);
        Chunk { input: tokens.clone().narrow(1, 0, t), target: tokens.narrow(1, 1, t), context, mask, real }
    }

    /// Where each chunk of at most `chunk` tokens starts and how many tokens it scores, until every
    /// row has been read to its end.
    pub fn spans(&self, chunk: usize) -> impl Iterator<Item = (usize, usize)> + use<> {
        let (chunk, end) = (chunk.max(1), self.max_len.saturating_sub(1));
        (0..end).step_by(chunk).map(move |pos| (pos, chunk.min(end - pos)))
    }

    /// Reads a chunk's figures back (asynchronously) into `out`, leaving out the padding.
    pub async fn record(&self, out: &mut Evaluation, pos: usize, t: usize, nll: Tensor<2>, hit: Tensor<2, Bool>) -> Result<(), TrainError> {
        let [nll, hit] = read_back(Transaction::default().register(nll).register(hit.int())).await?;
        self.keep_real(pos, t, &values::<f32>(nll)?, 1, &mut out.token_nll);
        let hits: Vec<bool> = values::<i64>(hit)?.into_iter().map(|h| h != 0).collect();
        self.keep_real(pos, t, &hits, 1, &mut out.correct);
        Ok(())
    }

    /// Appends a chunk's `width` values per position (`[b, t, width]` row-major) to each row's
    /// sequence in `out`, leaving out the padding past its end.
    pub fn keep_real<T: Copy>(&self, pos: usize, t: usize, chunk: &[T], width: usize, out: &mut [Vec<T>]) {
        for (row, &i) in self.rows.iter().enumerate() {
            let real = t.min(self.sequences[i].len().saturating_sub(pos + 1));
            out[i].extend_from_slice(&chunk[row * t * width..(row * t + real) * width]);
        }
    }
}

/// Each target's NLL `[b, t]` under `logits` (the frame mask added first) and whether it was the
/// most likely token.
pub(crate) fn score(logits: Tensor<3>, mask: Option<Tensor<3>>, target: Tensor<2, Int>) -> (Tensor<2>, Tensor<2, Bool>) {
    let [b, t, _] = logits.dims();
    let logits = match mask {
        Some(m) => logits + m,
        None => logits,
    };
    let logp = log_softmax(logits, 2);
    let best = logp.clone().detach().argmax(2).reshape([b, t]);
    let nll = logp.gather(2, target.clone().reshape([b, t, 1])).reshape([b, t]).neg();
    (nll, best.equal(target))
}
