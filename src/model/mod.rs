//! The language model: token embedding → N LSTM layers → linear layer to the vocabulary.
//!
//! Two interchangeable LSTM cells: [`FusedLstm`] (ours: the input projection for all steps is one
//! matmul, then one `h·W` matmul per step) and burn's [`Lstm`](burn::nn::Lstm) (eight small matmuls
//! per step). BENCHMARKS.md compares them; a test checks that they agree numerically.

mod file;
mod fused_lstm;
pub mod int8;
pub mod lstm_seq;
mod transfer;

pub use file::{ModelFile, ModelFileError, TrainingSummary, WeightsFormat};
pub use fused_lstm::FusedLstm;
pub use lstm_seq::lstm_sequence;
pub use transfer::copy_to_device;

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig, Lstm, LstmConfig, LstmState};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use burn::tensor::TensorData;
use crate::encoding::{sounding, BarVocab};
use crate::settings::{SettingError, DROPOUT, EMBED, HIDDEN, LAYERS, MAX_PARAMETERS, VOCAB_SIZE, WEIGHT_DROPOUT};
use serde::{Deserialize, Serialize};

/// The rank of the map from the sounding features to the logits.
pub const SOUNDING_RANK: usize = 64;

/// Which LSTM implementation the layers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CellKind {
    /// Input projection hoisted out of the time loop, one matmul per step (default: faster).
    #[default]
    Fused,
    /// burn's `nn::Lstm`.
    Burn,
}

/// How the fused layers run their time loop. A runtime choice, not part of the model: the same
/// weights give the same function either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Recurrence {
    /// The faster of the two where measured (see [`lstm_seq::sequence_is_faster`]).
    #[default]
    Auto,
    /// Per-step tensor operations under burn's autodiff ([`FusedLstm::forward_steps`]).
    Steps,
    /// The [`lstm_seq`] operation with its own backward, on any backend.
    Sequence,
}

/// Model shape. Saved in every model file so a model can be rebuilt before its weights load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub vocab_size: usize,
    pub embed: usize,
    pub hidden: usize,
    pub layers: usize,
    /// Dropout between layers (training only).
    pub dropout: f64,
    #[serde(default)]
    pub cell: CellKind,
    /// AWD-LSTM regularisers (off in models saved before they existed).
    #[serde(default)]
    pub awd: AwdOptions,
    /// Piano-roll frames: each token also sees the previous frame's pitches and the current
    /// frame's so far (see [`FrameVocab::context`](crate::encoding::FrameVocab::context)), in its
    /// input and, through a learned map, in its output logits (a held note can be copied).
    #[serde(default)]
    pub frame_context: bool,
    /// Bar tokens: each token also sees what is sounding after it and what the bar before played
    /// ([`sounding`](crate::encoding::sounding)), in its input and, through a learned map, in its
    /// output logits. Holds the vocabulary's layout the features are read with (absent in models
    /// saved before it, which do not read them).
    #[serde(default)]
    pub sounding: Option<BarVocab>,
}

/// What AWD-LSTM (Merity et al. 2017) found helps word-level LSTMs, as options.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct AwdOptions {
    /// Variational ("locked") dropout: one mask per sequence and layer, the same at every time
    /// step, instead of a fresh mask per step (`dropout` is its probability).
    #[serde(default)]
    pub variational: bool,
    /// DropConnect on the recurrent weights `W_hh`: one mask per forward pass.
    #[serde(default)]
    pub weight_dropout: f64,
    /// The output layer reuses the embedding matrix (through a projection hidden → embed).
    #[serde(default)]
    pub tied: bool,
}

impl ModelConfig {
    pub fn new(vocab_size: usize) -> Self {
        ModelConfig {
            vocab_size,
            embed: EMBED.default_usize(),
            hidden: HIDDEN.default_usize(),
            layers: LAYERS.default_usize(),
            dropout: DROPOUT.default,
            cell: CellKind::Fused,
            awd: AwdOptions::default(),
            frame_context: false,
            sounding: None,
        }
    }

