//! Every number a user (or a stranger's model file, or a share link) can set, each declared once
//! with its default and its bounds, and `SettingError`, the sentence a refusal answers with. The
//! page's inputs take their `min`/`max` from here, the CLI its defaults; each configuration's
//! `validate()` stands beside the type it checks (`ModelConfig`, `TrainConfig`, `SamplingParams`,
//! `GenerateConfig`, the vocabularies) and checks only these bounds, and the worker, the model-file
//! reader and the share codec all call the same checks, so nothing one part writes is refused by
//! another. This file is the ground floor: it imports nothing of ours.
//!
//! The bounds are what this build can hold and what makes musical sense, not taste: a model
//! file asking for more parameters than a browser tab can train is refused before anything is
//! allocated from it.

use std::fmt;

/// A whole-number setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Whole {
    /// What it is, in words ("the batch size").
    pub label: &'static str,
    pub min: u64,
    pub max: u64,
    pub default: u64,
}

/// A setting on a continuous scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Real {
    pub label: &'static str,
    pub min: f64,
    pub max: f64,
    pub default: f64,
}

/// Why a setting was refused, as a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError(pub String);

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SettingError {}

impl SettingError {
    /// What a check says about a group: "the vocabulary: …".
    pub fn within(self, what: &str) -> SettingError {
        SettingError(format!("{what}: {}", self.0))
    }
}

impl Whole {
    fn refuse(&self, value: impl fmt::Display) -> SettingError {
        SettingError(format!("{} must be a whole number from {} to {}; {value} is not.", capital(self.label), self.min, self.max))
    }

    pub fn check(&self, value: u64) -> Result<(), SettingError> {
        if (self.min..=self.max).contains(&value) { Ok(()) } else { Err(self.refuse(value)) }
    }

    pub fn check_usize(&self, value: usize) -> Result<(), SettingError> {
        self.check(value as u64)
    }

    /// Parses what a person typed, then checks it.
    pub fn parse(&self, text: &str) -> Result<u64, SettingError> {
        let value = text.trim().parse::<u64>().map_err(|_| self.refuse(format!("{:?}", text.trim())))?;
        self.check(value).map(|()| value)
    }

    pub const fn default_usize(&self) -> usize {
        self.default as usize
    }
}

impl Real {
    fn refuse(&self, value: impl fmt::Display) -> SettingError {
        SettingError(format!("{} must be from {} to {}; {value} is not.", capital(self.label), self.min, self.max))
    }

    pub fn check(&self, value: f64) -> Result<(), SettingError> {
        if value.is_finite() && value >= self.min && value <= self.max { Ok(()) } else { Err(self.refuse(value)) }
    }

    /// For a value stored as `f32`: the bounds as `f32` too (0.01 is not quite 0.01 in `f32`).
    pub fn check_f32(&self, value: f32) -> Result<(), SettingError> {
        if value.is_finite() && value >= self.min as f32 && value <= self.max as f32 { Ok(()) } else { Err(self.refuse(value)) }
    }

    pub fn parse(&self, text: &str) -> Result<f64, SettingError> {
        let value = text
            .trim()
            .parse::<f64>()
            .map_err(|_| SettingError(format!("{} must be a number from {} to {}; {:?} is not.", capital(self.label), self.min, self.max, text.trim())))?;
        self.check(value).map(|()| value)
    }
}

