//! From parsed songs to token sequences: which notes to learn from, transposition augmentation,
//! and the train/validation split **by file** (so validation measures music the model never saw).

use super::{EventVocab, TokenId};
use crate::midi::{Note, Song};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// Which notes of a song to learn from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteFilter {
    /// Keep percussion (off by default: drum hits are not pitches).
    pub drums: bool,
    /// Only these track indices (all when `None`).
    pub tracks: Option<Vec<u16>>,
    /// Top voice only.
    pub melody_only: bool,
}

impl Default for NoteFilter {
    fn default() -> Self {
        NoteFilter { drums: false, tracks: None, melody_only: false }
    }
}

impl NoteFilter {
    pub fn select(&self, song: &Song) -> Vec<Note> {
        song.notes
            .iter()
            .filter(|n| self.drums || !n.drum)
            .filter(|n| self.tracks.as_ref().is_none_or(|t| t.contains(&n.track)))
            .cloned()
            .collect()
    }
}

/// How to turn a set of songs into training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorpusOptions {
    pub filter: NoteFilter,
    /// Each training file is also used shifted by every amount in `-transpose..=transpose`
    /// semitones (shifts that would leave the MIDI range are skipped).
    pub transpose: u8,
    /// Share of files held out for validation.
    pub valid_fraction: f64,
    pub seed: u64,
}

impl Default for CorpusOptions {
    fn default() -> Self {
        CorpusOptions { filter: NoteFilter::default(), transpose: 3, valid_fraction: 0.1, seed: 7 }
    }
}

/// Token sequences ready for training, one per file (times transpositions for training files).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenCorpus {
    pub train: Vec<Vec<TokenId>>,
    pub valid: Vec<Vec<TokenId>>,
    /// Indices (into the input songs) of the training and validation files.
    pub train_files: Vec<usize>,
    pub valid_files: Vec<usize>,
}

impl TokenCorpus {
    pub fn train_tokens(&self) -> usize {
        self.train.iter().map(Vec::len).sum()
    }

    pub fn valid_tokens(&self) -> usize {
        self.valid.iter().map(Vec::len).sum()
    }
}

/// Splits `n` files into (train, validation) index lists. With two or more files at least one is
/// held out and at least one is trained on; a single file is used for training only.
pub fn split_by_file(n: usize, valid_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut StdRng::seed_from_u64(seed));
    let n_valid = if n < 2 { 0 } else { ((n as f64 * valid_fraction).round() as usize).clamp(1, n - 1) };
    let mut valid = idx.split_off(n - n_valid);
    idx.sort_unstable();
    valid.sort_unstable();
    (idx, valid)
}

/// `notes` shifted by `semitones`, or `None` if a pitch would leave 0..=127. Drums stay put.
pub fn transpose(notes: &[Note], semitones: i32) -> Option<Vec<Note>> {
    notes
        .iter()
        .map(|n| {
            if n.drum {
                return Some(n.clone());
            }
            let p = n.pitch as i32 + semitones;
            (0..=127).contains(&p).then(|| Note { pitch: p as u8, ..n.clone() })
        })
        .collect()
}

/// Tokenises songs with the event vocabulary.
pub fn event_corpus(songs: &[Song], vocab: &EventVocab, options: &CorpusOptions) -> TokenCorpus {
    let (train_files, valid_files) = split_by_file(songs.len(), options.valid_fraction, options.seed);
    let notes_of = |i: usize| {
        let notes = options.filter.select(&songs[i]);
        if options.filter.melody_only { vocab.melody(&notes) } else { vocab.quantize(&notes) }
    };
    let t = options.transpose as i32;
    let mut train = Vec::new();
    for &i in &train_files {
        let notes = notes_of(i);
        if notes.is_empty() {
            continue;
        }
        for shift in -t..=t {
            if let Some(shifted) = transpose(&notes, shift) {
                train.push(vocab.encode(&shifted));
            }
        }
    }
    let valid = valid_files
        .iter()
        .map(|&i| notes_of(i))
        .filter(|n| !n.is_empty())
        .map(|n| vocab.encode(&n))
        .collect();
    TokenCorpus { train, valid, train_files, valid_files }
}