    pub fn init(&self, device: &Device) -> LstmLm {
        let mut fused = Vec::new();
        let mut reference = Vec::new();
        for l in 0..self.layers {
            let d_in = if l == 0 { self.embed } else { self.hidden };
            match self.cell {
                CellKind::Fused => fused.push(FusedLstm::new(d_in, self.hidden, device)),
                CellKind::Burn => reference.push(burn_lstm(d_in, self.hidden, device)),
            }
        }
        LstmLm {
            embedding: EmbeddingConfig::new(self.vocab_size, self.embed).init(device),
            fused,
            reference,
            dropout: DropoutConfig::new(self.dropout).init(),
            weight_dropout: DropoutConfig::new(self.awd.weight_dropout).init(),
            variational: self.awd.variational,
            output: (!self.awd.tied).then(|| LinearConfig::new(self.hidden, self.vocab_size).init(device)),
            project: self.awd.tied.then(|| LinearConfig::new(self.hidden, self.embed).with_bias(false).init(device)),
            output_bias: self.awd.tied.then(|| Param::from_tensor(Tensor::zeros([self.vocab_size], device))),
            recurrence: Recurrence::Auto,
            context_in: (self.context_width() > 0).then(|| LinearConfig::new(self.context_width(), self.embed).with_bias(false).init(device)),
            context_out: (self.context_width() > 0).then(|| LinearConfig::new(self.context_width(), self.context_out_width()).with_bias(false).init(device)),
            context_up: self.sounding.is_some().then(|| LinearConfig::new(SOUNDING_RANK, self.vocab_size).with_bias(false).init(device)),
            sounding: self.sounding.clone(),
        }
    }

    /// Features per token of [`frame_context`](Self::frame_context) (two multi-hot rows over the
    /// vocabulary) or of [`sounding`](Self::sounding) (its two rows); 0 without either.
    pub fn context_width(&self) -> usize {
        if self.frame_context {
            2 * self.vocab_size
        } else if self.sounding.is_some() {
            sounding::WIDTH
        } else {
            0
        }
    }

    /// What the context's map to the logits gives: the logits themselves (frame context), or
    /// [`SOUNDING_RANK`] values that a second map takes to the logits (sounding features: a
    /// low-rank map, a fifth of the full one's work per token; the full map made a step ~25 %
    /// slower).
    fn context_out_width(&self) -> usize {
        if self.frame_context { self.vocab_size } else { SOUNDING_RANK }
    }

    /// Number of trainable parameters, without building the model.
    pub fn param_count(&self) -> usize {
        let output = if self.awd.tied { self.hidden * self.embed } else { self.hidden * self.vocab_size };
        let mut n = self.vocab_size * self.embed + output + self.vocab_size + self.context_width() * (self.embed + self.context_out_width())
            + if self.sounding.is_some() { SOUNDING_RANK * self.vocab_size } else { 0 };
        for l in 0..self.layers {
            let d_in = if l == 0 { self.embed } else { self.hidden };
            n += 4 * self.hidden * (d_in + self.hidden + 1);
            if self.cell == CellKind::Burn {
                n += 4 * self.hidden; // burn keeps a second bias per gate
            }
        }
        n
    }
}

/// burn's LSTM with the forget-gate bias set to 1 (remember by default at the start of training).
fn burn_lstm(d_in: usize, hidden: usize, device: &Device) -> Lstm {
    let mut lstm = LstmConfig::new(d_in, hidden, true).init(device);
    if let Some(gate) = lstm.forget_gate.as_mut() {
        gate.input_transform.bias = Some(burn::module::Param::from_tensor(Tensor::ones([hidden], device)));
        gate.hidden_transform.bias = Some(burn::module::Param::from_tensor(Tensor::zeros([hidden], device)));
    }
    lstm
}

/// Recurrent state of every layer: `(hidden, cell)`, each `[batch, hidden]`.
#[derive(Clone, Debug)]
pub struct State(pub Vec<(Tensor<2>, Tensor<2>)>);

impl State {
    pub fn detach(self) -> State {
        State(self.0.into_iter().map(|(h, c)| (h.detach(), c.detach())).collect())
    }
}

