//! Dynamic evaluation (Krause et al. 2018, "Dynamic Evaluation of Neural Sequence Models"): the
//! held-out music is read in order, each chunk is scored first and then the model takes one
//! gradient step on that chunk (plain SGD, or Krause's RMS-normalised step with a decay back to the
//! trained weights), so what follows (the rest of the piece, a repeated phrase, the next pieces)
//! is predicted by a model that has adapted to what it has already heard. It is still an exact
//! sequential likelihood: no token is scored by weights that have trained on it. The benchmark
//! reports it beside the static figure, never instead of it.

use crate::train::evaluate::{score, Group};
use crate::train::{flat_grads, flat_weights, sgd_step, Evaluation, TrainError};
use crate::encoding::FrameVocab;
use crate::model::LstmLm;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::TensorData;

/// How the model adapts while it reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DynamicConfig {
    /// SGD step size per chunk (0 = static evaluation, the same figures as [`crate::train::evaluate()`]).
    pub lr: f64,
    /// Tokens scored between updates.
    pub chunk: usize,
    /// Sequences read side by side (each update then averages over them).
    pub batch: usize,
    /// The largest global L2 norm of a chunk's gradient.
    pub clip_norm: f32,
    /// After each update the weights move this share of the way back to the trained ones.
    pub decay: f64,
    /// Start every group of sequences from the trained weights (adapt within a piece only).
    pub per_piece: bool,
}

/// Each weight's root-mean-square gradient over `chunks` chunks of `training` music (`chunk`
/// tokens each, from the start of pieces spread over the set), for the RMS-normalised update of
/// [`evaluate_dynamic`]: the steps then follow how sensitive each weight is, as in Krause et al.
pub async fn gradient_rms(model: &LstmLm, training: &[Vec<u16>], chunk: usize, chunks: usize, frame_mask: Option<&FrameVocab>, device: &Device) -> Result<Option<Tensor<1>>, TrainError> {
    let ad = device.clone().autodiff();
    let model = model.clone().without_dropout().train();
    let mut sum: Option<Tensor<1>> = None;
    let mut n = 0;
    // Pieces spread over the whole training set (a transposed corpus lists each piece's keys together).
    let long: Vec<&Vec<u16>> = training.iter().filter(|p| p.len() > chunk).collect();
    let every = (long.len() / chunks.max(1)).max(1);
    for piece in long.into_iter().step_by(every).take(chunks) {
        let one = std::slice::from_ref(piece);
        let c = Group::new(&model, one, &[0], frame_mask).chunk(0, chunk, &ad);
        let (logits, _) = model.forward_with(c.input, None, c.context);
        let (nll, _) = score(logits, c.mask, c.target);
        let grads = GradientsParams::from_grads(nll.mean().backward(), &model);
        let Some(g) = flat_grads(&model, grads) else { return Ok(None) };
        sum = Some(match sum {
            Some(s) => s + g.square(),
            None => g.square(),
        });
        n += 1;
    }
    Ok(sum.map(|s| s.div_scalar(n as f32).sqrt()))
}

/// Scores `sequences` with `model` (a plain-device model, left unchanged) while adapting a copy
/// of it; `frame_mask` as in [`crate::train::evaluate()`]. Sequences are read in the order given, `batch`
/// at a time, from their START token with a fresh state carried across chunks. With `rms` (from
/// [`gradient_rms`]) each weight's step is divided by its typical gradient.
pub async fn evaluate_dynamic(
    model: &LstmLm,
    sequences: &[Vec<u16>],
    config: DynamicConfig,
    frame_mask: Option<&FrameVocab>,
    rms: Option<&Tensor<1>>,
    device: &Device,
) -> Result<Evaluation, TrainError> {
    let ad = device.clone().autodiff();
    // Adaptation sees the music as it is: no dropout.
    let trained = model.clone().without_dropout().train();
    let mut model = trained.clone();
    let start = (config.decay > 0.0).then(|| flat_weights(&model));
    let order: Vec<usize> = (0..sequences.len()).filter(|&i| sequences[i].len() >= 2).collect();
    let mut out = Evaluation::for_sequences(sequences);
    for rows in order.chunks(config.batch.max(1)) {
        if config.per_piece {
            model = trained.clone();
        }
        let group = Group::new(&model, sequences, rows, frame_mask);
        let mut state = None;
        for (pos, t) in group.spans(config.chunk) {
            let c = group.chunk(pos, t, &ad);
            let (logits, next) = model.forward_with(c.input, state, c.context);
            state = Some(next.detach());
            let (nll, hit) = score(logits, c.mask, c.target);
            // Scored first (these figures come from the weights before this chunk's update) …
            group.record(&mut out, pos, t, nll.clone().detach(), hit).await?;
            // … then learnt from: the mean NLL of the chunk's real tokens (padding has no say).
            if config.lr > 0.0 {
                let count = c.real.iter().sum::<f32>().max(1.0);
                let weight = Tensor::<2>::from_data(TensorData::new(c.real, [rows.len(), t]), &ad);
                let loss = (nll * weight).sum().div_scalar(count);
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = sgd_step(config.lr, config.clip_norm, model, grads, start.as_ref().map(|s| (s, config.decay)), rms);
            }
        }
    }
    Ok(out)
}
