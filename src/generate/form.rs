//! Music with a form the user asks for: sections such as `AABA`, each `section_bars` bars long. A
//! new letter is written by the model, continuing from everything before it; a letter heard
//! before comes back **exactly** (the tokens of its first statement, fed through the model so the
//! next section continues from the return) or **varied** (the same bars, rhythm and instruments,
//! with about half the pitches chosen again by the model within a whole tone of the original), so
//! a listener hears the theme come back and the sections join.

use super::{opening_tokens, GenerateConfig, Generated, Reader, Sampler};
use crate::encoding::{BarGrammar, BarToken, BarVocab, MusicVocab, TokenId};
use crate::model::LstmLm;
use crate::settings::{SettingError, FORM_SECTIONS, SECTION_BARS};
use crate::train::TrainError;
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// How a section heard before comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Returns {
    Exact,
    Varied,
}

/// A form: its sections in order (`AABA`), their length in bars, and how returns sound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Form {
    pub sections: String,
    pub section_bars: usize,
    pub returns: Returns,
}

/// Where a section begins in the generated music.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub letter: char,
    /// Beat of its first bar line.
    pub beat: f64,
    /// A return of a letter heard before.
    pub returning: bool,
}

impl Form {
    pub fn new(sections: &str, section_bars: usize, returns: Returns) -> Result<Form, SettingError> {
        let form = Form { sections: sections.trim().to_string(), section_bars, returns };
        form.validate().map(|()| form)
    }

    /// Letters A–Z, first A and each new letter the next one (`AABA`, `ABACA`), at most
    /// [`FORM_SECTIONS`] sections of [`SECTION_BARS`] bars.
    pub fn validate(&self) -> Result<(), SettingError> {
        let s = &self.sections;
        if s.is_empty() {
            return Err(SettingError("A form is a row of section letters such as AABA or ABACA; this one is empty.".into()));
        }
        if let Some(c) = s.chars().find(|c| !c.is_ascii_uppercase()) {
            return Err(SettingError(format!("A form is written in capital letters A–Z, such as AABA; {c:?} in {s:?} is not one.")));
        }
        FORM_SECTIONS.check_usize(s.len()).map_err(|e| e.within("the form"))?;
        let mut next = b'A';
        for c in s.bytes() {
            if c > next {
                return Err(SettingError(format!(
                    "A form names its sections in the order they first come (A, then B, …); {s:?} brings in {} before {}.",
                    c as char, next as char
                )));
            }
            if c == next {
                next += 1;
            }
        }
        SECTION_BARS.check_usize(self.section_bars)
    }

    /// The letters in order.
    pub fn letters(&self) -> Vec<char> {
        self.sections.chars().collect()
    }
}

/// For each token of a statement, the pitches played at its onset (its `POSITION` group).
fn chords(vocab: &BarVocab, statement: &[TokenId]) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new(); statement.len()];
    let mut start = 0;
    for i in 0..=statement.len() {
        let boundary = i == statement.len() || matches!(vocab.token(statement[i]), BarToken::Bar | BarToken::Position(_));
        if boundary {
            let group: Vec<u8> = statement[start..i].iter().filter_map(|&t| match vocab.token(t) {
                BarToken::Pitch(p) => Some(p),
                _ => None,
            }).collect();
            out[start..i].iter_mut().for_each(|g| *g = group.clone());
            start = i;
        }
    }
    out
}

fn push(id: TokenId, tokens: &mut Vec<TokenId>, grammar: &mut BarGrammar, reader: &mut Reader) {
    tokens.push(id);
    grammar.push(id);
    reader.feed(id);
}

/// Generates `form` after `prompt` (the head; a primer's bars come before the first section).
/// The same seed gives the same music. Bar vocabulary only.
pub async fn generate_form(
    model: &LstmLm,
    vocab: &BarVocab,
    prompt: &[TokenId],
    config: &GenerateConfig,
    form: &Form,
    device: &Device,
) -> Result<(Generated, Vec<Section>), TrainError> {
    config.validate()?;
    form.validate()?;
    let music = MusicVocab::Bars(vocab.clone());
    let mut tokens = opening_tokens(&music, prompt)?;
    let primer_len = tokens.len();
    let mut grammar = BarGrammar::new(vocab);
    tokens.iter().for_each(|&t| grammar.push(t));
    let mut reader = Reader::new(model, device, &tokens);
    let mut sampler = Sampler::new(&music, config.sampling.clone());
    let mut vary = StdRng::seed_from_u64(config.sampling.seed ^ 0x5EC7_1045);
    let bar = vocab.bar();
    let first_bar = grammar.bars();
    let mut statements: Vec<(char, Vec<TokenId>)> = Vec::new();
    let mut sections = Vec::new();
    let mut budget = config.max_tokens;
    for (k, letter) in form.letters().into_iter().enumerate() {
        let start = tokens.len();
        let beat = grammar.beats_at_bar_end();
        let heard = statements.iter().find(|(l, _)| *l == letter).map(|(_, t)| t.clone());
        sections.push(Section { letter, beat, returning: heard.is_some() });
        match heard {
            Some(statement) => {
                let chords = chords(vocab, &statement);
                for (i, &id) in statement.iter().enumerate() {
                    let original = vocab.token(id);
                    let id = match original {
                        BarToken::Pitch(p) if form.returns == Returns::Varied && vary.random::<f64>() < 0.5 => {
                            // Near the original, and not a pitch the theme already sounds at this
                            // onset (the two would be one note).
                            let near: Vec<TokenId> = (p.saturating_sub(2)..=p.saturating_add(2).min(127))
                                .filter(|&q| q != p && !chords[i].contains(&q))
                                .map(|q| vocab.id(BarToken::Pitch(q)))
                                .filter(|&q| grammar.allowed(q))
                                .collect();
                            if near.is_empty() {
                                id
                            } else {
                                let logits = reader.logits().await?;
                                sampler.sample_where(&logits, |q| near.contains(&q))
                            }
                        }
                        _ => id,
                    };
                    push(id, &mut tokens, &mut grammar, &mut reader);
                }
            }
            None => {
                // A new section opens on its own bar line (the last one ended where the model
                // wanted a new bar).
                if k > 0 {
                    push(bar, &mut tokens, &mut grammar, &mut reader);
                }
                // A section's repeats reach only its own bars, so its copy is the same music.
                grammar.set_repeat_floor(if k > 0 { grammar.bars() } else { grammar.bars() + 1 });
                let end = first_bar + (k + 1) * form.section_bars;
                while budget > 0 {
                    let logits = reader.logits().await?;
                    let id = sampler.sample_where(&logits, |id| grammar.allowed(id) && id != vocab.end());
                    if id == bar && grammar.bars() >= end {
                        break;
                    }
                    push(id, &mut tokens, &mut grammar, &mut reader);
                    budget -= 1;
                }
                // A statement is its bars: from its first bar line (the first section's tokens
                // before it are the head the model wrote).
                let from = tokens[start..].iter().position(|&t| t == bar).map_or(tokens.len(), |i| start + i);
                statements.push((letter, tokens[from..].to_vec()));
            }
        }
    }
    let notes = music.decode(&tokens, config.program, config.bpm);
    Ok((Generated { tokens, primer_len, notes }, sections))
}
