//! Piano-roll frames as tokens, for the Boulanger-Lewandowski benchmarks: each frame is its
//! pitches in ascending order followed by `FRAME_END`, so the sum of a frame's token
//! log-likelihoods is exactly the log-likelihood the model gives that frame.

use super::TokenId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameVocab {
    /// Lowest pitch with a token (21 = A0 covers the piano).
    pub low: u8,
    /// Highest pitch with a token (108 = C8).
    pub high: u8,
}

impl Default for FrameVocab {
    fn default() -> Self {
        FrameVocab { low: 21, high: 108 }
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

    /// Frames → `[START, p…, FRAME_END, p…, FRAME_END, …]`. Pitches are sorted and deduplicated;
    /// pitches outside the range are an error because dropping them would change the benchmark.
    pub fn encode(&self, frames: &[Vec<u8>]) -> Result<Vec<TokenId>, u8> {
        let mut tokens = vec![self.start()];
        for frame in frames {
            let mut f = frame.clone();
            f.sort_unstable();
            f.dedup();
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
