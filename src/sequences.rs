//! Note sequences and the corpus built from them, as magenta's `sequences.ts` holds them: which
//! notes of which files a model learns (a [`Selection`]), the split into training and held-out
//! files, the token corpus and what it holds ([`CorpusReport`]), and excerpts of a clip. Pure
//! functions, shared by the worker (which reads and tokenises the files), the page (which shows
//! and plays them) and the CLI.

use crate::encoding::corpus::{learn_bar_vocab, music_corpus, style_from_path, CorpusOptions, NoteFilter, TokenCorpus};
use crate::encoding::{BarVocab, MusicVocab};
use crate::midi::{Note, Song};
use serde::{Deserialize, Serialize};

/// Share of the page's files held out for validation, and the seed of that draw.
pub const VALID_FRACTION: f64 = 0.15;
pub const SPLIT_SEED: u64 = 7;

/// A file's name, its selected notes and its length in seconds.
pub type NamedNotes = (String, Vec<Note>, f64);

/// One file the user chose to learn from, with the tracks they left out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SelectedFile {
    pub id: u32,
    pub excluded_tracks: Vec<u16>,
}

/// What a model is to learn: the files, the notes kept of them, and the transposition.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Selection {
    pub files: Vec<SelectedFile>,
    /// Learn the drums (only the bar vocabulary has drum tokens).
    pub drums: bool,
    /// Only the top voice.
    pub melody: bool,
    /// Every instrument on one piano.
    pub piano: bool,
    /// Training files are also used shifted by up to this many semitones each way.
    pub transpose: u8,
}

impl Selection {
    /// The chosen files that hold notes, in the selection's order, with their left-out tracks
    /// removed: (name, song). `lookup` finds a file by id (`None`: unknown or unreadable).
    pub fn songs<'a>(&self, lookup: impl Fn(u32) -> Option<(&'a str, &'a Song)>) -> Vec<(String, Song)> {
        self.files
            .iter()
            .filter_map(|f| {
                let (name, song) = lookup(f.id)?;
                if song.notes.is_empty() {
                    return None;
                }
                let mut song = song.clone();
                song.notes.retain(|n| !f.excluded_tracks.contains(&n.track));
                Some((name.to_string(), song))
            })
            .collect()
    }

    /// The notes a model with `vocab` learns: every instrument and the drums unless narrowed (the
    /// first event vocabulary has no drum tokens, so it never learns drums).
    pub fn filter(&self, vocab: &MusicVocab) -> NoteFilter {
        let drums = self.drums && matches!(vocab, MusicVocab::Bars(_));
        NoteFilter { drums, tracks: None, melody_only: self.melody, piano: self.piano }
    }

    pub fn options(&self, vocab: &MusicVocab) -> CorpusOptions {
        CorpusOptions { filter: self.filter(vocab), transpose: self.transpose, valid_fraction: VALID_FRACTION, seed: SPLIT_SEED, held_out: None }
    }
}

/// Songs tokenised for training: the corpus, the vocabulary to save with the model (the bar
/// vocabulary learns the corpus's tempo, meter, instruments and styles), and the files' names.
pub struct Prepared {
    pub corpus: TokenCorpus,
    pub vocab: MusicVocab,
    pub names: Vec<String>,
}

impl Prepared {
    /// The names of the files held out for validation (recorded in the model file).
    pub fn held_out(&self) -> Vec<String> {
        self.corpus.valid_files.iter().filter_map(|&i| self.names.get(i).cloned()).collect()
    }
}

/// Tokenises `songs` (from [`Selection::songs`]) with `base`: a new vocabulary, or the one of a
/// model being fine-tuned. A file's style tag is the folder it came from.
pub fn prepare(songs: &[(String, Song)], selection: &Selection, base: &MusicVocab) -> Prepared {
    let names: Vec<String> = songs.iter().map(|(n, _)| n.clone()).collect();
    let styles: Vec<Option<String>> = names.iter().map(|n| style_from_path(n)).collect();
    let plain: Vec<Song> = songs.iter().map(|(_, s)| s.clone()).collect();
    let (corpus, vocab) = music_corpus(&plain, &styles, base, &selection.options(base));
    Prepared { corpus, vocab, names }
}

