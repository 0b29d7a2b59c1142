//! The bridge to PyTorch, for training on many GPUs and machines (`torchrun` and DDP run
//! `scripts/torch_train.py`; burn 0.22 has no multi-node training). Cantor owns the data (a corpus
//! on disk, `shards.rs`), the vocabulary, inference and the page; PyTorch only trains.
//!
//! One model, two engines: the same function with the same weights. The weights travel as
//! safetensors under PyTorch's own names (`nn.Embedding`, `nn.LSTM`, `nn.Linear`):
//! - `emb.weight` `[V, E]`: the embedding as it is;
//! - `lstm.weight_ih_l{k}` `[4H, in]` and `lstm.weight_hh_l{k}` `[4H, H]`: our `w_ih` `[in, 4H]`
//!   and `w_hh` `[H, 4H]` transposed. Both engines order the gates input, forget, cell, output
//!   (`FusedLstm` chunks its `4H` columns so; PyTorch stacks its rows so), so no gate moves;
//! - `lstm.bias_ih_l{k}` is our bias and `lstm.bias_hh_l{k}` zero on export; on import the two
//!   are added (PyTorch keeps two biases per gate, we keep their sum);
//! - `out.weight` `[V, H]`: our output layer's `[H, V]` transposed; `out.bias` `[V]`.
//!
//! Only models of that shape cross: the fused cell, an untied output, no frame context; dropout
//! is after every layer in both.

use crate::encoding::Vocab;
use crate::model::{CellKind, LstmLm, ModelConfig};
use crate::settings::MAX_PARAMETERS;
use burn::prelude::*;
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const FORMAT: &str = "cantor-torch-run";

/// `RUN/run.json`: what `scripts/torch_train.py` needs besides the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub format: String,
    pub version: u32,
    pub model: RunModel,
    pub train: RunTrain,
    /// The corpus folder (absolute).
    pub corpus: String,
    /// The initial weights, relative to the run folder.
    pub init: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunModel {
    pub vocab_size: usize,
    pub embed: usize,
    pub hidden: usize,
    pub layers: usize,
    pub dropout: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunTrain {
    pub lr: f64,
    pub warmup_steps: usize,
    pub clip_norm: f32,
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    /// Rows per optimizer step across every process.
    pub batch: usize,
    pub seq_len: usize,
    pub steps: usize,
    pub seed: u64,
    pub log_every: usize,
}

/// Errors in words: a model that cannot cross, a damaged or hostile checkpoint.
#[derive(Debug)]
pub struct TorchError(pub String);

impl std::fmt::Display for TorchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TorchError {}

fn err(s: impl Into<String>) -> TorchError {
    TorchError(s.into())
}

/// Whether a model of this shape has a PyTorch twin.
pub fn check_shape(config: &ModelConfig) -> Result<(), TorchError> {
    if config.cell != CellKind::Fused || config.awd.tied || config.frame_context || config.awd.weight_dropout > 0.0 || config.awd.variational || config.sounding.is_some() {
        return Err(err("only models with the default cell, an untied output, no frame context, plain dropout and no sounding input (`cantor train --no-sounding`) train in PyTorch"));
    }
    Ok(())
}

/// The names and shapes of a model's tensors in PyTorch, in our visiting order.
fn layout(c: &ModelConfig) -> Vec<(String, Vec<usize>)> {
    let (v, e, h) = (c.vocab_size, c.embed, c.hidden);
    let mut out = vec![("emb.weight".to_string(), vec![v, e])];
    for l in 0..c.layers {
        let d_in = if l == 0 { e } else { h };
        out.push((format!("lstm.weight_ih_l{l}"), vec![4 * h, d_in]));
        out.push((format!("lstm.weight_hh_l{l}"), vec![4 * h, h]));
        out.push((format!("lstm.bias_ih_l{l}"), vec![4 * h]));
        out.push((format!("lstm.bias_hh_l{l}"), vec![4 * h]));
    }
    out.push(("out.weight".to_string(), vec![v, h]));
    out.push(("out.bias".to_string(), vec![v]));
    out
}

fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = x[r * cols + c];
        }
    }
    out
}

/// A model's weights as PyTorch tensors (name → values, row-major in PyTorch's shapes).
pub async fn to_torch(model: &LstmLm, config: &ModelConfig) -> Result<BTreeMap<String, Vec<f32>>, TorchError> {
    check_shape(config)?;
    // Our visiting order: embedding; each layer's w_ih, w_hh, bias; the output's weight, bias.
    // (On the autodiff device every weight is a trainable parameter, which is what is gathered.)
    let flat = crate::train::team::weights(&model.clone().train()).await.map_err(|e| err(e.to_string()))?;
    let (v, e, h) = (config.vocab_size, config.embed, config.hidden);
    let mut at = 0;
    let mut take = |n: usize| {
        let s = flat[at..at + n].to_vec();
        at += n;
        s
    };
    let mut out = BTreeMap::new();
    out.insert("emb.weight".to_string(), take(v * e));
    for l in 0..config.layers {
        let d_in = if l == 0 { e } else { h };
        out.insert(format!("lstm.weight_ih_l{l}"), transpose(&take(d_in * 4 * h), d_in, 4 * h));
        out.insert(format!("lstm.weight_hh_l{l}"), transpose(&take(h * 4 * h), h, 4 * h));
        out.insert(format!("lstm.bias_ih_l{l}"), take(4 * h));
        out.insert(format!("lstm.bias_hh_l{l}"), vec![0.0; 4 * h]);
    }
    out.insert("out.weight".to_string(), transpose(&take(h * v), h, v));
    out.insert("out.bias".to_string(), take(v));
    if at != flat.len() {
        return Err(err("the model has tensors PyTorch's twin lacks"));
    }
    Ok(out)
}

