//! Messages between the page and the training worker: plain serde types, sent as one compact
//! binary buffer each (postcard). The page owns files and UI state; the worker owns the device,
//! the model and the optimizer.
//!
//! Why bytes and not serde-wasm-bindgen's JS objects: converting a clip of 600 notes to and from
//! JS objects took about 6 seconds each way in Chromium (measured; `tests/webgpu.rs` keeps the
//! check), while postcard takes milliseconds and carries model files as raw bytes.

use crate::encoding::corpus::TokenCorpus;
use crate::encoding::MusicVocab;
use crate::generate::GenerateConfig;
use crate::midi::Note;
use crate::model::{ModelConfig, TrainingSummary};
use crate::train::{Progress, StopReason, TrainConfig};
use serde::{Deserialize, Serialize};

/// Which compute backend the worker should use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackendChoice {
    /// When training starts, time a step of the model about to train on each usable backend and
    /// keep the faster (or use the timing remembered for this adapter and shape).
    Auto,
    WebGpu,
    Cpu,
}

/// Page → worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToWorker {
    /// Pick (or re-pick) the backend.
    Init { choice: BackendChoice },
    /// Train from scratch (`init_model: None`) or fine-tune a saved model file.
    Train {
        corpus: TokenCorpusMsg,
        model: ModelConfig,
        config: TrainConfig,
        /// The vocabulary the corpus was tokenised with (saved in the model file).
        vocab: MusicVocab,
        #[serde(with = "serde_bytes")]
        init_model: Option<Vec<u8>>,
        /// Timings the page remembers (per adapter and model shape), so a second run skips them.
        known_speeds: Vec<Speeds>,
    },
    Pause,
    Resume,
    /// Stop training and keep the best model so far.
    Stop,
    /// Render notes to audio with the SoundFont (`speed` × their tempo): for playing
    /// ([`FromWorker::Rendered`]) or as a WAV file ([`FromWorker::Wav`], with progress).
    Render { notes: Vec<Note>, speed: f64, wav: bool },
    Generate {
        /// A model file; the worker's current model when `None`.
        #[serde(with = "serde_bytes")]
        model: Option<Vec<u8>>,
        primer: Vec<u16>,
        config: GenerateConfig,
    },
    /// Several clips at once (one per seed) for the evaluation panel and the listening test.
    Sample {
        #[serde(with = "serde_bytes")]
        model: Vec<u8>,
        config: GenerateConfig,
        seeds: Vec<u64>,
    },
}

/// Worker → page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FromWorker {
    /// The worker is listening (messages sent before this would be lost).
    Ready,
    /// The backend in use, in words, and why it was chosen.
    Backend { name: String, gpu: bool, reason: String },
    /// Training speed of one model shape on the GPU and on the CPU, timed before training (the
    /// page remembers it per adapter).
    Speeds(Speeds),
    Progress(Progress),
    /// Training is paused; the best model so far (saved so a reload keeps it).
    Paused {
        #[serde(with = "serde_bytes")]
        model_file: Vec<u8>,
        summary: TrainingSummary,
    },
    /// Training ended; the model file (config, vocabulary, summary, weights).
    Trained {
        reason: StopReason,
        #[serde(with = "serde_bytes")]
        model_file: Vec<u8>,
        summary: TrainingSummary,
    },
    GenerateProgress { tokens: usize },
    Generated { notes: Vec<Note>, tokens: Vec<u16>, primer_len: usize, millis: f64 },
    /// Stereo audio: little-endian f32 samples, all of the left channel then all of the right.
    Rendered {
        #[serde(with = "serde_bytes")]
        pcm: Vec<u8>,
        sample_rate: u32,
    },
    /// The clips asked for by [`ToWorker::Sample`], in seed order.
    Samples { clips: Vec<Vec<Note>> },
    /// Share of a WAV rendering done (0–1).
    RenderProgress { fraction: f64 },
    Wav {
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    Failed { message: String },
}

/// Measured training speed of one model shape on one adapter, in tokens per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Speeds {
    pub adapter: String,
    /// [`shape_key`] of the model and batch timed.
    pub shape: String,
    pub gpu_tokens_per_s: f64,
    pub cpu_tokens_per_s: f64,
}

/// What decides a step's speed: the model's size and the batch.
pub fn shape_key(model: &ModelConfig, config: &TrainConfig) -> String {
    format!("{}x{} e{} v{} b{}x{}", model.layers, model.hidden, model.embed, model.vocab_size, config.batch, config.seq_len)
}

/// The token corpus as sent to the worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenCorpusMsg {
    pub train: Vec<Vec<u16>>,
    pub valid: Vec<Vec<u16>>,
    pub train_heads: Vec<usize>,
    pub window_anchor: Option<u16>,
}

impl From<&TokenCorpus> for TokenCorpusMsg {
    fn from(c: &TokenCorpus) -> Self {
        TokenCorpusMsg { train: c.train.clone(), valid: c.valid.clone(), train_heads: c.train_heads.clone(), window_anchor: c.window_anchor }
    }
}

impl From<TokenCorpusMsg> for TokenCorpus {
    fn from(m: TokenCorpusMsg) -> Self {
        TokenCorpus { train: m.train, valid: m.valid, train_heads: m.train_heads, window_anchor: m.window_anchor, ..Default::default() }
    }
}

/// One message as bytes for `postMessage`.
pub fn to_bytes<T: Serialize>(msg: &T) -> Vec<u8> {
    postcard::to_allocvec(msg).expect("messages always serialize")
}

/// A message back from bytes.
pub fn from_bytes<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|e| e.to_string())
}