/// Variational dropout over per-step tensors: one mask for all time steps (a no-op outside
/// training, like burn's `Dropout`).
pub fn locked_dropout(dropout: &Dropout, xs: Vec<Tensor<2>>) -> Vec<Tensor<2>> {
    let Some(first) = xs.first() else { return xs };
    if !first.device().is_autodiff() {
        return xs;
    }
    let mask = dropout.forward(first.ones_like());
    xs.into_iter().map(|x| x * mask.clone()).collect()
}

#[derive(Module, Debug)]
pub struct LstmLm {
    embedding: Embedding,
    /// The layers, when the model uses [`CellKind::Fused`].
    fused: Vec<FusedLstm>,
    /// The layers, when the model uses [`CellKind::Burn`].
    reference: Vec<Lstm>,
    dropout: Dropout,
    /// DropConnect on each fused layer's `W_hh` (probability 0 = off).
    weight_dropout: Dropout,
    /// Dropout masks are per sequence, not per step.
    #[module(skip)]
    variational: bool,
    #[module(skip)]
    recurrence: Recurrence,
    /// hidden → vocabulary, when the output is not tied to the embedding.
    output: Option<Linear>,
    /// hidden → embed, then the embedding matrix transposed, when tied.
    project: Option<Linear>,
    output_bias: Option<Param<Tensor<1>>>,
    /// Frame context or sounding features → embedding space, added to each token's embedding.
    context_in: Option<Linear>,
    /// Frame context → logits; sounding features → [`SOUNDING_RANK`] values.
    context_out: Option<Linear>,
    /// Those values → logits (sounding features only).
    context_up: Option<Linear>,
    /// The bar layout the sounding features are read with, for a model that reads them.
    #[module(skip)]
    sounding: Option<BarVocab>,
}

impl LstmLm {
    /// `tokens` `[B, T]` → logits `[B, T, V]` and the state after the last step.
    pub fn forward(&self, tokens: Tensor<2, Int>, state: Option<State>) -> (Tensor<3>, State) {
        self.forward_with(tokens, state, None)
    }

    /// How many tokens the model predicts over.
    pub fn vocab_size(&self) -> usize {
        self.embedding.weight.dims()[0]
    }

    /// The width of the frame context features the model takes (`[B, T, width]` in
    /// [`forward_with`](Self::forward_with)); 0 for a model without them.
    pub fn context_width(&self) -> usize {
        self.context_in.as_ref().map_or(0, |l| l.weight.dims()[0])
    }

    /// The sounding features of `rows` windows of `width` token ids each (row-major), for each
    /// window's first `width − 1` tokens (the inputs of [`token_nll`](Self::token_nll)), read from
    /// the window alone; `None` for a model that does not read them.
    pub fn window_context(&self, ids: &[i64], rows: usize, width: usize, device: &Device) -> Option<Tensor<3>> {
        let vocab = self.sounding.as_ref()?;
        let t = width.saturating_sub(1);
        let data: Vec<f32> = ids.chunks(width.max(1)).take(rows).flat_map(|row| sounding::sounding_context(vocab, &row[..t.min(row.len())], 0, t)).collect();
        Some(Tensor::<3>::from_data(TensorData::new(data, [rows, t, sounding::WIDTH]), device))
    }

    /// The bar layout the model reads [`sounding`](crate::encoding::sounding) features with;
    /// `None` for a model that does not read them.
    pub fn sounding_layout(&self) -> Option<&BarVocab> {
        self.sounding.as_ref()
    }

    /// A tracker of what is sounding, for feeding tokens one by one (generation); `None` for a
    /// model that does not read it.
    pub fn sounding_tracker(&self) -> Option<sounding::Sounding> {
        self.sounding.as_ref().map(sounding::Sounding::new)
    }

    /// Token embeddings `[B, T, E]`, with the frame context added where the model has it.
    fn embed(&self, tokens: Tensor<2, Int>, context: Option<&Tensor<3>>) -> Tensor<3> {
        let e = self.embedding.forward(tokens);
        match (&self.context_in, context) {
            (Some(project), Some(c)) => e + project.forward(c.clone()),
            _ => e,
        }
    }

