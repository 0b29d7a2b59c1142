//! Copying a model's weights to another device with asynchronous reads only. burn's own
//! `to_device` and `into_record` read synchronously, which panics on WebGPU in a browser; this
//! reads every parameter in one `Transaction::execute_async` and rebuilds the model elsewhere
//! (normally on Flex, where it can be saved or used for generation).

use super::{LstmLm, ModelConfig};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::{TensorData, Transaction};
use std::collections::VecDeque;

/// Gathers every float parameter, flattened, in visiting order.
struct Collect(Vec<(Tensor<1>, Vec<usize>)>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let dims = t.dims().to_vec();
        let n: usize = dims.iter().product();
        self.0.push((t.reshape([n]), dims));
    }
}

/// Replaces every float parameter, in the same visiting order, with the values read.
struct Replace {
    values: VecDeque<(TensorData, Vec<usize>)>,
    device: Device,
}

impl ModuleMapper for Replace {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (data, dims) = self.values.pop_front().expect("one value per parameter");
        let values: Vec<f32> = data.convert::<f32>().try_into_vec::<f32>().expect("float parameter");
        let shape: [usize; D] = dims.try_into().expect("same rank");
        let tensor = Tensor::<D>::from_data(TensorData::new(values, shape), &self.device);
        param.map(|_| tensor)
    }
}

/// A copy of `model` (built from `config`) on `device`, without autodiff.
pub async fn copy_to_device(model: &LstmLm, config: &ModelConfig, device: &Device) -> Result<LstmLm, String> {
    let mut collect = Collect(Vec::new());
    model.visit(&mut collect);
    let mut transaction = Transaction::default();
    let mut dims = Vec::with_capacity(collect.0.len());
    for (t, d) in collect.0 {
        transaction = transaction.register(t);
        dims.push(d);
    }
    let data = transaction.execute_async().await.map_err(|e| format!("reading the weights failed: {e:?}"))?;
    let mut replace = Replace { values: data.into_iter().zip(dims).collect(), device: device.clone() };
    Ok(config.init(device).map(&mut replace))
}
