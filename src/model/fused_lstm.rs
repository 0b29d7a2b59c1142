//! An LSTM layer with far fewer kernels per step than burn's `nn::Lstm`: the input projection of
//! all time steps is one matmul before the loop, and each step is one `h·W_hh` matmul plus
//! element-wise gates (which burn's fusion merges on the GPU).

use burn::module::Param;
use burn::nn::{Dropout, Initializer, Lstm};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use super::lstm_seq::lstm_sequence;

#[derive(Module, Debug)]
pub struct FusedLstm {
    /// `[d_in, 4H]`, gate order input, forget, cell, output.
    w_ih: Param<Tensor<2>>,
    /// `[H, 4H]`.
    w_hh: Param<Tensor<2>>,
    /// `[4H]`; the forget-gate quarter starts at 1.
    bias: Param<Tensor<1>>,
}

impl FusedLstm {
    pub fn new(d_in: usize, hidden: usize, device: &Device) -> Self {
        let init = Initializer::XavierNormal { gain: 1.0 };
        let w_ih = init.init_with([d_in, 4 * hidden], Some(d_in), Some(hidden), device);
        let w_hh = init.init_with([hidden, 4 * hidden], Some(hidden), Some(hidden), device);
        let bias = Tensor::cat(
            vec![
                Tensor::zeros([hidden], device),
                Tensor::ones([hidden], device),
                Tensor::zeros([2 * hidden], device),
            ],
            0,
        );
        FusedLstm { w_ih, w_hh, bias: Param::from_tensor(bias) }
    }

    /// The hidden size, read without initialising the weights (see [`weights`](Self::weights)).
    pub fn hidden(&self) -> usize {
        self.w_hh.lazy_shape().dims::<2>()[0]
    }

    /// `x` `[B, T, d_in]` → outputs `[B, T, H]` and the final `(h, c)`.
    pub fn forward(&self, x: Tensor<3>, state: Option<(Tensor<2>, Tensor<2>)>) -> (Tensor<3>, (Tensor<2>, Tensor<2>)) {
        let [b, t, d_in] = x.dims();
        let steps = x.chunk(t, 1).into_iter().map(|s| s.reshape([b, d_in])).collect();
        let (hs, state) = self.forward_steps(steps, state);
        (Tensor::stack(hs, 1), state)
    }

    /// A layer from its weights: `w_ih` `[d_in, 4H]`, `w_hh` `[H, 4H]`, `bias` `[4H]`.
    pub fn from_weights(w_ih: Tensor<2>, w_hh: Tensor<2>, bias: Tensor<1>) -> Self {
        FusedLstm { w_ih: Param::from_tensor(w_ih), w_hh: Param::from_tensor(w_hh), bias: Param::from_tensor(bias) }
    }

    /// The input weights `[d_in, 4H]`.
    pub fn w_ih(&self) -> Tensor<2> {
        self.w_ih.val()
    }

    /// The recurrent weights `[H, 4H]` (for weight dropout).
    pub fn w_hh(&self) -> Tensor<2> {
        self.w_hh.val()
    }

    pub fn bias(&self) -> Tensor<1> {
        self.bias.val()
    }

    pub fn forward_steps(&self, xs: Vec<Tensor<2>>, state: Option<(Tensor<2>, Tensor<2>)>) -> (Vec<Tensor<2>>, (Tensor<2>, Tensor<2>)) {
        self.forward_steps_with(xs, state, None)
    }

    /// The weights, always read in this order: burn initialises a parameter on its first read,
    /// from the device's seeded generator, so the order decides a new model's weights (this one
    /// keeps the weights earlier versions drew for a seed).
    fn weights(&self, weight_dropout: Option<&Dropout>) -> (Tensor<2>, Tensor<2>, Tensor<1>) {
        let w_hh = self.w_hh.val();
        let w_ih = self.w_ih.val();
        let w_hh = match weight_dropout {
            Some(d) => d.forward(w_hh),
            None => w_hh,
        };
        (w_ih, w_hh, self.bias.val())
    }

