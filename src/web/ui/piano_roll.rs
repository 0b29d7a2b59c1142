//! A piano roll (SVG) of the clip or of a corpus file, with a moving playhead.

use super::AppState;
use leptos::prelude::*;

const W: f64 = 800.0;
const H: f64 = 240.0;

#[component]
pub fn PianoRoll(playhead: RwSignal<Option<f64>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let layout = Memo::new(move |_| {
        let Some((title, notes)) = state.roll.get() else { return (String::new(), Vec::new(), 1.0, 0) };
        let lo = notes.iter().map(|n| n.pitch).min().unwrap_or(60).saturating_sub(2) as f64;
        let hi = notes.iter().map(|n| n.pitch).max().unwrap_or(72).saturating_add(2) as f64;
        let end = notes.iter().map(|n| n.start_s + n.duration_s).fold(1.0, f64::max);
        let row = H / (hi - lo + 1.0);
        let rects: Vec<(f64, f64, f64, f64, u8, bool)> = notes
            .iter()
            .map(|n| (n.start_s / end * W, H - (n.pitch as f64 - lo + 1.0) * row, (n.duration_s / end * W).max(1.0), row.max(1.0), n.velocity, n.drum))
            .collect();
        (title, rects, end, notes.len())
    });
    view! {
        <figure class="roll">
            <svg data-testid="piano-roll" data-notes=move || layout.get().3 viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none">
                {move || layout.get().1.into_iter().map(|(x, y, w, h, v, drum)| {
                    let opacity = 0.35 + 0.65 * v as f64 / 127.0;
                    view! { <rect x=x y=y width=w height=h class:drum=drum fill-opacity=opacity /> }
                }).collect_view()}
                {move || playhead.get().map(|t| {
                    let x = t / layout.get_untracked().2 * W;
                    view! { <line data-testid="playhead" class="playhead" x1=x x2=x y1=0 y2=H /> }
                })}
            </svg>
            <figcaption>{move || {
                let (title, _, end, n) = layout.get();
                if n == 0 { "Nothing to show yet.".to_string() } else { format!("{title}: {n} notes, {end:.1} s") }
            }}</figcaption>
        </figure>
    }
}
