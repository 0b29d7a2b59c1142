//! Adam over the whole model as one flat vector, with the gradient clipped by its global norm.
//!
//! burn's optimizer clips and updates each parameter tensor on its own: a norm (a reduction and
//! its output) and several element-wise kernels per tensor, about 53 GPU dispatches of a training
//! step's 114 for the 9 tensors of a 2-layer model (cubecl's kernel log, BENCHMARKS.md). Here the
//! gradients are laid end to end once (one copy each), clipped, and the moments and the update are
//! computed on that one vector; each parameter then subtracts its own slice of the update. The
//! clipping is the global norm of all gradients together (PyTorch's `clip_grad_norm_`, AWD-LSTM's),
//! not burn's per-tensor norm. The mathematics of the update is burn's Adam: the same bias
//! correction and epsilon placement.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;

/// Adam's constants (burn's defaults) and the clipping norm.
#[derive(Debug, Clone, Copy)]
pub struct FlatAdamConfig {
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    /// The largest global L2 norm of the gradient.
    pub clip_norm: f32,
}

impl FlatAdamConfig {
    pub fn new(clip_norm: f32) -> Self {
        FlatAdamConfig { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-5, clip_norm }
    }
}

/// The optimizer's state: the two moments of every parameter, end to end in visiting order.
pub struct FlatAdam {
    config: FlatAdamConfig,
    /// Each parameter's id and element count, in the order the model is visited.
    layout: Vec<(ParamId, usize)>,
    moment_1: Option<Tensor<1>>,
    moment_2: Option<Tensor<1>>,
    time: i32,
}

impl FlatAdam {
    pub fn new(config: FlatAdamConfig) -> Self {
        FlatAdam { config, layout: Vec::new(), moment_1: None, moment_2: None, time: 0 }
    }

    /// The steps taken so far.
    pub fn time(&self) -> i32 {
        self.time
    }

    /// One update of `module` with learning rate `lr` from `grads`.
    pub fn step<M: Module>(&mut self, lr: f64, module: M, mut grads: GradientsParams) -> M {
        let mut gather = Gather { grads: &mut grads, flat: Vec::new(), layout: Vec::new() };
        module.visit(&mut gather);
        let Gather { flat, layout, .. } = gather;
        if flat.is_empty() {
            return module;
        }
        self.update(lr, module, Tensor::cat(flat, 0), layout)
    }

    /// [`step`](Self::step) from a gradient already end to end in visiting order (summed from
    /// other replicas' shares: see `team.rs`); `None` when its size is not the module's.
    pub fn step_flat<M: Module>(&mut self, lr: f64, module: M, grad: &[f32]) -> Option<M> {
        let (grad, layout) = flat_for(&module, grad)?;
        Some(self.update(lr, module, grad, layout))
    }

    fn update<M: Module>(&mut self, lr: f64, module: M, grad: Tensor<1>, layout: Vec<(ParamId, usize)>) -> M {
        if layout != self.layout {
            // A new model (or a different set of trainable tensors): fresh moments.
            self.layout = layout;
            self.moment_1 = None;
            self.moment_2 = None;
            self.time = 0;
        }
        let c = self.config;
        let norm = grad.clone().square().sum().sqrt();
        let scale = norm.add_scalar(f32::MIN_POSITIVE).recip().mul_scalar(c.clip_norm).clamp_max(1.0);
        let grad = grad * scale;
        let (m, v) = match (self.moment_1.take(), self.moment_2.take()) {
            (Some(m), Some(v)) => (
                m.mul_scalar(c.beta_1) + grad.clone().mul_scalar(1.0 - c.beta_1),
                v.mul_scalar(c.beta_2) + grad.square().mul_scalar(1.0 - c.beta_2),
            ),
            _ => (grad.clone().mul_scalar(1.0 - c.beta_1), grad.square().mul_scalar(1.0 - c.beta_2)),
        };
        self.time += 1;
        let bias_correction2_sqrt = (1.0 - c.beta_2.powi(self.time)).sqrt();
        let factor = bias_correction2_sqrt / (1.0 - c.beta_1.powi(self.time));
        let update = m.clone().mul_scalar(factor * lr as f32) / v.clone().sqrt().add_scalar(c.epsilon * bias_correction2_sqrt);
        self.moment_1 = Some(m);
        self.moment_2 = Some(v);
        module.map(&mut Apply { update, offset: 0, replace: false })
    }
}

