//! Flex's implementation of the sequence operation: the time loop on plain `f32` slices. Each step
//! is one gemm call (the crate Flex's own matmul uses) accumulating `h_{t-1}·W_hh` into that
//! step's gates, then one pass over the gates; nothing is allocated inside the loop. The
//! tensor-operation version (`reference`) made about fifteen tensors a step forward and thirty
//! backward, and a training step spent a fifth of its time allocating, copying and faulting in
//! their pages (BENCHMARKS.md, "The LSTM time loop on the CPU").
//!
//! The same mathematics as `reference` (tests compare them); σ and tanh are a rational
//! approximation that the compiler vectorises (within 5e-7 of libm's).

use gemm::{gemm, Parallelism};

/// `gx` `[T, B, 4H]` (consumed: it becomes the activated gates), `w_hh` `[H, 4H]`, `state0`
/// `[B, 2H]` → `y` `[T, B, 2H]` (`h_t`, `c_t`) and the gates `[T, B, 4H]` (i, f, g, o).
pub fn forward(mut gates: Vec<f32>, w_hh: &[f32], state0: &[f32], t: usize, b: usize, h: usize) -> (Vec<f32>, Vec<f32>) {
    let (g4, h2) = (4 * h, 2 * h);
    assert_eq!(gates.len(), t * b * g4, "gx is [T, B, 4H]");
    assert_eq!(w_hh.len(), h * g4, "w_hh is [H, 4H]");
    assert_eq!(state0.len(), b * h2, "state0 is [B, 2H]");
    let mut y = vec![0.0f32; t * b * h2];
    for s in 0..t {
        let pre = &mut gates[s * b * g4..(s + 1) * b * g4];
        let (done, rest) = y.split_at_mut(s * b * h2);
        let prev = if s == 0 { state0 } else { &done[(s - 1) * b * h2..] };
        // pre += h_prev · W_hh (h_prev: the first H columns of each row of `prev`).
        unsafe {
            gemm(
                b, g4, h, pre.as_mut_ptr(), 1, g4 as isize, true, prev.as_ptr(), 1, h2 as isize, w_hh.as_ptr(), 1, g4 as isize, 1.0, 1.0,
                false, false, false, Parallelism::None,
            );
        }
        let out = &mut rest[..b * h2];
        for r in 0..b {
            let row = &mut pre[r * g4..(r + 1) * g4];
            let (ifg, o) = row.split_at_mut(3 * h);
            let (i_f, g) = ifg.split_at_mut(h2);
            sigmoid_in_place(i_f);
            tanh_in_place(g);
            sigmoid_in_place(o);
            let (i, f) = i_f.split_at(h);
            let c_prev = &prev[r * h2 + h..(r + 1) * h2];
            let (h_out, c_out) = out[r * h2..(r + 1) * h2].split_at_mut(h);
            for j in 0..h {
                c_out[j] = f[j] * c_prev[j] + i[j] * g[j];
            }
            for j in 0..h {
                h_out[j] = o[j] * tanh(c_out[j]);
            }
        }
    }
    (y, gates)
}

