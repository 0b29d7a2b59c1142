//! The training loop: mini-batches of token windows, Adam with gradient clipping, a warm-up and
//! cosine learning-rate schedule, validation after each epoch, early stopping on validation NLL.
//!
//! Written as `async` with only asynchronous tensor reads, so the same code trains on WebGPU in a
//! browser (where a synchronous read panics) and, through [`block_on`], natively on Flex.

mod batches;
pub(crate) mod evaluate;
mod flat_adam;
pub mod team;

pub use batches::{TokenSource, WindowSampler};
pub use evaluate::{evaluate, Evaluation};

use crate::encoding::FrameVocab;
use crate::model::{LstmLm, ModelConfig, TrainingSummary};
pub use flat_adam::{FlatAdam, FlatAdamConfig};
pub(crate) use flat_adam::{flat_grads, flat_weights, sgd_step};
pub use flat_adam::set_flat_weights;
use burn::tensor::TensorData;
use burn::optim::GradientsParams;
use burn::prelude::*;
use crate::settings::{SettingError, BATCH, CLIP_NORM, EPOCHS, LEARNING_RATE, LOG_EVERY, MIN_STEPS, PATIENCE, SEQ_LEN, STEPS_PER_EPOCH, TIME_LIMIT_S, WARMUP_STEPS};
use serde::{Deserialize, Serialize};
use web_time::Instant;

pub use crate::encoding::corpus::TokenCorpus;

/// Runs a future to completion on this thread (native code and tests; Flex reads are immediate).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    futures_lite::future::block_on(future)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Tokens per training window (truncated back-propagation length).
    pub seq_len: usize,
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Steps of linear warm-up before the cosine decay.
    pub warmup_steps: usize,
    pub max_epochs: usize,
    /// Steps per epoch; `None` = enough windows to cover the training tokens once.
    pub steps_per_epoch: Option<usize>,
    /// Stop after this many epochs without a better validation NLL...
    pub patience: usize,
    /// ...but not before this many steps (see [`learning_minimum`]): a small corpus's epochs are a
    /// few steps each, and three of them are no judge of whether a model has learned. Only models
    /// from this step on compete for best.
    #[serde(default)]
    pub min_steps: usize,
    /// Gradient clipping: the largest global L2 norm of all gradients together.
    pub clip_norm: f32,
    pub seed: u64,
    /// Report training loss every this many steps.
    pub log_every: usize,
    /// Stop when this many seconds have passed (checked between steps).
    pub time_limit_s: Option<f64>,
    /// Piano-roll frames: restrict each frame to ascending pitches (see `FrameVocab::order_mask`).
    #[serde(default)]
    pub frame_mask: Option<FrameVocab>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        use crate::settings as s;
        TrainConfig {
            seq_len: s::SEQ_LEN.default_usize(),
            batch: s::BATCH.default_usize(),
            lr: s::LEARNING_RATE.default,
            warmup_steps: s::WARMUP_STEPS.default_usize(),
            max_epochs: s::EPOCHS.default_usize(),
            steps_per_epoch: None,
            patience: s::PATIENCE.default_usize(),
            min_steps: s::MIN_STEPS.default_usize(),
            clip_norm: s::CLIP_NORM.default as f32,
            seed: 42,
            log_every: s::LOG_EVERY.default_usize(),
            time_limit_s: None,
            frame_mask: None,
        }
    }
}

/// Validation figures (per token).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValidMetrics {
    /// Mean negative log-likelihood per token, in nats.
    pub nll: f64,
    pub perplexity: f64,
    /// Share of tokens where the most likely prediction was right.
    pub accuracy: f64,
    pub tokens: usize,
}

