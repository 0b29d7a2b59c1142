//! Bar-relative note tokens (REMI+: Huang & Yang 2020, with programs and time signatures as in
//! MidiTok). Each note carries its own duration, so no note can be left hanging, and time is said
//! against the bar (`BAR`, `METER`, `POSITION`), so the model always knows where the beat is.
//!
//! A sequence: `START · [STYLE] · PROGRAM… · [DRUMS] · (BAR · [METER] · (POSITION · note…)…)… · END`.
//! The head (everything before the first `BAR`) names the style and the instruments that play; it
//! is repeated at the start of every training window, so generation can be steered by it. A melodic
//! note is `[PROGRAM] [VELOCITY] PITCH DURATION` (program and velocity only when they change), a
//! drum hit `[VELOCITY] DRUM` (channel 10, kit piece = key number, no duration). Parts that share
//! a program on different tracks (Violin I and Violin II) stay apart: `PROGRAM p · PART k` names
//! the k-th further part of program p (parts ranked by their mean pitch, highest first).
//!
//! A bar that repeats an earlier one says so (folk-rnn's repeat signs, Lookback RNN's "as one or
//! two bars ago", made a token): `BAR · [METER] · REPEAT d` is bar n−d again, whole; at the start of
//! a bar, `PROGRAM p [PART k] · REPEAT d` (or `DRUMS · REPEAT d`) is that instrument's part of bar
//! n−d again, and the bar's other notes follow. The encoder writes them wherever the music repeats
//! exactly (the nearest `d` of [`REPEAT_BACK`]), so the model learns where music returns from the
//! music itself, and a repeat it samples is a real return, not a near miss.

use super::TokenId;
use crate::midi::{Note, TimeSignature, DRUM_CHANNEL};
use crate::settings::{SettingError, BPM, MAX_STYLE_NAME, VELOCITY_BINS};
use serde::{Deserialize, Serialize};

/// Grid steps per beat (quarter note): sixteenths (3), eighth triplets (4), sixteenth triplets (2).
pub const STEPS_PER_BEAT: u16 = 12;
/// Durations a note can have, in grid steps: every step up to a beat, then coarser (a quarter beat
/// up to two beats, half a beat up to four, a beat up to eight, two beats up to sixteen).
pub const DURATIONS: [u16; 28] =
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 18, 21, 24, 30, 36, 42, 48, 60, 72, 84, 96, 120, 144, 168, 192];
/// Meters a bar can have (numerator, denominator); a file's other meters take the entry with the
/// nearest bar length. The longest is 8 beats, so positions run 0..96.
pub const METERS: [(u8, u8); 16] = [
    (4, 4), (3, 4), (2, 4), (6, 8), (2, 2), (5, 4), (6, 4), (3, 8),
    (9, 8), (12, 8), (5, 8), (7, 8), (1, 4), (7, 4), (3, 2), (4, 2),
];
pub const MAX_BAR_STEPS: u16 = 8 * STEPS_PER_BEAT;
/// Style tags a model can hold (the vocabulary's size does not depend on how many are used, so a
/// fine-tuned model keeps its shape).
pub const STYLE_SLOTS: usize = 16;
/// Length given to drum hits (a sixteenth): the kit does not care, the piano roll needs a width.
pub const DRUM_STEPS: u16 = 3;
/// How many bars back a `REPEAT` can reach: one and two bars (a riff, a sequence), phrases of
/// four and eight (a folk tune's repeated half, an AABA's returning A after B), up to 32.
pub const REPEAT_BACK: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32];
/// Length of a pitch whose duration token never came (only in malformed sequences).
pub(super) const DEFAULT_STEPS: u16 = 12;

const BAR: TokenId = 3;
const DRUMS: TokenId = 4;
const METER_BASE: TokenId = 5;
const STYLE_BASE: TokenId = METER_BASE + METERS.len() as TokenId;
const PROGRAM_BASE: TokenId = STYLE_BASE + STYLE_SLOTS as TokenId;
const POSITION_BASE: TokenId = PROGRAM_BASE + 128;
const PITCH_BASE: TokenId = POSITION_BASE + MAX_BAR_STEPS;
const DRUM_BASE: TokenId = PITCH_BASE + 128;
const DURATION_BASE: TokenId = DRUM_BASE + 128;
const VELOCITY_BASE: TokenId = DURATION_BASE + DURATIONS.len() as TokenId;

/// Something that plays: a General MIDI program, or the drum kit on channel 10.
///
/// Why the full program and not its family: the user's files name their instruments exactly
/// (a fretless bass is not a synth bass) and the SoundFont has all 128, so the model hands back the
/// sound it learned; the vocabulary grows by 128 tokens, which costs little next to the LSTM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Instrument {
    Program(u8),
    Drums,
}

impl Instrument {
    pub fn of(note: &Note) -> Instrument {
        if note.drum { Instrument::Drums } else { Instrument::Program(note.program & 0x7F) }
    }

    /// The General MIDI name ("Acoustic Grand Piano", "Drums").
    pub fn name(&self) -> &'static str {
        match self {
            Instrument::Drums => "Drums",
            Instrument::Program(p) => crate::midi::program_name(*p),
        }
    }
}

/// A decoded token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarToken {
    Pad,
    Start,
    End,
    Bar,
    /// In the head: the drum kit plays.
    Drums,
    /// Index into [`METERS`]: the meter of the current bar.
    Meter(u8),
    /// Style slot.
    Style(u8),
    /// In the head: this program plays; in the body: the following notes are this program.
    Program(u8),
    /// Grid step within the bar of the following notes.
    Position(u16),
    Pitch(u8),
    /// A drum hit: kit piece by key number.
    Drum(u8),
    /// Index into [`DURATIONS`]: the length of the preceding pitch.
    Duration(u8),
    Velocity(u8),
    /// In the body, after a `PROGRAM`: the following notes are the k-th further part (1..) of that
    /// program (a second violin beside the first).
    Part(u8),
    /// Index into [`REPEAT_BACK`]: this bar (right after `BAR`/`METER`), or the instrument just
    /// named at the bar's start, as it was that many bars back.
    Repeat(u8),
    /// In the head, right after `START`: the music is the corpus's shifted by this many semitones
    /// (a transposed training copy); generation asks for 0, the corpus's own keys.
    Shift(i8),
}