/// What a corpus holds, for the page's summary line and the held-out figures.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CorpusReport {
    /// Usable files, and how many of them train and are held out.
    pub files: usize,
    pub train_files: usize,
    pub valid_files: usize,
    /// Tokens in the vocabulary asked for (before transposition).
    pub train_tokens: usize,
    pub valid_tokens: usize,
    /// Seconds of music in the held-out files (for NLL per second).
    pub valid_seconds: f64,
    /// What a new model would learn of this music: instruments by name (most notes first),
    /// tempo, meter, and style names (folder names).
    pub instruments: Vec<String>,
    pub bpm: f64,
    pub meter: (u8, u8),
    pub styles: Vec<String>,
}

/// Counts `songs` as a model with vocabulary `base` would see them (no transposition), and what
/// a new model would learn of them.
pub fn report(songs: &[(String, Song)], selection: &Selection, base: &MusicVocab) -> CorpusReport {
    let untransposed = Selection { transpose: 0, ..selection.clone() };
    let prepared = prepare(songs, &untransposed, base);
    let c = &prepared.corpus;
    let new = MusicVocab::Bars(BarVocab::default());
    // With no model yet the base is a new vocabulary, which `prepare` has already taught.
    let learned = match &prepared.vocab {
        MusicVocab::Bars(v) if *base == new => v.clone(),
        _ => {
            let styles: Vec<Option<String>> = prepared.names.iter().map(|n| style_from_path(n)).collect();
            let plain: Vec<Song> = songs.iter().map(|(_, s)| s.clone()).collect();
            learn_bar_vocab(&BarVocab::default(), &plain, &styles, &untransposed.options(&new))
        }
    };
    CorpusReport {
        files: songs.len(),
        train_files: c.train_files.len(),
        valid_files: c.valid_files.len(),
        train_tokens: c.train_tokens(),
        valid_tokens: c.valid_tokens(),
        valid_seconds: c.valid_files.iter().filter_map(|&i| songs.get(i)).map(|(_, s)| s.seconds()).sum(),
        instruments: learned.instruments.iter().map(|i| i.name().to_string()).collect(),
        bpm: learned.bpm,
        meter: learned.meter,
        styles: learned.styles,
    }
}

/// Every note of the usable files (every instrument and the drums: clips are compared with the
/// music as the user has it), split as training splits them: (training files, held-out files).
pub fn split_notes(songs: &[(String, Song)], selection: &Selection) -> (Vec<NamedNotes>, Vec<NamedNotes>) {
    let options = selection.options(&MusicVocab::Bars(BarVocab::default()));
    let (train, valid) = options.split(songs.len());
    let pick = |idx: &[usize]| {
        idx.iter().filter_map(|&i| songs.get(i)).map(|(name, song)| (name.clone(), NoteFilter::default().select(song), song.seconds())).collect::<Vec<_>>()
    };
    (pick(&train), pick(&valid))
}

/// `beats` beats of `notes` from beat `from`, moved to start at 0: the notes that start inside,
/// cut at its end (seconds follow the notes' own tempo). Empty when nothing starts inside.
pub fn excerpt(notes: &[Note], from: f64, beats: f64) -> Vec<Note> {
    let inside: Vec<&Note> = notes.iter().filter(|n| n.start >= from && n.start < from + beats).collect();
    let Some(first) = inside.iter().min_by(|a, b| a.start.total_cmp(&b.start)) else { return Vec::new() };
    let sec_per_beat = if first.duration > 0.0 { first.duration_s / first.duration } else { 0.5 };
    let t0 = first.start_s - (first.start - from) * sec_per_beat;
    inside
        .into_iter()
        .map(|n| {
            let mut m = n.clone();
            let end = (m.start + m.duration).min(from + beats);
            m.duration_s *= (end - m.start) / m.duration.max(1e-9);
            m.duration = end - m.start;
            m.start -= from;
            m.start_s -= t0;
            m
        })
        .collect()
}
