//! Notes ↔ tokens: the "feature extraction" step between MIDI and the model.
//!
//! * [`EventVocab`]: a polyphonic event vocabulary (note-on/off per pitch, beat-relative time
//!   shifts, velocity bins) for users' own music, with a melody (top voice) mode.
//! * [`FrameVocab`]: piano-roll frames for the public benchmarks, where a frame's token
//!   log-likelihoods add up to the frame's log-likelihood.
//! * [`corpus`]: transposition augmentation and the train/validation split by file.

pub mod corpus;
mod events;
mod frames;

pub use events::{EventVocab, Token, TokenKind};
pub use frames::FrameVocab;

use serde::{Deserialize, Serialize};

/// Token ids are small; `u16` keeps corpora compact in memory and in saved files.
pub type TokenId = u16;

/// The vocabulary a model was trained with; it is saved inside every model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Vocab {
    Events(EventVocab),
    Frames(FrameVocab),
}

impl Vocab {
    pub fn size(&self) -> usize {
        match self {
            Vocab::Events(v) => v.size(),
            Vocab::Frames(v) => v.size(),
        }
    }

    pub fn start(&self) -> TokenId {
        match self {
            Vocab::Events(v) => v.start(),
            Vocab::Frames(v) => v.start(),
        }
    }

    pub fn pad(&self) -> TokenId {
        0
    }
}
