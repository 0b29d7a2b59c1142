//! Mini-batches for training: random windows of `seq_len + 1` tokens from the training sequences
//! laid end to end (each sequence starts with START and ends with END, so windows may span files).

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

pub struct WindowSampler {
    stream: Vec<i64>,
    seq_len: usize,
    rng: StdRng,
}

impl WindowSampler {
    /// `None` when there are fewer than two tokens in all.
    pub fn new(sequences: &[Vec<u16>], seq_len: usize, seed: u64) -> Option<Self> {
        let stream: Vec<i64> = sequences.iter().flatten().map(|&t| t as i64).collect();
        if stream.len() < 2 {
            return None;
        }
        let seq_len = seq_len.min(stream.len() - 1).max(1);
        Some(WindowSampler { stream, seq_len, rng: StdRng::seed_from_u64(seed ^ 0x5eed) })
    }

    pub fn tokens(&self) -> usize {
        self.stream.len()
    }

    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// `[batch, seq_len + 1]` token ids, and the same ids on the host.
    pub fn batch(&mut self, batch: usize, device: &Device) -> (Tensor<2, Int>, Vec<i64>) {
        let w = self.seq_len + 1;
        let max_start = self.stream.len() - w;
        let mut data = Vec::with_capacity(batch * w);
        for _ in 0..batch {
            let s = self.rng.random_range(0..=max_start);
            data.extend_from_slice(&self.stream[s..s + w]);
        }
        (Tensor::from_data(TensorData::new(data.clone(), [batch, w]), device), data)
    }
}