/// What the loop reports to the page or the progress bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub epoch: usize,
    pub step: usize,
    /// Steps planned in all (the loop may stop earlier).
    pub total_steps: usize,
    /// Mean training loss since the last report.
    pub loss: f64,
    pub lr: f64,
    pub tokens_per_s: f64,
    pub elapsed_s: f64,
    pub eta_s: f64,
    /// Set on the report at the end of each epoch (when there are validation files).
    pub valid: Option<ValidMetrics>,
    /// True on the report made at the end of an epoch.
    #[serde(default)]
    pub epoch_end: bool,
    pub best_valid_nll: Option<f64>,
    /// Replicas that shared the last step (the page's CPU workers; 1 otherwise).
    #[serde(default)]
    pub replicas: usize,
    /// With replicas: the mean milliseconds per step spent on this replica's own rows, waiting
    /// for the others' gradients (their compute beyond ours, and the messages), and adding them
    /// and updating; so the scaling to more cores can be predicted.
    #[serde(default)]
    pub step_split_ms: Option<[f64; 3]>,
}

/// The caller's answer to a progress report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Continue,
    Stop,
}

/// What [`Trainer::run_with`] asks its caller between steps and at each epoch's end
/// ([`Trainer::run`] takes a closure that sees only the reports).
#[allow(async_fn_in_trait)] // used with concrete types only, on one thread (the page's worker is single-threaded)
pub trait TrainHooks {
    /// After every step; `report` is set every `log_every` steps. May wait (a pause) before answering.
    async fn between_steps(&mut self, trainer: &Trainer, report: Option<&Progress>) -> Control;
    /// After each epoch's validation (and when the time limit ends training): a snapshot point.
    async fn epoch_end(&mut self, trainer: &Trainer, report: &Progress) -> Result<Control, TrainError>;
    /// One training step: [`Trainer::train_step`], or the page's worker sharing it with its helper
    /// workers ([`Trainer::train_step_team`]).
    async fn step(&mut self, trainer: &mut Trainer) -> Result<f64, TrainError> {
        trainer.train_step().await
    }
}

/// A closure as hooks: called with each report and each epoch's end.
struct Reports<F>(F);

impl<F: FnMut(&Progress) -> Control> TrainHooks for Reports<F> {
    async fn between_steps(&mut self, _: &Trainer, report: Option<&Progress>) -> Control {
        report.map_or(Control::Continue, &mut self.0)
    }
    async fn epoch_end(&mut self, _: &Trainer, report: &Progress) -> Result<Control, TrainError> {
        Ok((self.0)(report))
    }
}

/// Why training ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    Finished,
    EarlyStopped,
    TimeLimit,
    Cancelled,
}

#[derive(Debug)]
pub enum TrainError {
    NoData,
    Read(String),
    /// A setting out of its bounds (see [`crate::settings`]).
    Setting(SettingError),
    /// A hook could not do its part (the page's worker could not save a snapshot).
    Hook(String),
}

impl From<SettingError> for TrainError {
    fn from(e: SettingError) -> Self {
        TrainError::Setting(e)
    }
}

