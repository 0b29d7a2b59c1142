//! Sampling new music from a trained model: primer, length, temperature, top-k, top-p and an
//! optional key/scale lock. The same seed gives the same tokens. Sampling runs on the host from
//! the logits of each step (no sort or top-k on the GPU, which burn's wgpu backend lacks).

mod form;
mod sampler;

pub use form::{generate_form, Form, Returns, Section};
pub use sampler::{Sampler, SamplingParams, Scale};

use crate::encoding::sounding::{self, Sounding};
use crate::encoding::{BarGrammar, MusicVocab, Token, TokenId};
use crate::midi::Note;
use crate::model::{LstmLm, State};
use crate::train::TrainError;
use burn::prelude::*;
use burn::tensor::TensorData;
use crate::settings::{SettingError, BEATS, BPM, MAX_TOKENS, PROGRAM};
use serde::{Deserialize, Serialize};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateConfig {
    pub sampling: SamplingParams,
    /// Stop after this many new tokens.
    pub max_tokens: usize,
    /// Stop once the music is this many beats long (counting the primer).
    pub max_beats: Option<f64>,
    /// General MIDI program of the output notes.
    pub program: u8,
    /// Tempo of the output, beats per minute.
    pub bpm: f64,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        GenerateConfig { sampling: SamplingParams::default(), max_tokens: MAX_TOKENS.default_usize(), max_beats: Some(BEATS.default), program: 0, bpm: BPM.default }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// Primer followed by the sampled tokens.
    pub tokens: Vec<TokenId>,
    pub primer_len: usize,
    /// All notes (primer included); every note has an end.
    pub notes: Vec<Note>,
}

/// Generates a continuation of `primer` (START is put in front when missing).
/// `on_token` is called with the number of new tokens so far (for a progress bar).
///
/// With the bar vocabulary a [`BarGrammar`] keeps the output well formed and to the instruments
/// the head names, and generation stops at the bar line past `max_beats`.
pub async fn generate(
    model: &LstmLm,
    vocab: &(impl Clone + Into<MusicVocab>),
    primer: &[TokenId],
    config: &GenerateConfig,
    device: &Device,
    on_token: impl FnMut(usize),
) -> Result<Generated, TrainError> {
    generate_with_opening(model, vocab, primer, config, device, on_token, None, |_, _| {}).await
}

/// [`generate`], which also hands `on_opening` the tokens so far and the beat they reach, once,
/// at the first bar line at or past `opening_beats` (bar vocabulary only): every note before that
/// line is whole and final there, so the opening can sound while the rest is written. The tokens
/// generated are the same as without it.
#[allow(clippy::too_many_arguments)]
pub async fn generate_with_opening(
    model: &LstmLm,
    vocab: &(impl Clone + Into<MusicVocab>),
    primer: &[TokenId],
    config: &GenerateConfig,
    device: &Device,
    mut on_token: impl FnMut(usize),
    opening_beats: Option<f64>,
    mut on_opening: impl FnMut(&[TokenId], f64),
) -> Result<Generated, TrainError> {
    let vocab: MusicVocab = vocab.clone().into();
    config.validate()?;
    let mut tokens = opening_tokens(&vocab, primer)?;
    tokens.reserve(config.max_tokens + 1);
    let primer_len = tokens.len();
    let mut clock = Clock::new(&vocab);
    for &t in &tokens {
        clock.push(t);
    }
    let mut sampler = Sampler::new(&vocab, config.sampling.clone());
    let mut reader = Reader::new(model, device, &tokens);
    let mut opening = opening_beats;
    for n in 0..config.max_tokens {
        if config.max_beats.is_some_and(|m| clock.beats() >= m) {
            break;
        }
        let logits = reader.logits().await?;
        let id = match &clock.grammar {
            // A length was asked for: the piece ends at a bar line past it, not when the model
            // would end it.
            Some(g) => sampler.sample_where(&logits, |id| g.allowed(id) && (config.max_beats.is_none() || id != vocab.end())),
            None => sampler.sample(&logits),
        };
        if id == vocab.end() || clock.ends_at(id, config.max_beats) {
            break;
        }
        // Only the bar vocabulary ends every note before a bar line.
        if let (Some(b), MusicVocab::Bars(v), Some(g)) = (opening, &vocab, &clock.grammar) {
            if id == v.bar() && g.beats_at_bar_end() >= b - 1e-9 {
                opening = None;
                on_opening(&tokens, g.beats_at_bar_end());
            }
        }
        clock.push(id);
        tokens.push(id);
        reader.feed(id);
        on_token(n + 1);
    }
    let notes = vocab.decode(&tokens, config.program, config.bpm);
    Ok(Generated { tokens, primer_len, notes })
}

