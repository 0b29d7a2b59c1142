//! The originality meter: how much of a clip also occurs, note for note, in the training files.
//!
//! Each piece is reduced to its top voice (skyline) and each of its notes after the first to a
//! transposition-invariant symbol: the interval from the previous note (clamped to ±2 octaves)
//! and the note's duration class. A suffix automaton over all training symbols (files kept apart
//! by separators) then gives, for every position of a clip, the longest run ending there that
//! also occurs in training, and where. Figures (after Yin et al. 2021/2022, see
//! `../shared/notes/data-and-evaluation.md` §4.3): `longest` run in notes, and the `copy_rate`,
//! the share of the clip's notes covered by runs of at least [`MIN_RUN`] notes. The same figures for
//! held-out real music against the training files give the baseline a clip is flagged against.

use super::style::duration_class;
use crate::encoding::EventVocab;
use crate::midi::Note;
use std::collections::HashMap;

/// Runs at least this long count as copied.
pub const MIN_RUN: usize = 8;
/// Separators between files are symbols no note can produce.
const SEPARATOR_BASE: u32 = 1 << 20;

/// Top voice of `notes` and one symbol per note after the first.
pub fn symbols(notes: &[Note]) -> (Vec<u32>, Vec<f64>) {
    let line = EventVocab::default().melody(notes);
    let mut syms = Vec::with_capacity(line.len().saturating_sub(1));
    let mut starts = Vec::with_capacity(line.len().saturating_sub(1));
    for w in line.windows(2) {
        let interval = (w[1].pitch as i32 - w[0].pitch as i32).clamp(-24, 24) + 24;
        syms.push(interval as u32 * 16 + duration_class(w[1].duration) as u32);
        starts.push(w[1].start);
    }
    (syms, starts)
}

/// Where a run was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Run length in notes.
    pub len: usize,
    /// Beat in the clip where the run starts.
    pub clip_beat: f64,
    /// Index of the training file and the beat there where the same run starts.
    pub file: usize,
    pub file_beat: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Originality {
    /// Notes considered (top voice, after the first).
    pub notes: usize,
    /// The longest run also found in training (None: not even one note-to-note step matches).
    pub longest: Option<Found>,
    /// Share of the notes covered by runs of at least [`MIN_RUN`] notes.
    pub copy_rate: f64,
}

impl Originality {
    pub fn longest_len(&self) -> usize {
        self.longest.as_ref().map_or(0, |f| f.len)
    }
}

#[derive(Clone, Default)]
struct State {
    len: usize,
    link: Option<usize>,
    next: HashMap<u32, usize>,
    /// End position (in the concatenated text) of the first occurrence.
    first_end: usize,
}

/// The training files, indexed for run search.
pub struct Reference {
    states: Vec<State>,
    /// Per file: offset of its first symbol in the text, and the start beat of each symbol.
    files: Vec<(usize, Vec<f64>)>,
}

impl Reference {
    pub fn new(pieces: &[Vec<Note>]) -> Reference {
        let mut r = Reference { states: vec![State::default()], files: Vec::new() };
        let mut last = 0;
        let mut pos = 0;
        for (i, piece) in pieces.iter().enumerate() {
            let (syms, starts) = symbols(piece);
            r.files.push((pos, starts));
            for s in syms.into_iter().chain([SEPARATOR_BASE + i as u32]) {
                last = r.extend(last, s, pos);
                pos += 1;
            }
        }
        r
    }

    /// Standard online suffix-automaton construction.
    fn extend(&mut self, last: usize, c: u32, pos: usize) -> usize {
        let cur = self.states.len();
        self.states.push(State { len: self.states[last].len + 1, link: None, next: HashMap::new(), first_end: pos });
        let mut p = Some(last);
        while let Some(q) = p {
            if self.states[q].next.contains_key(&c) {
                break;
            }
            self.states[q].next.insert(c, cur);
            p = self.states[q].link;
        }
        match p {
            None => self.states[cur].link = Some(0),
            Some(p) => {
                let q = self.states[p].next[&c];
                if self.states[p].len + 1 == self.states[q].len {
                    self.states[cur].link = Some(q);
                } else {
                    let clone = self.states.len();
                    let mut st = self.states[q].clone();
                    st.len = self.states[p].len + 1;
                    self.states.push(st);
                    let mut pp = Some(p);
                    while let Some(x) = pp {
                        if self.states[x].next.get(&c) != Some(&q) {
                            break;
                        }
                        self.states[x].next.insert(c, clone);
                        pp = self.states[x].link;
                    }
                    self.states[q].link = Some(clone);
                    self.states[cur].link = Some(clone);
                }
            }
        }
        cur
    }

