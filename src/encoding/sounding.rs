//! What is sounding, as a model reading bar tokens could not easily keep count of it: after each
//! token, which instrument parts hold a note at the current position, which pitches, and where in
//! the bar those notes end; and what the bar before played (its parts, onsets and pitches).
//!
//! Why: in the bar vocabulary a line's notes are interleaved with every other part's by onset, so
//! to carry Violin II or a held pad through, an LSTM must remember when each part's last note ends
//! and write the next one there. It rarely did (clips whose lines break off, issue 23); with these
//! features as an input (and, through a learned map, straight into the logits: "a note of this
//! part ends at position 24" can raise `POSITION 24`), it reads it instead of counting it. The
//! previous bar's parts, onsets and pitches are Lookback RNN's "what was played a bar ago".
//!
//! Two rows of [`SLOTS`] floats per token (multi-hot): now, then the bar before. Within a row:
//! the drums, 128 programs, [`PARTS`] further parts, [`MAX_BAR_STEPS`] positions and 128 pitches.

use super::bars::{meter_steps, BarToken, BarVocab, DEFAULT_STEPS, DURATIONS, DRUM_STEPS, MAX_BAR_STEPS, PARTS};
use super::TokenId;

pub const DRUM_SLOT: usize = 0;
pub const PROGRAM_SLOT: usize = 1;
pub const PART_SLOT: usize = PROGRAM_SLOT + 128;
pub const POSITION_SLOT: usize = PART_SLOT + PARTS as usize;
pub const PITCH_SLOT: usize = POSITION_SLOT + MAX_BAR_STEPS as usize;
/// The transposition of the music read (`SHIFT` in its head), −6..=6: in the row for now at every
/// token, so a model trained on transposed copies is told at each step which key it is in.
pub const SHIFT_SLOT: usize = PITCH_SLOT + 128;
/// Floats in one row.
pub const SLOTS: usize = SHIFT_SLOT + 13;
/// Floats per token: the row for now and the row for the bar before.
pub const WIDTH: usize = 2 * SLOTS;
/// The longest note in grid steps: nothing that started earlier than this can still sound.
const LONGEST: i64 = DURATIONS[DURATIONS.len() - 1] as i64;

/// One note as the tracker keeps it.
#[derive(Debug, Clone, Copy)]
struct Held {
    start: i64,
    end: i64,
    drum: bool,
    program: u8,
    part: u8,
    pitch: u8,
}

impl Held {
    /// The slots naming this note's part: the drums, or its program (and its part past the first).
    fn part_slots(&self) -> [Option<usize>; 2] {
        if self.drum {
            [Some(DRUM_SLOT), None]
        } else {
            [Some(PROGRAM_SLOT + self.program as usize), (self.part > 0).then(|| PART_SLOT + (self.part.min(PARTS) - 1) as usize)]
        }
    }
}

/// Reads bar tokens one at a time and writes the features of the state after each.
#[derive(Debug, Clone)]
pub struct Sounding {
    vocab: BarVocab,
    in_head: bool,
    head_program: Option<u8>,
    /// Each bar's first step, length and first note (an index into `notes`).
    bars: Vec<(i64, i64, usize)>,
    bar_len: i64,
    /// The current onset (the bar's start until a `POSITION`).
    onset: i64,
    program: Option<u8>,
    part: u8,
    /// The part just named at a bar's start (for a part `REPEAT`): (drums, program, part).
    named: Option<(bool, u8, u8)>,
    /// A pitch waiting for its duration: (onset, pitch, program, part).
    pending: Option<(i64, u8, u8, u8)>,
    notes: Vec<Held>,
    shift: Option<i8>,
}

impl Sounding {
    pub fn new(vocab: &BarVocab) -> Sounding {
        Sounding {
            vocab: vocab.clone(),
            in_head: true,
            head_program: None,
            bars: Vec::new(),
            bar_len: meter_steps(vocab.meter_index()) as i64,
            onset: 0,
            program: None,
            part: 0,
            named: None,
            pending: None,
            notes: Vec::new(),
            shift: None,
        }
    }

    fn bar_start(&self) -> i64 {
        self.bars.last().map_or(0, |b| b.0)
    }

    pub fn push(&mut self, id: TokenId) {
        let token = self.vocab.token(id);
        if let Some((onset, pitch, program, part)) = self.pending.take() {
            // A pitch's length is its next token; one that never came lasts a beat (as decoding reads it).
            let steps = match token {
                BarToken::Duration(d) => DURATIONS[(d as usize).min(DURATIONS.len() - 1)] as i64,
                _ => DEFAULT_STEPS as i64,
            };
            self.notes.push(Held { start: onset, end: onset + steps, drum: false, program, part, pitch });
        }
        match token {
            BarToken::Bar => {
                let start = match self.bars.last() {
                    Some(&(s, len, _)) => s + len,
                    None => 0,
                };
                self.bars.push((start, self.bar_len, self.notes.len()));
                self.in_head = false;
                self.onset = start;
                self.named = None;
                self.forget();
            }
            BarToken::Meter(m) => {
                self.bar_len = meter_steps(m as usize) as i64;
                if let Some(last) = self.bars.last_mut() {
                    last.1 = self.bar_len;
                }
            }
            BarToken::Position(k) => {
                self.onset = self.bar_start() + k as i64;
                self.named = None;
            }
            BarToken::Program(p) if self.in_head => {
                self.head_program.get_or_insert(p);
            }
            BarToken::Program(p) => {
                self.program = Some(p);
                self.part = 0;
                self.named = Some((false, p, 0));
            }
            BarToken::Part(k) => {
                self.part = k;
                if let Some(n) = self.named.as_mut() {
                    n.2 = k;
                }
            }
            BarToken::Drums if !self.in_head => self.named = Some((true, 0, 0)),
            BarToken::Repeat(r) => self.repeat(self.vocab.repeat_back(r)),
            BarToken::Pitch(p) if !self.in_head => {
                self.pending = Some((self.onset, p, self.program.or(self.head_program).unwrap_or(0), self.part));
            }
            BarToken::Drum(p) if !self.in_head => {
                self.notes.push(Held { start: self.onset, end: self.onset + DRUM_STEPS as i64, drum: true, program: 0, part: 0, pitch: p });
            }
            BarToken::Start => *self = Sounding::new(&self.vocab),
            BarToken::Shift(k) => self.shift = Some(k),
            _ => {}
        }
    }