impl std::fmt::Display for TrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainError::NoData => write!(f, "there are no notes to learn from"),
            TrainError::Read(e) => write!(f, "reading a result back from the compute device failed: {e}"),
            TrainError::Setting(e) => write!(f, "{e}"),
            TrainError::Hook(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TrainError {}

/// Holds a model being trained, with its optimizer, data and history. Step it yourself
/// ([`train_step`](Self::train_step), [`end_epoch`](Self::end_epoch)) to pause and resume, or call
/// [`run`](Self::run).
pub struct Trainer {
    pub model: LstmLm,
    pub model_config: ModelConfig,
    pub config: TrainConfig,
    optim: FlatAdam,
    sampler: WindowSampler,
    valid: Vec<Vec<u16>>,
    device: Device,
    pub step: usize,
    pub epoch: usize,
    pub summary: TrainingSummary,
    best: Option<LstmLm>,
    /// The step the kept model is from.
    best_step: Option<usize>,
    bad_epochs: usize,
    elapsed_s: f64,
    window_loss: (f64, usize),
    /// Threads a training step's batch is split over (native only; 1: the whole batch at once).
    threads: usize,
    /// Replicas that shared the last step ([`train_step_team`](Self::train_step_team)).
    replicas: usize,
    /// Shared steps' time: own rows, waiting for the others, summing and updating (ms in all).
    team_ms: [f64; 3],
    team_steps: usize,
}

impl Trainer {
    /// Splits each training step's batch over `threads` threads natively (data parallel: each
    /// thread takes the gradient of its rows on the same weights, the gradients are averaged by
    /// rows, one update follows, so a step is the same step). In the browser one thread.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = if cfg!(target_arch = "wasm32") { 1 } else { threads.clamp(1, self.config.batch.max(1)) };
    }

    /// `device` is the plain device (Flex or WebGPU); autodiff is added here.
    pub fn new(model_config: ModelConfig, config: TrainConfig, corpus: &TokenCorpus, device: &Device) -> Result<Self, TrainError> {
        model_config.validate()?; // before init allocates the weights
        config.validate()?;
        let ad = device.clone().autodiff();
        ad.seed(config.seed);
        let model = model_config.init(&ad);
        Self::with_model(model, model_config, config, corpus, device)
    }

    /// Continues training an existing model (fine-tuning); the model must live on `device`.
    pub fn with_model(model: LstmLm, model_config: ModelConfig, config: TrainConfig, corpus: &TokenCorpus, device: &Device) -> Result<Self, TrainError> {
        model_config.validate()?;
        config.validate()?;
        let frames = config.frame_mask.is_some_and(|v| v.size() == model_config.vocab_size) && corpus.train_heads.is_empty();
        if model_config.frame_context && !frames {
            return Err(TrainError::Setting(SettingError(
                "A model with frame context trains on piano-roll frames only (with the frame order mask).".into(),
            )));
        }
        if corpus.train.iter().chain(&corpus.valid).flatten().any(|&t| t as usize >= model_config.vocab_size) {
            return Err(TrainError::Setting(SettingError(
                "The corpus holds tokens the model's vocabulary does not have.".into(),
            )));
        }
        let sampler = WindowSampler::with_heads(&corpus.train, &corpus.train_heads, corpus.window_anchor, config.seq_len, config.seed)
            .ok_or(TrainError::NoData)?;
        Ok(Self::assemble(model, model_config, config, sampler, corpus.valid.clone(), device))
    }

    /// Training on pieces that stay where they are (a corpus on disk: `cantor train --corpus`):
    /// windows drawn from `source` exactly as [`with_model`](Self::with_model) draws them from the
    /// same pieces in memory (with `transpose` 0; otherwise each window is shifted on the fly);
    /// validation on `valid`. `model`: `None` for a new one.
    pub fn streamed(
        model: Option<LstmLm>,
        model_config: ModelConfig,
        config: TrainConfig,
        source: Box<dyn TokenSource>,
        anchor: Option<u16>,
        transpose: u8,
        valid: Vec<Vec<u16>>,
        device: &Device,
    ) -> Result<Self, TrainError> {
        model_config.validate()?;
        config.validate()?;
        let model = model.unwrap_or_else(|| {
            let ad = device.clone().autodiff();
            ad.seed(config.seed);
            model_config.init(&ad)
        });
        let sampler = WindowSampler::streamed(source, anchor, transpose, config.seq_len, config.seed).ok_or(TrainError::NoData)?;
        Ok(Self::assemble(model, model_config, config, sampler, valid, device))
    }

    fn assemble(model: LstmLm, model_config: ModelConfig, config: TrainConfig, sampler: WindowSampler, valid: Vec<Vec<u16>>, device: &Device) -> Self {
        // A model loaded or copied onto a plain device has no gradient tracking: `train()` moves
        // it onto the autodiff device with its parameters trainable (the converse of `valid()`).
        let model = if model.devices().first().is_some_and(|d| d.is_autodiff()) { model } else { model.train() };
        let optim = FlatAdam::new(FlatAdamConfig::new(config.clip_norm));
        Trainer {
            model,
            model_config,
            optim,
            sampler,
            valid,
            device: device.clone(),
            step: 0,
            epoch: 0,
            summary: TrainingSummary::default(),
            best: None,
            best_step: None,
            bad_epochs: 0,
            elapsed_s: 0.0,
            window_loss: (0.0, 0),
            threads: 1,
            replicas: 1,
            team_ms: [0.0; 3],
            team_steps: 0,
            config,
        }
    }

    pub fn steps_per_epoch(&self) -> usize {
        self.config
            .steps_per_epoch
            .unwrap_or_else(|| self.sampler.tokens().div_ceil(self.config.batch * self.sampler.seq_len()))
            .max(1)
    }

    pub fn total_steps(&self) -> usize {
        self.steps_per_epoch() * self.config.max_epochs
    }

    /// Learning rate at the current step: linear warm-up, then cosine decay to 10 %. With a time
    /// limit the decay also follows the clock, so a run cut by time still ends annealed.
    pub fn lr(&self) -> f64 {
        let c = &self.config;
        let warm = ((self.step + 1) as f64 / c.warmup_steps.max(1) as f64).min(1.0);
        let by_steps = self.step as f64 / self.total_steps().max(1) as f64;
        let by_time = c.time_limit_s.map_or(0.0, |t| self.elapsed_s / t.max(1e-9));
        let progress = by_steps.max(by_time).min(1.0);
        c.lr * warm * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
    }

    /// One optimisation step on a fresh mini-batch; returns its mean loss (nats per token).
    pub async fn train_step(&mut self) -> Result<f64, TrainError> {
        let t0 = Instant::now();
        self.replicas = 1;
        let ad = self.device.clone().autodiff();
        let (batch, ids) = self.sampler.batch(self.config.batch, &ad);
        let mask = self.config.frame_mask.map(|v| {
            let (b, w) = (self.config.batch, self.sampler.seq_len() + 1);
            let inputs: Vec<i64> = ids.chunks(w).flat_map(|r| r[..w - 1].iter().copied()).collect();
            let data = TensorData::new(v.order_mask(&inputs), [b, w - 1, v.size()]);
            Tensor::<3>::from_data(data, &ad)
        });
        let frame_context = self.config.frame_mask.filter(|_| self.model_config.frame_context).map(|v| {
            let (b, t) = (self.config.batch, self.sampler.seq_len());
            let data: Vec<f32> = self.sampler.starts().iter().flat_map(|&s| v.context(self.sampler.stream(), s, t)).collect();
            Tensor::<3>::from_data(TensorData::new(data, [b, t, 2 * v.size()]), &ad)
        });
        let sounding = self.model.window_context(&ids, self.config.batch, self.sampler.seq_len() + 1, &ad);
        let (value, grads) = if self.threads > 1 && mask.is_none() && frame_context.is_none() {
            if self.step == 0 {
                // A new model's parameters draw their initial values when a forward first uses
                // them, in the order it uses them: one row's forward here draws them as a whole
                // batch's would, so a run on several threads starts from the same weights as one.
                let one = sounding.as_ref().map(|c| c.clone().narrow(0, 0, 1));
                let _ = self.model.token_nll(batch.clone().narrow(0, 0, 1), None, None, one);
            }
            parallel_gradients(&self.model, batch, sounding, self.threads)
        } else {
            let context = frame_context.or(sounding);
            let (nll, _) = self.model.token_nll(batch, None, mask, context);
            let loss = nll.mean();
            let grads = GradientsParams::from_grads(loss.backward(), &self.model);
            // The one read per step: back-pressure for the GPU queue and a yield to the event loop.
            let value = loss.into_scalar_async::<f32>().await.map_err(|e| TrainError::Read(format!("{e:?}")))? as f64;
            (value, grads)
        };
        let lr = self.lr();
        self.model = self.optim.step(lr, self.model.clone(), grads);
        self.finish_step(value, t0);
        Ok(value)
    }

    /// [`train_step`](Self::train_step) with the batch's rows shared with `team`'s helpers (see
    /// `team.rs`): the same step, on every replica. Windows with frame masks or context are not
    /// shared (the page's models have neither): the step is then taken here alone.
    pub async fn train_step_team(&mut self, team: &mut impl team::Team) -> Result<f64, TrainError> {
        if team.helpers() == 0 || self.config.frame_mask.is_some() {
            return self.train_step().await;
        }
        let t0 = Instant::now();
        let (b, w) = (self.config.batch, self.sampler.seq_len() + 1);
        let ids = self.sampler.batch_ids(b);
        if self.step == 0 {
            // A new model draws its weights on first use (one row's forward, as the threads do),
            // then the helpers copy them.
            let ad = self.device.clone().autodiff();
            let one = Tensor::<2, Int>::from_data(TensorData::new(ids[..w].to_vec(), [1, w]), &ad);
            let context = self.model.window_context(&ids[..w], 1, w, &ad);
            let _ = self.model.token_nll(one, None, None, context);
            let weights = team::weights(&self.model).await?;
            for k in 0..team.helpers() {
                let seed = self.config.seed ^ (k as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                team.send(k, &team::ToHelper::Setup { config: self.model_config.clone(), clip_norm: self.config.clip_norm, weights: weights.clone(), seed });
            }
        }
        let blocks = team::row_blocks(b, team.helpers() + 1);
        let mut starts = vec![0usize];
        blocks.iter().for_each(|n| starts.push(starts.last().unwrap() + n));
        let block_ids = |k: usize| &ids[starts[k] * w..starts[k + 1] * w];
        let step = self.step as u64;
        for k in 1..blocks.len() {
            let ids = block_ids(k).iter().map(|&t| t as u16).collect();
            team.send(k - 1, &team::ToHelper::Rows { step, ids, rows: blocks[k] as u32, width: w as u32 });
        }
        let mut total: Option<(f64, Vec<f32>)> = None;
        let mut add = |loss: f64, grad: Vec<f32>, rows: usize| {
            let share = rows as f64 / b as f64;
            match &mut total {
                None => total = Some((loss * share, grad.into_iter().map(|g| g * share as f32).collect())),
                Some((l, sum)) => {
                    *l += loss * share;
                    sum.iter_mut().zip(grad).for_each(|(s, g)| *s += g * share as f32);
                }
            }
        };
        let t_own = Instant::now();
        let (loss, grad) = team::block_gradient(&self.model, block_ids(0), blocks[0], w, &self.device).await?;
        let size = grad.len();
        add(loss, grad, blocks[0]);
        let (own_ms, t_wait) = (t_own.elapsed().as_secs_f64() * 1e3, Instant::now());
        // Helpers in the order they were asked; one that is gone leaves its rows to this replica.
        let mut k = 0;
        for block in 1..blocks.len() {
            let answer = match team.answer(k, step).await {
                Some(a) if a.step == step && a.grad.len() == size && a.loss.is_finite() => Some(a),
                Some(_) => {
                    team.drop_helper(k); // not an answer to this step: a broken replica
                    None
                }
                None => None,
            };
            match answer {
                Some(a) => {
                    add(a.loss, a.grad, blocks[block]);
                    k += 1;
                }
                None => {
                    let (loss, grad) = team::block_gradient(&self.model, block_ids(block), blocks[block], w, &self.device).await?;
                    add(loss, grad, blocks[block]);
                }
            }
        }
        let (value, grad) = total.expect("the leader's own block");
        let (wait_ms, t_update) = (t_wait.elapsed().as_secs_f64() * 1e3, Instant::now());
        self.replicas = team.helpers() + 1;
        let lr = self.lr();
        let update = team::ToHelper::Update { lr, grad };
        (0..team.helpers()).for_each(|k| team.send(k, &update));
        let team::ToHelper::Update { grad, .. } = update else { unreachable!() };
        self.model = self.optim.step_flat(lr, self.model.clone(), &grad).expect("the summed gradient has the model's size");
        if self.step > 0 {
            // (The first step waits for the helpers to start: not a step's cost.)
            let ms = [own_ms, wait_ms, t_update.elapsed().as_secs_f64() * 1e3];
            (0..3).for_each(|k| self.team_ms[k] += ms[k]);
            self.team_steps += 1;
        }
        self.finish_step(value, t0);
        Ok(value)
    }

    fn finish_step(&mut self, value: f64, t0: Instant) {
        self.step += 1;
        self.summary.steps = self.step;
        self.summary.tokens += (self.config.batch * self.sampler.seq_len()) as u64;
        self.window_loss.0 += value;
        self.window_loss.1 += 1;
        self.elapsed_s += t0.elapsed().as_secs_f64();
    }

    /// Validation over the held-out files (or `None` when there are none).
    pub async fn validate(&self) -> Result<Option<ValidMetrics>, TrainError> {
        if self.valid.is_empty() {
            return Ok(None);
        }
        let eval = evaluate(&self.model.valid(), &self.valid, self.config.seq_len, self.config.batch, self.config.frame_mask.as_ref(), &self.device).await?;
        Ok(Some(eval.metrics()))
    }

    /// A progress report of the training loss since the last report (for callers that step the
    /// trainer themselves).
    pub fn report(&mut self) -> Progress {
        self.progress(None)
    }

    fn progress(&mut self, valid: Option<ValidMetrics>) -> Progress {
        let (sum, n) = std::mem::take(&mut self.window_loss);
        let loss = if n > 0 { sum / n as f64 } else { f64::NAN };
        if n > 0 {
            self.summary.train_curve.push((self.step, loss));
        }
        let per_step = self.elapsed_s / self.step.max(1) as f64;
        let total = self.total_steps();
        Progress {
            epoch: self.epoch,
            step: self.step,
            total_steps: total,
            loss,
            lr: self.lr(),
            tokens_per_s: (self.config.batch * self.sampler.seq_len()) as f64 / per_step.max(1e-9),
            elapsed_s: self.elapsed_s,
            eta_s: per_step * total.saturating_sub(self.step) as f64,
            valid,
            epoch_end: false,
            best_valid_nll: self.summary.best_valid_nll,
            replicas: self.replicas,
            step_split_ms: (self.team_steps > 0).then(|| self.team_ms.map(|t| t / self.team_steps as f64)),
        }
    }

    /// Validates, keeps the best model so far, and says whether early stopping triggers.
    pub async fn end_epoch(&mut self) -> Result<(Progress, bool), TrainError> {
        self.epoch += 1;
        self.summary.epochs = self.epoch;
        let valid = self.validate().await?;
        let mut stop = false;
        if let Some(v) = valid {
            self.summary.valid_curve.push((self.step, v.nll));
            // Only a model that has trained the minimum competes for best: on a small corpus the
            // held-out NLL is lowest early, in a model whose clips are still mostly silence
            // (BENCHMARKS.md, "Texture"), and best-by-NLL would keep that one.
            if self.step < self.config.min_steps {
                // Not judged yet: until the minimum the model kept is the latest, with its figure.
                self.summary.best_valid_nll = Some(v.nll);
            } else if self.best.is_none() || self.summary.best_valid_nll.is_none_or(|b| v.nll < b) {
                self.summary.best_valid_nll = Some(v.nll);
                self.best = Some(self.model.valid());
                self.best_step = Some(self.step);
                self.bad_epochs = 0;
            } else {
                self.bad_epochs += 1;
                stop = self.bad_epochs >= self.config.patience; // past the minimum: the first branch holds the rest
            }
        }
        let mut report = self.progress(valid);
        report.epoch_end = true;
        Ok((report, stop))
    }

    /// [`run_with`](Self::run_with) a closure that is called with each report and can stop training.
    pub async fn run(&mut self, on_progress: impl FnMut(&Progress) -> Control) -> Result<StopReason, TrainError> {
        self.run_with(Reports(on_progress)).await
    }

    /// Trains until the epochs run out, early stopping, the time limit, or a hook says stop. The
    /// one training loop: the CLI passes a closure (called with each report), the page's worker
    /// hooks that pause, snapshot and yield to its event loop (as burn-train injects its interrupter).
    pub async fn run_with(&mut self, mut hooks: impl TrainHooks) -> Result<StopReason, TrainError> {
        let per_epoch = self.steps_per_epoch();
        let log_every = self.config.log_every.max(1);
        while self.epoch < self.config.max_epochs {
            for i in 0..per_epoch {
                hooks.step(self).await?;
                if self.config.time_limit_s.is_some_and(|t| self.elapsed_s >= t) {
                    let (p, _) = self.end_epoch().await?;
                    hooks.epoch_end(self, &p).await?;
                    return Ok(StopReason::TimeLimit);
                }
                let report = ((i + 1) % log_every == 0 && i + 1 < per_epoch).then(|| self.progress(None));
                if hooks.between_steps(self, report.as_ref()).await == Control::Stop {
                    return Ok(StopReason::Cancelled);
                }
            }
            let (p, early) = self.end_epoch().await?;
            if hooks.epoch_end(self, &p).await? == Control::Stop {
                return Ok(StopReason::Cancelled);
            }
            if early {
                return Ok(StopReason::EarlyStopped);
            }
        }
        Ok(StopReason::Finished)
    }

    /// Seconds spent in training steps so far.
    pub fn elapsed_s(&self) -> f64 {
        self.elapsed_s
    }

    /// Why training ended and which model is kept, in a sentence for the page and the command line.
    pub fn stop_sentence(&self, reason: StopReason) -> String {
        let kept = match (self.best_step, self.summary.best_valid_nll) {
            (Some(b), Some(nll)) if b == self.step => format!("the model as it ended is kept (held-out NLL {nll:.3} nats per token, its best)"),
            (Some(b), Some(nll)) => format!("the model from step {b} is kept, the best on the held-out music ({nll:.3} nats per token)"),
            _ if !self.summary.valid_curve.is_empty() => format!(
                "the model as it ended is kept (it had not trained this corpus's minimum of {} steps, the least before models are compared)",
                self.config.min_steps
            ),
            _ => "the model as it ended is kept (nothing was held out to judge it by)".to_string(),
        };
        let at = format!("step {} of {}", self.step, self.total_steps());
        match reason {
            StopReason::Finished => format!("Finished every epoch ({at}); {kept}."),
            StopReason::EarlyStopped => format!(
                "Stopped early because the held-out NLL had not improved for {} epochs, past this corpus's minimum of {} steps ({at}); {kept}. To train on, continue from this model.",
                self.config.patience, self.config.min_steps
            ),
            StopReason::TimeLimit => format!("Stopped at the time limit ({at}); {kept}. To train on, continue from this model."),
            StopReason::Cancelled => format!("Stopped when asked ({at}); {kept}."),
        }
    }

    /// The model with the best validation NLL among those that trained the minimum (the current
    /// one if nothing was validated, or before the minimum), without autodiff, ready for
    /// generation or saving.
    pub fn best_model(&self) -> LstmLm {
        self.best.clone().unwrap_or_else(|| self.model.valid())
    }
}

/// Steps a model trains before early stopping may end it, in proportion to the corpus: eight passes
/// over its training windows (transpositions included), at least 400 steps and at most 4,000.
/// Measured on real corpora of 2 and 3 files (BENCHMARKS.md): stopping after three epochs of a few
/// steps each kept models whose clips were silent 46–83 % of the time.
pub fn learning_minimum(corpus: &TokenCorpus, batch: usize, seq_len: usize) -> usize {
    const PASSES: usize = 8;
    let epoch = corpus.train_tokens().div_ceil((batch * seq_len).max(1));
    (epoch * PASSES).clamp(400, 4000)
}

// The bounds are declared in `settings`; the check stands beside the type it checks.
impl TrainConfig {
    pub fn validate(&self) -> Result<(), SettingError> {
        SEQ_LEN.check_usize(self.seq_len)?;
        BATCH.check_usize(self.batch)?;
        LEARNING_RATE.check(self.lr)?;
        WARMUP_STEPS.check_usize(self.warmup_steps)?;
        EPOCHS.check_usize(self.max_epochs)?;
        if let Some(s) = self.steps_per_epoch {
            STEPS_PER_EPOCH.check_usize(s)?;
        }
        PATIENCE.check_usize(self.patience)?;
        MIN_STEPS.check_usize(self.min_steps)?;
        CLIP_NORM.check_f32(self.clip_norm)?;
        LOG_EVERY.check_usize(self.log_every)?;
        if let Some(t) = self.time_limit_s {
            TIME_LIMIT_S.check(t)?;
        }
        if let Some(v) = &self.frame_mask {
            v.validate()?;
        }
        Ok(())
    }
}

/// The loss and gradient of `batch` computed in `threads` row blocks at once (native Flex): each
/// thread runs the forward and backward of its rows on the same weights; the block gradients are
/// added with weights rows/batch, which is the whole batch's mean loss's gradient.
#[cfg(not(target_arch = "wasm32"))]
fn parallel_gradients(model: &LstmLm, batch: Tensor<2, Int>, context: Option<Tensor<3>>, threads: usize) -> (f64, GradientsParams) {
    use burn::module::{ModuleMapper, ModuleVisitor, Param};
    /// The same weights as new autodiff leaves: burn's autodiff merges the graphs of computations
    /// that share leaves and runs a merged graph under one lock, so threads sharing the model's
    /// leaves would take turns.
    struct Fresh;
    impl ModuleMapper for Fresh {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| t.detach().require_grad())
        }
    }
    let rows = batch.dims()[0];
    let blocks = batch.chunk(threads, 0);
    // The context (a model that reads what is sounding) split as the rows are.
    let contexts: Vec<Option<Tensor<3>>> = match context {
        Some(c) => c.chunk(threads, 0).into_iter().map(Some).collect(),
        None => vec![None; blocks.len()],
    };
    let results: Vec<(f64, usize, GradientsParams)> = std::thread::scope(|s| {
        let handles: Vec<_> = blocks
            .into_iter()
            .zip(contexts)
            .map(|(block, context)| {
                let model = model.clone().map(&mut Fresh);
                s.spawn(move || {
                    let n = block.dims()[0];
                    let (nll, _) = model.token_nll(block, None, None, context);
                    let loss = nll.mean();
                    let grads = GradientsParams::from_grads(loss.backward(), &model);
                    (loss.into_scalar::<f32>() as f64, n, grads)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a training thread panicked")).collect()
    });
    /// Adds each block's gradient of each parameter, weighted by its share of the rows.
    struct Sum<'a> {
        blocks: &'a mut [(f64, usize, GradientsParams)],
        rows: usize,
        out: GradientsParams,
    }
    impl ModuleVisitor for Sum<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let mut total: Option<Tensor<D>> = None;
            for (_, n, grads) in self.blocks.iter_mut() {
                if let Some(g) = grads.remove::<D>(param.id) {
                    let g = g.mul_scalar(*n as f32 / self.rows as f32);
                    total = Some(match total {
                        Some(t) => t + g,
                        None => g,
                    });
                }
            }
            if let Some(t) = total {
                self.out.register(param.id, t);
            }
        }
    }
    let mut results = results;
    let loss = results.iter().map(|(l, n, _)| l * *n as f64).sum::<f64>() / rows as f64;
    let mut sum = Sum { blocks: &mut results, rows, out: GradientsParams::new() };
    model.visit(&mut sum);
    (loss, sum.out)
}

#[cfg(target_arch = "wasm32")]
fn parallel_gradients(_model: &LstmLm, _batch: Tensor<2, Int>, _context: Option<Tensor<3>>, _threads: usize) -> (f64, GradientsParams) {
    unreachable!("one thread in the browser (set_threads)")
}

