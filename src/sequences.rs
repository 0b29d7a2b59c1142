//! Note sequences and the corpus built from them, as magenta's `sequences.ts` holds them: which
//! notes of which files a model learns (a [`Selection`]), the split into training and held-out
//! files, the token corpus and what it holds ([`CorpusReport`]), and excerpts of a clip. Pure
//! functions, shared by the worker (which reads and tokenises the files), the page (which shows
//! and plays them) and the CLI.

use crate::encoding::corpus::{learn_bar_vocab, music_corpus, style_from_path, CorpusOptions, NoteFilter, TokenCorpus};
use crate::encoding::split::{Split, SplitRule};
/// Excerpts of a clip or a file (the listening test, the originality meter's sources).
pub use crate::encoding::split::excerpt;
use crate::encoding::{BarVocab, MusicVocab};
use crate::midi::{Note, Song};
use serde::{Deserialize, Serialize};

/// Share of the page's music held out for validation (of the files, or of each file's bars when
/// there are few files), and the seed of the files' draw.
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
        CorpusOptions {
            filter: self.filter(vocab),
            transpose: self.transpose,
            valid_fraction: VALID_FRACTION,
            seed: SPLIT_SEED,
            held_out: None,
            split: SplitRule::Auto,
        }
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
    /// The names of the files held out whole for validation (recorded in the model file; none
    /// when each file's last bars are held out instead, see [`held_out_share`](Self::held_out_share)).
    pub fn held_out(&self) -> Vec<String> {
        if self.held_out_share().is_some() {
            return Vec::new();
        }
        self.corpus.valid_files.iter().filter_map(|&i| self.names.get(i).cloned()).collect()
    }

    /// The share of each file's bars held out, when the split is by files' ends.
    pub fn held_out_share(&self) -> Option<f64> {
        self.corpus.split.as_ref().and_then(Split::ends_share)
    }

    /// Which split was used and why, in a sentence.
    pub fn split_why(&self) -> String {
        self.corpus.split.as_ref().map(|s| s.why(self.names.len())).unwrap_or_default()
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
    /// Seconds of held-out music (for NLL per second).
    pub valid_seconds: f64,
    /// Which split training uses and why, in a sentence.
    #[serde(default)]
    pub split: String,
    /// Each file's last bars are held out (not whole files).
    #[serde(default)]
    pub held_out_ends: bool,
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
    // The held-out music as `prepare` split it (the split does not depend on the transposition).
    let held_out = c.split.as_ref().map(|split| split_songs(songs, split).1).unwrap_or_default();
    CorpusReport {
        files: songs.len(),
        train_files: c.train_files.len(),
        valid_files: c.valid_files.len(),
        train_tokens: c.train_tokens(),
        valid_tokens: c.valid_tokens(),
        valid_seconds: held_out.iter().map(|(_, _, seconds)| seconds).sum(),
        split: prepared.split_why(),
        held_out_ends: prepared.held_out_share().is_some(),
        instruments: learned.instruments.iter().map(|i| i.name().to_string()).collect(),
        bpm: learned.bpm,
        meter: learned.meter,
        styles: learned.styles,
    }
}

/// Every note of the usable files (every instrument and the drums: clips are compared with the
/// music as the user has it), split as training splits them: (what training learns from, what is
/// held out) — whole files, or each file's opening and its last bars (moved to start at 0).
pub fn split_notes(songs: &[(String, Song)], selection: &Selection) -> (Vec<NamedNotes>, Vec<NamedNotes>) {
    let plain: Vec<Song> = songs.iter().map(|(_, s)| s.clone()).collect();
    split_songs(songs, &selection.options(&MusicVocab::Bars(BarVocab::default())).plan(&plain))
}

/// [`split_notes`] for a split already made (the command line's, from a model file's record).
pub fn split_songs(songs: &[(String, Song)], split: &Split) -> (Vec<NamedNotes>, Vec<NamedNotes>) {
    let seconds = |notes: &[Note]| notes.iter().map(|n| n.start_s + n.duration_s).fold(0.0, f64::max);
    let all = |i: usize| NoteFilter::default().select(&songs[i].1);
    let named = |i: usize, notes: Vec<Note>| {
        let secs = if split.cuts.get(i).copied().flatten().is_some() { seconds(&notes) } else { songs[i].1.seconds() };
        (songs[i].0.clone(), secs, notes)
    };
    let train = split.train_files.iter().filter(|&&i| i < songs.len()).map(|&i| named(i, split.training_part(i, &all(i))));
    let valid = split.valid_files.iter().filter(|&&i| i < songs.len()).map(|&i| named(i, split.held_out_part(i, &all(i), &songs[i].1.time_signatures).0));
    let keep = |(name, secs, notes): (String, f64, Vec<Note>)| (!notes.is_empty()).then_some((name, notes, secs));
    (train.filter_map(keep).collect(), valid.filter_map(keep).collect())
}
