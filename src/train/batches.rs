//! Mini-batches for training: random windows of `seq_len + 1` tokens from the training sequences
//! laid end to end (each sequence starts with START and ends with END, so windows may span files).
//!
//! With heads (the bar vocabulary's START + style + instruments), every window is the head of one
//! sequence followed by that sequence from one of its bar lines on: the model always sees what it
//! is asked to play and where the bar begins.

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

pub struct WindowSampler {
    stream: Vec<i64>,
    seq_len: usize,
    rng: StdRng,
    /// (head start in `stream`, head length, body start in `stream`) per allowed window start.
    anchors: Vec<(usize, usize, usize)>,
    /// Where in `stream` each window of the last batch starts (windows without heads).
    starts: Vec<usize>,
}

impl WindowSampler {
    /// `None` when there are fewer than two tokens in all.
    pub fn new(sequences: &[Vec<u16>], seq_len: usize, seed: u64) -> Option<Self> {
        Self::with_heads(sequences, &[], None, seq_len, seed)
    }

    /// Windows that repeat each sequence's first `heads[i]` tokens and start its body at an
    /// `anchor` token. Without heads, any start.
    pub fn with_heads(sequences: &[Vec<u16>], heads: &[usize], anchor: Option<u16>, seq_len: usize, seed: u64) -> Option<Self> {
        let stream: Vec<i64> = sequences.iter().flatten().map(|&t| t as i64).collect();
        if stream.len() < 2 {
            return None;
        }
        let seq_len = seq_len.min(stream.len() - 1).max(1);
        let w = seq_len + 1;
        let mut anchors = Vec::new();
        if heads.len() == sequences.len() {
            let mut offset = 0;
            for (seq, &head) in sequences.iter().zip(heads) {
                let head = head.min(seq.len()).min(w / 2);
                for (k, &t) in seq.iter().enumerate().skip(head) {
                    let is_anchor = anchor.is_none_or(|a| a == t);
                    if is_anchor && offset + k + (w - head) <= stream.len() {
                        anchors.push((offset, head, offset + k));
                    }
                }
                offset += seq.len();
            }
        }
        Some(WindowSampler { stream, seq_len, rng: StdRng::seed_from_u64(seed ^ 0x5eed), anchors, starts: Vec::new() })
    }

    pub fn tokens(&self) -> usize {
        self.stream.len()
    }

    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// The training sequences laid end to end.
    pub fn stream(&self) -> &[i64] {
        &self.stream
    }

    /// Where each window of the last [`batch`](Self::batch) starts in [`stream`](Self::stream)
    /// (empty when windows have heads: they are not one stretch of the stream).
    pub fn starts(&self) -> &[usize] {
        &self.starts
    }

    /// `[batch, seq_len + 1]` token ids, and the same ids on the host.
    pub fn batch(&mut self, batch: usize, device: &Device) -> (Tensor<2, Int>, Vec<i64>) {
        let w = self.seq_len + 1;
        let max_start = self.stream.len() - w;
        let mut data = Vec::with_capacity(batch * w);
        self.starts.clear();
        for _ in 0..batch {
            if self.anchors.is_empty() {
                let s = self.rng.random_range(0..=max_start);
                self.starts.push(s);
                data.extend_from_slice(&self.stream[s..s + w]);
            } else {
                let (head_at, head, body) = self.anchors[self.rng.random_range(0..self.anchors.len())];
                data.extend_from_slice(&self.stream[head_at..head_at + head]);
                data.extend_from_slice(&self.stream[body..body + w - head]);
            }
        }
        (Tensor::from_data(TensorData::new(data.clone(), [batch, w]), device), data)
    }
}
