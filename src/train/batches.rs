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

/// Training pieces read from somewhere other than memory (a corpus on disk, `shards.rs`): laid
/// end to end they are the stream windows are cut from.
pub trait TokenSource: Send + Sync {
    fn pieces(&self) -> usize;
    /// Tokens of piece `piece` that are its head.
    fn head(&self, piece: usize) -> usize;
    fn len(&self, piece: usize) -> usize;
    /// Appends up to `count` tokens of `piece` from position `from` to `out`; how many it did.
    fn read(&self, piece: usize, from: usize, out: &mut Vec<i64>, count: usize) -> usize;
    /// Shifts a window's music by `semitones` in place (on-the-fly transposition); `false`, and
    /// nothing changed, where it cannot.
    fn transpose(&self, _window: &mut [i64], _semitones: i32) -> bool {
        false
    }
}

/// Windows from a [`TokenSource`], drawn exactly as [`WindowSampler::with_heads`] draws them from
/// the same pieces in memory (the same anchors in the same order, the same random draws), with a
/// few numbers per piece in memory instead of every token.
struct Streamed {
    source: Box<dyn TokenSource>,
    anchor: Option<u16>,
    /// Per piece: its first token in the stream, and the anchors before it (prefix sums).
    offsets: Vec<usize>,
    anchors_before: Vec<usize>,
    total: usize,
    /// Each window shifted by a random amount in ±this many semitones (0: as stored).
    transpose: u8,
}

impl Streamed {
    fn new(source: Box<dyn TokenSource>, anchor: Option<u16>, w: usize) -> Streamed {
        let n = source.pieces();
        let mut offsets = Vec::with_capacity(n + 1);
        let mut total = 0;
        for p in 0..n {
            offsets.push(total);
            total += source.len(p);
        }
        offsets.push(total);
        let mut anchors_before = Vec::with_capacity(n + 1);
        let mut count = 0;
        let mut buf = Vec::new();
        for p in 0..n {
            anchors_before.push(count);
            buf.clear();
            source.read(p, 0, &mut buf, usize::MAX);
            count += Self::anchors_in(&buf, source.head(p), anchor, w, offsets[p], total).count();
        }
        anchors_before.push(count);
        Streamed { source, anchor, offsets, anchors_before, total, transpose: 0 }
    }

    /// The positions in a piece where a window's body may start (as `with_heads` finds them).
    fn anchors_in(seq: &[i64], head: usize, anchor: Option<u16>, w: usize, offset: usize, total: usize) -> impl Iterator<Item = usize> + '_ {
        let head = head.min(seq.len()).min(w / 2);
        seq.iter().enumerate().skip(head).filter(move |&(k, &t)| anchor.is_none_or(|a| a as i64 == t) && offset + k + (w - head) <= total).map(|(k, _)| k)
    }

    /// Window number `i` of all the anchors, appended to `out`.
    fn window(&self, i: usize, w: usize, out: &mut Vec<i64>) {
        let p = self.anchors_before.partition_point(|&c| c <= i) - 1;
        let mut seq = Vec::new();
        self.source.read(p, 0, &mut seq, usize::MAX);
        let head = self.source.head(p).min(seq.len()).min(w / 2);
        let k = Self::anchors_in(&seq, self.source.head(p), self.anchor, w, self.offsets[p], self.total)
            .nth(i - self.anchors_before[p])
            .expect("the anchor counted for this piece");
        out.extend_from_slice(&seq[..head]);
        // The body may run on into the next pieces, as the stream in memory does.
        let (mut need, mut piece, mut from) = (w - head, p, k);
        while need > 0 && piece < self.source.pieces() {
            need -= self.source.read(piece, from, out, need);
            piece += 1;
            from = 0;
        }
    }
}

pub struct WindowSampler {
    stream: Vec<i64>,
    /// Pieces that are not in memory (then `stream` and `anchors` are empty).
    streamed: Option<Streamed>,
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
        Some(WindowSampler { stream, streamed: None, seq_len, rng: StdRng::seed_from_u64(seed ^ 0x5eed), anchors, starts: Vec::new() })
    }

    /// Windows from pieces that stay where they are (a corpus on disk), drawn as
    /// [`with_heads`](Self::with_heads) would draw them from the same pieces in memory. `None`
    /// when there is no window to draw.
    /// `transpose`: each window shifted by a random amount in ±that many semitones, drawn after
    /// the window (none when 0, so the draws stay those of the pieces in memory).
    pub fn streamed(source: Box<dyn TokenSource>, anchor: Option<u16>, transpose: u8, seq_len: usize, seed: u64) -> Option<Self> {
        let total: usize = (0..source.pieces()).map(|p| source.len(p)).sum();
        if total < 2 {
            return None;
        }
        let seq_len = seq_len.min(total - 1).max(1);
        let mut streamed = Streamed::new(source, anchor, seq_len + 1);
        streamed.transpose = transpose;
        if streamed.anchors_before.last().copied().unwrap_or(0) == 0 {
            return None;
        }
        let rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        Some(WindowSampler { stream: Vec::new(), streamed: Some(streamed), seq_len, rng, anchors: Vec::new(), starts: Vec::new() })
    }

    pub fn tokens(&self) -> usize {
        self.streamed.as_ref().map_or(self.stream.len(), |s| s.total)
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
        let data = self.batch_ids(batch);
        (Tensor::from_data(TensorData::new(data.clone(), [batch, self.seq_len + 1]), device), data)
    }

    /// The next batch's token ids on the host only, `batch` rows of `seq_len + 1` (for replicas
    /// that each take rows of it: `team.rs`).
    pub fn batch_ids(&mut self, batch: usize) -> Vec<i64> {
        let w = self.seq_len + 1;
        let mut data = Vec::with_capacity(batch * w);
        self.starts.clear();
        if let Some(s) = &self.streamed {
            let count = s.anchors_before.last().copied().unwrap_or(0);
            for _ in 0..batch {
                let at = data.len();
                s.window(self.rng.random_range(0..count), w, &mut data);
                if s.transpose > 0 {
                    let t = s.transpose as i32;
                    let shift = self.rng.random_range(-t..=t);
                    s.source.transpose(&mut data[at..], shift);
                }
            }
            return data;
        }
        let max_start = self.stream.len() - w;
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
        data
    }
}
