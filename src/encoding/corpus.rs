//! From parsed songs to token sequences: which notes to learn from, transposition augmentation,
//! and the train/validation split (by file, or each file's last bars: `split.rs`).

use super::split::{Split, SplitRule, WHOLE_FILES_FROM};
use super::{BarVocab, EventVocab, MusicVocab, TokenId};
use crate::midi::{Note, Song};
use serde::{Deserialize, Serialize};

pub use super::split::split_by_file;

/// Which notes of a song to learn from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteFilter {
    /// Keep percussion (on by default: a model learns every instrument the files hold).
    pub drums: bool,
    /// Only these track indices (all when `None`).
    pub tracks: Option<Vec<u16>>,
    /// Top voice only.
    pub melody_only: bool,
    /// Every melodic note on one piano (program 0), drums left out.
    #[serde(default)]
    pub piano: bool,
}

impl Default for NoteFilter {
    fn default() -> Self {
        NoteFilter { drums: true, tracks: None, melody_only: false, piano: false }
    }
}

impl NoteFilter {
    /// The notes of `song` this filter keeps (melody-only is applied by the vocabulary, which
    /// knows its grid).
    pub fn select(&self, song: &Song) -> Vec<Note> {
        let drums = self.drums && !self.piano && !self.melody_only;
        song.notes
            .iter()
            .filter(|n| drums || !n.drum)
            .filter(|n| self.tracks.as_ref().is_none_or(|t| t.contains(&n.track)))
            .map(|n| if self.piano { Note { program: 0, channel: 0, ..n.clone() } } else { n.clone() })
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
    /// Share held out for validation: of the files, or of each file's bars (see `split`).
    pub valid_fraction: f64,
    pub seed: u64,
    /// Exactly these files (indices into the songs) are held out, instead of a seeded draw: the
    /// split a model file records, so `cantor evaluate` holds out what the page held out.
    #[serde(default)]
    pub held_out: Option<Vec<usize>>,
    /// Whole files or each file's last bars (by default: whole files from
    /// [`WHOLE_FILES_FROM`] files up). `held_out` names whole files and overrides it.
    #[serde(default)]
    pub split: SplitRule,
}

impl CorpusOptions {
    /// The split of `songs`: which files train and which music is held out.
    pub fn plan(&self, songs: &[Song]) -> Split {
        let n = songs.len();
        if let Some(valid) = &self.held_out {
            let mut valid: Vec<usize> = valid.iter().copied().filter(|&i| i < n).collect();
            valid.sort_unstable();
            valid.dedup();
            return Split::whole_files(n, valid);
        }
        let files = songs.iter().filter(|s| !s.notes.is_empty()).count();
        match self.split {
            SplitRule::Ends => Split::ends(songs, self.valid_fraction),
            SplitRule::Auto if files < WHOLE_FILES_FROM => Split::ends(songs, self.valid_fraction),
            SplitRule::Auto | SplitRule::Files => Split::whole_files(n, split_by_file(n, self.valid_fraction, self.seed).1),
        }
    }
}

impl Default for CorpusOptions {
    fn default() -> Self {
        CorpusOptions { filter: NoteFilter::default(), transpose: 3, valid_fraction: 0.1, seed: 7, held_out: None, split: SplitRule::Auto }
    }
}

/// Token sequences ready for training, one per file (times transpositions for training files).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenCorpus {
    pub train: Vec<Vec<TokenId>>,
    pub valid: Vec<Vec<TokenId>>,
    /// Indices (into the input songs) of the training and validation files.
    pub train_files: Vec<usize>,
    pub valid_files: Vec<usize>,
    /// Per training sequence, its head (START and conditioning tokens), which every training
    /// window repeats so the model always knows the style and instruments. Empty: no heads.
    pub train_heads: Vec<usize>,
    /// When set, training windows begin (after the head) at this token: a bar line.
    pub window_anchor: Option<TokenId>,
    /// How the held-out music was chosen (`None`: built by hand, as tests and benchmarks do).
    pub split: Option<Split>,
}

impl TokenCorpus {
    pub fn train_tokens(&self) -> usize {
        self.train.iter().map(Vec::len).sum()
    }

