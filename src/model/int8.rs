//! 8-bit weights for a model that is downloaded before anything sounds (the starter): each float
//! parameter's rows (its first dimension; a vector is one row) are stored as signed bytes with one
//! f32 scale per row (symmetric, `scale = max |w| / 127`), a quarter of the f32 size. Loading turns
//! them back into f32 tensors of the same shapes on the model's device (trainable where its
//! parameters are), so everything after loading is unchanged. Model
//! files users save stay f32 unless they ask (`cantor quantize`).
//!
//! Layout, per parameter in visiting order: rank (u8) · dims (u32 each) · rows × f32 scale ·
//! values (i8), all little-endian.

use super::{LstmLm, ModelConfig};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::TensorData;

/// Gathers every float parameter's values and shape, in visiting order (Flex: synchronous reads).
struct Collect(Vec<(Vec<f32>, Vec<usize>)>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let dims = t.dims().to_vec();
        let values = t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default();
        self.0.push((values, dims));
    }
}

/// Rows and row length of a parameter of these dims.
fn rows(dims: &[usize]) -> (usize, usize) {
    let n: usize = dims.iter().product();
    let rows = if dims.len() >= 2 { dims[0].max(1) } else { 1 };
    (rows, n / rows.max(1))
}

/// The model's weights as 8-bit rows. Reads synchronously: a model on Flex.
pub fn quantize(model: &LstmLm) -> Vec<u8> {
    let mut collect = Collect(Vec::new());
    model.visit(&mut collect);
    let mut out = Vec::new();
    for (values, dims) in collect.0 {
        out.push(dims.len() as u8);
        for &d in &dims {
            out.extend_from_slice(&(d as u32).to_le_bytes());
        }
        let (rows, cols) = rows(&dims);
        let scales: Vec<f32> = values.chunks(cols.max(1)).map(|r| r.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 127.0).collect();
        debug_assert_eq!(scales.len(), rows);
        for s in &scales {
            out.extend_from_slice(&s.to_le_bytes());
        }
        for (row, &s) in values.chunks(cols.max(1)).zip(&scales) {
            out.extend(row.iter().map(|&v| if s > 0.0 { (v / s).round().clamp(-127.0, 127.0) as i8 as u8 } else { 0 }));
        }
    }
    out
}

/// Reads 8-bit rows back into each parameter, checking every shape against the model's.
struct Replace<'a> {
    bytes: &'a [u8],
    at: usize,
    device: Device,
    error: Option<String>,
}

impl Replace<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn read(&mut self, want: &[usize]) -> Result<Vec<f32>, String> {
        let rank = *self.take(1).ok_or("the weights end early")?.first().unwrap_or(&0) as usize;
        let mut dims = Vec::with_capacity(rank);
        for _ in 0..rank {
            let b = self.take(4).ok_or("the weights end early")?;
            dims.push(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
        }
        if dims != want {
            return Err(format!("a parameter is {dims:?} where the model has {want:?}"));
        }
        let (rows, cols) = rows(&dims);
        let scales: Vec<f32> = self.take(rows * 4).ok_or("the weights end early")?.chunks(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if scales.iter().any(|s| !s.is_finite() || *s < 0.0) {
            return Err("a row's scale is not a finite, non-negative number".into());
        }
        let values = self.take(rows * cols).ok_or("the weights end early")?;
        Ok(values.chunks(cols.max(1)).zip(&scales).flat_map(|(row, &s)| row.iter().map(move |&q| q as i8 as f32 * s)).collect())
    }
}

impl ModuleMapper for Replace<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.error.is_some() {
            return param;
        }
        let dims: [usize; D] = param.val().dims();
        match self.read(&dims) {
            Ok(values) => {
                let tensor = Tensor::<D>::from_data(TensorData::new(values, dims), &self.device);
                // Trainable where the model's own parameter is (on an autodiff device), as a
                // loaded f32 model's are: the starter is fine-tuned from its 8-bit file.
                param.map(|init| tensor.set_require_grad(init.is_require_grad()))
            }
            Err(e) => {
                self.error = Some(e);
                param
            }
        }
    }
}

/// A model built from `config` on `device` with the 8-bit weights of [`quantize`].
pub fn dequantize(config: &ModelConfig, bytes: &[u8], device: &Device) -> Result<LstmLm, String> {
    let mut replace = Replace { bytes, at: 0, device: device.clone(), error: None };
    let model = config.init(device).map(&mut replace);
    match replace.error {
        Some(e) => Err(e),
        None if replace.at != bytes.len() => Err(format!("{} bytes are left over after the last parameter", bytes.len() - replace.at)),
        None => Ok(model),
    }
}
