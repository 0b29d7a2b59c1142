//! The gradient of the sequence operation: one backward op whose parents are `gx`, `w_hh` and
//! `state0`. The backward recurrence is the backend's [`LstmOps::lstm_backward`]; the weight
//! gradient is one matmul over all steps, `dW_hh = H_prevᵀ·dG` with `H_prev = [h_0, h_1 … h_{T-1}]`.

use super::LstmOps;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Shape, Slice, TensorMetadata};

#[derive(Debug)]
struct SequenceBackward;

impl<B: Backend + LstmOps> Backward<B, 3> for SequenceBackward {
    /// gates, y, state0, w_hh: what the backward recurrence reads.
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [gx_node, w_node, state_node] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (gates, y, state0, w_hh) = ops.state;
        let [t, b, h2] = y.shape().dims::<3>();
        let h = h2 / 2;
        let (dgx, dstate0) = B::lstm_backward(gates, y.clone(), state0.clone(), dy, w_hh);
        if let Some(node) = w_node {
            let h0 = B::float_reshape(B::float_slice(state0, &[Slice::from(0..b), Slice::from(0..h)]), Shape::new([1, b, h]));
            let h_prev = if t > 1 {
                let hs = B::float_slice(y, &[Slice::from(0..t - 1), Slice::from(0..b), Slice::from(0..h)]);
                B::float_cat(vec![h0, hs], 0)
            } else {
                h0
            };
            let h_prev = B::float_reshape(h_prev, Shape::new([t * b, h]));
            let dg = B::float_reshape(dgx.clone(), Shape::new([t * b, 4 * h]));
            grads.register::<B>(node.id, B::float_matmul(B::float_transpose(h_prev), dg));
        }
        if let Some(node) = gx_node {
            grads.register::<B>(node.id, dgx);
        }
        if let Some(node) = state_node {
            grads.register::<B>(node.id, dstate0);
        }
    }
}

impl<B: Backend + LstmOps, C: CheckpointStrategy> LstmOps for Autodiff<B, C> {
    fn lstm_forward(gx: FloatTensor<Self>, w_hh: FloatTensor<Self>, state0: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
        // Not differentiable by itself (the model calls `lstm_sequence`): results are constants.
        let (y, gates) = B::lstm_forward(gx.into_primitive(), w_hh.into_primitive(), state0.into_primitive());
        (FloatTensor::<Self>::new(y), FloatTensor::<Self>::new(gates))
    }

    fn lstm_backward(
        gates: FloatTensor<Self>,
        y: FloatTensor<Self>,
        state0: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (dgx, ds) = B::lstm_backward(gates.into_primitive(), y.into_primitive(), state0.into_primitive(), dy.into_primitive(), w_hh.into_primitive());
        (FloatTensor::<Self>::new(dgx), FloatTensor::<Self>::new(ds))
    }

    fn lstm_sequence(gx: FloatTensor<Self>, w_hh: FloatTensor<Self>, state0: FloatTensor<Self>) -> FloatTensor<Self> {
        let nodes = [gx.node(), w_hh.node(), state0.node()];
        let (w, s) = (w_hh.into_primitive(), state0.into_primitive());
        let (y, gates) = B::lstm_forward(gx.into_primitive(), w.clone(), s.clone());
        match SequenceBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((gates, y.clone(), s, w), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}
