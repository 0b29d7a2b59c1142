//! Which music training may learn from and which it keeps back to judge the model by.
//!
//! With many files whole files are held out, so validation measures music the model never
//! heard. With few files that does not work: one or two held-out files are a different piece
//! (one whole song of two decides when training stops), or with one file nothing is held out at
//! all. So a small corpus keeps back **the last bars of every file** instead: the model trains on
//! each file's opening share and is judged on how each one goes on.

use super::bars::bar_lines;
use crate::midi::{Note, Song, TimeSignature};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// From this many files up, whole files are held out (`Split::Auto`); below it, files' ends.
pub const WHOLE_FILES_FROM: usize = 20;
/// A file needs at least this many bars to give up its end: one to learn from, one to hold out.
const MIN_BARS: usize = 2;

/// How the held-out music is to be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SplitRule {
    /// Files' ends below [`WHOLE_FILES_FROM`] files, whole files from there.
    #[default]
    Auto,
    /// Whole files (a seeded draw, or the files a model file names).
    Files,
    /// The last share of every file's bars.
    Ends,
}

/// How the held-out music was chosen, as training and the evaluation use it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum SplitKind {
    Files,
    /// The last `share` of the bars of each file long enough to give them up.
    Ends { share: f64 },
    /// Nothing could be held out (one file with whole-file splitting, or files too short).
    Nothing,
}

/// The split of a corpus: which files train, which are held out, and where each file's held-out
/// end begins (for [`SplitKind::Ends`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub kind: SplitKind,
    /// Files (indices into the songs) whose music, or whose opening, is trained on.
    pub train_files: Vec<usize>,
    /// Files whose music, or whose end, is held out.
    pub valid_files: Vec<usize>,
    /// Per song, the beat at which its held-out end begins (`None`: the song is not cut).
    pub cuts: Vec<Option<f64>>,
    /// Files too short to give up an end (with [`SplitKind::Ends`]).
    pub too_short: usize,
}

impl Split {
    /// Files split whole: `valid` held out, the rest trained on.
    pub fn whole_files(n: usize, valid: Vec<usize>) -> Split {
        let train = (0..n).filter(|i| !valid.contains(i)).collect();
        let kind = if valid.is_empty() { SplitKind::Nothing } else { SplitKind::Files };
        Split { kind, train_files: train, valid_files: valid, cuts: vec![None; n], too_short: 0 }
    }

    /// Every song trains on its bars before its cut and is judged on the bars from it.
    pub fn ends(songs: &[Song], share: f64) -> Split {
        let cuts: Vec<Option<f64>> = songs.iter().map(|s| end_cut(s, share)).collect();
        let valid: Vec<usize> = (0..songs.len()).filter(|&i| cuts[i].is_some()).collect();
        let too_short = songs.iter().zip(&cuts).filter(|(s, c)| c.is_none() && !s.notes.is_empty()).count();
        let kind = if valid.is_empty() { SplitKind::Nothing } else { SplitKind::Ends { share } };
        Split { kind, train_files: (0..songs.len()).collect(), valid_files: valid, cuts, too_short }
    }

    /// File `i`'s notes as training may see them: all of them, none (a held-out file), or those
    /// that begin before its cut (cut off there).
    pub fn training_part(&self, i: usize, notes: &[Note]) -> Vec<Note> {
        if !self.train_files.contains(&i) {
            return Vec::new();
        }
        match self.cuts.get(i).copied().flatten() {
            None => notes.to_vec(),
            Some(cut) => notes.iter().filter(|n| n.start < cut).map(|n| cut_at(n, cut)).collect(),
        }
    }

    /// File `i`'s held-out notes, moved to start at beat 0 (with its time signatures from there).
    pub fn held_out_part(&self, i: usize, notes: &[Note], time_signatures: &[TimeSignature]) -> (Vec<Note>, Vec<TimeSignature>) {
        if !self.valid_files.contains(&i) {
            return (Vec::new(), Vec::new());
        }
        match self.cuts.get(i).copied().flatten() {
            None => (notes.to_vec(), time_signatures.to_vec()),
            Some(cut) => (excerpt(notes, cut, f64::INFINITY), signatures_from(time_signatures, cut)),
        }
    }

    /// The share of each file's bars held out, when the split is by files' ends.
    pub fn ends_share(&self) -> Option<f64> {
        match self.kind {
            SplitKind::Ends { share } => Some(share),
            _ => None,
        }
    }

    /// Why this split, in a sentence for the page and the command line.
    pub fn why(&self, files: usize) -> String {
        let of = |n: usize| if n == 1 { "1 file".to_string() } else { format!("{n} files") };
        match self.kind {
            SplitKind::Files => format!(
                "{}: {} held out whole to judge the model on music it never heard.",
                of(files),
                of(self.valid_files.len())
            ),
            SplitKind::Ends { share } => {
                let short = match self.too_short {
                    0 => String::new(),
                    n => format!(" ({} too short to give up bars, trained on whole)", of(n)),
                };
                let whole = ((files as f64 * share).round() as usize).clamp(1, files.max(1));
                format!(
                    "{}: the last {:.0} % of each file's bars is held out to judge the model by how each piece goes on{short} (holding out {} whole would leave too little to judge by).",
                    of(files),
                    share * 100.0,
                    if files < 2 { "the file".to_string() } else { format!("{whole} of {files} files") }
                )
            }
            SplitKind::Nothing if files <= 1 && self.too_short == 0 => {
                format!("{}: nothing is held out, so training runs its full length.", of(files))
            }
            SplitKind::Nothing => format!(
                "{}: every file is shorter than {MIN_BARS} bars, too short to hold its last bars out; nothing is held out, so training runs its full length.",
                of(files)
            ),
        }
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

/// The beat where `song`'s last `share` of bars begins (at least one bar held out and one kept),
/// or `None` when it has too few bars or nothing starts from there.
fn end_cut(song: &Song, share: f64) -> Option<f64> {
    let spb = super::bars::STEPS_PER_BEAT as f64;
    let end = song.notes.iter().map(|n| (n.end() * spb).round() as i64).max()?;
    let bars = bar_lines(&song.time_signatures, end.max(1));
    if bars.len() < MIN_BARS || share <= 0.0 {
        return None;
    }
    let held = ((bars.len() as f64 * share).round() as usize).clamp(1, bars.len() - 1);
    let cut = bars[bars.len() - held].0 as f64 / spb;
    let before = song.notes.iter().any(|n| n.start < cut);
    let after = song.notes.iter().any(|n| n.start >= cut);
    (before && after).then_some(cut)
}

/// `n` ending no later than `cut` (its seconds shortened in proportion).
fn cut_at(n: &Note, cut: f64) -> Note {
    let mut m = n.clone();
    if m.end() > cut && m.duration > 0.0 {
        let kept = (cut - m.start) / m.duration;
        m.duration = cut - m.start;
        m.duration_s *= kept;
    }
    m
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

/// The time signatures in effect from `from` on, moved to start there.
fn signatures_from(time_signatures: &[TimeSignature], from: f64) -> Vec<TimeSignature> {
    let mut sorted = time_signatures.to_vec();
    sorted.sort_by(|a, b| a.beat.total_cmp(&b.beat));
    let current = sorted.iter().rev().find(|t| t.beat <= from).map(|t| TimeSignature { beat: 0.0, ..*t });
    current
        .into_iter()
        .chain(sorted.iter().filter(|t| t.beat > from).map(|t| TimeSignature { beat: t.beat - from, ..*t }))
        .collect()
}
