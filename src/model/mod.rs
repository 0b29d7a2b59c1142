//! The language model: token embedding → N LSTM layers → linear layer to the vocabulary.
//!
//! Two interchangeable LSTM cells: [`FusedLstm`] (ours: the input projection for all steps is one
//! matmul, then one `h·W` matmul per step) and burn's [`Lstm`](burn::nn::Lstm) (eight small matmuls
//! per step). BENCHMARKS.md compares them; a test checks that they agree numerically.

mod file;
mod fused_lstm;
mod transfer;

pub use file::{ModelFile, ModelFileError, TrainingSummary};
pub use fused_lstm::FusedLstm;
pub use transfer::copy_to_device;

use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig, Lstm, LstmConfig, LstmState};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

/// Which LSTM implementation the layers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CellKind {
    /// Input projection hoisted out of the time loop, one matmul per step (default: faster).
    #[default]
    Fused,
    /// burn's `nn::Lstm`.
    Burn,
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
}

impl ModelConfig {
    pub fn new(vocab_size: usize) -> Self {
        ModelConfig { vocab_size, embed: 128, hidden: 256, layers: 2, dropout: 0.1, cell: CellKind::Fused }
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
            output: LinearConfig::new(self.hidden, self.vocab_size).init(device),
        }
    }

    /// Number of trainable parameters, without building the model.
    pub fn param_count(&self) -> usize {
        let mut n = self.vocab_size * self.embed + self.hidden * self.vocab_size + self.vocab_size;
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

#[derive(Module, Debug)]
pub struct LstmLm {
    embedding: Embedding,
    /// The layers, when the model uses [`CellKind::Fused`].
    fused: Vec<FusedLstm>,
    /// The layers, when the model uses [`CellKind::Burn`].
    reference: Vec<Lstm>,
    dropout: Dropout,
    output: Linear,
}

impl LstmLm {
    /// `tokens` `[B, T]` → logits `[B, T, V]` and the state after the last step.
    pub fn forward(&self, tokens: Tensor<2, Int>, state: Option<State>) -> (Tensor<3>, State) {
        let n_layers = self.fused.len() + self.reference.len();
        let mut states = state.map(|s| s.0.into_iter().map(Some).collect::<Vec<_>>()).unwrap_or_else(|| vec![None; n_layers]);
        let mut out_states = Vec::with_capacity(n_layers);
        let x = if self.fused.is_empty() {
            let mut x = self.embedding.forward(tokens);
            for (l, cell) in self.reference.iter().enumerate() {
                let init = states[l].take().map(|(h, c)| LstmState::new(c, h));
                let (y, st) = cell.forward(x, init);
                out_states.push((st.hidden, st.cell));
                x = self.dropout.forward(y);
            }
            x
        } else {
            // Per-step tensors all the way through (see `FusedLstm::forward_steps`): embedding
            // lookups per step slice only the integer tokens, which carry no gradient.
            let [b, t] = tokens.dims();
            let mut xs: Vec<Tensor<2>> = (0..t)
                .map(|k| {
                    let e = self.embedding.forward(tokens.clone().narrow(1, k, 1));
                    let [_, _, d] = e.dims();
                    e.reshape([b, d])
                })
                .collect();
            for (l, cell) in self.fused.iter().enumerate() {
                let (ys, st) = cell.forward_steps(xs, states[l].take());
                out_states.push(st);
                xs = ys.into_iter().map(|y| self.dropout.forward(y)).collect();
            }
            Tensor::stack(xs, 1)
        };
        (self.output.forward(x), State(out_states))
    }

    /// Natural-log likelihood of each target token: `tokens` `[B, T+1]` → `[B, T]` of
    /// `-log p(tokens[:, t+1] | tokens[:, ..=t])`.
    /// `mask`, if given, is added to the logits first (`[B, T, V]`, 0 or a large negative number).
    pub fn token_nll(&self, tokens: Tensor<2, Int>, state: Option<State>, mask: Option<Tensor<3>>) -> (Tensor<2>, State) {
        let [b, t1] = tokens.dims();
        let input = tokens.clone().narrow(1, 0, t1 - 1);
        let target = tokens.narrow(1, 1, t1 - 1);
        let (mut logits, state) = self.forward(input, state);
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