/// One plain SGD step of `module` with step size `lr`, the gradient clipped to the global norm
/// `clip_norm` (dynamic evaluation's update: no moments to carry from chunk to chunk). With
/// `anchor = (θ₀, λ)` the weights also decay by `λ` of the way back to `θ₀` (Krause et al. 2018's
/// prior, so what one piece taught fades over the next ones).
/// With `rms`, each weight's step is divided by that weight's typical gradient size (Krause's
/// RMS normalisation; see [`flat_grads`]).
pub fn sgd_step<M: Module>(lr: f64, clip_norm: f32, module: M, grads: GradientsParams, anchor: Option<(&Tensor<1>, f64)>, rms: Option<&Tensor<1>>) -> M {
    let Some(grad) = flat_grads(&module, grads) else { return module };
    let norm = grad.clone().square().sum().sqrt();
    let scale = norm.add_scalar(f32::MIN_POSITIVE).recip().mul_scalar(clip_norm).clamp_max(1.0);
    let mut update = grad * scale.mul_scalar(lr as f32);
    if let Some(rms) = rms {
        update = update / rms.clone().add_scalar(1e-5);
    }
    if let Some((start, decay)) = anchor.filter(|(_, d)| *d > 0.0) {
        update = update + (flat_weights(&module) - start.clone()).mul_scalar(decay as f32);
    }
    module.map(&mut Apply { update, offset: 0, replace: false })
}

/// The gradient of every trainable weight of `module`, end to end in visiting order (zeros where
/// the loss did not reach); `None` for a module with nothing to train.
pub fn flat_grads<M: Module>(module: &M, mut grads: GradientsParams) -> Option<Tensor<1>> {
    let mut gather = Gather { grads: &mut grads, flat: Vec::new(), layout: Vec::new() };
    module.visit(&mut gather);
    (!gather.flat.is_empty()).then(|| Tensor::cat(std::mem::take(&mut gather.flat), 0))
}

/// The trainable weights of `module` end to end, in the order [`sgd_step`] visits them.
pub fn flat_weights<M: Module>(module: &M) -> Tensor<1> {
    struct Weights(Vec<Tensor<1>>);
    impl ModuleVisitor for Weights {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            if value.is_require_grad() {
                let n = value.shape().num_elements();
                self.0.push(value.inner().reshape([n]));
            }
        }
    }
    let mut w = Weights(Vec::new());
    module.visit(&mut w);
    Tensor::cat(w.0, 0)
}

/// Each trainable parameter's id and size in visiting order, and the plain device they live on.
struct Layout {
    device: Option<Device>,
    layout: Vec<(ParamId, usize)>,
}

impl ModuleVisitor for Layout {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        if value.is_require_grad() {
            if self.device.is_none() {
                self.device = Some(value.clone().inner().device());
            }
            self.layout.push((param.id, value.shape().num_elements()));
        }
    }
}

/// `values` (one per trainable weight of `module`, end to end in visiting order) as a tensor on the
/// module's plain device, with the module's layout; `None` when the sizes differ.
fn flat_for<M: Module>(module: &M, values: &[f32]) -> Option<(Tensor<1>, Vec<(ParamId, usize)>)> {
    let mut layout = Layout { device: None, layout: Vec::new() };
    module.visit(&mut layout);
    let device = layout.device?;
    if layout.layout.iter().map(|(_, n)| n).sum::<usize>() != values.len() {
        return None;
    }
    Some((Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), &device), layout.layout))
}

/// `module` with its trainable weights replaced by `weights` (end to end in visiting order, as
/// [`flat_weights`] gives them), still trainable; `None` when the sizes differ.
pub fn set_flat_weights<M: Module>(module: M, weights: &[f32]) -> Option<M> {
    let (weights, _) = flat_for(&module, weights)?;
    Some(module.map(&mut Apply { update: weights, offset: 0, replace: true }))
}

/// Takes each parameter's gradient, flattened, in visiting order (zeros for a parameter the loss
/// did not reach, so the layout stays the same from step to step).
struct Gather<'a> {
    grads: &'a mut GradientsParams,
    flat: Vec<Tensor<1>>,
    layout: Vec<(ParamId, usize)>,
}

impl ModuleVisitor for Gather<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        if !value.is_require_grad() {
            return;
        }
        let n = value.shape().num_elements();
        let grad = match self.grads.remove::<D>(param.id) {
            Some(g) => g.reshape([n]),
            None => Tensor::zeros([n], &value.inner().device()),
        };
        self.flat.push(grad);
        self.layout.push((param.id, n));
    }
}

/// Subtracts each parameter's slice of the flat update (or, with `replace`, sets the parameter to
/// it), keeping it trainable.
struct Apply {
    update: Tensor<1>,
    offset: usize,
    replace: bool,
}

impl ModuleMapper for Apply {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        if !tensor.is_require_grad() {
            return Param::from_mapped_value(id, tensor, mapper);
        }
        let shape = tensor.shape();
        let n = shape.num_elements();
        let delta = self.update.clone().slice(self.offset..self.offset + n).reshape(shape);
        self.offset += n;
        let checkpointing = tensor.gradient_checkpointing_strategy();
        let mut updated = Tensor::from_inner(if self.replace { delta } else { tensor.inner() - delta });
        if let Some(strategy) = checkpointing {
            updated = updated.with_gradient_checkpointing_strategy(strategy);
        }
        Param::from_mapped_value(id, updated.require_grad(), mapper)
    }
}