/// The tokens generation starts from: START (put in front when missing), then the primer without
/// its END; a primer holding tokens the vocabulary lacks is refused.
fn opening_tokens(vocab: &MusicVocab, primer: &[TokenId]) -> Result<Vec<TokenId>, TrainError> {
    if primer.iter().any(|&t| t as usize >= vocab.size()) {
        return Err(TrainError::Setting(SettingError("The primer holds tokens this model's vocabulary does not have.".into())));
    }
    let start = (primer.first() != Some(&vocab.start())).then_some(vocab.start());
    Ok(start.into_iter().chain(primer.iter().copied().filter(|&t| t != vocab.end())).collect())
}

/// The model's state and the tokens it has not read yet: tokens are fed in runs, and logits are
/// read only where a choice is made. For a model that reads what is sounding, each token's
/// features are taken as it arrives.
struct Reader<'a> {
    model: &'a LstmLm,
    device: &'a Device,
    state: Option<State>,
    unread: Vec<i64>,
    sounding: Option<Sounding>,
    /// The features of the unread tokens (`unread.len() × sounding::WIDTH`).
    context: Vec<f32>,
}

impl<'a> Reader<'a> {
    fn new(model: &'a LstmLm, device: &'a Device, tokens: &[TokenId]) -> Self {
        let mut reader = Reader { model, device, state: None, unread: Vec::new(), sounding: model.sounding_tracker(), context: Vec::new() };
        tokens.iter().for_each(|&t| reader.feed(t));
        reader
    }

    /// A token for the model to read before its next prediction.
    fn feed(&mut self, id: TokenId) {
        self.unread.push(id as i64);
        if let Some(tracker) = &mut self.sounding {
            tracker.push(id);
            let at = self.context.len();
            self.context.resize(at + sounding::WIDTH, 0.0);
            tracker.write(&mut self.context[at..]);
        }
    }

    /// Feeds the unread tokens and gives the next-token logits after them, read back
    /// asynchronously (WebGPU forbids synchronous reads).
    async fn logits(&mut self) -> Result<Vec<f32>, TrainError> {
        let len = self.unread.len();
        let x = Tensor::<2, Int>::from_data(TensorData::new(std::mem::take(&mut self.unread), [1, len]), self.device);
        let context = self.sounding.is_some().then(|| {
            Tensor::<3>::from_data(TensorData::new(std::mem::take(&mut self.context), [1, len, sounding::WIDTH]), self.device)
        });
        let (logits, next) = self.model.forward_with(x, self.state.take(), context);
        self.state = Some(next);
        let [_, t, v] = logits.dims();
        let last = logits.narrow(1, t - 1, 1).reshape([v]);
        let data = last.into_data_async().await.map_err(|e| TrainError::Read(format!("{e:?}")))?;
        data.convert::<f32>().try_to_vec::<f32>().map_err(|e| TrainError::Read(format!("{e:?}")))
    }
}

/// How far the music has got, in beats, as tokens arrive (and the bar grammar, when there is one).
struct Clock {
    vocab: MusicVocab,
    beats: f64,
    grammar: Option<BarGrammar>,
}

impl Clock {
    fn new(vocab: &MusicVocab) -> Clock {
        let grammar = match vocab {
            MusicVocab::Bars(v) => Some(BarGrammar::new(v)),
            MusicVocab::Events(_) => None,
        };
        Clock { vocab: vocab.clone(), beats: 0.0, grammar }
    }

    fn push(&mut self, id: TokenId) {
        match (&self.vocab, &mut self.grammar) {
            (MusicVocab::Events(v), _) => {
                if let Token::Shift(k) = v.token(id) {
                    self.beats += k as f64 / v.steps_per_beat as f64;
                }
            }
            (MusicVocab::Bars(_), Some(g)) => g.push(id),
            _ => {}
        }
    }

    /// Beats so far: for bars, the start of the current bar (a bar is finished before stopping).
    fn beats(&self) -> f64 {
        self.beats
    }

    /// True when `id` opens a bar that would start at or past `max_beats`.
    fn ends_at(&self, id: TokenId, max_beats: Option<f64>) -> bool {
        match (&self.vocab, &self.grammar, max_beats) {
            (MusicVocab::Bars(v), Some(g), Some(m)) => id == v.bar() && g.beats_at_bar_end() >= m - 1e-9,
            _ => false,
        }
    }
}

// The bounds are declared in `settings`; the check stands beside the type it checks.
impl GenerateConfig {
    pub fn validate(&self) -> Result<(), SettingError> {
        self.sampling.validate()?;
        MAX_TOKENS.check_usize(self.max_tokens)?;
        if let Some(b) = self.max_beats {
            BEATS.check(b)?;
        }
        PROGRAM.check(self.program as u64)?;
        BPM.check(self.bpm)
    }
}