    /// [`forward`](Self::forward) with the frame context features of each token, for a model
    /// with [`ModelConfig::frame_context`] (ignored without it).
    pub fn forward_with(&self, tokens: Tensor<2, Int>, state: Option<State>, context: Option<Tensor<3>>) -> (Tensor<3>, State) {
        let (logits, _, state) = self.forward_hidden(tokens, state, context);
        (logits, state)
    }

    /// [`forward_with`](Self::forward_with) that also gives the top layer's output `[B, T, H]`
    /// (what the output layer reads; the neural cache compares these).
    pub fn forward_hidden(&self, tokens: Tensor<2, Int>, state: Option<State>, context: Option<Tensor<3>>) -> (Tensor<3>, Tensor<3>, State) {
        let n_layers = self.fused.len() + self.reference.len();
        let mut states = state.map(|s| s.0.into_iter().map(Some).collect::<Vec<_>>()).unwrap_or_else(|| vec![None; n_layers]);
        let mut out_states = Vec::with_capacity(n_layers);
        let x = if self.fused.is_empty() {
            let mut x = self.embed(tokens, context.as_ref());
            for (l, cell) in self.reference.iter().enumerate() {
                let init = states[l].take().map(|(h, c)| LstmState::new(c, h));
                let (y, st) = cell.forward(x, init);
                out_states.push((st.hidden, st.cell));
                x = self.dropout.forward(y);
            }
            x
        } else if self.uses_sequence_op(&tokens.device()) {
            // Time-major `[T, B, ·]` through the layers: each layer is one input matmul and one
            // sequence operation (one kernel each way on a GPU).
            let train = tokens.device().is_autodiff();
            let mut x = self.embed(tokens, context.as_ref()).swap_dims(0, 1);
            if self.variational {
                x = self.locked_dropout_seq(x);
            }
            for (l, cell) in self.fused.iter().enumerate() {
                let (y, st) = cell.forward_sequence(x, states[l].take(), train.then_some(&self.weight_dropout));
                out_states.push(st);
                x = if self.variational { self.locked_dropout_seq(y) } else { self.dropout.forward(y) };
            }
            x.swap_dims(0, 1)
        } else {
            // Per-step tensors all the way through (see `FusedLstm::forward_steps`): embedding
            // lookups per step slice only the integer tokens, which carry no gradient.
            let [b, t] = tokens.dims();
            let mut xs: Vec<Tensor<2>> = (0..t)
                .map(|k| {
                    let step = context.as_ref().map(|c| c.clone().narrow(1, k, 1));
                    let e = self.embed(tokens.clone().narrow(1, k, 1), step.as_ref());
                    let [_, _, d] = e.dims();
                    e.reshape([b, d])
                })
                .collect();
            let train = tokens.device().is_autodiff();
            if self.variational {
                xs = self.locked_dropout(xs);
            }
            for (l, cell) in self.fused.iter().enumerate() {
                let (ys, st) = cell.forward_steps_with(xs, states[l].take(), train.then_some(&self.weight_dropout));
                out_states.push(st);
                xs = if self.variational { self.locked_dropout(ys) } else { ys.into_iter().map(|y| self.dropout.forward(y)).collect() };
            }
            Tensor::stack(xs, 1)
        };
        let logits = match (&self.context_out, &self.context_up, context) {
            (Some(copy), None, Some(c)) => self.logits(x.clone()) + copy.forward(c),
            (Some(down), Some(up), Some(c)) => self.logits(x.clone()) + up.forward(down.forward(c)),
            _ => self.logits(x.clone()),
        };
        (logits, x, State(out_states))
    }

    fn locked_dropout(&self, xs: Vec<Tensor<2>>) -> Vec<Tensor<2>> {
        locked_dropout(&self.dropout, xs)
    }

    /// Locked dropout on a time-major `[T, B, D]` tensor: one `[1, B, D]` mask for all steps.
    fn locked_dropout_seq(&self, x: Tensor<3>) -> Tensor<3> {
        if !x.device().is_autodiff() {
            return x;
        }
        let [_, b, d] = x.dims();
        let mask = self.dropout.forward(Tensor::<3>::ones([1, b, d], &x.device()));
        x * mask
    }

    /// The same model with every dropout off (for adapting it while scoring: dynamic evaluation).
    pub fn without_dropout(self) -> Self {
        LstmLm { dropout: DropoutConfig::new(0.0).init(), weight_dropout: DropoutConfig::new(0.0).init(), ..self }
    }

