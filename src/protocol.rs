//! Messages between the page and the training worker: plain serde types, sent as one compact
//! binary buffer each (postcard). The page owns the UI state and keeps the files' bytes; the
//! worker reads and tokenises the files (off the page's thread), owns the device, the model and
//! the optimizer, and keeps read files by id and loaded models by fingerprint.
//!
//! Every [`Request`] carries an id and every [`Answer`] names the request it answers (failures
//! included), so the page knows which action a failure belongs to; id 0 is not an answer.
//!
//! Why bytes and not serde-wasm-bindgen's JS objects: converting a clip of 600 notes to and from
//! JS objects took about 6 seconds each way in Chromium (measured; `tests/webgpu.rs` keeps the
//! check), while postcard takes milliseconds and carries model files as raw bytes.

use crate::encoding::MusicVocab;
use crate::generate::{Form, Section};
use crate::generate::GenerateConfig;
use crate::midi::{Note, Song};
use crate::model::{ModelConfig, TrainingSummary};
use crate::sequences::{CorpusReport, Selection};
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

/// A message to the worker with its id (ids count up from 1 per worker).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    pub body: ToWorker,
}

/// A message from the worker: `id` is the request it answers, 0 for none ([`FromWorker::Ready`],
/// [`FromWorker::Crashed`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    pub id: u64,
    pub body: FromWorker,
}

/// Page → worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToWorker {
    /// Pick (or re-pick) the backend.
    Init { choice: BackendChoice },
    /// Read MIDI files (each answered in [`FromWorker::FilesRead`]); the worker keeps the readable
    /// ones by id for [`ToWorker::Tokenise`] and [`ToWorker::Train`].
    ReadFiles { files: Vec<FileBytes> },
    /// The user removed these files.
    ForgetFiles { ids: Vec<u32> },
    /// Count what `selection` of the files read so far holds, in vocabulary `base`
    /// ([`FromWorker::Tokenised`]).
    Tokenise { selection: Selection, base: MusicVocab },
    /// Train from scratch (`init_model: None`) or fine-tune a saved model file, on `selection` of
    /// the files read so far (tokenised in the worker; the split is recorded in the model file).
    Train {
        selection: Selection,
        model: ModelConfig,
        config: TrainConfig,
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
    /// ([`FromWorker::Rendered`], in parts, the opening first) or as a WAV file
    /// ([`FromWorker::Wav`], with progress). `from_frame` > 0: the first `from_frame` frames
    /// already sound (the clip's opening, see [`FromWorker::Opening`]); only the parts after
    /// them are sent.
    Render { notes: Vec<Note>, speed: f64, wav: bool, from_frame: u64 },
    /// Load the first clip's sound bank now (nothing is answered), so its opening can sound as
    /// soon as it is written: sent on the first screen's click, while the clip is being made.
    PrepareSound,
    /// Check and load a model file once; later requests name it by fingerprint.
    Load {
        #[serde(with = "serde_bytes")]
        model_file: Vec<u8>,
    },
    Generate {
        /// Fingerprint of a loaded model; the model trained last when `None`.
        model: Option<String>,
        primer: Vec<u16>,
        config: GenerateConfig,
        /// Send the clip's first bars as they are written, rendered ([`FromWorker::Opening`]), so
        /// they can sound while the rest is generated (the first screen's clip).
        opening: bool,
        /// Sections to write (`AABA`), bar vocabulary only; `None`: the model decides the form.
        #[serde(default)]
        form: Option<Form>,
    },
    /// Several clips at once (one per seed) for the evaluation panel and the listening test.
    Sample {
        /// Fingerprint of a loaded model.
        model: String,
        config: GenerateConfig,
        seeds: Vec<u64>,
    },
}