/// What a model should play: optional style tag and instruments (the head of the sequence).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conditioning {
    pub style: Option<String>,
    /// `None`: the model chooses (it writes the head itself).
    pub instruments: Option<Vec<Instrument>>,
}

/// The vocabulary and what it learned of its corpus: style names, tempo, meter and instruments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarVocab {
    pub velocity_bins: u8,
    /// Names of the style slots in use (at most [`STYLE_SLOTS`]).
    pub styles: Vec<String>,
    /// Tempo of generated music: the median of the corpus's files (editable when generating).
    pub bpm: f64,
    /// The corpus's most common meter: the first bar of generated music is in it.
    pub meter: (u8, u8),
    /// Instruments of the corpus, most notes first (the choices offered when generating).
    pub instruments: Vec<Instrument>,
    /// Per style slot: the median tempo and the most common meter of that style's files.
    #[serde(default)]
    pub style_bpm: Vec<f64>,
    #[serde(default)]
    pub style_meter: Vec<(u8, u8)>,
    /// Further parts a program can have (`PART 1..=parts`); 0 in models made before parts, whose
    /// vocabulary keeps its size.
    #[serde(default)]
    pub parts: u8,
    /// `REPEAT` tokens (the first `repeats` entries of [`REPEAT_BACK`]); 0 in models made before
    /// them, whose vocabulary keeps its size.
    #[serde(default)]
    pub repeats: u8,
    /// `SHIFT −shifts..=shifts` tokens (the transposition of a training copy, in its head); 0 in
    /// models made before them, whose vocabulary keeps its size.
    #[serde(default)]
    pub shifts: u8,
}

/// Further parts of one program a new vocabulary tells apart (a quartet's second violin, a choir's
/// four voices on one program).
pub const PARTS: u8 = 3;

/// Transpositions the vocabulary of a model that reads what is sounding can name (the most
/// `--transpose` allows).
///
/// Why: training on every transposition of each file (the augmentation that keeps a small corpus
/// from being copied) teaches models to play in every key alike, so clips leave the corpus's keys
/// (pitch-class overlap 0.70 on 30 folk tunes; 0.87 without the augmentation, but then a clip
/// copied a 47-note run). Each copy says its shift in its head and generation asks for 0; a model
/// that only has the token in its head ignores it, one that reads it at every token (the
/// [`sounding`](super::sounding) features carry it) keeps to the corpus's key.
pub const SHIFTS: u8 = 6;

impl Default for BarVocab {
    fn default() -> Self {
        BarVocab {
            velocity_bins: 8,
            styles: Vec::new(),
            bpm: 120.0,
            meter: (4, 4),
            instruments: Vec::new(),
            style_bpm: Vec::new(),
            style_meter: Vec::new(),
            parts: PARTS,
            repeats: REPEAT_BACK.len() as u8,
            shifts: 0,
        }
    }
}

/// The bar steps of a meter-table entry.
pub fn meter_steps(index: usize) -> u16 {
    let (n, d) = METERS[index.min(METERS.len() - 1)];
    (n as u16 * 4 * STEPS_PER_BEAT) / d as u16
}

/// The [`METERS`] entry for a time signature: itself, or the one with the nearest bar length.
pub fn meter_index(numerator: u8, denominator: u8) -> usize {
    if let Some(i) = METERS.iter().position(|&m| m == (numerator, denominator)) {
        return i;
    }
    let want = numerator.max(1) as f64 * 4.0 / denominator.max(1) as f64 * STEPS_PER_BEAT as f64;
    (0..METERS.len())
        .min_by(|&a, &b| (meter_steps(a) as f64 - want).abs().total_cmp(&(meter_steps(b) as f64 - want).abs()))
        .unwrap_or(0)
}

/// The nearest duration-table entry to a length in steps (ties go to the shorter).
pub fn duration_index(steps: i64) -> usize {
    let s = steps.max(1);
    (0..DURATIONS.len()).min_by_key(|&i| ((DURATIONS[i] as i64 - s).abs(), i)).unwrap_or(0)
}

/// Bar lines of a song: (first step, meter index) per bar until `end_step`. A time signature takes
/// effect at the first bar line at or after it; with none the song is in 4/4 (the MIDI default).
pub fn bar_lines(time_signatures: &[TimeSignature], end_step: i64) -> Vec<(i64, usize)> {
    let mut changes: Vec<(i64, usize)> = time_signatures
        .iter()
        .map(|t| ((t.beat * STEPS_PER_BEAT as f64).round() as i64, meter_index(t.numerator, t.denominator)))
        .collect();
    changes.sort_by_key(|c| c.0);
    let (mut meter, mut next, mut start) = (0usize, 0usize, 0i64);
    let mut bars = Vec::new();
    loop {
        while next < changes.len() && changes[next].0 <= start {
            meter = changes[next].1;
            next += 1;
        }
        bars.push((start, meter));
        start += meter_steps(meter) as i64;
        if start >= end_step {
            return bars;
        }
    }
}

/// Median initial tempo and most common meter (by bars) of some files; `None` without notes.
fn tempo_and_meter(files: &[(&crate::midi::Song, &[Note], Option<&str>)], which: &[usize]) -> Option<(f64, (u8, u8))> {
    let mut bpms: Vec<f64> = which.iter().filter(|&&i| !files[i].1.is_empty()).map(|&i| files[i].0.tempo.initial_bpm()).collect();
    bpms.sort_by(f64::total_cmp);
    let bpm = *bpms.get(bpms.len() / 2)?;
    let mut meter_bars = [0usize; METERS.len()];
    for &i in which {
        let end = files[i].1.iter().map(|n| step(n.end())).max().unwrap_or(0);
        if end > 0 {
            for (_, m) in bar_lines(&files[i].0.time_signatures, end) {
                meter_bars[m] += 1;
            }
        }
    }
    let best = (0..METERS.len()).max_by_key(|&m| (meter_bars[m], usize::MAX - m)).unwrap_or(0);
    Some((bpm.clamp(20.0, 400.0), METERS[best]))
}

/// An instrument part: (drums, program, part), as `PROGRAM p [PART k]` or `DRUMS` names it.
type PartKey = (bool, u8, u16);

