//! The training loop's optimizer (one flat Adam over every parameter, clipped by the global norm)
//! against burn's own Adam, natively on Flex.

use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use cantor::train::{FlatAdam, FlatAdamConfig};

fn weights(m: &Linear) -> Vec<f32> {
    let mut all: Vec<f32> = m.weight.val().into_data().convert::<f32>().try_to_vec().unwrap();
    all.extend(m.bias.as_ref().unwrap().val().into_data().convert::<f32>().try_to_vec::<f32>().unwrap());
    all
}

/// A loss whose gradient has norm `scale` times that of the plain one.
fn grads(m: &Linear, scale: f32, device: &Device) -> GradientsParams {
    let x = Tensor::<2>::from_floats([[1.0, -2.0, 0.5], [0.3, 0.7, -1.1]], device);
    let loss = (m.forward(x).powf_scalar(2.0).sum() * scale).backward();
    GradientsParams::from_grads(loss, m)
}

/// Without clipping (a norm no gradient reaches), three steps give burn's Adam's weights.
#[test]
fn flat_adam_is_burns_adam_when_nothing_is_clipped() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let start = LinearConfig::new(3, 4).init(&device);
    let (mut ours, mut theirs) = (start.clone(), start.clone());
    let mut flat = FlatAdam::new(FlatAdamConfig::new(1e6));
    let mut burn_adam = AdamConfig::new().init();
    for step in 0..3 {
        let lr = 0.01 * (step + 1) as f64;
        ours = flat.step(lr, ours.clone(), grads(&ours, 1.0, &device));
        theirs = burn_adam.step(lr, theirs.clone(), grads(&theirs, 1.0, &device));
    }
    assert_eq!(flat.time(), 3);
    let (a, b) = (weights(&ours), weights(&theirs));
    assert_ne!(a, weights(&start), "the weights moved");
    let worst = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-6, "flat Adam differs from burn's Adam by {worst}");
    // Still trainable after the update: a further backward pass reaches every parameter.
    let g = grads(&ours, 1.0, &device);
    assert!(g.get::<2>(ours.weight.id).is_some() && g.get::<1>(ours.bias.as_ref().unwrap().id).is_some());
}

/// Clipping by the global norm: with gradients a million times too large, the weights move
/// exactly as when each step's whole gradient (weights and bias together) is scaled to the
/// clipping norm by hand, and not as the unclipped gradients move them.
#[test]
fn flat_adam_clips_the_global_norm() {
    let device = Device::flex().autodiff();
    device.seed(4);
    let start = LinearConfig::new(3, 4).init(&device);
    let norm = |m: &Linear| {
        let g = grads(m, 1.0, &device);
        let w: f32 = g.get::<2>(m.weight.id).unwrap().powf_scalar(2.0).sum().into_scalar();
        let b: f32 = g.get::<1>(m.bias.as_ref().unwrap().id).unwrap().powf_scalar(2.0).sum().into_scalar();
        (w + b).sqrt()
    };
    assert!(norm(&start) > 1.0, "the test needs a gradient norm above 1");
    // Three steps: Adam's first step alone does not depend on the gradient's scale.
    let run = |clip: f32, by_hand: bool| {
        let mut opt = FlatAdam::new(FlatAdamConfig::new(clip));
        let mut m = start.clone();
        for _ in 0..3 {
            let scale = if by_hand { 0.5 / norm(&m) } else { 1e6 };
            m = opt.step(0.1, m.clone(), grads(&m, scale, &device));
        }
        weights(&m)
    };
    let clipped = run(0.5, false);
    let by_hand = run(1e12, true);
    let unclipped = run(1e12, false);
    let diff = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
    assert!(diff(&clipped, &by_hand) < 1e-5, "clipped vs scaled by hand: {}", diff(&clipped, &by_hand));
    assert!(diff(&clipped, &unclipped) > 1e-3, "clipping changed nothing: {}", diff(&clipped, &unclipped));
}
