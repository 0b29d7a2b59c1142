//! The LSTM recurrence and its gradient written out step by step in tensor operations: the
//! readable statement of what Flex's slice loop (`cpu.rs`) and the GPU kernels (`cube.rs`)
//! compute (tests compare them with it and with burn's autodiff of the plain cell).

use burn::prelude::*;
use burn::tensor::activation::sigmoid;

/// `gx` `[T, B, 4H]`, `w_hh` `[H, 4H]`, `state0` `[B, 2H]` → `y` `[T, B, 2H]` (`h_t`, `c_t`) and
/// the activated gates `[T, B, 4H]` (i, f, g, o).
pub fn forward(gx: Tensor<3>, w_hh: Tensor<2>, state0: Tensor<2>) -> (Tensor<3>, Tensor<3>) {
    let [t, b, g4] = gx.dims();
    let h_dim = g4 / 4;
    let mut h = state0.clone().narrow(1, 0, h_dim);
    let mut c = state0.narrow(1, h_dim, h_dim);
    let mut ys = Vec::with_capacity(t);
    let mut gates = Vec::with_capacity(t);
    for step in 0..t {
        let pre = gx.clone().narrow(0, step, 1).reshape([b, g4]) + h.matmul(w_hh.clone());
        let i = sigmoid(pre.clone().narrow(1, 0, h_dim));
        let f = sigmoid(pre.clone().narrow(1, h_dim, h_dim));
        let g = pre.clone().narrow(1, 2 * h_dim, h_dim).tanh();
        let o = sigmoid(pre.narrow(1, 3 * h_dim, h_dim));
        c = f.clone() * c + i.clone() * g.clone();
        h = o.clone() * c.clone().tanh();
        ys.push(Tensor::cat(vec![h.clone(), c.clone()], 1));
        gates.push(Tensor::cat(vec![i, f, g, o], 1));
    }
    (Tensor::stack(ys, 0), Tensor::stack(gates, 0))
}

/// From the forward's `gates` and `y`, `state0`, the gradient `dy` of `y` and `w_hh`: the
/// gradient of the pre-activation gates `dgx` `[T, B, 4H]` and of `state0` `[B, 2H]`.
pub fn backward(gates: Tensor<3>, y: Tensor<3>, state0: Tensor<2>, dy: Tensor<3>, w_hh: Tensor<2>) -> (Tensor<3>, Tensor<2>) {
    let [t, b, g4] = gates.dims();
    let h_dim = g4 / 4;
    let w_t = w_hh.transpose();
    let step = |x: &Tensor<3>, s: usize| x.clone().narrow(0, s, 1).reshape([b, x.dims()[2]]);
    let mut dh_next = Tensor::<2>::zeros([b, h_dim], &gates.device());
    let mut dc_next = dh_next.clone();
    let mut dgs = Vec::with_capacity(t);
    for s in (0..t).rev() {
        let gs = step(&gates, s);
        let part = |k: usize| gs.clone().narrow(1, k * h_dim, h_dim);
        let (i, f, g, o) = (part(0), part(1), part(2), part(3));
        let ys = step(&y, s);
        let c = ys.narrow(1, h_dim, h_dim);
        let c_prev = if s == 0 { state0.clone() } else { step(&y, s - 1) }.narrow(1, h_dim, h_dim);
        let d = step(&dy, s);
        let dh = d.clone().narrow(1, 0, h_dim) + dh_next;
        let tc = c.tanh();
        let dc = d.narrow(1, h_dim, h_dim) + dc_next + dh.clone() * o.clone() * (tc.clone().powf_scalar(2.0).neg() + 1.0);
        let d_o = dh * tc * o.clone() * (o.neg() + 1.0);
        let d_i = dc.clone() * g.clone() * i.clone() * (i.clone().neg() + 1.0);
        let d_g = dc.clone() * i * (g.powf_scalar(2.0).neg() + 1.0);
        let d_f = dc.clone() * c_prev * f.clone() * (f.clone().neg() + 1.0);
        let dg = Tensor::cat(vec![d_i, d_f, d_g, d_o], 1);
        dh_next = dg.clone().matmul(w_t.clone());
        dc_next = dc * f;
        dgs.push(dg);
    }
    dgs.reverse();
    (Tensor::stack(dgs, 0), Tensor::cat(vec![dh_next, dc_next], 1))
}
