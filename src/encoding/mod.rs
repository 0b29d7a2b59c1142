//! Notes ↔ tokens: the "feature extraction" step between MIDI and the model.
//!
//! * [`BarVocab`]: bar-relative note tokens (REMI+) with instruments, drums, meters and style
//!   tags: what new models learn.
//! * [`EventVocab`]: the first polyphonic event vocabulary (note-on/off, time shifts); models
//!   made with it still load, generate and fine-tune.
//! * [`FrameVocab`]: piano-roll frames for the public benchmarks, where a frame's token
//!   log-likelihoods add up to the frame's log-likelihood.
//! * [`sounding`]: what is sounding after each bar token (parts, pitches, where their notes end,
//!   the bar before), an input for models that read it.
//! * [`corpus`]: note selection, transposition augmentation and the train/validation split by file.

pub mod bars;
pub mod corpus;
pub mod split;
mod events;
mod frames;
pub mod sounding;

pub use bars::{BarGrammar, BarToken, BarVocab, Conditioning, Instrument};
pub use events::{EventVocab, Token, TokenKind};
pub use frames::{FrameOrder, FrameVocab};
pub use sounding::{sounding_context, Sounding};

use crate::midi::{Note, TimeSignature};
use crate::settings::{SettingError, VOCAB_SIZE};
use serde::{Deserialize, Serialize};

/// Token ids are small; `u16` keeps corpora compact in memory and in saved files.
pub type TokenId = u16;

/// The bin (of `bins` equal ranges over 1..=127) a velocity falls in; both music vocabularies use it.
pub fn velocity_bin(bins: u8, velocity: u8) -> u8 {
    let v = velocity.clamp(1, 127) as u32 - 1;
    (v * bins as u32 / 127) as u8
}

/// The velocity a bin decodes to: the middle of its range.
pub fn bin_velocity(bins: u8, bin: u8) -> u8 {
    let bins = bins as u32;
    let lo = (bin as u32 * 127).div_ceil(bins);
    let hi = ((bin as u32 + 1) * 127).div_ceil(bins) - 1;
    ((lo + hi) / 2 + 1).clamp(1, 127) as u8
}

/// The vocabulary a model was trained with; it is saved inside every model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Vocab {
    Events(EventVocab),
    Frames(FrameVocab),
    Bars(BarVocab),
}

impl Vocab {
    pub fn size(&self) -> usize {
        match self {
            Vocab::Events(v) => v.size(),
            Vocab::Frames(v) => v.size(),
            Vocab::Bars(v) => v.size(),
        }
    }

    pub fn start(&self) -> TokenId {
        match self {
            Vocab::Events(v) => v.start(),
            Vocab::Frames(v) => v.start(),
            Vocab::Bars(v) => v.start(),
        }
    }

    pub fn pad(&self) -> TokenId {
        0
    }

    /// The vocabulary as one that writes music (`None` for benchmark frames).
    pub fn music(&self) -> Option<MusicVocab> {
        match self {
            Vocab::Events(v) => Some(MusicVocab::Events(*v)),
            Vocab::Bars(v) => Some(MusicVocab::Bars(v.clone())),
            Vocab::Frames(_) => None,
        }
    }
}

/// A vocabulary that writes MIDI: what generation, primers and the corpus builder work with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MusicVocab {
    Events(EventVocab),
    Bars(BarVocab),
}

impl From<EventVocab> for MusicVocab {
    fn from(v: EventVocab) -> Self {
        MusicVocab::Events(v)
    }
}

impl From<BarVocab> for MusicVocab {
    fn from(v: BarVocab) -> Self {
        MusicVocab::Bars(v)
    }
}

impl From<&MusicVocab> for MusicVocab {
    fn from(v: &MusicVocab) -> Self {
        v.clone()
    }
}

impl From<MusicVocab> for Vocab {
    fn from(v: MusicVocab) -> Self {
        match v {
            MusicVocab::Events(v) => Vocab::Events(v),
            MusicVocab::Bars(v) => Vocab::Bars(v),
        }
    }
}

