//! The structure of music at a glance: a bar-by-bar self-similarity matrix (bright off the
//! diagonal where a bar comes back; a returning section is a bright stripe). Beside the piano roll
//! for the clip on show, and in the evaluation panel for a held-out file next to a generated clip.

use super::AppState;
use crate::metrics::shape::self_similarity;
use crate::midi::Note;
use leptos::prelude::*;
use std::sync::Arc;

/// Side of the square picture (SVG units).
const SIDE: f64 = 160.0;
/// Bars drawn at most (the picture's cells stay visible, the page's DOM small).
const MAX_BARS: usize = 64;

/// The matrix of some notes in bars of `bar_beats`, cut to [`MAX_BARS`].
pub fn bar_matrix(notes: &[Note], bar_beats: f64) -> Vec<Vec<f64>> {
    let mut m = self_similarity(notes, bar_beats);
    m.truncate(MAX_BARS);
    m.iter_mut().for_each(|row| row.truncate(MAX_BARS));
    m
}

/// The self-similarity of the music on the piano roll.
#[component]
pub fn SelfSimilarity() -> impl IntoView {
    let state = expect_context::<AppState>();
    let matrix = Memo::new(move |_| {
        let Some((_, notes)) = state.roll.get() else { return Vec::new() };
        // The clip's meter when the roll shows the clip, else 4/4 (as the roll draws bar lines).
        let bar_beats = state
            .clips
            .clip
            .get()
            .filter(|c| Arc::ptr_eq(&c.notes, &notes))
            .and_then(|c| c.meters.first().map(|m| m.numerator as f64 * 4.0 / m.denominator.max(1) as f64))
            .unwrap_or(4.0);
        bar_matrix(&notes, bar_beats)
    });
    view! { <SimilarityPicture matrix=matrix testid="self-similarity" what="the clip"/> }
}

/// A self-similarity matrix drawn, with its bars and exact returns as data attributes.
#[component]
pub fn SimilarityPicture(#[prop(into)] matrix: Signal<Vec<Vec<f64>>>, testid: &'static str, what: &'static str) -> impl IntoView {
    // Bars equal to an earlier bar.
    let repeats = move || matrix.with(|m| (0..m.len()).filter(|&i| (0..i).any(|j| m[i][j] >= 1.0 - 1e-12)).count());
    view! {
        <figure class="similarity">
            <svg data-testid=testid data-bars=move || matrix.with(Vec::len) data-repeats=repeats
                viewBox=format!("0 0 {SIDE} {SIDE}") role="img" aria-label=format!("bar-by-bar self-similarity of {what}")>
                {move || {
                    let m = matrix.get();
                    let cell = SIDE / m.len().max(1) as f64;
                    m.iter().enumerate().flat_map(|(i, row)| row.iter().enumerate().map(move |(j, &v)| (i, j, v))).map(|(i, j, v)| view! {
                        <rect class="cell" x=j as f64 * cell y=i as f64 * cell width=cell height=cell fill-opacity=format!("{v:.2}") />
                    }).collect_view()
                }}
            </svg>
            <figcaption>{move || match matrix.with(Vec::len) {
                0 => format!("{what}, bar by bar: nothing to show yet."),
                n => format!("{what}, bar by bar ({n} bars): a bright cell off the diagonal is a bar that comes back ({} exactly).", repeats()),
            }}</figcaption>
        </figure>
    }
}