/// From the forward's `gates` (consumed: it becomes `dgx`) and `y`, `state0`, the gradient `dy` of
/// `y` and `w_hh`: the gradient of the pre-activation gates `dgx` `[T, B, 4H]` and of `state0`
/// `[B, 2H]`.
pub fn backward(mut gates: Vec<f32>, y: &[f32], state0: &[f32], dy: &[f32], w_hh: &[f32], t: usize, b: usize, h: usize) -> (Vec<f32>, Vec<f32>) {
    let (g4, h2) = (4 * h, 2 * h);
    assert_eq!(gates.len(), t * b * g4, "gates are [T, B, 4H]");
    assert_eq!(y.len(), t * b * h2, "y is [T, B, 2H]");
    assert_eq!(dy.len(), y.len(), "dy is [T, B, 2H]");
    let mut dh_next = vec![0.0f32; b * h];
    let mut dc_next = vec![0.0f32; b * h];
    for s in (0..t).rev() {
        let step = &mut gates[s * b * g4..(s + 1) * b * g4];
        let ys = &y[s * b * h2..(s + 1) * b * h2];
        let prev = if s == 0 { state0 } else { &y[(s - 1) * b * h2..s * b * h2] };
        let d = &dy[s * b * h2..(s + 1) * b * h2];
        for r in 0..b {
            let row = &mut step[r * g4..(r + 1) * g4];
            let (c, c_prev) = (&ys[r * h2 + h..(r + 1) * h2], &prev[r * h2 + h..(r + 1) * h2]);
            let (d_h, d_c) = d[r * h2..(r + 1) * h2].split_at(h);
            let (dh_n, dc_n) = (&mut dh_next[r * h..(r + 1) * h], &mut dc_next[r * h..(r + 1) * h]);
            for j in 0..h {
                let (i, f, g, o) = (row[j], row[h + j], row[2 * h + j], row[3 * h + j]);
                let dh = d_h[j] + dh_n[j];
                let tc = tanh(c[j]);
                let dc = d_c[j] + dc_n[j] + dh * o * (1.0 - tc * tc);
                row[j] = dc * g * i * (1.0 - i);
                row[h + j] = dc * c_prev[j] * f * (1.0 - f);
                row[2 * h + j] = dc * i * (1.0 - g * g);
                row[3 * h + j] = dh * tc * o * (1.0 - o);
                dc_n[j] = dc * f;
            }
        }
        // dh_next = dG · W_hhᵀ (W_hhᵀ read in place: row stride 1, column stride 4H).
        unsafe {
            gemm(
                b, h, g4, dh_next.as_mut_ptr(), 1, h as isize, false, step.as_ptr(), 1, g4 as isize, w_hh.as_ptr(), g4 as isize, 1, 0.0, 1.0,
                false, false, false, Parallelism::None,
            );
        }
    }
    let mut dstate0 = vec![0.0f32; b * h2];
    for r in 0..b {
        dstate0[r * h2..r * h2 + h].copy_from_slice(&dh_next[r * h..(r + 1) * h]);
        dstate0[r * h2 + h..(r + 1) * h2].copy_from_slice(&dc_next[r * h..(r + 1) * h]);
    }
    (gates, dstate0)
}

/// tanh as Eigen's rational approximation (`generic_fast_tanh_float`): a [13/6] Padé-like
/// quotient on [-9, 9], where single-precision tanh is ±1 outside. No branches, so loops over it
/// vectorise; libm's `tanhf` is a call per element.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let x = x.clamp(-9.0, 9.0);
    let x2 = x * x;
    let mut p = x2 * -2.760_768_5e-16 + 2.000_187_9e-13;
    p = x2 * p + -8.604_671_5e-11;
    p = x2 * p + 5.122_297e-8;
    p = x2 * p + 1.485_722_4e-5;
    p = x2 * p + 6.372_619_3e-4;
    p = x2 * p + 4.893_524_6e-3;
    p *= x;
    let mut q = x2 * 1.198_258_4e-6 + 1.185_347_1e-4;
    q = x2 * q + 2.268_434_6e-3;
    q = x2 * q + 4.893_525e-3;
    (p / q).clamp(-1.0, 1.0)
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    0.5 + 0.5 * tanh(0.5 * x)
}

fn sigmoid_in_place(xs: &mut [f32]) {
    for x in xs {
        *x = sigmoid(*x);
    }
}

fn tanh_in_place(xs: &mut [f32]) {
    for x in xs {
        *x = tanh(*x);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fast_tanh_is_within_half_a_millionth_of_libm() {
        let worst = (-200_000..=200_000)
            .map(|k| k as f32 * 1e-4)
            .chain([-1e3, -30.0, 1e-30, -1e-30, 0.0, 30.0, 1e3, f32::MAX, f32::MIN])
            .map(|x| (super::tanh(x) - x.tanh()).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 5e-7, "worst error {worst}");
        assert_eq!(super::tanh(0.0), 0.0);
        assert!(super::tanh(50.0) == 1.0 && super::tanh(-50.0) == -1.0);
    }
}