impl ToWorker {
    /// What kind of action the request is, for routing its failure.
    pub fn kind(&self) -> RequestKind {
        match self {
            ToWorker::Init { .. } => RequestKind::Init,
            ToWorker::Train { .. } => RequestKind::Train,
            ToWorker::ReadFiles { .. } => RequestKind::Read,
            ToWorker::Tokenise { .. } => RequestKind::Tokenise,
            ToWorker::Pause | ToWorker::Resume | ToWorker::Stop | ToWorker::ForgetFiles { .. } | ToWorker::PrepareSound => RequestKind::Control,
            ToWorker::Render { wav: false, .. } => RequestKind::Play,
            ToWorker::Render { wav: true, .. } => RequestKind::Wav,
            ToWorker::Load { .. } => RequestKind::Load,
            ToWorker::Generate { .. } => RequestKind::Generate,
            ToWorker::Sample { .. } => RequestKind::Sample,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestKind {
    Init,
    Read,
    Tokenise,
    Train,
    Control,
    Play,
    Wav,
    Load,
    Generate,
    Sample,
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
    /// A few bars from the model as it stood at the end of an epoch, to hear it learn.
    EpochSample { epoch: usize, notes: Vec<Note> },
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
    /// A Generate's first bars while the rest is being written: their notes (as a clip holds them)
    /// and their sound, rendered up to the bar line after them (f32 samples, left then right).
    /// The whole clip's Render continues from that frame without a seam.
    Opening {
        notes: Vec<Note>,
        #[serde(with = "serde_bytes")]
        pcm: Vec<u8>,
        sample_rate: u32,
    },
    Generated {
        notes: Vec<Note>,
        tokens: Vec<u16>,
        primer_len: usize,
        millis: f64,
        /// Where the asked-for form's sections begin (none for free generation).
        #[serde(default)]
        sections: Vec<Section>,
    },
    /// One part of a rendering for playing, in order, the opening first (so it can sound while
    /// the rest is rendered): little-endian f32 samples, all of the part's left channel then all
    /// of its right, starting `at` frames into the clip; `last` ends the request.
    Rendered {
        #[serde(with = "serde_bytes")]
        pcm: Vec<u8>,
        sample_rate: u32,
        at: u64,
        last: bool,
    },
    /// The clips asked for by [`ToWorker::Sample`], in seed order.
    Samples { clips: Vec<Vec<Note>> },
    /// Share of a WAV rendering done (0–1).
    RenderProgress { fraction: f64 },
    Wav {
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// Each file of a [`ToWorker::ReadFiles`]: its song, or why it cannot be used (a sentence).
    /// `memory_bytes`: the worker's wasm memory afterwards (it only grows: its peak so far).
    FilesRead { files: Vec<FileRead>, memory_bytes: u64 },
    /// What the selection asked for by [`ToWorker::Tokenise`] holds.
    Tokenised(CorpusReport),
    /// A model file passed its checks and is loaded under this fingerprint.
    Loaded { fingerprint: String },
    Failed { message: String },
    /// The worker hit a bug and is about to stop; the page starts a fresh one.
    Crashed { message: String },
}

impl RequestKind {
    /// Whether `answer` is the last one a request of this kind gets.
    pub fn ends_with(self, answer: &FromWorker) -> bool {
        use FromWorker as F;
        match (self, answer) {
            (_, F::Failed { .. } | F::Crashed { .. }) => true,
            (RequestKind::Init, F::Backend { .. }) => true,
            (RequestKind::Read, F::FilesRead { .. }) => true,
            (RequestKind::Tokenise, F::Tokenised(_)) => true,
            (RequestKind::Train, F::Trained { .. }) => true,
            (RequestKind::Play, F::Rendered { last, .. }) => *last,
            (RequestKind::Wav, F::Wav { .. }) => true,
            (RequestKind::Load, F::Loaded { .. }) => true,
            (RequestKind::Generate, F::Generated { .. }) => true,
            (RequestKind::Sample, F::Samples { .. }) => true,
            _ => false,
        }
    }
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

/// A dropped file as the page read it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileBytes {
    pub id: u32,
    pub name: String,
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

/// A file as the worker read it: its song, or why it cannot be used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRead {
    pub id: u32,
    pub song: Result<Song, String>,
}

/// One message as bytes for `postMessage`.
pub fn to_bytes<T: Serialize>(msg: &T) -> Vec<u8> {
    postcard::to_allocvec(msg).expect("messages always serialize")
}

/// A request as bytes, without copying its body.
pub fn request_bytes(id: u64, body: &ToWorker) -> Vec<u8> {
    #[derive(Serialize)]
    struct RequestRef<'a> {
        id: u64,
        body: &'a ToWorker,
    }
    to_bytes(&RequestRef { id, body })
}

/// A message back from bytes.
pub fn from_bytes<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|e| e.to_string())
}