    /// Bar n−d (or the part just named of it) again, as decoding copies it.
    fn repeat(&mut self, d: usize) {
        let n = self.bars.len();
        let Some(&(from, len, first)) = n.checked_sub(d + 1).and_then(|i| self.bars.get(i)) else { return };
        if len != self.bar_len {
            return;
        }
        let here = self.bar_start();
        let named = self.named.take();
        let again: Vec<Held> = self.notes[first..]
            .iter()
            .filter(|h| (from..from + len).contains(&h.start) && named.is_none_or(|k| k == (h.drum, h.program, h.part)))
            .map(|h| Held { start: h.start - from + here, end: h.end - from + here, ..*h })
            .collect();
        self.notes.extend(again);
    }

    /// Drops what neither the features nor a `REPEAT` can reach again (bars more than the longest
    /// repeat back, notes that ended before them), so a long clip costs no more per token.
    fn forget(&mut self) {
        let keep_bars = super::bars::REPEAT_BACK[super::bars::REPEAT_BACK.len() - 1] as usize + 2;
        if self.bars.len() <= 2 * keep_bars {
            return;
        }
        let drop = self.bars.len() - keep_bars;
        let first = self.bars[drop].2;
        // A note from before the first kept bar that may still sound stays too.
        let horizon = self.bars[drop].0 - LONGEST;
        let mut kept: Vec<Held> = self.notes[..first].iter().filter(|h| h.end > horizon).copied().collect();
        let moved = first - kept.len();
        kept.extend_from_slice(&self.notes[first..]);
        self.notes = kept;
        self.bars.drain(..drop);
        for b in &mut self.bars {
            b.2 = b.2.saturating_sub(moved);
        }
    }

    /// The features of the state now into `out` (`WIDTH` floats, zeroed by the caller).
    pub fn write(&self, out: &mut [f32]) {
        let Some(&(bar_start, bar_len, _)) = self.bars.last() else { return };
        let (now, prev) = out.split_at_mut(SLOTS);
        if let Some(k) = self.shift {
            now[SHIFT_SLOT + (k as i32 + 6).clamp(0, 12) as usize] = 1.0;
        }
        // Notes are kept bar by bar: none from a bar that began a longest note before now sounds.
        let mut i = self.bars.len() - 1;
        while i > 0 && self.bars[i].0 > self.onset - LONGEST {
            i -= 1;
        }
        let near = if i == 0 { 0 } else { self.bars[i].2 };
        for h in &self.notes[near..] {
            if h.start <= self.onset && self.onset < h.end {
                for s in h.part_slots().into_iter().flatten() {
                    now[s] = 1.0;
                }
                if !h.drum {
                    now[PITCH_SLOT + h.pitch as usize] = 1.0;
                }
                if h.end < bar_start + bar_len {
                    now[POSITION_SLOT + (h.end - bar_start) as usize] = 1.0;
                }
            }
        }
        if let Some(&(from, len, first)) = self.bars.len().checked_sub(2).and_then(|i| self.bars.get(i)) {
            for h in self.notes[first..].iter().filter(|h| (from..from + len).contains(&h.start)) {
                for s in h.part_slots().into_iter().flatten() {
                    prev[s] = 1.0;
                }
                prev[POSITION_SLOT + ((h.start - from) as usize).min(MAX_BAR_STEPS as usize - 1)] = 1.0;
                if !h.drum {
                    prev[PITCH_SLOT + h.pitch as usize] = 1.0;
                }
            }
        }
    }
}

/// The features of the input tokens `stream[from..from + len]` (`len × WIDTH` floats), each
/// as it stands after that token, reading the stream from its start; positions past its end
/// (padding) get zeros.
pub fn sounding_context(vocab: &BarVocab, stream: &[i64], from: usize, len: usize) -> Vec<f32> {
    let mut tracker = Sounding::new(vocab);
    let id = |t: i64| t.clamp(0, TokenId::MAX as i64) as TokenId;
    for &t in &stream[..from.min(stream.len())] {
        tracker.push(id(t));
    }
    let mut out = vec![0.0f32; len * WIDTH];
    for (k, row) in out.chunks_mut(WIDTH).enumerate() {
        let Some(&t) = stream.get(from + k) else { break };
        tracker.push(id(t));
        tracker.write(row);
    }
    out
}
