//! The LSTM sequence operation (one op with its own backward) against burn's autodiff of the
//! per-step cell: outputs and every gradient, for awkward shapes and with carried state. On Flex
//! always; on wgpu (the cubecl kernels) when built with `--features wgpu`, which scripts/test.sh
//! runs on lavapipe, Mesa's software Vulkan device.

use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use cantor::model::lstm_seq::{lstm_sequence, reference};
use cantor::model::FusedLstm;

/// Everything a test compares: outputs, final state, and the gradients of a loss that reaches
/// every output, the final `h` and `c`, through x, h0, c0, W_ih, W_hh and the bias.
#[derive(Debug)]
struct Run {
    values: Vec<(&'static str, Vec<f32>)>,
}

fn data<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

struct Case {
    steps: usize,
    batch: usize,
    d_in: usize,
    hidden: usize,
}

/// Inputs drawn on Flex with a fixed seed, so every device gets the same numbers.
fn inputs(c: &Case, seed: u64) -> Vec<TensorData> {
    let flex = Device::flex();
    flex.seed(seed);
    let u = |shape: Vec<usize>, s: f64| {
        let n: usize = shape.iter().product();
        TensorData::new(data(Tensor::<1>::random([n], Distribution::Uniform(-s, s), &flex)), shape)
    };
    vec![
        u(vec![c.batch, c.steps, c.d_in], 1.0),
        u(vec![c.batch, c.hidden], 0.5),
        u(vec![c.batch, c.hidden], 0.5),
        u(vec![c.d_in, 4 * c.hidden], 0.4),
        u(vec![c.hidden, 4 * c.hidden], 0.4),
        u(vec![4 * c.hidden], 0.3),
        u(vec![c.batch, c.steps, c.hidden], 1.0),
        u(vec![c.batch, c.hidden], 1.0),
        u(vec![c.batch, c.hidden], 1.0),
    ]
}

fn run(c: &Case, d: &[TensorData], device: &Device, sequence: bool) -> Run {
    let ad = device.clone().autodiff();
    let t2 = |x: &TensorData| Tensor::<2>::from_data(x.clone(), &ad).require_grad();
    let x = Tensor::<3>::from_data(d[0].clone(), &ad).require_grad();
    let (h0, c0) = (t2(&d[1]), t2(&d[2]));
    let cell = FusedLstm::from_weights(t2(&d[3]), t2(&d[4]), Tensor::<1>::from_data(d[5].clone(), &ad).require_grad());
    let (out, (h, cc)) = if sequence {
        let (y, st) = cell.forward_sequence(x.clone().swap_dims(0, 1), Some((h0.clone(), c0.clone())), None);
        (y.swap_dims(0, 1), st)
    } else {
        cell.forward(x.clone(), Some((h0.clone(), c0.clone())))
    };
    assert_eq!(out.dims(), [c.batch, c.steps, c.hidden]);
    let r = Tensor::<3>::from_data(d[6].clone(), &ad);
    let loss = (out.clone() * r).sum() + (h.clone() * Tensor::<2>::from_data(d[7].clone(), &ad)).sum() + (cc.clone() * Tensor::<2>::from_data(d[8].clone(), &ad)).sum();
    let grads = loss.backward();
    let g2 = |t: &Tensor<2>| data(t.grad(&grads).expect("a gradient"));
    Run {
        values: vec![
            ("output", data(out)),
            ("h_T", data(h)),
            ("c_T", data(cc)),
            ("dx", data(x.grad(&grads).expect("dx"))),
            ("dh0", g2(&h0)),
            ("dc0", g2(&c0)),
            ("dW_ih", g2(&cell.w_ih())),
            ("dW_hh", g2(&cell.w_hh())),
            ("dbias", data(cell.bias().grad(&grads).expect("dbias"))),
        ],
    }
}

fn assert_close(a: &Run, b: &Run, tolerance: f32, what: &str) {
    for ((name, x), (_, y)) in a.values.iter().zip(&b.values) {
        assert_eq!(x.len(), y.len(), "{what}: {name} sizes");
        let worst = x.iter().zip(y).map(|(p, q)| (p - q).abs() / (1.0 + q.abs())).fold(0.0f32, f32::max);
        assert!(worst <= tolerance, "{what}: {name} differs by {worst} (tolerance {tolerance})");
    }
}

/// Batch 1 and odd sizes, a single step, hidden sizes that are not multiples of anything; and the
/// page's medium and large presets' layers (hidden 256 and 512) at an odd batch, one step too.
const CASES: [Case; 6] = [
    Case { steps: 1, batch: 1, d_in: 2, hidden: 3 },
    Case { steps: 5, batch: 3, d_in: 4, hidden: 7 },
    Case { steps: 9, batch: 2, d_in: 5, hidden: 33 },
    Case { steps: 3, batch: 5, d_in: 8, hidden: 260 },
    Case { steps: 1, batch: 3, d_in: 128, hidden: 256 },
    Case { steps: 4, batch: 3, d_in: 256, hidden: 512 },
];

#[test]
fn sequence_op_on_flex_matches_autodiff_of_the_cell() {
    for (i, c) in CASES.iter().enumerate() {
        let d = inputs(c, 17 + i as u64);
        let steps = run(c, &d, &Device::flex(), false);
        let sequence = run(c, &d, &Device::flex(), true);
        assert_close(&sequence, &steps, 1e-5, &format!("flex case {i}"));
    }
}

#[test]
fn reference_backward_is_the_gradient_of_reference_forward() {
    // Finite differences on one pre-activation gate and one recurrent weight: the hand-written
    // backward (which the kernels mirror) is the derivative of the forward.
    let (t, b, h) = (4, 2, 3);
    let flex = Device::flex();
    flex.seed(3);
    let gx = Tensor::<3>::random([t, b, 4 * h], Distribution::Uniform(-1.0, 1.0), &flex);
    let w = Tensor::<2>::random([h, 4 * h], Distribution::Uniform(-0.5, 0.5), &flex);
    let s0 = Tensor::<2>::random([b, 2 * h], Distribution::Uniform(-0.5, 0.5), &flex);
    let weights = Tensor::<3>::random([t, b, 2 * h], Distribution::Uniform(-1.0, 1.0), &flex);
    let loss = |gx: Tensor<3>, s0: Tensor<2>| -> f64 { (reference::forward(gx, w.clone(), s0).0 * weights.clone()).sum().into_scalar::<f32>() as f64 };
    let (y, gates) = reference::forward(gx.clone(), w.clone(), s0.clone());
    let (dgx, ds0) = reference::backward(gates, y, s0.clone(), weights.clone(), w.clone());
    let eps = 1e-2f32;
    let bump3 = |x: &Tensor<3>, at: [usize; 3], by: f32| {
        let mut v = data(x.clone());
        v[(at[0] * b + at[1]) * 4 * h + at[2]] += by;
        Tensor::<3>::from_data(TensorData::new(v, [t, b, 4 * h]), &flex)
    };
    for at in [[0, 0, 1], [2, 1, 4], [3, 0, 11], [1, 1, 7]] {
        let numeric = (loss(bump3(&gx, at, eps), s0.clone()) - loss(bump3(&gx, at, -eps), s0.clone())) / (2.0 * eps as f64);
        let analytic = data(dgx.clone())[(at[0] * b + at[1]) * 4 * h + at[2]] as f64;
        assert!((numeric - analytic).abs() < 2e-3, "dgx{at:?}: {analytic} vs finite difference {numeric}");
    }
    for k in [0, 4] {
        let bump = |by: f32| {
            let mut v = data(s0.clone());
            v[k] += by;
            Tensor::<2>::from_data(TensorData::new(v, [b, 2 * h]), &flex)
        };
        let numeric = (loss(gx.clone(), bump(eps)) - loss(gx.clone(), bump(-eps))) / (2.0 * eps as f64);
        let analytic = data(ds0.clone())[k] as f64;
        assert!((numeric - analytic).abs() < 2e-3, "dstate0[{k}]: {analytic} vs finite difference {numeric}");
    }
    // And through the public op (autodiff; on Flex the slice loop, with its rational σ and
    // tanh): the same dgx arrives at gx.
    let ad = flex.autodiff();
    let gx_ad = Tensor::<3>::from_data(gx.into_data(), &ad).require_grad();
    let y = lstm_sequence(gx_ad.clone(), Tensor::from_data(w.into_data(), &ad), Tensor::from_data(s0.into_data(), &ad));
    let grads = (y * Tensor::<3>::from_data(weights.into_data(), &ad)).sum().backward();
    let through_op = data(gx_ad.grad(&grads).unwrap());
    let direct = data(dgx);
    assert!(through_op.iter().zip(&direct).all(|(a, b)| (a - b).abs() < 1e-5));
}

/// The cubecl kernels on a wgpu device: lavapipe in CI, a GPU where there is one.
#[cfg(feature = "wgpu")]
#[test]
fn sequence_kernels_on_wgpu_match_flex() {
    let gpu = Device::wgpu(Default::default());
    for (i, c) in CASES.iter().enumerate() {
        let d = inputs(c, 17 + i as u64);
        let flex = run(c, &d, &Device::flex(), false);
        let kernels = run(c, &d, &gpu, true);
        assert_close(&kernels, &flex, 1e-4, &format!("wgpu case {i}"));
    }
}
