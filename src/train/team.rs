//! Data-parallel training across replicas that share no memory (the page's Web Workers): each
//! step the leader (the [`Trainer`](super::Trainer)) splits its batch into row blocks, keeps the
//! first and hands one to each helper; every replica takes the gradient of its rows on the same
//! weights; the leader adds them weighted by rows (the whole batch's mean loss's gradient) and
//! every replica applies that same flat-Adam update, so the replicas stay identical.
//!
//! The scheme of `--threads` natively, over messages instead of threads: a [`Team`] carries the
//! messages (the page's MessagePorts, or plain calls in tests), a [`Helper`] is one replica. A
//! helper that does not answer is dropped and its rows are computed by the leader, so the step is
//! the same step and nothing is lost.

use super::flat_adam::{flat_grads, flat_weights, set_flat_weights, FlatAdam, FlatAdamConfig};
use super::TrainError;
use crate::model::{LstmLm, ModelConfig};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

/// The leader's messages to a helper.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToHelper {
    /// The model to replicate: its shape, the optimizer's clipping norm, and its weights end to end
    /// in visiting order.
    /// `seed`: this replica's dropout masks (each helper its own).
    Setup { config: ModelConfig, clip_norm: f32, weights: Vec<f32>, seed: u64 },
    /// Rows of step `step`'s batch (`rows × width` token ids) to take the gradient of.
    Rows { step: u64, ids: Vec<u16>, rows: u32, width: u32 },
    /// The step's summed gradient and learning rate: apply the same update.
    Update { lr: f64, grad: Vec<f32> },
}

/// A helper's answer to [`ToHelper::Rows`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FromHelper {
    pub step: u64,
    /// Mean loss of its rows (nats per token).
    pub loss: f64,
    /// The gradient of that mean loss, end to end in visiting order.
    pub grad: Vec<f32>,
}

/// The leader's side of the messages: how it reaches its helpers.
#[allow(async_fn_in_trait)] // used with concrete types only (no Send bound needed in a worker)
pub trait Team {
    /// Helpers still in the team.
    fn helpers(&self) -> usize;
    /// Sends a message to helper `k` (0-based among those still in the team).
    fn send(&mut self, k: usize, message: &ToHelper);
    /// Helper `k`'s answer for `step`; `None` when it is gone (it is then dropped from the team,
    /// and the helpers after it move down one).
    async fn answer(&mut self, k: usize, step: u64) -> Option<FromHelper>;
    /// Drops helper `k` (its answer was not one: another step's, or the wrong size).
    fn drop_helper(&mut self, k: usize);
}

/// One replica: a copy of the model on the CPU and the same optimizer state as the leader's
/// (none until the leader's [`ToHelper::Setup`]).
pub struct Helper {
    replica: Option<(LstmLm, FlatAdam)>,
    device: Device,
}

impl Helper {
    pub fn new(device: &Device) -> Helper {
        Helper { replica: None, device: device.clone() }
    }

    /// Handles one message; answers [`ToHelper::Rows`].
    pub async fn handle(&mut self, message: ToHelper) -> Result<Option<FromHelper>, TrainError> {
        let unset = || TrainError::Hook("a helper was sent work before the model".into());
        match message {
            ToHelper::Setup { config, clip_norm, weights, seed } => {
                config.validate()?;
                let ad = self.device.clone().autodiff();
                ad.seed(seed);
                let model = config.init(&ad);
                let model = set_flat_weights(model, &weights).ok_or_else(|| TrainError::Hook("the helper's weights do not fit the model".into()))?;
                self.replica = Some((model, FlatAdam::new(FlatAdamConfig::new(clip_norm))));
                Ok(None)
            }
            ToHelper::Rows { step, ids, rows, width } => {
                let (model, _) = self.replica.as_ref().ok_or_else(unset)?;
                let ids: Vec<i64> = ids.into_iter().map(i64::from).collect();
                let (loss, grad) = block_gradient(model, &ids, rows as usize, width as usize, &self.device).await?;
                Ok(Some(FromHelper { step, loss, grad }))
            }
            ToHelper::Update { lr, grad } => {
                let (model, optim) = self.replica.as_mut().ok_or_else(unset)?;
                *model = optim.step_flat(lr, model.clone(), &grad).ok_or_else(|| TrainError::Hook("the update does not fit the helper's model".into()))?;
                Ok(None)
            }
        }
    }

    /// The replica's weights end to end (tests compare them with the leader's).
    pub async fn weights(&self) -> Vec<f32> {
        match &self.replica {
            Some((model, _)) => weights(model).await.unwrap_or_default(),
            None => Vec::new(),
        }
    }
}

/// A model's trainable weights end to end in visiting order, on the host.
pub async fn weights(model: &LstmLm) -> Result<Vec<f32>, TrainError> {
    let read = |e| TrainError::Read(format!("{e:?}"));
    flat_weights(model).into_data_async().await.map_err(read)?.try_to_vec::<f32>().map_err(|e| TrainError::Read(format!("{e:?}")))
}

/// The mean loss of `rows × width` token windows and its gradient, end to end in visiting order.
pub async fn block_gradient(model: &LstmLm, ids: &[i64], rows: usize, width: usize, device: &Device) -> Result<(f64, Vec<f32>), TrainError> {
    let ad = device.clone().autodiff();
    let batch = Tensor::<2, Int>::from_data(TensorData::new(ids.to_vec(), [rows, width]), &ad);
    let context = model.window_context(ids, rows, width, &ad);
    let (nll, _) = model.token_nll(batch, None, None, context);
    let loss = nll.mean();
    let grads = GradientsParams::from_grads(loss.backward(), model);
    let read = |e| TrainError::Read(format!("{e:?}"));
    let value = loss.into_scalar_async::<f32>().await.map_err(read)? as f64;
    let grad = match flat_grads(model, grads) {
        Some(g) => g.into_data_async().await.map_err(read)?.try_to_vec::<f32>().map_err(|e| TrainError::Read(format!("{e:?}")))?,
        None => Vec::new(),
    };
    Ok((value, grad))
}

/// Row blocks of a batch of `rows` over `parts` replicas: sizes as even as can be, larger first.
pub fn row_blocks(rows: usize, parts: usize) -> Vec<usize> {
    let parts = parts.clamp(1, rows.max(1));
    (0..parts).map(|k| rows / parts + usize::from(k < rows % parts)).collect()
}