    pub fn valid_tokens(&self) -> usize {
        self.valid.iter().map(Vec::len).sum()
    }
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

/// The training files' notes, each also shifted by every amount in ±`transpose` semitones
/// (files without notes and shifts that leave the MIDI range are skipped): (file, notes).
fn augmented(files: &[usize], transpose_by: u8, notes_of: impl Fn(usize) -> Vec<Note>) -> impl Iterator<Item = (usize, Vec<Note>)> {
    augmented_by(files, transpose_by, notes_of).map(|(i, _, n)| (i, n))
}

/// [`augmented`] with each copy's shift in semitones.
fn augmented_by(files: &[usize], transpose_by: u8, notes_of: impl Fn(usize) -> Vec<Note>) -> impl Iterator<Item = (usize, i32, Vec<Note>)> {
    let t = transpose_by as i32;
    files.iter().flat_map(move |&i| {
        let notes = notes_of(i);
        let shifts = if notes.is_empty() { 1..=0 } else { -t..=t };
        shifts.filter_map(move |shift| transpose(&notes, shift).map(|n| (i, shift, n))).collect::<Vec<_>>()
    })
}

/// Tokenises songs with the event vocabulary.
pub fn event_corpus(songs: &[Song], vocab: &EventVocab, options: &CorpusOptions) -> TokenCorpus {
    let split = options.plan(songs);
    let prepared = |notes: Vec<Note>| if options.filter.melody_only { vocab.melody(&notes) } else { vocab.quantize(&notes) };
    let notes_of = |i: usize| prepared(split.training_part(i, &options.filter.select(&songs[i])));
    let train = augmented(&split.train_files, options.transpose, notes_of).map(|(_, n)| vocab.encode(&n)).collect();
    let valid = split
        .valid_files
        .iter()
        .map(|&i| prepared(split.held_out_part(i, &options.filter.select(&songs[i]), &songs[i].time_signatures).0))
        .filter(|n| !n.is_empty())
        .map(|n| vocab.encode(&n))
        .collect();
    TokenCorpus { train, valid, train_files: split.train_files.clone(), valid_files: split.valid_files.clone(), split: Some(split), ..TokenCorpus::default() }
}

/// Tokenises songs with the bar vocabulary; `styles[i]` is file i's style tag (e.g. its folder).
/// The vocabulary should have [`learned`](BarVocab::learn) the corpus (see [`learn_bar_vocab`]).
pub fn bar_corpus(songs: &[Song], styles: &[Option<String>], vocab: &BarVocab, options: &CorpusOptions) -> TokenCorpus {
    let split = options.plan(songs);
    let notes_of = |i: usize| selected(vocab, options, split.training_part(i, &options.filter.select(&songs[i])));
    let style = |i: usize| styles.get(i).and_then(|s| s.as_deref());
    let head_len = |tokens: &[TokenId]| tokens.iter().position(|&t| t == vocab.bar()).unwrap_or(tokens.len());
    let (mut train, mut train_heads) = (Vec::new(), Vec::new());
    for (i, semitones, shifted) in augmented_by(&split.train_files, options.transpose, notes_of) {
        let mut tokens = vocab.encode(&shifted, &songs[i].time_signatures, style(i));
        vocab.mark_shift(&mut tokens, semitones);
        train_heads.push(head_len(&tokens));
        train.push(tokens);
    }
    let valid = split
        .valid_files
        .iter()
        .map(|&i| (i, split.held_out_part(i, &options.filter.select(&songs[i]), &songs[i].time_signatures)))
        .map(|(i, (notes, signatures))| (i, selected(vocab, options, notes), signatures))
        .filter(|(_, n, _)| !n.is_empty())
        .map(|(i, n, signatures)| vocab.encode(&n, &signatures, style(i)))
        .collect();
    TokenCorpus {
        train,
        valid,
        train_files: split.train_files.clone(),
        valid_files: split.valid_files.clone(),
        train_heads,
        window_anchor: Some(vocab.bar()),
        split: Some(split),
    }
}

/// One whole song's tokens in the bar vocabulary, as [`bar_corpus`] writes a training file (no
/// transposition, nothing held out): what a corpus on disk stores per piece (`shards.rs`).
pub fn song_tokens(vocab: &BarVocab, song: &Song, style: Option<&str>, filter: &NoteFilter) -> Vec<TokenId> {
    let options = CorpusOptions { filter: filter.clone(), ..CorpusOptions::default() };
    vocab.encode(&selected(vocab, &options, filter.select(song)), &song.time_signatures, style)
}

/// The notes of a song a bar-vocabulary model learns from (`notes`: after the filter), with
/// melody-only applied.
fn selected(vocab: &BarVocab, options: &CorpusOptions, notes: Vec<Note>) -> Vec<Note> {
    if options.filter.melody_only {
        let line = EventVocab::default().melody(&notes);
        vocab.quantize(&line)
    } else {
        vocab.quantize(&notes)
    }
}

/// `base` (a new vocabulary, or the one of a model being fine-tuned) after learning tempo,
/// meter, instruments and style names from the songs.
pub fn learn_bar_vocab(base: &BarVocab, songs: &[Song], styles: &[Option<String>], options: &CorpusOptions) -> BarVocab {
    let notes: Vec<Vec<Note>> = songs.iter().map(|s| selected(base, options, options.filter.select(s))).collect();
    let files: Vec<(&Song, &[Note], Option<&str>)> =
        songs.iter().zip(&notes).enumerate().map(|(i, (s, n))| (s, n.as_slice(), styles.get(i).and_then(|x| x.as_deref()))).collect();
    let mut vocab = base.clone();
    vocab.learn(&files);
    vocab
}

/// Tokenises songs with whichever music vocabulary; for the bar vocabulary it learns the corpus
/// first and returns the vocabulary the model is to be saved with.
pub fn music_corpus(songs: &[Song], styles: &[Option<String>], vocab: &MusicVocab, options: &CorpusOptions) -> (TokenCorpus, MusicVocab) {
    match vocab {
        MusicVocab::Events(v) => (event_corpus(songs, v, options), vocab.clone()),
        MusicVocab::Bars(v) => {
            let learned = learn_bar_vocab(v, songs, styles, options);
            (bar_corpus(songs, styles, &learned, options), MusicVocab::Bars(learned))
        }
    }
}

/// The style tag a dropped file gets by default: the name of the folder it came from
/// (`ragtime/maple.mid` → "ragtime"), or none for a file dropped on its own.
pub fn style_from_path(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    (parts.len() >= 2).then(|| parts[parts.len() - 2].to_string())
}
