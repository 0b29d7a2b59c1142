//! The LSTM recurrence over a whole sequence as one backend operation with its own backward, so
//! a GPU runs each layer's time loop in one kernel launch instead of several kernels per step.
//!
//! The operation takes the input projection of every step already computed (`gx = x·W_ih + b`,
//! one matmul outside) and runs only the recurrence:
//!
//! ```text
//! gates_t = gx_t + h_{t-1}·W_hh          i, f, g, o = σ, σ, tanh, σ of the four quarters
//! c_t = f·c_{t-1} + i·g                  h_t = o·tanh(c_t)
//! ```
//!
//! Shapes (time-major): `gx` `[T, B, 4H]`, `w_hh` `[H, 4H]`, `state0` `[B, 2H]` (`h_0` then `c_0`)
//! → `y` `[T, B, 2H]` (`h_t` then `c_t` for every step). Its backward runs the same loop backwards
//! in time for `dgx` and `dstate0`; `dW_hh = H_prevᵀ·dG` is one matmul over the whole sequence.
//!
//! Backends: [`cube`] (WebGPU in the browser, Vulkan/Metal natively: one kernel per direction),
//! Flex ([`cpu`]: the time loop on plain slices, one gemm call and one pass over the gates per
//! step; [`reference`] states the same mathematics in burn tensor operations), and `Autodiff` over
//! either ([`autodiff`]).

mod autodiff;
mod cpu;
#[cfg(feature = "wgpu")]
mod cube;
pub mod reference;

/// Largest hidden size of the GPU kernels: the backward keeps 5H floats in workgroup memory and
/// WebGPU guarantees 16 KiB. Larger layers run step by step.
pub const MAX_HIDDEN: usize = 819;

use burn::backend::{backend_extension, tensor::FloatTensor, Backend, Dispatch, TensorMetadata};
use burn::prelude::*;

#[cfg(feature = "wgpu")]
use burn::backend::fusion::custom::TensorSpec;

#[cfg(feature = "wgpu")]
fn forward_meta(gx: &TensorSpec, _w_hh: &TensorSpec, _state0: &TensorSpec) -> (TensorSpec, TensorSpec) {
    let [t, b, g] = gx.shape.dims::<3>();
    (TensorSpec::new([t, b, g / 2].into(), gx.dtype), gx.clone())
}

#[cfg(feature = "wgpu")]
fn backward_meta(gates: &TensorSpec, _y: &TensorSpec, state0: &TensorSpec, _dy: &TensorSpec, _w_hh: &TensorSpec) -> (TensorSpec, TensorSpec) {
    (gates.clone(), state0.clone())
}

/// The LSTM sequence operation of every backend Cantor trains on.
#[backend_extension(
    Flex,
    Cube: cfg(feature = "wgpu"),
    Fusion: cfg(feature = "wgpu"),
    Autodiff,
)]
pub trait LstmOps: Backend {
    /// `gx` `[T, B, 4H]`, `w_hh` `[H, 4H]`, `state0` `[B, 2H]` → `y` `[T, B, 2H]` and the
    /// activated gates `[T, B, 4H]` (what the backward needs).
    #[fusion(meta = forward_meta)]
    fn lstm_forward(gx: FloatTensor<Self>, w_hh: FloatTensor<Self>, state0: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// Gradients of the recurrence: from the saved gates and states and the gradient of `y`,
    /// `dgx` `[T, B, 4H]` (the gradient of the pre-activation gates) and `dstate0` `[B, 2H]`.
    #[fusion(meta = backward_meta)]
    fn lstm_backward(
        gates: FloatTensor<Self>,
        y: FloatTensor<Self>,
        state0: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// The differentiable operation: `y` of [`lstm_forward`](Self::lstm_forward); under
    /// `Autodiff` its backward is [`lstm_backward`](Self::lstm_backward).
    #[fusion(default)]
    fn lstm_sequence(gx: FloatTensor<Self>, w_hh: FloatTensor<Self>, state0: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::lstm_forward(gx, w_hh, state0).0
    }
}

impl LstmOps for burn::backend::Flex {
    fn lstm_forward(gx: FloatTensor<Self>, w_hh: FloatTensor<Self>, state0: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let [t, b, g4] = gx.shape().dims::<3>();
        let (w_hh, state0) = (contiguous(w_hh), contiguous(state0));
        let (y, gates) = cpu::forward(floats(gx), slice(&w_hh), slice(&state0), t, b, g4 / 4);
        (from_floats(y, [t, b, g4 / 2]), from_floats(gates, [t, b, g4]))
    }

    fn lstm_backward(
        gates: FloatTensor<Self>,
        y: FloatTensor<Self>,
        state0: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let [t, b, g4] = gates.shape().dims::<3>();
        let (y, state0, dy, w_hh) = (contiguous(y), contiguous(state0), contiguous(dy), contiguous(w_hh));
        let (dgx, ds) = cpu::backward(floats(gates), slice(&y), slice(&state0), slice(&dy), slice(&w_hh), t, b, g4 / 4);
        (from_floats(dgx, [t, b, g4]), from_floats(ds, [b, g4 / 2]))
    }
}

/// The tensor itself when its values lie in row-major order already (weights, saved states: read
/// in place, not copied per call), else a row-major copy.
fn contiguous(t: FloatTensor<burn::backend::Flex>) -> FloatTensor<burn::backend::Flex> {
    if t.as_slice::<f32>().is_some() { t } else { t.to_contiguous() }
}

fn slice(t: &FloatTensor<burn::backend::Flex>) -> &[f32] {
    t.as_slice::<f32>().expect("a contiguous f32 tensor")
}

/// A Flex tensor's values in row-major order, to write into (no copy when it is contiguous and
/// not shared).
fn floats(t: FloatTensor<burn::backend::Flex>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("a float tensor holds floats")
}

fn from_floats<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FloatTensor<burn::backend::Flex> {
    burn::backend::flex::FlexTensor::from_data(burn::tensor::TensorData::new(values, shape))
}

/// `gx` `[T, B, 4H]`, `w_hh` `[H, 4H]`, `state0` `[B, 2H]` → `y` `[T, B, 2H]`, differentiable on
/// an autodiff device.
pub fn lstm_sequence(gx: Tensor<3>, w_hh: Tensor<2>, state0: Tensor<2>) -> Tensor<3> {
    Tensor::from_dispatch(<Dispatch as LstmOps>::lstm_sequence(gx.into_dispatch(), w_hh.into_dispatch(), state0.into_dispatch()))
}

/// Whether the automatic choice uses the sequence operation on `device`, as measured
/// (BENCHMARKS.md): on a GPU always (the kernels); on Flex natively too (no per-step autodiff
/// graph: the first, tensor-operation loop was 1.3× faster per training step, the slice loop of
/// `cpu.rs` 1.5× faster again); on Flex in wasm only to generate (the slice loop writes 1.5× the
/// tokens per second of the per-step cell in the page), not to train, where the per-step cell
/// measured 1.1× faster than the tensor-operation loop (the slice loop's training is not measured
/// there).
pub fn sequence_is_faster(device: &Device) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        #[cfg(feature = "wgpu")]
        if matches!(device.clone().inner().as_dispatch(), burn::backend::DispatchDevice::Cube(_)) {
            return true;
        }
        // Flex in wasm: generating (no autodiff), the slice loop of `cpu.rs` (1.5× the tokens/s
        // of the per-step cell in the page, BENCHMARKS.md); training, the per-step cell.
        !device.is_autodiff()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = device;
        true
    }
}
