//! The sequence operation as two cubecl kernels (WebGPU in the browser, Vulkan/Metal natively).
//!
//! One workgroup ("cube") per batch row; its threads share the row's hidden units. The whole time
//! loop runs inside the kernel with workgroup barriers between phases, because batch rows are
//! independent and never need to see each other (burn-cubecl's `kernel/ctc.rs` runs its time
//! loop the same way). Each step reads `W_hh` from the cache; reads are coalesced because
//! neighbouring threads own neighbouring hidden units. Shared memory: `H` floats forward, `5H`
//! backward (16 KiB, WebGPU's default limit, allows H ≤ 819).

use super::{LstmOps, MAX_HIDDEN};
use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Shape, TensorMetadata};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::CubeBackend;
use cubecl::prelude::*;


#[cube]
fn sigmoid<F: Float>(x: F) -> F {
    F::new(1.0_f32) / (F::new(1.0_f32) + (F::new(0.0_f32) - x).exp())
}

/// Forward: per step, phase A computes the four gate pre-activations of this thread's units from
/// `h_{t-1}` (in shared memory) and stores the activated gates; phase B updates `c` and `h`.
#[cube(launch)]
fn lstm_forward_kernel<F: Float>(
    gx: &Tensor<F>,        // [T, B, 4H]
    w_hh: &Tensor<F>,      // [H, 4H]
    state0: &Tensor<F>,    // [B, 2H]
    y: &mut Tensor<F>,     // [T, B, 2H]
    gates: &mut Tensor<F>, // [T, B, 4H]
    #[comptime] hidden: u32,
    #[define(F)] _dtype: ElemType,
) {
    let b = CUBE_POS_X as usize;
    let threads = CUBE_DIM_X as usize;
    let steps = gx.shape(0);
    let batch = gx.shape(1);
    let h_dim = hidden as usize;
    let g4 = 4 * h_dim;
    let mut h_sh = Shared::new_slice(hidden as usize);

    let mut j = UNIT_POS_X as usize;
    while j < h_dim {
        h_sh[j] = state0[b * 2 * h_dim + j];
        j += threads;
    }
    sync_cube();

    for t in 0..steps {
        let row = t * batch + b;
        let base = row * g4;
        let mut j = UNIT_POS_X as usize;
        while j < h_dim {
            let mut ai = gx[base + j];
            let mut af = gx[base + h_dim + j];
            let mut ag = gx[base + 2 * h_dim + j];
            let mut ao = gx[base + 3 * h_dim + j];
            for m in 0..h_dim {
                let hm = h_sh[m];
                let w = m * g4 + j;
                ai += hm * w_hh[w];
                af += hm * w_hh[w + h_dim];
                ag += hm * w_hh[w + 2 * h_dim];
                ao += hm * w_hh[w + 3 * h_dim];
            }
            gates[base + j] = sigmoid::<F>(ai);
            gates[base + h_dim + j] = sigmoid::<F>(af);
            gates[base + 2 * h_dim + j] = ag.tanh();
            gates[base + 3 * h_dim + j] = sigmoid::<F>(ao);
            j += threads;
        }
        sync_cube();

        let out = row * 2 * h_dim;
        let mut j = UNIT_POS_X as usize;
        while j < h_dim {
            let i = gates[base + j];
            let f = gates[base + h_dim + j];
            let g = gates[base + 2 * h_dim + j];
            let o = gates[base + 3 * h_dim + j];
            let c_prev = if t == 0 { state0[b * 2 * h_dim + h_dim + j] } else { y[((t - 1) * batch + b) * 2 * h_dim + h_dim + j] };
            let c = f * c_prev + i * g;
            let h = o * c.tanh();
            y[out + j] = h;
            y[out + h_dim + j] = c;
            h_sh[j] = h;
            j += threads;
        }
        sync_cube();
    }
}