    /// Chooses how the fused layers run their time loop (see [`Recurrence`]).
    pub fn with_recurrence(self, recurrence: Recurrence) -> Self {
        LstmLm { recurrence, ..self }
    }

    /// Whether a forward on `device` uses the [`lstm_seq`] operation.
    pub fn uses_sequence_op(&self, device: &Device) -> bool {
        let fits = self.fused.iter().all(|c| c.hidden() <= lstm_seq::MAX_HIDDEN);
        match self.recurrence {
            Recurrence::Auto => fits && lstm_seq::sequence_is_faster(device),
            Recurrence::Steps => false,
            Recurrence::Sequence => fits,
        }
    }

    /// `[B, T, H]` → `[B, T, V]`, through the output layer or the tied embedding.
    fn logits(&self, x: Tensor<3>) -> Tensor<3> {
        if let Some(output) = &self.output {
            return output.forward(x);
        }
        let (project, bias) = (self.project.as_ref().expect("a tied model has a projection"), self.output_bias.as_ref().expect("and a bias"));
        let [b, t, _] = x.dims();
        let e = project.forward(x);
        let d = e.dims()[2];
        let weights = self.embedding.weight.val(); // [V, E]
        let v = weights.dims()[0];
        let logits = e.reshape([b * t, d]).matmul(weights.transpose()) + bias.val().unsqueeze::<2>();
        logits.reshape([b, t, v])
    }

    /// Natural-log likelihood of each target token: `tokens` `[B, T+1]` → `[B, T]` of
    /// `-log p(tokens[:, t+1] | tokens[:, ..=t])`.
    /// `mask`, if given, is added to the logits first (`[B, T, V]`, 0 or a large negative number).
    /// `context`: the frame context of the `T` input tokens (see [`forward_with`](Self::forward_with)).
    pub fn token_nll(&self, tokens: Tensor<2, Int>, state: Option<State>, mask: Option<Tensor<3>>, context: Option<Tensor<3>>) -> (Tensor<2>, State) {
        let [b, t1] = tokens.dims();
        let input = tokens.clone().narrow(1, 0, t1 - 1);
        let target = tokens.narrow(1, 1, t1 - 1);
        let (mut logits, state) = self.forward_with(input, state, context);
        if let Some(m) = mask {
            logits = logits + m;
        }
        let logp = log_softmax(logits, 2);
        let picked = logp.gather(2, target.reshape([b, t1 - 1, 1]));
        (picked.reshape([b, t1 - 1]).neg(), state)
    }

    /// Copies burn-`Lstm` layers into fused layers with the same function (for the agreement test
    /// and for loading reference models into the fast path).
    pub fn to_fused(self) -> LstmLm {
        if self.reference.is_empty() {
            return self;
        }
        let fused = self.reference.iter().map(FusedLstm::from_burn).collect();
        LstmLm { fused, reference: Vec::new(), ..self }
    }
}

// The bounds are declared in `settings`; the check stands beside the type it checks.
impl ModelConfig {
    /// The shape is one this build can build and train; checked before anything is allocated.
    pub fn validate(&self) -> Result<(), SettingError> {
        VOCAB_SIZE.check_usize(self.vocab_size)?;
        EMBED.check_usize(self.embed)?;
        HIDDEN.check_usize(self.hidden)?;
        LAYERS.check_usize(self.layers)?;
        DROPOUT.check(self.dropout)?;
        WEIGHT_DROPOUT.check(self.awd.weight_dropout)?;
        if let Some(layout) = &self.sounding {
            layout.validate()?;
            if layout.size() != self.vocab_size || self.frame_context {
                return Err(SettingError("The model's description of its bar tokens does not match its vocabulary.".into()));
            }
        }
        let params = self.param_count();
        if params > MAX_PARAMETERS {
            return Err(SettingError(format!(
                "A model of {:.1} M parameters is larger than Cantor can train here (at most {} M); choose fewer layers or a smaller hidden size.",
                params as f64 / 1e6,
                MAX_PARAMETERS / 1_000_000
            )));
        }
        Ok(())
    }
}