    /// File index and symbol index within it of text position `pos`.
    fn locate(&self, pos: usize) -> (usize, usize) {
        let f = self.files.partition_point(|(offset, _)| *offset <= pos) - 1;
        (f, pos - self.files[f].0)
    }

    /// The originality figures of a clip (or of any notes) against the training files.
    pub fn check(&self, notes: &[Note]) -> Originality {
        let (syms, starts) = symbols(notes);
        self.check_symbols(&syms, &starts)
    }

    fn check_symbols(&self, syms: &[u32], starts: &[f64]) -> Originality {
        let mut covered = vec![false; syms.len()];
        let (mut v, mut l) = (0usize, 0usize);
        let mut best: Option<(usize, usize, usize)> = None; // (len, clip end, text end)
        for (i, &c) in syms.iter().enumerate() {
            while v != 0 && !self.states[v].next.contains_key(&c) {
                v = self.states[v].link.unwrap_or(0);
                l = self.states[v].len;
            }
            match self.states[v].next.get(&c) {
                Some(&n) => {
                    v = n;
                    l += 1;
                }
                None => {
                    v = 0;
                    l = 0;
                }
            }
            if l > 0 && best.is_none_or(|b| l > b.0) {
                best = Some((l, i, self.states[v].first_end));
            }
            if l >= MIN_RUN {
                covered[i + 1 - l..=i].iter_mut().for_each(|c| *c = true);
            }
        }
        let longest = best.map(|(len, clip_end, text_end)| {
            let (file, at) = self.locate(text_end + 1 - len);
            Found { len, clip_beat: starts[clip_end + 1 - len], file, file_beat: self.files[file].1[at] }
        });
        let copy_rate = if syms.is_empty() { 0.0 } else { covered.iter().filter(|&&c| c).count() as f64 / syms.len() as f64 };
        Originality { notes: syms.len(), longest, copy_rate }
    }

    /// The real-music baseline: every window of `window` notes (half-overlapping) of the held-out
    /// pieces, checked against the training files. Clips should be compared with windows of their
    /// own length, since longer music has more chances to repeat something.
    pub fn baseline(&self, held_out: &[Vec<Note>], window: usize) -> Baseline {
        let window = window.max(MIN_RUN);
        let mut longest = Vec::new();
        let mut copy = Vec::new();
        for piece in held_out {
            let (syms, starts) = symbols(piece);
            if syms.len() < window {
                continue;
            }
            let mut at = 0;
            while at + window <= syms.len() {
                let o = self.check_symbols(&syms[at..at + window], &starts[at..at + window]);
                longest.push(o.longest_len() as f64);
                copy.push(o.copy_rate);
                at += window.div_ceil(2);
            }
        }
        Baseline { windows: longest.len(), longest_p95: percentile(&mut longest, 0.95), copy_rate_p95: percentile(&mut copy, 0.95) }
    }
}

/// The 95th percentiles of held-out real music against the training files.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub windows: usize,
    pub longest_p95: f64,
    pub copy_rate_p95: f64,
}

impl Baseline {
    /// Above the real-music baseline on either figure, with at least one run of [`MIN_RUN`] notes
    /// (a shorter shared run is a common figure, not a copy, however thin the baseline).
    pub fn flags(&self, o: &Originality) -> bool {
        self.windows > 0 && o.longest_len() >= MIN_RUN && (o.longest_len() as f64 > self.longest_p95 || o.copy_rate > self.copy_rate_p95)
    }
}

/// Linear-interpolated percentile (q in 0–1); NaN for no values.
pub fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let x = q * (values.len() - 1) as f64;
    let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
    values[lo] + (values[hi] - values[lo]) * (x - lo as f64)
}