fn part_key(n: &Note, parts: u8) -> PartKey {
    if n.drum { (true, 0, 0) } else { (false, n.program, n.track.min(parts as u16)) }
}

fn step(beat: f64) -> i64 {
    (beat * STEPS_PER_BEAT as f64).round() as i64
}

impl BarVocab {
    pub fn size(&self) -> usize {
        self.shift_base() as usize + self.shift_tokens()
    }

    /// The first `SHIFT` token's id (after the last `REPEAT`): `SHIFT −shifts`.
    fn shift_base(&self) -> TokenId {
        self.repeat_base() + self.repeats as TokenId
    }

    fn shift_tokens(&self) -> usize {
        if self.shifts == 0 { 0 } else { 2 * self.shifts as usize + 1 }
    }

    /// Marks `tokens` (a piece as [`encode`](Self::encode) wrote it, its head naming shift 0) as
    /// the corpus's music shifted by `semitones`; nothing changes without `SHIFT` tokens.
    pub fn mark_shift(&self, tokens: &mut [TokenId], semitones: i32) {
        if let Some(t) = tokens.iter_mut().take(2).find(|t| matches!(self.token(**t), BarToken::Shift(_))) {
            *t = self.id(BarToken::Shift(semitones.clamp(-(self.shifts as i32), self.shifts as i32) as i8));
        }
    }

    /// What reading this vocabulary's tokens needs (the ids' layout and the bar length before a
    /// `METER`), without what it learned of a corpus: what a model that reads
    /// [`sounding`](super::sounding) features keeps in its configuration.
    pub fn layout(&self) -> BarVocab {
        BarVocab { velocity_bins: self.velocity_bins, meter: self.meter, parts: self.parts, repeats: self.repeats, shifts: self.shifts, ..BarVocab::default() }
    }

    /// The first `REPEAT` token's id (after the last `PART`).
    fn repeat_base(&self) -> TokenId {
        self.part_base() + 1 + self.parts as TokenId
    }

    /// Bars back a `REPEAT` index reaches.
    pub fn repeat_back(&self, index: u8) -> usize {
        REPEAT_BACK[(index as usize).min(REPEAT_BACK.len() - 1)] as usize
    }

    /// One before the first `PART` token's id (`PART 1` follows the last velocity).
    fn part_base(&self) -> TokenId {
        VELOCITY_BASE + self.velocity_bins as TokenId - 1
    }

    pub fn start(&self) -> TokenId {
        1
    }

    pub fn end(&self) -> TokenId {
        2
    }

    pub fn bar(&self) -> TokenId {
        BAR
    }

    pub fn id(&self, token: BarToken) -> TokenId {
        match token {
            BarToken::Pad => 0,
            BarToken::Start => 1,
            BarToken::End => 2,
            BarToken::Bar => BAR,
            BarToken::Drums => DRUMS,
            BarToken::Meter(m) => METER_BASE + (m as TokenId).min(METERS.len() as TokenId - 1),
            BarToken::Style(s) => STYLE_BASE + (s as TokenId).min(STYLE_SLOTS as TokenId - 1),
            BarToken::Program(p) => PROGRAM_BASE + (p & 0x7F) as TokenId,
            BarToken::Position(k) => POSITION_BASE + k.min(MAX_BAR_STEPS - 1),
            BarToken::Pitch(p) => PITCH_BASE + (p & 0x7F) as TokenId,
            BarToken::Drum(p) => DRUM_BASE + (p & 0x7F) as TokenId,
            BarToken::Duration(d) => DURATION_BASE + (d as TokenId).min(DURATIONS.len() as TokenId - 1),
            BarToken::Velocity(b) => VELOCITY_BASE + b.min(self.velocity_bins - 1) as TokenId,
            BarToken::Part(k) => self.part_base() + (k.clamp(1, self.parts.max(1))) as TokenId,
            BarToken::Repeat(r) => self.repeat_base() + r.min(self.repeats.max(1) - 1) as TokenId,
            BarToken::Shift(k) => self.shift_base() + (k as i32 + self.shifts as i32).clamp(0, 2 * self.shifts as i32) as TokenId,
        }
    }

    /// The token for an id; ids past the vocabulary read as padding.
    /// Tokens of music shifted by `semitones` (every pitch; drums stay put), in place: what
    /// encoding the transposed notes writes. `false`, and nothing changed, when a pitch would
    /// leave 0..=127.
    pub fn transpose_tokens(&self, tokens: &mut [i64], semitones: i32) -> bool {
        let pitch = |t: i64| match self.token(t.clamp(0, u16::MAX as i64) as TokenId) {
            BarToken::Pitch(p) => Some(p as i32),
            _ => None,
        };
        let shift = |t: i64| match self.token(t.clamp(0, u16::MAX as i64) as TokenId) {
            BarToken::Shift(k) => Some(k as i32),
            _ => None,
        };
        if tokens.iter().filter_map(|&t| pitch(t)).any(|p| !(0..=127).contains(&(p + semitones)))
            || tokens.iter().filter_map(|&t| shift(t)).any(|k| (k + semitones).abs() > self.shifts as i32)
        {
            return false;
        }
        for t in tokens.iter_mut() {
            if let Some(p) = pitch(*t) {
                *t = self.id(BarToken::Pitch((p + semitones) as u8)) as i64;
            } else if let Some(k) = shift(*t) {
                *t = self.id(BarToken::Shift((k + semitones) as i8)) as i64;
            }
        }
        true
    }

    pub fn token(&self, id: TokenId) -> BarToken {
        match id {
            0 => BarToken::Pad,
            1 => BarToken::Start,
            2 => BarToken::End,
            BAR => BarToken::Bar,
            DRUMS => BarToken::Drums,
            i if i < STYLE_BASE => BarToken::Meter((i - METER_BASE) as u8),
            i if i < PROGRAM_BASE => BarToken::Style((i - STYLE_BASE) as u8),
            i if i < POSITION_BASE => BarToken::Program((i - PROGRAM_BASE) as u8),
            i if i < PITCH_BASE => BarToken::Position(i - POSITION_BASE),
            i if i < DRUM_BASE => BarToken::Pitch((i - PITCH_BASE) as u8),
            i if i < DURATION_BASE => BarToken::Drum((i - DRUM_BASE) as u8),
            i if i < VELOCITY_BASE => BarToken::Duration((i - DURATION_BASE) as u8),
            i if i <= self.part_base() => BarToken::Velocity((i - VELOCITY_BASE) as u8),
            i if i < self.repeat_base() => BarToken::Part((i - self.part_base()) as u8),
            i if i < self.shift_base() => BarToken::Repeat((i - self.repeat_base()) as u8),
            i if (i as usize) < self.size() => BarToken::Shift(((i - self.shift_base()) as i32 - self.shifts as i32) as i8),
            _ => BarToken::Pad,
        }
    }

