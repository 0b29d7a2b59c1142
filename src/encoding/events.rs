//! The polyphonic event vocabulary (in the style of Performance RNN, but on a beat grid so tempo
//! does not matter): `NOTE_ON(p)`, `NOTE_OFF(p)`, `SHIFT(k grid steps)`, `VELOCITY(bin)`.

use super::TokenId;
use crate::midi::Note;
use crate::settings::{SettingError, MAX_SHIFT, STEPS_PER_BEAT, VELOCITY_BINS};
use serde::{Deserialize, Serialize};

/// Layout and resolution of the event vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventVocab {
    /// Grid steps per beat. 12 holds sixteenths (3 steps), eighth triplets (4) and sixteenth
    /// triplets (2) exactly.
    pub steps_per_beat: u16,
    /// Longest single time-shift token, in steps; longer gaps use several.
    pub max_shift: u16,
    /// Number of velocity bins over 1..=127.
    pub velocity_bins: u8,
}

impl Default for EventVocab {
    fn default() -> Self {
        EventVocab { steps_per_beat: STEPS_PER_BEAT.default as u16, max_shift: MAX_SHIFT.default as u16, velocity_bins: VELOCITY_BINS.default as u8 }
    }
}

/// A decoded token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Pad,
    Start,
    End,
    On(u8),
    Off(u8),
    /// Advance time by this many grid steps (1..=max_shift).
    Shift(u16),
    /// Set the velocity of following notes to this bin.
    Velocity(u8),
}

/// Token classes, for masks (e.g. only note-ons are filtered by a key lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Control,
    On,
    Off,
    Shift,
    Velocity,
}

const ON_BASE: u16 = 3;
const OFF_BASE: u16 = ON_BASE + 128;
const SHIFT_BASE: u16 = OFF_BASE + 128;

impl EventVocab {
    pub fn size(&self) -> usize {
        SHIFT_BASE as usize + self.max_shift as usize + self.velocity_bins as usize
    }

    pub fn start(&self) -> TokenId {
        1
    }

    pub fn end(&self) -> TokenId {
        2
    }

    fn velocity_base(&self) -> u16 {
        SHIFT_BASE + self.max_shift
    }

    pub fn id(&self, token: Token) -> TokenId {
        match token {
            Token::Pad => 0,
            Token::Start => 1,
            Token::End => 2,
            Token::On(p) => ON_BASE + (p & 0x7F) as u16,
            Token::Off(p) => OFF_BASE + (p & 0x7F) as u16,
            Token::Shift(k) => SHIFT_BASE + k.clamp(1, self.max_shift) - 1,
            Token::Velocity(b) => self.velocity_base() + b.min(self.velocity_bins - 1) as u16,
        }
    }

    /// The token for an id; ids past the vocabulary read as padding.
    pub fn token(&self, id: TokenId) -> Token {
        match id {
            0 => Token::Pad,
            1 => Token::Start,
            2 => Token::End,
            i if i < OFF_BASE => Token::On((i - ON_BASE) as u8),
            i if i < SHIFT_BASE => Token::Off((i - OFF_BASE) as u8),
            i if i < self.velocity_base() => Token::Shift(i - SHIFT_BASE + 1),
            i if (i as usize) < self.size() => Token::Velocity((i - self.velocity_base()) as u8),
            _ => Token::Pad,
        }
    }

    pub fn kind(&self, id: TokenId) -> TokenKind {
        match self.token(id) {
            Token::On(_) => TokenKind::On,
            Token::Off(_) => TokenKind::Off,
            Token::Shift(_) => TokenKind::Shift,
            Token::Velocity(_) => TokenKind::Velocity,
            _ => TokenKind::Control,
        }
    }

    pub fn velocity_bin(&self, velocity: u8) -> u8 {
        super::velocity_bin(self.velocity_bins, velocity)
    }

    /// The velocity a bin decodes to: the middle of its range.
    pub fn bin_velocity(&self, bin: u8) -> u8 {
        super::bin_velocity(self.velocity_bins, bin)
    }

    fn step(&self, beat: f64) -> i64 {
        (beat * self.steps_per_beat as f64).round() as i64
    }