/// Writes tensors as a safetensors file (float32, little-endian).
pub fn write_safetensors(path: &Path, config: &ModelConfig, tensors: &BTreeMap<String, Vec<f32>>) -> Result<(), TorchError> {
    let shapes: BTreeMap<String, Vec<usize>> = layout(config).into_iter().collect();
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> =
        tensors.iter().map(|(n, v)| (n.clone(), v.iter().flat_map(|x| x.to_le_bytes()).collect(), shapes[n].clone())).collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(n, b, s)| Ok((n.clone(), TensorView::new(Dtype::F32, s.clone(), b).map_err(|e| err(e.to_string()))?)))
        .collect::<Result<_, TorchError>>()?;
    safetensors::serialize_to_file(views, None, path).map_err(|e| err(format!("could not write {}: {e}", path.display())))
}

/// Reads a checkpoint written by `scripts/torch_train.py` into a model of `config`, refusing
/// (with a sentence) a file that is not one: other names, other shapes, another number type,
/// values that are not finite, or sizes past what Cantor loads.
pub fn from_torch(bytes: &[u8], config: &ModelConfig, device: &Device) -> Result<LstmLm, TorchError> {
    check_shape(config)?;
    config.validate().map_err(|e| err(e.0))?;
    if config.param_count() > MAX_PARAMETERS {
        return Err(err("the run describes a model larger than Cantor loads"));
    }
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| err(format!("this is not a safetensors checkpoint ({e})")))?;
    let expected = layout(config);
    let mut names: Vec<String> = file.names().into_iter().map(str::to_string).collect();
    names.sort();
    let mut want: Vec<String> = expected.iter().map(|(n, _)| n.clone()).collect();
    want.sort();
    if names != want {
        let missing: Vec<&String> = want.iter().filter(|n| !names.contains(n)).collect();
        let extra: Vec<&String> = names.iter().filter(|n| !want.contains(n)).collect();
        return Err(err(format!("the checkpoint's tensors are not this model's (missing {missing:?}, unexpected {extra:?})")));
    }
    let mut read = BTreeMap::new();
    for (name, shape) in &expected {
        let t = file.tensor(name).map_err(|e| err(format!("tensor {name} cannot be read ({e})")))?;
        if t.dtype() != Dtype::F32 {
            return Err(err(format!("tensor {name} is {:?}, not 32-bit floats", t.dtype())));
        }
        if t.shape() != shape.as_slice() {
            return Err(err(format!("tensor {name} has shape {:?}; this model needs {shape:?}", t.shape())));
        }
        let values: Vec<f32> = t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if values.iter().any(|x| !x.is_finite()) {
            return Err(err(format!("tensor {name} holds values that are not numbers (NaN or infinite): the run diverged")));
        }
        read.insert(name.clone(), values);
    }
    // Back to our layouts, in our visiting order.
    let (v, e, h) = (config.vocab_size, config.embed, config.hidden);
    let mut flat = read["emb.weight"].clone();
    for l in 0..config.layers {
        let d_in = if l == 0 { e } else { h };
        flat.extend(transpose(&read[&format!("lstm.weight_ih_l{l}")], 4 * h, d_in));
        flat.extend(transpose(&read[&format!("lstm.weight_hh_l{l}")], 4 * h, h));
        let (bi, bh) = (&read[&format!("lstm.bias_ih_l{l}")], &read[&format!("lstm.bias_hh_l{l}")]);
        flat.extend(bi.iter().zip(bh).map(|(a, b)| a + b));
    }
    flat.extend(transpose(&read["out.weight"], v, h));
    flat.extend(read["out.bias"].iter());
    if flat.iter().any(|x| !x.is_finite()) {
        return Err(err("the checkpoint's two LSTM biases add up to values that are not numbers"));
    }
    // Set as trainable parameters (on the autodiff device), then handed over as a plain model.
    let model = config.init(&device.clone().autodiff());
    let model = crate::train::set_flat_weights(model, &flat).ok_or_else(|| err("the checkpoint's sizes do not add up to the model's"))?;
    Ok(model.valid())
}

/// The run folder's `run.json` and `vocab.json`.
pub fn read_run(dir: &Path) -> Result<(Run, Vocab), TorchError> {
    let run: Run = serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).map_err(|e| err(format!("{} has no readable run.json ({e})", dir.display())))?)
        .map_err(|e| err(format!("run.json is damaged ({e})")))?;
    if run.format != FORMAT {
        return Err(err("run.json was not written by cantor export-torch"));
    }
    let vocab: Vocab = serde_json::from_str(&std::fs::read_to_string(dir.join("vocab.json")).map_err(|e| err(format!("{} has no readable vocab.json ({e})", dir.display())))?)
        .map_err(|e| err(format!("vocab.json is damaged ({e})")))?;
    if vocab.size() != run.model.vocab_size {
        return Err(err("run.json and vocab.json disagree on the vocabulary's size"));
    }
    Ok((run, vocab))
}

impl Run {
    /// The model shape the run trains.
    pub fn model_config(&self) -> ModelConfig {
        ModelConfig {
            vocab_size: self.model.vocab_size,
            embed: self.model.embed,
            hidden: self.model.hidden,
            layers: self.model.layers,
            dropout: self.model.dropout,
            ..ModelConfig::new(self.model.vocab_size)
        }
    }
}
