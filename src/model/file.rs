//! The model file: everything needed to rebuild a trained model in the page or the CLI.
//!
//! Layout: `CANTORM1` (8 bytes) · JSON header length (u32, little-endian) · JSON header
//! ([`ModelConfig`], [`Vocab`], [`TrainingSummary`], the weights' format) · the weights: burn's
//! burnpack bytes (f32, what training saves), or 8-bit rows ([`super::int8`], the starter's).

use super::{LstmLm, ModelConfig};
use crate::encoding::Vocab;
use burn::module::Module;
use burn::prelude::Device;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};
use std::fmt;

const MAGIC: &[u8; 8] = b"CANTORM1";
/// Largest JSON header accepted when loading (curves of a long run fit easily).
const MAX_HEADER: usize = 16 << 20;

/// What training produced, shown next to the model in the page and by the CLI.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    pub epochs: usize,
    pub steps: usize,
    /// Training tokens seen.
    pub tokens: u64,
    pub best_valid_nll: Option<f64>,
    /// (step, training loss) samples.
    pub train_curve: Vec<(usize, f64)>,
    /// (step, validation NLL per token) after each epoch.
    pub valid_curve: Vec<(usize, f64)>,
    /// Files the model learned from.
    pub files: Vec<String>,
    /// Of those, the files held out whole for validation: `cantor evaluate` holds out the same ones.
    #[serde(default)]
    pub held_out: Vec<String>,
    /// When each file's last bars were held out instead: the share of its bars.
    #[serde(default)]
    pub held_out_share: Option<f64>,
    /// Why training ended, in a sentence ("Stopped early because …").
    #[serde(default)]
    pub stopped: Option<String>,
}

/// How the weights after the header are stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum WeightsFormat {
    /// burn's burnpack, f32 (every file before 8-bit weights).
    #[default]
    Burnpack,
    /// Signed bytes with an f32 scale per row: a quarter of the size.
    Int8Rows,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Header {
    model: ModelConfig,
    vocab: Vocab,
    #[serde(default)]
    summary: TrainingSummary,
    /// Absent in f32 files, so they read (and write) as before.
    #[serde(default, skip_serializing_if = "is_burnpack")]
    weights: WeightsFormat,
}

fn is_burnpack(f: &WeightsFormat) -> bool {
    *f == WeightsFormat::Burnpack
}

/// A model file in memory: header plus weights, not yet placed on a device.
#[derive(Debug, Clone)]
pub struct ModelFile {
    pub config: ModelConfig,
    pub vocab: Vocab,
    pub summary: TrainingSummary,
    /// The weights, in `format`.
    pub weights: Vec<u8>,
    pub format: WeightsFormat,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelFileError {
    NotAModel,
    Truncated,
    BadHeader(String),
    /// The description asks for something outside Cantor's bounds (checked before allocating).
    OutOfRange(crate::settings::SettingError),
    Weights(String),
}

impl fmt::Display for ModelFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelFileError::NotAModel => write!(f, "this is not a Cantor model file"),
            ModelFileError::Truncated => write!(f, "the model file is cut short"),
            ModelFileError::BadHeader(e) => write!(f, "the model file's description is damaged ({e})"),
            ModelFileError::OutOfRange(e) => write!(f, "this model file describes a model Cantor cannot use: {e}"),
            // The detail (burn's record error) is for developers: `{:?}` shows it.
            ModelFileError::Weights(_) => write!(f, "the model's weights do not fit its description (the file is damaged, or not whole)"),
        }
    }
}

impl std::error::Error for ModelFileError {}

impl ModelFile {
    /// Serialises a model. Reads the weights synchronously: on WebGPU, copy the model to Flex first.
    pub fn from_model(model: &LstmLm, config: &ModelConfig, vocab: &Vocab, summary: TrainingSummary) -> Result<Self, ModelFileError> {
        let weights = model
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| ModelFileError::Weights(e.to_string()))?;
        Ok(ModelFile { config: config.clone(), vocab: vocab.clone(), summary, weights: weights.to_vec(), format: WeightsFormat::Burnpack })
    }

    /// The same model with 8-bit weights (a quarter of the size; for a model that must download
    /// fast). Reads synchronously: a model on Flex.
    pub fn to_int8(&self, device: &Device) -> Result<ModelFile, ModelFileError> {
        let model = self.load(device)?;
        Ok(ModelFile { weights: super::int8::quantize(&model), format: WeightsFormat::Int8Rows, ..self.clone() })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header { model: self.config.clone(), vocab: self.vocab.clone(), summary: self.summary.clone(), weights: self.format };
        let json = serde_json::to_vec(&header).expect("model header serialises");
        let mut out = Vec::with_capacity(12 + json.len() + self.weights.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        out.extend_from_slice(&self.weights);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelFileError> {
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(if MAGIC.starts_with(&bytes[..bytes.len().min(8)]) {
                ModelFileError::Truncated
            } else {
                ModelFileError::NotAModel
            });
        }
        let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
        if len > MAX_HEADER {
            return Err(ModelFileError::BadHeader("header too large".into()));
        }
        let json = bytes.get(12..12 + len).ok_or(ModelFileError::Truncated)?;
        let header: Header = serde_json::from_slice(json).map_err(|e| ModelFileError::BadHeader(e.to_string()))?;
        // A stranger's file: every size is bounded before the model is built from it.
        header.model.validate().map_err(ModelFileError::OutOfRange)?;
        header.vocab.validate().map_err(ModelFileError::OutOfRange)?;
        if header.model.vocab_size != header.vocab.size() {
            return Err(ModelFileError::BadHeader("model and vocabulary sizes differ".into()));
        }
        // f32 weights plus burnpack's small per-tensor metadata; more is not weights of this model.
        let weights = bytes.len() - 12 - len;
        if weights > header.model.param_count() * 4 + (1 << 20) {
            return Err(ModelFileError::Weights(format!("{weights} bytes of weights for {} parameters", header.model.param_count())));
        }
        Ok(ModelFile {
            config: header.model,
            vocab: header.vocab,
            summary: header.summary,
            weights: bytes[12 + len..].to_vec(),
            format: header.weights,
        })
    }

    /// Builds the model on `device` and loads the weights into it.
    pub fn load(&self, device: &Device) -> Result<LstmLm, ModelFileError> {
        self.config.validate().map_err(ModelFileError::OutOfRange)?;
        if self.format == WeightsFormat::Int8Rows {
            return super::int8::dequantize(&self.config, &self.weights, device).map_err(ModelFileError::Weights);
        }
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(self.weights.clone()))
            .map_err(|e| ModelFileError::Weights(e.to_string()))?;
        self.config
            .init(device)
            .try_load_record(record)
            .map_err(|e| ModelFileError::Weights(e.to_string()))
    }

    /// A short stable id of the weights (FNV-1a, 64 bits, hex), so a share link can name its model.
    pub fn fingerprint(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in self.weights.iter().chain(serde_json::to_vec(&self.vocab).unwrap_or_default().iter()) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{h:016x}")
    }
}