/// Backward, from the last step to the first: phase A takes `dh_t` (the gradient arriving at `y`
/// plus `dG_{t+1}·W_hhᵀ`, with `dG_{t+1}` in shared memory); phase B the cell gradient and the
/// four gate gradients. `dstate0`'s cell half carries `dc·f` between steps, then holds `dc_0`.
#[cube(launch)]
fn lstm_backward_kernel<F: Float>(
    gates: &Tensor<F>,        // [T, B, 4H]
    y: &Tensor<F>,            // [T, B, 2H]
    state0: &Tensor<F>,       // [B, 2H]
    dy: &Tensor<F>,           // [T, B, 2H]
    w_t: &Tensor<F>,          // W_hhᵀ [4H, H]
    dgx: &mut Tensor<F>,      // [T, B, 4H]
    dstate0: &mut Tensor<F>,  // [B, 2H]
    #[comptime] hidden: u32,
    #[define(F)] _dtype: ElemType,
) {
    let b = CUBE_POS_X as usize;
    let threads = CUBE_DIM_X as usize;
    let steps = gates.shape(0);
    let batch = gates.shape(1);
    let h_dim = hidden as usize;
    let g4 = 4 * h_dim;
    let mut dg_sh = Shared::new_slice(4 * hidden as usize);
    let mut dh_sh = Shared::new_slice(hidden as usize);
    let carry = b * 2 * h_dim + h_dim;
    let one = F::new(1.0_f32);

    let mut k = UNIT_POS_X as usize;
    while k < g4 {
        dg_sh[k] = F::new(0.0_f32);
        k += threads;
    }
    let mut j = UNIT_POS_X as usize;
    while j < h_dim {
        dstate0[carry + j] = F::new(0.0_f32);
        j += threads;
    }
    sync_cube();

    for tt in 0..steps {
        let t = steps - 1 - tt;
        let row = t * batch + b;
        let ybase = row * 2 * h_dim;
        let mut j = UNIT_POS_X as usize;
        while j < h_dim {
            let mut acc = dy[ybase + j];
            for k in 0..g4 {
                acc += dg_sh[k] * w_t[k * h_dim + j];
            }
            dh_sh[j] = acc;
            j += threads;
        }
        sync_cube();

        let base = row * g4;
        let mut j = UNIT_POS_X as usize;
        while j < h_dim {
            let i = gates[base + j];
            let f = gates[base + h_dim + j];
            let g = gates[base + 2 * h_dim + j];
            let o = gates[base + 3 * h_dim + j];
            let c = y[ybase + h_dim + j];
            let c_prev = if t == 0 { state0[b * 2 * h_dim + h_dim + j] } else { y[((t - 1) * batch + b) * 2 * h_dim + h_dim + j] };
            let dh = dh_sh[j];
            let tc = c.tanh();
            let dc = dy[ybase + h_dim + j] + dstate0[carry + j] + dh * o * (one - tc * tc);
            let d_i = dc * g * i * (one - i);
            let d_f = dc * c_prev * f * (one - f);
            let d_g = dc * i * (one - g * g);
            let d_o = dh * tc * o * (one - o);
            dgx[base + j] = d_i;
            dgx[base + h_dim + j] = d_f;
            dgx[base + 2 * h_dim + j] = d_g;
            dgx[base + 3 * h_dim + j] = d_o;
            dg_sh[j] = d_i;
            dg_sh[h_dim + j] = d_f;
            dg_sh[2 * h_dim + j] = d_g;
            dg_sh[3 * h_dim + j] = d_o;
            dstate0[carry + j] = dc * f;
            j += threads;
        }
        sync_cube();
    }

    let mut j = UNIT_POS_X as usize;
    while j < h_dim {
        let mut acc = F::new(0.0_f32);
        for k in 0..g4 {
            acc += dg_sh[k] * w_t[k * h_dim + j];
        }
        dstate0[b * 2 * h_dim + j] = acc;
        j += threads;
    }
}

fn threads(t: &CubeTensor, hidden: usize) -> u32 {
    let max = t.client.properties().hardware.max_cube_dim.0;
    (hidden as u32).clamp(1, 256).min(max)
}

fn empty_like(t: &CubeTensor, shape: [usize; 3]) -> CubeTensor {
    empty_device_contiguous_dtype(t.client.clone(), t.device.clone(), Shape::new(shape), t.dtype)
}

impl LstmOps for CubeBackend {
    fn lstm_forward(gx: FloatTensor<Self>, w_hh: FloatTensor<Self>, state0: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (gx, w_hh, state0) = (into_contiguous(gx), into_contiguous(w_hh), into_contiguous(state0));
        let [t, b, g4] = gx.shape().dims::<3>();
        let h = g4 / 4;
        assert!(t > 0 && h <= MAX_HIDDEN, "lstm_forward: {t} steps, hidden {h}");
        let y = empty_like(&gx, [t, b, 2 * h]);
        let gates = empty_like(&gx, [t, b, g4]);
        let client = gx.client.clone();
        let dtype = dtype_to_storage_type(gx.dtype);
        lstm_forward_kernel::launch(
            &client,
            CubeCount::Static(b as u32, 1, 1),
            CubeDim::new_1d(threads(&gx, h)),
            gx.into_tensor_arg(),
            w_hh.into_tensor_arg(),
            state0.into_tensor_arg(),
            y.clone().into_tensor_arg(),
            gates.clone().into_tensor_arg(),
            h as u32,
            dtype,
        );
        (y, gates)
    }

    fn lstm_backward(
        gates: FloatTensor<Self>,
        y: FloatTensor<Self>,
        state0: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (gates, y, state0, dy) = (into_contiguous(gates), into_contiguous(y), into_contiguous(state0), into_contiguous(dy));
        let w_t = into_contiguous(CubeBackend::float_transpose(w_hh));
        let [t, b, g4] = gates.shape().dims::<3>();
        let h = g4 / 4;
        assert!(t > 0 && h <= MAX_HIDDEN, "lstm_backward: {t} steps, hidden {h}");
        let dgx = empty_like(&gates, [t, b, g4]);
        let dstate0 = empty_device_contiguous_dtype(gates.client.clone(), gates.device.clone(), Shape::new([b, 2 * h]), gates.dtype);
        let client = gates.client.clone();
        let dtype = dtype_to_storage_type(gates.dtype);
        let cube_dim = CubeDim::new_1d(threads(&gates, h));
        lstm_backward_kernel::launch(
            &client,
            CubeCount::Static(b as u32, 1, 1),
            cube_dim,
            gates.into_tensor_arg(),
            y.into_tensor_arg(),
            state0.into_tensor_arg(),
            dy.into_tensor_arg(),
            w_t.into_tensor_arg(),
            dgx.clone().into_tensor_arg(),
            dstate0.clone().into_tensor_arg(),
            h as u32,
            dtype,
        );
        (dgx, dstate0)
    }
}
