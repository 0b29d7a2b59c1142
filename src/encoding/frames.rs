//! Piano-roll frames as tokens, for the Boulanger-Lewandowski benchmarks: each frame is its
//! pitches in one fixed order (ascending, or descending: melody first, as Polyphony RNN and
//! BachBot serialise) followed by `FRAME_END`, so the sum of a frame's token log-likelihoods is
//! exactly the log-likelihood the model gives that frame.

use super::TokenId;
use crate::settings::SettingError;
use serde::{Deserialize, Serialize};

/// The order of the pitches within a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum FrameOrder {
    /// Lowest first (the first benchmark models).
    #[default]
    Ascending,
    /// Highest first: the melody, then the voices below it given the melody.
    Descending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameVocab {
    /// Lowest pitch with a token (21 = A0 covers the piano).
    pub low: u8,
    /// Highest pitch with a token (108 = C8).
    pub high: u8,
    /// Models saved before the order was a choice are ascending.
    #[serde(default)]
    pub order: FrameOrder,
}

impl Default for FrameVocab {
    fn default() -> Self {
        FrameVocab { low: 21, high: 108, order: FrameOrder::Ascending }
    }
}

const PITCH_BASE: u16 = 3;

impl FrameVocab {
    pub fn size(&self) -> usize {
        PITCH_BASE as usize + (self.high - self.low) as usize + 1
    }

    pub fn start(&self) -> TokenId {
        1
    }

    pub fn frame_end(&self) -> TokenId {
        2
    }

    /// The token of a pitch, if the vocabulary covers it.
    pub fn pitch(&self, pitch: u8) -> Option<TokenId> {
        (self.low..=self.high).contains(&pitch).then(|| PITCH_BASE + (pitch - self.low) as u16)
    }

    /// The pitch of a token, if it is a pitch token.
    pub fn pitch_of(&self, id: TokenId) -> Option<u8> {
        (id >= PITCH_BASE && (id as usize) < self.size()).then(|| self.low + (id - PITCH_BASE) as u8)
    }

    pub fn with_order(self, order: FrameOrder) -> Self {
        FrameVocab { order, ..self }
    }

    /// Additive logit mask (0 or −1e9) for `[B, T]` input tokens → `[B, T, V]`: after pitch `p`
    /// only pitches further in the frame's order (higher when ascending, lower when descending)
    /// or FRAME_END may follow, so the model spreads its probability over canonical frames only
    /// and a frame's token likelihoods multiply to a properly normalised frame likelihood. After
    /// FRAME_END a new piece's START may follow (training windows run across pieces); PAD is never
    /// a target.
    pub fn order_mask(&self, inputs: &[i64]) -> Vec<f32> {
        const NO: f32 = -1e9;
        let v = self.size();
        let mut mask = vec![0.0f32; inputs.len() * v];
        for (row, &x) in mask.chunks_mut(v).zip(inputs) {
            row[0] = NO;
            if x != self.frame_end() as i64 {
                row[self.start() as usize] = NO;
            }
            if let Some(p) = self.pitch_of(x as TokenId) {
                let at = PITCH_BASE as usize + (p - self.low) as usize;
                let closed = match self.order {
                    FrameOrder::Ascending => PITCH_BASE as usize..=at,
                    FrameOrder::Descending => at..=v - 1,
                };
                row[closed].iter_mut().for_each(|m| *m = NO);
            }
        }
        mask
    }

    /// Frame context of the input tokens `stream[from..from + len]`: for each, two multi-hot
    /// rows over the vocabulary (`2 × size()` floats), the pitches of the previous whole frame and
    /// those of the current frame so far, as they stand after that token (after FRAME_END the
    /// frame just ended is the previous one and the current one is empty; START clears both).
    /// Tokens before `from` are read as far back as needed, so a window of a longer stream gets
    /// the same features as the whole stream; positions past its end (padding) get zeros.
    ///
    /// An LSTM must otherwise carry the last frame in its state to continue a held note; with
    /// these (the pitch-wise view of Johnson 2017's biaxial model) it can copy it.
    pub fn context(&self, stream: &[i64], from: usize, len: usize) -> Vec<f32> {
        let v = self.size();
        let is_boundary = |t: i64| t == self.frame_end() as i64 || t == self.start() as i64;
        // Start two boundaries back: the first one read sets up the previous frame, the second
        // one (if there) makes it whole.
        let mut begin = from.min(stream.len());
        let mut seen = 0;
        while begin > 0 && seen < 2 {
            begin -= 1;
            if is_boundary(stream[begin]) {
                seen += 1;
            }
        }
        let (mut previous, mut current): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
        let step = |t: i64, previous: &mut Vec<usize>, current: &mut Vec<usize>| {
            if t == self.frame_end() as i64 {
                *previous = std::mem::take(current);
            } else if t >= 0 && self.pitch_of(t as TokenId).is_some() {
                current.push(t as usize);
            } else {
                previous.clear();
                current.clear();
            }
        };
        for &t in &stream[begin..from.min(stream.len())] {
            step(t, &mut previous, &mut current);
        }
        let mut out = vec![0.0f32; len * 2 * v];
        for (k, row) in out.chunks_mut(2 * v).enumerate() {
            let Some(&t) = stream.get(from + k) else { break };
            step(t, &mut previous, &mut current);
            for &p in &previous {
                row[p] = 1.0;
            }
            for &p in &current {
                row[v + p] = 1.0;
            }
        }
        out
    }

    /// Frames → `[START, p…, FRAME_END, p…, FRAME_END, …]`. Pitches are sorted in the vocabulary's
    /// order and deduplicated;
    /// pitches outside the range are an error because dropping them would change the benchmark.
    pub fn encode(&self, frames: &[Vec<u8>]) -> Result<Vec<TokenId>, u8> {
        let mut tokens = vec![self.start()];
        for frame in frames {
            let mut f = frame.clone();
            f.sort_unstable();
            f.dedup();
            if self.order == FrameOrder::Descending {
                f.reverse();
            }
            for p in f {
                tokens.push(self.pitch(p).ok_or(p)?);
            }
            tokens.push(self.frame_end());
        }
        Ok(tokens)
    }

    /// Tokens → frames (pitch tokens accumulate until `FRAME_END`; a trailing partial frame is kept).
    pub fn decode(&self, tokens: &[TokenId]) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        let mut current = Vec::new();
        for &t in tokens {
            if t == self.frame_end() {
                frames.push(std::mem::take(&mut current));
            } else if let Some(p) = self.pitch_of(t) {
                if !current.contains(&p) {
                    current.push(p);
                }
            }
        }
        if !current.is_empty() {
            frames.push(current);
        }
        frames
    }
}

// The bounds are declared in `settings`; the check stands beside the type it checks.
impl FrameVocab {
    pub fn validate(&self) -> Result<(), SettingError> {
        if self.low > self.high || self.high > 127 {
            return Err(SettingError(format!("A piano-roll vocabulary must span pitches low ≤ high ≤ 127; {}–{} does not.", self.low, self.high)));
        }
        Ok(())
    }
}