    /// One `[B, d_in]` input per time step → one `[B, H]` output per step; `weight_dropout`, in
    /// training, drops out the recurrent weights (one mask for the whole sequence).
    ///
    /// Steps are kept as separate tensors between layers on purpose: burn's backward of a slice
    /// writes a zero tensor as large as the tensor sliced, so cutting a `[B, T, ·]` tensor into
    /// T steps costs O(T²) memory traffic, more than the matmuls at T = 128.
    pub fn forward_steps_with(&self, xs: Vec<Tensor<2>>, state: Option<(Tensor<2>, Tensor<2>)>, weight_dropout: Option<&Dropout>) -> (Vec<Tensor<2>>, (Tensor<2>, Tensor<2>)) {
        let hidden = self.hidden();
        let Some(first) = xs.first() else {
            panic!("an LSTM needs at least one time step");
        };
        let [b, _] = first.dims();
        let device = first.device();
        let (mut h, mut c) =
            state.unwrap_or_else(|| (Tensor::zeros([b, hidden], &device), Tensor::zeros([b, hidden], &device)));
        let (w_ih, w_hh, bias) = self.weights(weight_dropout);
        let bias = bias.unsqueeze::<2>();
        let mut outputs = Vec::with_capacity(xs.len());
        for x in xs {
            let gates = x.matmul(w_ih.clone()) + h.matmul(w_hh.clone()) + bias.clone();
            let mut g = gates.chunk(4, 1).into_iter();
            let (i, f, cand, o) = (g.next().unwrap(), g.next().unwrap(), g.next().unwrap(), g.next().unwrap());
            c = sigmoid(f) * c + sigmoid(i) * cand.tanh();
            h = sigmoid(o) * c.clone().tanh();
            outputs.push(h.clone());
        }
        (outputs, (h, c))
    }

    /// Time-major `x` `[T, B, d_in]` → outputs `[T, B, H]` and the final `(h, c)`, through the
    /// sequence operation: one matmul for the input projection of every step, then the whole
    /// recurrence in one [`lstm_sequence`] call.
    pub fn forward_sequence(&self, x: Tensor<3>, state: Option<(Tensor<2>, Tensor<2>)>, weight_dropout: Option<&Dropout>) -> (Tensor<3>, (Tensor<2>, Tensor<2>)) {
        let [t, b, d_in] = x.dims();
        let hidden = self.hidden();
        let device = x.device();
        let (w_ih, w_hh, bias) = self.weights(weight_dropout);
        let gx = x.reshape([t * b, d_in]).matmul(w_ih) + bias.unsqueeze::<2>();
        let state0 = match state {
            Some((h, c)) => Tensor::cat(vec![h, c], 1),
            None => Tensor::zeros([b, 2 * hidden], &device),
        };
        let y = lstm_sequence(gx.reshape([t, b, 4 * hidden]), w_hh, state0);
        let last = y.clone().narrow(0, t - 1, 1).reshape([b, 2 * hidden]);
        let state = (last.clone().narrow(1, 0, hidden), last.narrow(1, hidden, hidden));
        (y.narrow(2, 0, hidden), state)
    }

    /// The same function as a burn `Lstm` (default activations, with biases): weights of the
    /// four gates side by side, the two biases of each gate summed.
    pub fn from_burn(lstm: &Lstm) -> Self {
        let forget = lstm.forget_gate.as_ref().expect("coupled LSTMs are not used");
        let gates = [&lstm.input_gate, forget, &lstm.cell_gate, &lstm.output_gate];
        let w_ih = Tensor::cat(gates.iter().map(|g| g.input_transform.weight.val()).collect(), 1);
        let w_hh = Tensor::cat(gates.iter().map(|g| g.hidden_transform.weight.val()).collect(), 1);
        let bias = Tensor::cat(
            gates
                .iter()
                .map(|g| {
                    let bi = g.input_transform.bias.as_ref().map(|b| b.val());
                    let bh = g.hidden_transform.bias.as_ref().map(|b| b.val());
                    let zero = || Tensor::zeros([lstm.d_hidden], &g.input_transform.weight.val().device());
                    bi.unwrap_or_else(zero) + bh.unwrap_or_else(zero)
                })
                .collect(),
            0,
        );
        FusedLstm { w_ih: Param::from_tensor(w_ih), w_hh: Param::from_tensor(w_hh), bias: Param::from_tensor(bias) }
    }
}
