//! Evaluation on the user's own corpus: the originality meter (runs copied from the training files,
//! against a held-out baseline), style statistics generated vs corpus with overlap scores, and the
//! adversarial classifier's AUC. Pure functions of note lists; the page runs them after training.

pub mod classifier;
pub mod originality;
pub mod shape;
pub mod style;

use crate::midi::Note;
use classifier::Separability;
use originality::{Baseline, Originality, Reference};
use style::{FeatureRow, Style};

/// Excerpt length for style statistics and the classifier (8 bars of 4/4).
pub const EXCERPT_BEATS: f64 = 32.0;
/// Excerpts with fewer notes say too little to count.
const MIN_EXCERPT_NOTES: usize = 8;

/// Everything the evaluation panel shows for one set of generated clips.
#[derive(Debug, Clone)]
pub struct Report {
    /// Per clip, in the order given.
    pub originality: Vec<Originality>,
    pub flagged: Vec<bool>,
    pub baseline: Baseline,
    pub style: Vec<FeatureRow>,
    /// Whole-piece figures with drums: onsets in the bar, note-length p99, instruments, drums.
    pub shape: Vec<FeatureRow>,
    /// Held-out real excerpts vs generated ones (0.5 = indistinguishable).
    pub real_vs_generated: Option<Separability>,
    /// Training excerpts vs held-out excerpts: what "indistinguishable" looks like on this corpus.
    pub real_vs_real: Option<Separability>,
}

fn styles(pieces: &[Vec<Note>]) -> Vec<Style> {
    pieces
        .iter()
        .flat_map(|p| style::excerpts(p, EXCERPT_BEATS, MIN_EXCERPT_NOTES))
        .filter_map(|e| Style::of(&e))
        .collect()
}

fn shapes<'a>(pieces: impl Iterator<Item = &'a Vec<Note>>, bar_beats: f64) -> Vec<shape::Shape> {
    pieces.filter_map(|p| shape::Shape::of(p, bar_beats)).collect()
}

/// Evaluates `generated` clips against the training and held-out pieces of a corpus in 4/4.
pub fn evaluate(train: &[Vec<Note>], valid: &[Vec<Note>], generated: &[Vec<Note>]) -> Report {
    evaluate_in_meter(train, valid, generated, 4.0)
}

/// [`evaluate`] for music whose bars are `bar_beats` long.
pub fn evaluate_in_meter(train: &[Vec<Note>], valid: &[Vec<Note>], generated: &[Vec<Note>], bar_beats: f64) -> Report {
    let reference = Reference::new(train);
    let originality: Vec<Originality> = generated.iter().map(|g| reference.check(g)).collect();
    let window = originality.iter().map(|o| o.notes).max().unwrap_or(0).max(originality::MIN_RUN);
    let baseline = reference.baseline(valid, window);
    let flagged = originality.iter().map(|o| baseline.flags(o)).collect();
    let (train_s, valid_s, gen_s) = (styles(train), styles(valid), styles(generated));
    let corpus_s: Vec<Style> = train_s.iter().chain(&valid_s).cloned().collect();
    let vectors = |s: &[Style]| s.iter().map(Style::vector).collect::<Vec<_>>();
    Report {
        originality,
        flagged,
        baseline,
        style: style::compare(&corpus_s, &gen_s),
        shape: shape::compare(&shapes(train.iter().chain(valid), bar_beats), &shapes(generated.iter(), bar_beats)),
        real_vs_generated: classifier::separability(&vectors(&valid_s), &vectors(&gen_s), 5, 7),
        real_vs_real: classifier::separability(&vectors(&train_s), &vectors(&valid_s), 5, 7),
    }
}

/// Validation NLL per second of music, from NLL per token and the tokens and seconds it covers.
pub fn nll_per_second(nll_per_token: f64, tokens: usize, seconds: f64) -> f64 {
    nll_per_token * tokens as f64 / seconds.max(1e-9)
}