    /// Snaps notes to what this vocabulary can express: the beat grid, at least one step long,
    /// velocity bin centres, and no two notes of one pitch sounding at once (the earlier one ends
    /// where the later one starts). Keeps pitch, program and channel; `quantize` then
    /// [`encode`](Self::encode) then [`decode`](Self::decode) gives the quantized notes back exactly.
    pub fn quantize(&self, notes: &[Note]) -> Vec<Note> {
        let spb = self.steps_per_beat as f64;
        let mut q: Vec<(i64, i64, Note)> = notes
            .iter()
            .map(|n| {
                let s = self.step(n.start).max(0);
                let e = self.step(n.end()).max(s + 1);
                let mut m = n.clone();
                m.velocity = self.bin_velocity(self.velocity_bin(n.velocity));
                (s, e, m)
            })
            .collect();
        q.sort_by_key(|(s, e, n)| (n.pitch, *s, -*e));
        let mut out: Vec<(i64, i64, Note)> = Vec::with_capacity(q.len());
        for item in q {
            if let Some(prev) = out.last_mut() {
                if prev.2.pitch == item.2.pitch && item.0 < prev.1 {
                    if item.0 == prev.0 {
                        continue; // same pitch, same onset: one note
                    }
                    prev.1 = item.0;
                }
            }
            out.push(item);
        }
        let mut notes: Vec<Note> = out
            .into_iter()
            .map(|(s, e, mut n)| {
                n.start = s as f64 / spb;
                n.duration = (e - s) as f64 / spb;
                n
            })
            .collect();
        notes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.pitch.cmp(&b.pitch)));
        notes
    }

    /// Top voice only: at each onset the highest note wins, and every note is cut at the next
    /// onset, so at most one note sounds at a time.
    pub fn melody(&self, notes: &[Note]) -> Vec<Note> {
        let mut q = self.quantize(notes);
        q.sort_by(|a, b| a.start.total_cmp(&b.start).then(b.pitch.cmp(&a.pitch)));
        q.dedup_by(|later, first| later.start == first.start);
        for i in 0..q.len().saturating_sub(1) {
            let next = q[i + 1].start;
            if q[i].end() > next {
                q[i].duration = next - q[i].start;
            }
        }
        q
    }

    /// The opening `beats` of some notes as a generation primer: `[START, …]` without END, notes
    /// cut at the boundary.
    pub fn primer(&self, notes: &[Note], beats: f64) -> Vec<TokenId> {
        let opening: Vec<Note> = notes
            .iter()
            .filter(|n| n.start < beats)
            .map(|n| Note { duration: n.duration.min(beats - n.start), ..n.clone() })
            .collect();
        let mut tokens = self.encode(&self.quantize(&opening));
        tokens.pop(); // END: the model continues from here
        tokens
    }

    /// Notes → tokens `[START, …, END]`. Notes should come from [`quantize`](Self::quantize);
    /// other notes are snapped to the grid on the way.
    pub fn encode(&self, notes: &[Note]) -> Vec<TokenId> {
        // (step, 0 = off / 1 = on, pitch, velocity bin)
        let mut events: Vec<(i64, u8, u8, u8)> = Vec::with_capacity(notes.len() * 2);
        for n in notes {
            let s = self.step(n.start).max(0);
            let e = self.step(n.end()).max(s + 1);
            events.push((s, 1, n.pitch, self.velocity_bin(n.velocity)));
            events.push((e, 0, n.pitch, 0));
        }
        events.sort_unstable();
        let mut tokens = Vec::with_capacity(events.len() * 2 + 2);
        tokens.push(self.start());
        let (mut now, mut bin) = (0i64, None);
        for (step, kind, pitch, vbin) in events {
            while step > now {
                let k = (step - now).min(self.max_shift as i64);
                tokens.push(self.id(Token::Shift(k as u16)));
                now += k;
            }
            if kind == 0 {
                tokens.push(self.id(Token::Off(pitch)));
            } else {
                if bin != Some(vbin) {
                    tokens.push(self.id(Token::Velocity(vbin)));
                    bin = Some(vbin);
                }
                tokens.push(self.id(Token::On(pitch)));
            }
        }
        tokens.push(self.end());
        tokens
    }

    /// Tokens → notes, for any token sequence (including a model's output): stray note-offs are
    /// ignored, a note-on of a sounding pitch restarts it, a note ended in the step it began lasts
    /// one step, and notes still sounding at the end (or at `END`) stop there. Every note-on thus
    /// yields exactly one note. Notes get `program` on channel 1; seconds assume `bpm`.
    pub fn decode(&self, tokens: &[TokenId], program: u8, bpm: f64) -> Vec<Note> {
        let spb = self.steps_per_beat as f64;
        let sec_per_beat = 60.0 / bpm;
        let mut notes = Vec::new();
        let mut open: [Option<(i64, u8)>; 128] = [None; 128];
        let mut now = 0i64;
        let mut velocity = self.bin_velocity(self.velocity_bin(80));
        let close = |pitch: u8, start: i64, vel: u8, end: i64, notes: &mut Vec<Note>| {
            let end = end.max(start + 1);
            let (b0, b1) = (start as f64 / spb, end as f64 / spb);
            notes.push(Note {
                pitch,
                velocity: vel,
                start: b0,
                duration: b1 - b0,
                start_s: b0 * sec_per_beat,
                duration_s: (b1 - b0) * sec_per_beat,
                channel: 0,
                program,
                drum: false,
                track: 0,
            });
        };
        for &id in tokens {
            match self.token(id) {
                Token::Pad | Token::Start => {}
                Token::End => break,
                Token::Shift(k) => now += k as i64,
                Token::Velocity(b) => velocity = self.bin_velocity(b),
                Token::On(p) => {
                    if let Some((s, v)) = open[p as usize].take() {
                        close(p, s, v, now, &mut notes);
                    }
                    open[p as usize] = Some((now, velocity));
                }
                Token::Off(p) => {
                    if let Some((s, v)) = open[p as usize].take() {
                        close(p, s, v, now, &mut notes);
                    }
                }
            }
        }
        for (p, slot) in open.iter().enumerate() {
            if let Some((s, v)) = *slot {
                close(p as u8, s, v, now, &mut notes);
            }
        }
        notes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.pitch.cmp(&b.pitch)));
        notes
    }
}

// The bounds are declared in `settings`; the check stands beside the type it checks.
impl EventVocab {
    pub fn validate(&self) -> Result<(), SettingError> {
        STEPS_PER_BEAT.check(self.steps_per_beat as u64)?;
        MAX_SHIFT.check(self.max_shift as u64)?;
        VELOCITY_BINS.check(self.velocity_bins as u64)
    }
}