fn capital(label: &str) -> String {
    let mut c = label.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

// ---- model shape ---------------------------------------------------------------------------------

pub const EMBED: Whole = Whole { label: "the embedding size", min: 1, max: 1024, default: 128 };
pub const HIDDEN: Whole = Whole { label: "the hidden size", min: 1, max: 2048, default: 256 };
pub const LAYERS: Whole = Whole { label: "the number of layers", min: 1, max: 8, default: 2 };
pub const DROPOUT: Real = Real { label: "the dropout", min: 0.0, max: 0.9, default: 0.1 };
pub const WEIGHT_DROPOUT: Real = Real { label: "the weight dropout", min: 0.0, max: 0.9, default: 0.0 };
/// Token ids are `u16`.
pub const VOCAB_SIZE: Whole = Whole { label: "the vocabulary size", min: 3, max: 65_536, default: 0 };
/// Training holds about 16 bytes per parameter (weights, gradients, two Adam moments): 40 M
/// parameters is 640 MB, about what a browser tab can be given. Larger is refused, not attempted.
pub const MAX_PARAMETERS: usize = 40_000_000;

// ---- training -----------------------------------------------------------------------------------

pub const SEQ_LEN: Whole = Whole { label: "the sequence length", min: 2, max: 4096, default: 128 };
pub const BATCH: Whole = Whole { label: "the batch size", min: 1, max: 1024, default: 32 };
pub const LEARNING_RATE: Real = Real { label: "the learning rate", min: 0.0, max: 1.0, default: 3e-3 };
pub const WARMUP_STEPS: Whole = Whole { label: "the warm-up", min: 0, max: 1_000_000, default: 50 };
pub const EPOCHS: Whole = Whole { label: "the number of epochs", min: 1, max: 100_000, default: 30 };
pub const STEPS_PER_EPOCH: Whole = Whole { label: "the steps per epoch", min: 1, max: 10_000_000, default: 0 };
pub const MIN_STEPS: Whole = Whole { label: "the least number of steps before stopping early", min: 0, max: 10_000_000, default: 0 };
pub const PATIENCE: Whole = Whole { label: "the patience (epochs without improvement)", min: 1, max: 1000, default: 3 };
pub const CLIP_NORM: Real = Real { label: "the gradient clipping norm", min: 1e-6, max: 1e6, default: 1.0 };
pub const LOG_EVERY: Whole = Whole { label: "the report interval", min: 1, max: 1_000_000, default: 10 };
pub const TIME_LIMIT_S: Real = Real { label: "the time limit in seconds", min: 1.0, max: 1e7, default: 0.0 };
pub const TRANSPOSE: Whole = Whole { label: "the transposition (± semitones)", min: 0, max: 6, default: 3 };
/// Workers that share a CPU training step in the page (one replica per core; the default is the
/// visitor's cores up to [`WORKERS`]'s `default`).
pub const WORKERS: Whole = Whole { label: "the number of workers", min: 1, max: 16, default: 8 };
pub const VALID_SHARE: Real = Real { label: "the share of files held out for validation", min: 0.0, max: 0.5, default: 0.1 };

// ---- generation ---------------------------------------------------------------------------------

/// 0 always takes the most likely token; far above 1 is noise.
pub const TEMPERATURE: Real = Real { label: "the temperature", min: 0.0, max: 5.0, default: 1.0 };
pub const TOP_P: Real = Real { label: "top-p", min: 0.01, max: 1.0, default: 0.95 };
pub const TOP_K: Whole = Whole { label: "top-k", min: 0, max: 65_535, default: 0 };
pub const BPM: Real = Real { label: "the tempo in beats per minute", min: 20.0, max: 400.0, default: 120.0 };
pub const BEATS: Real = Real { label: "the length in beats", min: 1.0, max: 20_000.0, default: 64.0 };
pub const MAX_TOKENS: Whole = Whole { label: "the length in tokens", min: 1, max: 1_000_000, default: 2000 };
pub const PRIMER_BEATS: Real = Real { label: "the primer's length in beats", min: 0.0, max: 1024.0, default: 8.0 };
/// A form such as AABA: its sections, and the bars of each.
pub const FORM_SECTIONS: Whole = Whole { label: "the number of sections", min: 1, max: 16, default: 4 };
pub const SECTION_BARS: Whole = Whole { label: "the bars per section", min: 1, max: 64, default: 8 };
pub const PROGRAM: Whole = Whole { label: "the General MIDI program", min: 0, max: 127, default: 0 };

// ---- vocabularies -------------------------------------------------------------------------------

pub const STEPS_PER_BEAT: Whole = Whole { label: "the grid steps per beat", min: 1, max: 96, default: 12 };
pub const MAX_SHIFT: Whole = Whole { label: "the longest time shift in steps", min: 1, max: 1024, default: 48 };
pub const VELOCITY_BINS: Whole = Whole { label: "the number of loudness levels", min: 1, max: 32, default: 8 };
/// A style name (a folder's name) in bytes.
pub const MAX_STYLE_NAME: usize = 200;









