//! Every number a user (or a stranger's model file, or a share link) can set, each declared once
//! with its default and its bounds, and one `validate()` per configuration that answers in a
//! sentence. The page's inputs take their `min`/`max` from here, the CLI its defaults, and the
//! worker, the model-file reader and the share codec all call the same checks, so nothing one part
//! writes is refused by another.
//!
//! The bounds are what this build can hold and what makes musical sense, not taste: a model
//! file asking for more parameters than a browser tab can train is refused before anything is
//! allocated from it.

use crate::encoding::{bars, BarVocab, EventVocab, FrameVocab, Vocab};
use crate::generate::{GenerateConfig, SamplingParams};
use crate::model::ModelConfig;
use crate::train::TrainConfig;
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
pub const PATIENCE: Whole = Whole { label: "the patience (epochs without improvement)", min: 1, max: 1000, default: 3 };
pub const CLIP_NORM: Real = Real { label: "the gradient clipping norm", min: 1e-6, max: 1e6, default: 1.0 };
pub const LOG_EVERY: Whole = Whole { label: "the report interval", min: 1, max: 1_000_000, default: 10 };
pub const TIME_LIMIT_S: Real = Real { label: "the time limit in seconds", min: 1.0, max: 1e7, default: 0.0 };
pub const TRANSPOSE: Whole = Whole { label: "the transposition (± semitones)", min: 0, max: 6, default: 3 };
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
pub const PROGRAM: Whole = Whole { label: "the General MIDI program", min: 0, max: 127, default: 0 };

// ---- vocabularies -------------------------------------------------------------------------------

pub const STEPS_PER_BEAT: Whole = Whole { label: "the grid steps per beat", min: 1, max: 96, default: 12 };
pub const MAX_SHIFT: Whole = Whole { label: "the longest time shift in steps", min: 1, max: 1024, default: 48 };
pub const VELOCITY_BINS: Whole = Whole { label: "the number of loudness levels", min: 1, max: 32, default: 8 };
const MAX_STYLE_NAME: usize = 200;

/// What a check says about a group: "the model: …".
fn within(what: &str, e: SettingError) -> SettingError {
    SettingError(format!("{what}: {}", e.0))
}

impl ModelConfig {
    /// The shape is one this build can build and train; checked before anything is allocated.
    pub fn validate(&self) -> Result<(), SettingError> {
        VOCAB_SIZE.check_usize(self.vocab_size)?;
        EMBED.check_usize(self.embed)?;
        HIDDEN.check_usize(self.hidden)?;
        LAYERS.check_usize(self.layers)?;
        DROPOUT.check(self.dropout)?;
        WEIGHT_DROPOUT.check(self.awd.weight_dropout)?;
        let params = self.param_count();
        if params > MAX_PARAMETERS {
            return Err(SettingError(format!(
                "A model of {:.1} M parameters is larger than Cantor can train here (at most {} M); choose fewer layers or a smaller hidden size.",
                params as f64 / 1e6,
                MAX_PARAMETERS / 1_000_000
            )));
        }
        Ok(())
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<(), SettingError> {
        SEQ_LEN.check_usize(self.seq_len)?;
        BATCH.check_usize(self.batch)?;
        LEARNING_RATE.check(self.lr)?;
        WARMUP_STEPS.check_usize(self.warmup_steps)?;
        EPOCHS.check_usize(self.max_epochs)?;
        if let Some(s) = self.steps_per_epoch {
            STEPS_PER_EPOCH.check_usize(s)?;
        }
        PATIENCE.check_usize(self.patience)?;
        CLIP_NORM.check_f32(self.clip_norm)?;
        LOG_EVERY.check_usize(self.log_every)?;
        if let Some(t) = self.time_limit_s {
            TIME_LIMIT_S.check(t)?;
        }
        if let Some(v) = &self.frame_mask {
            v.validate()?;
        }
        Ok(())
    }
}

impl SamplingParams {
    pub fn validate(&self) -> Result<(), SettingError> {
        TEMPERATURE.check_f32(self.temperature)?;
        TOP_P.check_f32(self.top_p)?;
        TOP_K.check_usize(self.top_k)?;
        if let Some(s) = self.scale {
            if s.root > 11 {
                return Err(SettingError(format!("A key's root must be a pitch class from 0 (C) to 11 (B); {} is not.", s.root)));
            }
        }
        Ok(())
    }
}

impl GenerateConfig {
    pub fn validate(&self) -> Result<(), SettingError> {
        self.sampling.validate()?;
        MAX_TOKENS.check_usize(self.max_tokens)?;
        if let Some(b) = self.max_beats {
            BEATS.check(b)?;
        }
        PROGRAM.check(self.program as u64)?;
        BPM.check(self.bpm)
    }
}

impl EventVocab {
    pub fn validate(&self) -> Result<(), SettingError> {
        STEPS_PER_BEAT.check(self.steps_per_beat as u64)?;
        MAX_SHIFT.check(self.max_shift as u64)?;
        VELOCITY_BINS.check(self.velocity_bins as u64)
    }
}

impl FrameVocab {
    pub fn validate(&self) -> Result<(), SettingError> {
        if self.low > self.high || self.high > 127 {
            return Err(SettingError(format!("A piano-roll vocabulary must span pitches low ≤ high ≤ 127; {}–{} does not.", self.low, self.high)));
        }
        Ok(())
    }
}

impl BarVocab {
    pub fn validate(&self) -> Result<(), SettingError> {
        VELOCITY_BINS.check(self.velocity_bins as u64)?;
        BPM.check(self.bpm)?;
        if self.styles.len() > bars::STYLE_SLOTS {
            return Err(SettingError(format!("A model holds at most {} styles; this one lists {}.", bars::STYLE_SLOTS, self.styles.len())));
        }
        if let Some(s) = self.styles.iter().find(|s| s.len() > MAX_STYLE_NAME) {
            return Err(SettingError(format!("A style name is at most {MAX_STYLE_NAME} bytes; one is {}.", s.len())));
        }
        if self.style_bpm.len() > self.styles.len() || self.style_meter.len() > self.styles.len() {
            return Err(SettingError("The model lists tempos or meters for styles it does not have.".into()));
        }
        for &bpm in &self.style_bpm {
            BPM.check(bpm)?;
        }
        for &(n, d) in std::iter::once(&self.meter).chain(&self.style_meter) {
            if !bars::METERS.contains(&(n, d)) {
                return Err(SettingError(format!("The meter {n}/{d} is not one Cantor writes.")));
            }
        }
        if self.instruments.iter().any(|i| matches!(i, bars::Instrument::Program(p) if *p > 127)) {
            return Err(SettingError("An instrument's General MIDI program must be from 0 to 127.".into()));
        }
        if self.instruments.len() > 129 {
            return Err(SettingError(format!("A model knows at most 129 instruments (128 programs and the drums); this one lists {}.", self.instruments.len())));
        }
        Ok(())
    }
}

impl Vocab {
    pub fn validate(&self) -> Result<(), SettingError> {
        match self {
            Vocab::Events(v) => v.validate(),
            Vocab::Frames(v) => v.validate(),
            Vocab::Bars(v) => v.validate(),
        }
        .map_err(|e| within("the vocabulary", e))?;
        VOCAB_SIZE.check_usize(self.size())
    }
}