impl MusicVocab {
    pub fn size(&self) -> usize {
        match self {
            MusicVocab::Events(v) => v.size(),
            MusicVocab::Bars(v) => v.size(),
        }
    }

    pub fn start(&self) -> TokenId {
        1
    }

    pub fn end(&self) -> TokenId {
        2
    }

    /// Grid steps per beat of the notes it writes.
    pub fn steps_per_beat(&self) -> u16 {
        match self {
            MusicVocab::Events(v) => v.steps_per_beat,
            MusicVocab::Bars(_) => bars::STEPS_PER_BEAT,
        }
    }

    /// The tempo its music plays at unless the user says otherwise.
    pub fn bpm(&self) -> f64 {
        self.bpm_for(None)
    }

    /// The tempo of a style's music (the corpus's for none or an unknown style).
    pub fn bpm_for(&self, style: Option<&str>) -> f64 {
        match self {
            MusicVocab::Events(_) => 120.0,
            MusicVocab::Bars(v) => v.bpm_for(style),
        }
    }

    /// Beats in a bar of the music it writes for a style (the corpus's meter for none or an
    /// unknown style; 4 for the event vocabulary, which has no bars).
    pub fn bar_beats_for(&self, style: Option<&str>) -> f64 {
        match self {
            MusicVocab::Events(_) => 4.0,
            MusicVocab::Bars(v) => bars::meter_steps(v.meter_for(style.and_then(|s| v.style_slot(s)))) as f64 / bars::STEPS_PER_BEAT as f64,
        }
    }

    pub fn bar_beats(&self) -> f64 {
        self.bar_beats_for(None)
    }

    /// Tokens → notes (`program` applies to the one-instrument event vocabulary only).
    pub fn decode(&self, tokens: &[TokenId], program: u8, bpm: f64) -> Vec<Note> {
        match self {
            MusicVocab::Events(v) => v.decode(tokens, program, bpm),
            MusicVocab::Bars(v) => v.decode(tokens, bpm),
        }
    }

    /// The meters the tokens' bars are in (none for the event vocabulary).
    pub fn time_signatures(&self, tokens: &[TokenId]) -> Vec<TimeSignature> {
        match self {
            MusicVocab::Events(_) => Vec::new(),
            MusicVocab::Bars(v) => v.time_signatures(tokens),
        }
    }

    /// The opening `beats` of some notes (a song's selected notes and its time signatures) as a
    /// primer the model continues.
    pub fn primer(&self, notes: &[Note], time_signatures: &[TimeSignature], beats: f64) -> Vec<TokenId> {
        match self {
            MusicVocab::Events(v) => v.primer(notes, beats),
            MusicVocab::Bars(v) => v.primer(notes, time_signatures, beats, None),
        }
    }

    /// Where generation starts without a primer.
    pub fn prompt(&self, conditioning: &Conditioning) -> Vec<TokenId> {
        match self {
            MusicVocab::Events(v) => vec![v.start()],
            MusicVocab::Bars(v) => v.prompt(conditioning),
        }
    }

    /// Pitch of a melodic note token (what a key lock filters).
    pub fn pitch(&self, id: TokenId) -> Option<u8> {
        match self {
            MusicVocab::Events(v) => match v.token(id) {
                Token::On(p) => Some(p),
                _ => None,
            },
            MusicVocab::Bars(v) => match v.token(id) {
                BarToken::Pitch(p) => Some(p),
                _ => None,
            },
        }
    }

    /// Tokens never sampled (padding, start).
    pub fn is_control(&self, id: TokenId) -> bool {
        id == 0 || id == 1
    }
}

// The bounds are declared in `settings`; the check stands beside the type it checks.
impl Vocab {
    pub fn validate(&self) -> Result<(), SettingError> {
        match self {
            Vocab::Events(v) => v.validate(),
            Vocab::Frames(v) => v.validate(),
            Vocab::Bars(v) => v.validate(),
        }
        .map_err(|e| e.within("the vocabulary"))?;
        VOCAB_SIZE.check_usize(self.size())
    }
}