    pub fn velocity_bin(&self, velocity: u8) -> u8 {
        super::velocity_bin(self.velocity_bins, velocity)
    }

    /// The velocity a bin decodes to: the middle of its range.
    pub fn bin_velocity(&self, bin: u8) -> u8 {
        super::bin_velocity(self.velocity_bins, bin)
    }

    pub fn meter_index(&self) -> usize {
        meter_index(self.meter.0, self.meter.1)
    }

    /// The meter generated music starts in: the style's, else the corpus's.
    pub fn meter_for(&self, style_slot: Option<usize>) -> usize {
        match style_slot.and_then(|s| self.style_meter.get(s)) {
            Some(&(n, d)) => meter_index(n, d),
            None => self.meter_index(),
        }
    }

    /// The tempo generated music plays at: the style's median, else the corpus's.
    pub fn bpm_for(&self, style: Option<&str>) -> f64 {
        style.and_then(|s| self.style_slot(s)).and_then(|i| self.style_bpm.get(i).copied()).unwrap_or(self.bpm)
    }

    pub fn style_slot(&self, style: &str) -> Option<usize> {
        self.styles.iter().position(|s| s == style)
    }

    /// Adds style names to free slots (names already there keep theirs; past 16 they are dropped).
    pub fn add_styles<'a>(&mut self, styles: impl IntoIterator<Item = &'a str>) {
        for s in styles {
            if !s.is_empty() && self.style_slot(s).is_none() && self.styles.len() < STYLE_SLOTS {
                self.styles.push(s.to_string());
            }
        }
    }

    /// Learns tempo, meter, instruments and style names from a corpus: each file's selected notes,
    /// its song (for tempo and time signatures) and its style tag.
    pub fn learn(&mut self, files: &[(&crate::midi::Song, &[Note], Option<&str>)]) {
        self.add_styles(files.iter().filter_map(|f| f.2));
        let all: Vec<usize> = (0..files.len()).collect();
        if let Some((bpm, meter)) = tempo_and_meter(files, &all) {
            self.bpm = bpm;
            self.meter = meter;
        }
        let (mut style_bpm, mut style_meter) = (Vec::new(), Vec::new());
        for (slot, name) in self.styles.iter().enumerate() {
            let of_style: Vec<usize> = (0..files.len()).filter(|&i| files[i].2 == Some(name.as_str())).collect();
            // A style this corpus lacks (a fine-tuned model's older ones) keeps what it had.
            let known = (self.style_bpm.get(slot).copied(), self.style_meter.get(slot).copied());
            let (bpm, meter) = tempo_and_meter(files, &of_style)
                .unwrap_or((known.0.unwrap_or(self.bpm), known.1.unwrap_or(self.meter)));
            style_bpm.push(bpm);
            style_meter.push(meter);
        }
        self.style_bpm = style_bpm;
        self.style_meter = style_meter;
        let mut counts: std::collections::BTreeMap<Instrument, usize> = Default::default();
        for (_, notes, _) in files {
            for n in notes.iter() {
                *counts.entry(Instrument::of(n)).or_default() += 1;
            }
        }
        let mut list: Vec<(Instrument, usize)> = counts.into_iter().collect();
        list.sort_by_key(|(i, n)| (usize::MAX - n, *i));
        self.instruments = list.into_iter().map(|(i, _)| i).collect();
    }

    /// Snaps notes to what the vocabulary can say: onsets on the grid, durations from the table
    /// (drum hits [`DRUM_STEPS`]), velocities to bin centres, one note per onset, instrument and
    /// pitch (the longest). `quantize` → [`encode`](Self::encode) → [`decode`](Self::decode) gives
    /// these notes back exactly (channels aside: decoding assigns one channel per instrument).
    pub fn quantize(&self, notes: &[Note]) -> Vec<Note> {
        let spb = STEPS_PER_BEAT as f64;
        let part = self.parts_of(notes);
        let mut q: Vec<(i64, u16, Note)> = notes
            .iter()
            .map(|n| {
                let s = step(n.start).max(0);
                let d = if n.drum { DRUM_STEPS } else { DURATIONS[duration_index(step(n.end()) - s)] };
                let mut m = n.clone();
                m.velocity = self.bin_velocity(self.velocity_bin(n.velocity));
                m.program &= 0x7F;
                m.pitch &= 0x7F;
                m.track = part(n);
                if m.drum {
                    m.program = 0;
                    m.channel = DRUM_CHANNEL;
                }
                (s, d, m)
            })
            .collect();
        q.sort_by_key(|(s, d, n)| (*s, n.drum, n.program, n.track, n.pitch, u16::MAX - d));
        q.dedup_by(|b, a| a.0 == b.0 && a.2.drum == b.2.drum && a.2.program == b.2.program && a.2.track == b.2.track && a.2.pitch == b.2.pitch);
        let mut out: Vec<Note> = q
            .into_iter()
            .map(|(s, d, mut n)| {
                n.start = s as f64 / spb;
                n.duration = (s + d as i64) as f64 / spb - n.start;
                n
            })
            .collect();
        out.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.pitch.cmp(&b.pitch)).then(a.drum.cmp(&b.drum)).then(a.program.cmp(&b.program)).then(a.track.cmp(&b.track)));
        out
    }

    /// Which part of its program each note is (0 = the first; `track` numbers it in the quantized
    /// notes): tracks sharing a program are ranked by mean pitch, highest first (Violin I before
    /// Violin II); past [`parts`](Self::parts) further parts, the last takes the rest. Drums and a
    /// vocabulary without parts: 0.
    fn parts_of(&self, notes: &[Note]) -> impl Fn(&Note) -> u16 + use<> {
        use std::collections::BTreeMap;
        let mut pitches: BTreeMap<(u8, u16), (f64, usize)> = BTreeMap::new();
        if self.parts > 0 {
            for n in notes.iter().filter(|n| !n.drum) {
                let e = pitches.entry((n.program & 0x7F, n.track)).or_default();
                e.0 += n.pitch as f64;
                e.1 += 1;
            }
        }
        let mut rank: BTreeMap<(u8, u16), u16> = BTreeMap::new();
        let mut by_program: BTreeMap<u8, Vec<(f64, u16)>> = BTreeMap::new();
        for (&(program, track), &(sum, count)) in &pitches {
            by_program.entry(program).or_default().push((sum / count as f64, track));
        }
        for (program, mut tracks) in by_program {
            tracks.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for (k, (_, track)) in tracks.into_iter().enumerate() {
                rank.insert((program, track), (k as u16).min(self.parts as u16));
            }
        }
        move |n: &Note| if n.drum { 0 } else { rank.get(&(n.program & 0x7F, n.track)).copied().unwrap_or(0) }
    }

    /// The head tokens for a conditioning: `START · [SHIFT 0] · [STYLE] · PROGRAM… · [DRUMS]`
    /// (instruments sorted; `SHIFT 0`: in the corpus's own keys).
    pub fn head(&self, style: Option<&str>, instruments: &[Instrument]) -> Vec<TokenId> {
        let mut out = vec![self.start()];
        if self.shifts > 0 {
            out.push(self.id(BarToken::Shift(0)));
        }
        if let Some(slot) = style.and_then(|s| self.style_slot(s)) {
            out.push(self.id(BarToken::Style(slot as u8)));
        }
        let mut sorted = instruments.to_vec();
        sorted.sort();
        sorted.dedup();
        for i in sorted {
            out.push(match i {
                Instrument::Program(p) => self.id(BarToken::Program(p)),
                Instrument::Drums => DRUMS,
            });
        }
        out
    }

    /// Notes → `[head…, BAR, …, END]`, bars from `time_signatures`. The head names `style` and the
    /// instruments the notes use. Notes should come from [`quantize`](Self::quantize).
    pub fn encode(&self, notes: &[Note], time_signatures: &[TimeSignature], style: Option<&str>) -> Vec<TokenId> {
        let notes = self.quantize(notes);
        let mut instruments: Vec<Instrument> = notes.iter().map(Instrument::of).collect();
        instruments.sort();
        instruments.dedup();
        let mut tokens = self.head(style, &instruments);
        let mut order: Vec<(i64, &Note)> = notes.iter().map(|n| (step(n.start), n)).collect();
        // Within an onset: melodic instruments by program, each from the top note down (melody
        // first, as Polyphony RNN and BachBot order chords), then the drums.
        order.sort_by_key(|(s, n)| (*s, n.drum, n.program, n.track, 255 - n.pitch));
        let end = order.last().map_or(1, |(s, _)| s + 1);
        let bars = bar_lines(time_signatures, end);
        let (mut program, mut velocity, mut meter) = (None, None, None);
        // Each bar's notes (a range of `order`) and what they are against the bar line, so a bar
        // and an instrument's part of it can be compared with earlier bars.
        let mut ranges = Vec::with_capacity(bars.len());
        let mut k = 0;
        for b in 0..bars.len() {
            let bar_end = bars.get(b + 1).map_or(i64::MAX, |x| x.0);
            let from = k;
            while k < order.len() && order[k].0 < bar_end {
                k += 1;
            }
            ranges.push(from..k);
        }
        let content = |b: usize, part: Option<PartKey>| -> Vec<(i64, PartKey, u8, u8, u8)> {
            order[ranges[b].clone()]
                .iter()
                .filter(|(_, n)| part.is_none_or(|p| p == part_key(n, self.parts)))
                .map(|&(s, n)| (s - bars[b].0, part_key(n, self.parts), n.pitch, duration_index(step(n.duration)) as u8, self.velocity_bin(n.velocity)))
                .collect()
        };
        // The nearest bar back (of those a REPEAT reaches) in the same meter with the same notes.
        let repeat_of = |b: usize, part: Option<PartKey>| -> Option<u8> {
            let here = content(b, part);
            (0..self.repeats).find(|&r| {
                let d = self.repeat_back(r);
                b >= d && bars[b - d].1 == bars[b].1 && content(b - d, part) == here
            })
        };
        for (b, &(bar_start, m)) in bars.iter().enumerate() {
            tokens.push(BAR);
            if meter != Some(m) {
                tokens.push(self.id(BarToken::Meter(m as u8)));
                meter = Some(m);
            }
            let mut copied: Vec<PartKey> = Vec::new();
            if self.repeats > 0 && !ranges[b].is_empty() {
                if let Some(r) = repeat_of(b, None) {
                    tokens.push(self.id(BarToken::Repeat(r)));
                    continue;
                }
                let mut parts: Vec<PartKey> = order[ranges[b].clone()].iter().map(|(_, n)| part_key(n, self.parts)).collect();
                parts.sort();
                parts.dedup();
                for key in parts {
                    let Some(r) = repeat_of(b, Some(key)) else { continue };
                    let (drum, p, track) = key;
                    if drum {
                        tokens.push(DRUMS);
                    } else {
                        tokens.push(self.id(BarToken::Program(p)));
                        if track > 0 {
                            tokens.push(self.id(BarToken::Part(track as u8)));
                        }
                        program = Some((p, track));
                    }
                    tokens.push(self.id(BarToken::Repeat(r)));
                    copied.push(key);
                }
            }
            let mut position = None;
            for &(s, n) in &order[ranges[b].clone()] {
                if copied.contains(&part_key(n, self.parts)) {
                    continue;
                }
                if position != Some(s) {
                    tokens.push(self.id(BarToken::Position((s - bar_start) as u16)));
                    position = Some(s);
                }
                if !n.drum && program != Some((n.program, n.track)) {
                    tokens.push(self.id(BarToken::Program(n.program)));
                    if n.track > 0 && self.parts > 0 {
                        tokens.push(self.id(BarToken::Part(n.track.min(self.parts as u16) as u8)));
                    }
                    program = Some((n.program, n.track));
                }
                let bin = self.velocity_bin(n.velocity);
                if velocity != Some(bin) {
                    tokens.push(self.id(BarToken::Velocity(bin)));
                    velocity = Some(bin);
                }
                if n.drum {
                    tokens.push(self.id(BarToken::Drum(n.pitch)));
                } else {
                    tokens.push(self.id(BarToken::Pitch(n.pitch)));
                    tokens.push(self.id(BarToken::Duration(duration_index(step(n.duration)) as u8)));
                }
            }
        }
        tokens.push(self.end());
        tokens
    }

    /// The opening `beats` of a song as a primer (notes cut at the boundary, its own instruments in
    /// the head, no END): the model continues the file in its own instruments and meter.
    pub fn primer(&self, notes: &[Note], time_signatures: &[TimeSignature], beats: f64, style: Option<&str>) -> Vec<TokenId> {
        let opening: Vec<Note> = notes
            .iter()
            .filter(|n| n.start < beats)
            .map(|n| Note { duration: n.duration.min(beats - n.start), ..n.clone() })
            .collect();
        let mut tokens = self.encode(&opening, time_signatures, style);
        tokens.pop();
        tokens
    }

    /// The tokens generation starts from for a conditioning. With instruments chosen the head is
    /// closed (`… BAR METER`) so the model plays exactly those; without, it writes the head itself.
    pub fn prompt(&self, conditioning: &Conditioning) -> Vec<TokenId> {
        let style = conditioning.style.as_deref();
        match &conditioning.instruments {
            Some(list) if !list.is_empty() => {
                let mut t = self.head(style, list);
                t.push(BAR);
                t.push(self.id(BarToken::Meter(self.meter_for(style.and_then(|s| self.style_slot(s))) as u8)));
                t
            }
            _ => self.head(style, &[]),
        }
    }

    /// Tokens → notes, for any token sequence (a model's output included): every `PITCH` and
    /// `DRUM` gives one whole note no longer than the longest duration; a pitch whose duration never
    /// comes lasts a beat. Each instrument gets its own channel (drums on 10). Seconds assume `bpm`.
    pub fn decode(&self, tokens: &[TokenId], bpm: f64) -> Vec<Note> {
        let sec_per_beat = 60.0 / bpm;
        let spb = STEPS_PER_BEAT as f64;
        let mut notes: Vec<Note> = Vec::new();
        let (mut head_program, mut in_head) = (None, true);
        let (mut bar_start, mut bar_len, mut seen_bar) = (0i64, meter_steps(self.meter_index()) as i64, false);
        let (mut onset, mut program, mut velocity) = (0i64, None::<u8>, self.bin_velocity(self.velocity_bin(80)));
        let mut part = 0u16;
        let mut pending: Option<(i64, u8, u8, u8, u16)> = None;
        // Each bar's (first step, length), and the part named at this bar's start for a REPEAT.
        let mut bars: Vec<(i64, i64)> = Vec::new();
        let mut named: Option<PartKey> = None;
        let make = |start: i64, steps: u16, pitch: u8, program: u8, velocity: u8, drum: bool, part: u16| {
            // End minus start, as a share link decodes it, so a clip and its link compare equal.
            let b0 = start as f64 / spb;
            let d = (start + steps as i64) as f64 / spb - b0;
            Note {
                pitch,
                velocity,
                start: b0,
                duration: d,
                start_s: b0 * sec_per_beat,
                duration_s: d * sec_per_beat,
                channel: if drum { DRUM_CHANNEL } else { 0 },
                program: if drum { 0 } else { program },
                drum,
                track: part,
            }
        };
        let flush = |pending: &mut Option<(i64, u8, u8, u8, u16)>, notes: &mut Vec<Note>, steps: u16| {
            if let Some((s, p, prog, v, k)) = pending.take() {
                notes.push(make(s, steps, p, prog, v, false, k));
            }
        };
        for &id in tokens {
            let token = self.token(id);
            if !matches!(token, BarToken::Duration(_)) {
                flush(&mut pending, &mut notes, DEFAULT_STEPS);
            }
            match token {
                BarToken::Pad | BarToken::Start | BarToken::Style(_) | BarToken::Shift(_) => {}
                BarToken::End => break,
                BarToken::Bar => {
                    if seen_bar {
                        bar_start += bar_len;
                    }
                    seen_bar = true;
                    in_head = false;
                    onset = bar_start;
                    bars.push((bar_start, bar_len));
                    named = None;
                }
                BarToken::Meter(m) => {
                    bar_len = meter_steps(m as usize) as i64;
                    if let Some(last) = bars.last_mut() {
                        last.1 = bar_len;
                    }
                }
                BarToken::Position(k) => {
                    onset = bar_start + k as i64;
                    named = None;
                }
                BarToken::Program(p) if in_head => {
                    head_program.get_or_insert(p);
                }
                BarToken::Program(p) => {
                    program = Some(p);
                    part = 0;
                    named = Some((false, p, 0));
                }
                BarToken::Part(k) => {
                    part = k as u16;
                    if let Some(n) = named.as_mut() {
                        n.2 = part;
                    }
                }
                BarToken::Drums if !in_head => named = Some((true, 0, 0)),
                BarToken::Drums => {}
                BarToken::Repeat(r) => {
                    // Bar n−d (or the named part of it) again, if that bar exists and is as long.
                    let d = self.repeat_back(r);
                    let Some(&(from, len)) = bars.len().checked_sub(d + 1).and_then(|i| bars.get(i)) else { continue };
                    if len != bar_len {
                        continue;
                    }
                    let grid = |b: f64| (b * spb).round() as i64;
                    let again: Vec<Note> = notes
                        .iter()
                        .filter(|n| (from..from + len).contains(&grid(n.start)) && named.is_none_or(|k| k == part_key(n, self.parts)))
                        .map(|n| {
                            let start = grid(n.start) - from + bar_start;
                            let steps = (grid(n.end()) - grid(n.start)).max(1) as u16;
                            make(start, steps, n.pitch, n.program, n.velocity, n.drum, n.track)
                        })
                        .collect();
                    notes.extend(again);
                }
                BarToken::Velocity(b) => velocity = self.bin_velocity(b),
                BarToken::Pitch(p) => pending = Some((onset, p, program.or(head_program).unwrap_or(0), velocity, part)),
                BarToken::Duration(d) => flush(&mut pending, &mut notes, DURATIONS[(d as usize).min(DURATIONS.len() - 1)]),
                BarToken::Drum(p) => notes.push(make(onset, DRUM_STEPS, p, 0, velocity, true, 0)),
            }
        }
        flush(&mut pending, &mut notes, DEFAULT_STEPS);
        // One note per onset, instrument part and pitch (a MIDI channel could not keep two apart).
        notes.sort_by(|a, b| {
            (a.start.total_cmp(&b.start))
                .then(a.pitch.cmp(&b.pitch))
                .then(a.drum.cmp(&b.drum))
                .then(a.program.cmp(&b.program))
                .then(a.track.cmp(&b.track))
                .then(b.duration.total_cmp(&a.duration))
        });
        notes.dedup_by(|b, a| a.start == b.start && a.pitch == b.pitch && a.drum == b.drum && a.program == b.program && a.track == b.track);
        assign_channels(&mut notes);
        notes
    }

    /// The time signatures a token sequence's bars spell (one at each meter change).
    pub fn time_signatures(&self, tokens: &[TokenId]) -> Vec<TimeSignature> {
        let (mut bar_start, mut bar_len, mut seen) = (0i64, meter_steps(self.meter_index()) as i64, false);
        let mut current = None;
        let mut out: Vec<TimeSignature> = Vec::new();
        for &id in tokens {
            match self.token(id) {
                BarToken::End => break,
                BarToken::Bar => {
                    if seen {
                        bar_start += bar_len;
                    }
                    seen = true;
                }
                BarToken::Meter(m) if seen => {
                    bar_len = meter_steps(m as usize) as i64;
                    if current != Some(m) {
                        current = Some(m);
                        let (numerator, denominator) = METERS[m as usize];
                        let beat = bar_start as f64 / STEPS_PER_BEAT as f64;
                        out.retain(|t| t.beat != beat);
                        out.push(TimeSignature { beat, numerator, denominator });
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// One channel per instrument part (program and part) in order of first use, skipping channel 10
/// (drums' own); past 15 parts channels are shared.
fn assign_channels(notes: &mut [Note]) {
    let mut order: Vec<(u8, u16)> = Vec::new();
    let mut sorted: Vec<usize> = (0..notes.len()).collect();
    sorted.sort_by(|&a, &b| notes[a].start.total_cmp(&notes[b].start));
    for i in sorted {
        let n = &mut notes[i];
        if n.drum {
            continue;
        }
        let k = order.iter().position(|&p| p == (n.program, n.track)).unwrap_or_else(|| {
            order.push((n.program, n.track));
            order.len() - 1
        });
        let k = (k % 15) as u8;
        n.channel = if k >= DRUM_CHANNEL { k + 1 } else { k };
    }
}

/// Which tokens may come next while generating: well-formed bars (positions forward and inside the
/// bar, a duration after every pitch, the corpus's meter in the first bar), and only the
/// instruments the head names. Also counts beats, so generation can stop at a bar line.
#[derive(Debug, Clone)]
pub struct BarGrammar {
    vocab: BarVocab,
    in_head: bool,
    style: Option<usize>,
    style_seen: bool,
    head_programs: Vec<u8>,
    head_drums: bool,
    last: BarToken,
    bars: usize,
    bar_len: u16,
    /// Beats before the current bar.
    beats_done: f64,
    position: Option<u16>,
    program: Option<u8>,
    /// The part of the current program (0: its first).
    part: u8,
    /// Pitches and drums already played at this position, with their program and part (no doubled notes).
    here: Vec<(u8, bool, u8, u8)>,
    /// Every bar's length so far (a `REPEAT` reaches only a bar as long as this one).
    bar_lens: Vec<u16>,
    /// The first bar (counted from 1) a `REPEAT` may reach: a form's section copies its own bars.
    repeat_floor: usize,
    /// This bar is an earlier one again: nothing more goes in it.
    whole_repeat: bool,
    /// The parts this bar repeats, and the one just named at its start (awaiting its `REPEAT`).
    repeated: Vec<(bool, u8, u8)>,
    named: Option<(bool, u8, u8)>,
}

impl BarGrammar {
    pub fn new(vocab: &BarVocab) -> BarGrammar {
        BarGrammar {
            vocab: vocab.clone(),
            in_head: true,
            style: None,
            style_seen: false,
            head_programs: Vec::new(),
            head_drums: false,
            last: BarToken::Pad,
            bars: 0,
            bar_len: meter_steps(vocab.meter_index()),
            beats_done: 0.0,
            position: None,
            program: None,
            part: 0,
            here: Vec::new(),
            bar_lens: Vec::new(),
            repeat_floor: 1,
            whole_repeat: false,
            repeated: Vec::new(),
            named: None,
        }
    }

    /// From now on a `REPEAT` reaches no bar before `bar` (counted from 1): a section that is
    /// copied later repeats only its own bars, so its copy means the same music.
    pub fn set_repeat_floor(&mut self, bar: usize) {
        self.repeat_floor = bar.max(1);
    }

    /// Whether `REPEAT r` may come now: at a bar's start (the whole bar, or the part just named),
    /// reaching a bar that exists, is not before the floor and is as long as this one.
    fn repeat_allowed(&self, r: u8) -> bool {
        if r >= self.vocab.repeats || self.position.is_some() || self.whole_repeat {
            return false;
        }
        let whole = matches!(self.last, BarToken::Bar | BarToken::Meter(_)) && self.repeated.is_empty();
        if !whole && self.named.is_none() {
            return false;
        }
        let d = self.vocab.repeat_back(r);
        self.bars > d && self.bars - d >= self.repeat_floor && self.bar_lens.get(self.bars - d - 1) == Some(&self.bar_len)
    }

    /// Whether a part may be named at the bar's start for a `REPEAT`.
    fn at_bar_start(&self) -> bool {
        self.vocab.repeats > 0
            && self.position.is_none()
            && !self.whole_repeat
            && self.named.is_none()
            && matches!(self.last, BarToken::Bar | BarToken::Meter(_) | BarToken::Repeat(_))
            && self.bars > 1
    }

    fn current_program(&self) -> u8 {
        self.program.or(self.head_programs.first().copied()).unwrap_or(0)
    }

    /// Whether the corpus had this instrument (a model writing its own head picks among those).
    fn learned(&self, instrument: Instrument) -> bool {
        self.vocab.instruments.is_empty() || self.vocab.instruments.contains(&instrument)
    }

    fn head_named_any(&self) -> bool {
        self.head_drums || !self.head_programs.is_empty()
    }

    /// Bar lines so far.
    pub fn bars(&self) -> usize {
        self.bars
    }

    /// Beats up to the end of the current bar (0 before the first bar).
    pub fn beats_at_bar_end(&self) -> f64 {
        if self.bars == 0 { 0.0 } else { self.beats_done + self.bar_len as f64 / STEPS_PER_BEAT as f64 }
    }

    pub fn push(&mut self, id: TokenId) {
        let token = self.vocab.token(id);
        match token {
            BarToken::Style(s) => {
                self.style_seen = true;
                self.style = Some(s as usize);
            }
            BarToken::Program(p) if self.in_head => self.head_programs.push(p),
            BarToken::Program(p) => {
                self.program = Some(p);
                self.part = 0;
                if self.position.is_none() {
                    self.named = Some((false, p, 0));
                }
            }
            BarToken::Part(k) => {
                self.part = k;
                if let Some(n) = self.named.as_mut() {
                    n.2 = k;
                }
            }
            BarToken::Drums if self.in_head => self.head_drums = true,
            BarToken::Drums => self.named = Some((true, 0, 0)),
            BarToken::Repeat(_) => match self.named.take() {
                Some(part) => self.repeated.push(part),
                None => self.whole_repeat = true,
            },
            BarToken::Bar => {
                if self.bars > 0 {
                    self.beats_done += self.bar_len as f64 / STEPS_PER_BEAT as f64;
                    self.bar_lens.push(self.bar_len);
                }
                self.bars += 1;
                self.in_head = false;
                self.position = None;
                self.whole_repeat = false;
                self.repeated.clear();
                self.named = None;
            }
            BarToken::Meter(m) => self.bar_len = meter_steps(m as usize),
            BarToken::Position(k) => {
                self.position = Some(k);
                self.here.clear();
            }
            BarToken::Pitch(p) => self.here.push((p, false, self.current_program(), self.part)),
            BarToken::Drum(p) => self.here.push((p, true, 0, 0)),
            _ => {}
        }
        self.last = token;
    }

    pub fn allowed(&self, id: TokenId) -> bool {
        let token = self.vocab.token(id);
        if matches!(self.last, BarToken::Pitch(_)) {
            return matches!(token, BarToken::Duration(_));
        }
        if self.in_head {
            return match token {
                BarToken::Style(s) => !self.style_seen && !self.head_named_any() && (s as usize) < self.vocab.styles.len(),
                BarToken::Program(p) => {
                    !self.head_drums && self.head_programs.last().is_none_or(|&q| p > q) && self.learned(Instrument::Program(p))
                }
                BarToken::Drums => !self.head_drums && self.learned(Instrument::Drums),
                BarToken::Bar => self.head_named_any(),
                _ => false,
            };
        }
        if self.bars == 1 && self.last == BarToken::Bar {
            return token == BarToken::Meter(self.vocab.meter_for(self.style) as u8);
        }
        // A part named at the bar's start is there to be repeated (a second part may follow a
        // program first).
        if let Some(named) = self.named {
            return match token {
                BarToken::Part(k) => {
                    !named.0 && named.2 == 0 && matches!(self.last, BarToken::Program(_)) && (1..=self.vocab.parts).contains(&k)
                }
                BarToken::Repeat(r) => self.repeat_allowed(r),
                _ => false,
            };
        }
        if self.whole_repeat {
            return matches!(token, BarToken::Bar | BarToken::End);
        }
        let placed = self.position.is_some();
        let plays = |p: u8| !self.head_named_any() || self.head_programs.contains(&p);
        match token {
            BarToken::Pad | BarToken::Start | BarToken::Style(_) | BarToken::Duration(_) | BarToken::Shift(_) => false,
            BarToken::Drums => self.at_bar_start() && (!self.head_named_any() || self.head_drums) && !self.repeated.contains(&(true, 0, 0)),
            BarToken::Repeat(r) => self.repeat_allowed(r),
            // Right after a body PROGRAM, as the encoder writes it.
            BarToken::Part(k) => placed && matches!(self.last, BarToken::Program(_)) && (1..=self.vocab.parts).contains(&k),
            BarToken::End | BarToken::Bar => true,
            BarToken::Meter(_) => self.last == BarToken::Bar,
            BarToken::Position(k) => k < self.bar_len && self.position.is_none_or(|p| k > p),
            BarToken::Program(p) => (placed || self.at_bar_start()) && plays(p),
            BarToken::Velocity(_) => placed && !matches!(self.last, BarToken::Velocity(_)),
            // Before any body PROGRAM a pitch is the head's first program (as decoding reads it).
            BarToken::Pitch(p) => {
                placed && (self.program.is_some() || !self.head_programs.is_empty()) && !self.here.contains(&(p, false, self.current_program(), self.part))
            }
            BarToken::Drum(p) => placed && (!self.head_named_any() || self.head_drums) && !self.here.contains(&(p, true, 0, 0)),
        }
    }
}

// The bounds are declared in `settings`; the check stands beside the type it checks.
impl BarVocab {
    pub fn validate(&self) -> Result<(), SettingError> {
        VELOCITY_BINS.check(self.velocity_bins as u64)?;
        BPM.check(self.bpm)?;
        if self.styles.len() > STYLE_SLOTS {
            return Err(SettingError(format!("A model holds at most {} styles; this one lists {}.", STYLE_SLOTS, self.styles.len())));
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
            if !METERS.contains(&(n, d)) {
                return Err(SettingError(format!("The meter {n}/{d} is not one Cantor writes.")));
            }
        }
        if self.instruments.iter().any(|i| matches!(i, Instrument::Program(p) if *p > 127)) {
            return Err(SettingError("An instrument's General MIDI program must be from 0 to 127.".into()));
        }
        if self.instruments.len() > 129 {
            return Err(SettingError(format!("A model knows at most 129 instruments (128 programs and the drums); this one lists {}.", self.instruments.len())));
        }
        Ok(())
    }
}
