//! A piano roll (SVG) of the clip or of a corpus file, with a moving playhead; each instrument has
//! its colour (named in the legend), drums are drawn in grey on their own band at the bottom.

use super::AppState;
use crate::encoding::Instrument;
use leptos::prelude::*;

const W: f64 = 800.0;
const H: f64 = 240.0;
/// Height of the drum band under the pitched notes.
const DRUM_BAND: f64 = 28.0;

/// The colour of the k-th instrument of a clip (drums grey): hues spread around the wheel.
fn colour(instrument: Instrument, k: usize) -> String {
    match instrument {
        Instrument::Drums => "hsl(0, 0%, 45%)".into(),
        Instrument::Program(_) => format!("hsl({}, 60%, 42%)", (210 + k * 137) % 360),
    }
}

#[derive(Clone, PartialEq)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    velocity: u8,
    drum: bool,
    fill: String,
}

#[component]
pub fn PianoRoll(playhead: RwSignal<Option<f64>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let layout = Memo::new(move |_| {
        let Some((title, notes)) = state.roll.get() else { return (String::new(), Vec::new(), 1.0, 0, Vec::new()) };
        let pitched = notes.iter().filter(|n| !n.drum);
        let lo = pitched.clone().map(|n| n.pitch).min().unwrap_or(60).saturating_sub(2) as f64;
        let hi = pitched.map(|n| n.pitch).max().unwrap_or(72).saturating_add(2) as f64;
        let end = notes.iter().map(|n| n.start_s + n.duration_s).fold(1.0, f64::max);
        let has_drums = notes.iter().any(|n| n.drum);
        let top = if has_drums { H - DRUM_BAND } else { H };
        let row = top / (hi - lo + 1.0);
        let mut instruments: Vec<Instrument> = Vec::new();
        for n in notes.iter() {
            let i = Instrument::of(n);
            if !instruments.contains(&i) {
                instruments.push(i);
            }
        }
        let legend: Vec<(String, String)> = instruments.iter().enumerate().map(|(k, &i)| (i.name().to_string(), colour(i, k))).collect();
        let rects: Vec<Rect> = notes
            .iter()
            .map(|n| {
                let k = instruments.iter().position(|&i| i == Instrument::of(n)).unwrap_or(0);
                let (y, h) = if n.drum {
                    // Kit pieces 35–81 over the drum band.
                    (top + 2.0 + (81.0 - (n.pitch as f64).clamp(35.0, 81.0)) / 46.0 * (DRUM_BAND - 6.0), 3.0)
                } else {
                    (top - (n.pitch as f64 - lo + 1.0) * row, row.max(1.0))
                };
                Rect { x: n.start_s / end * W, y, w: (n.duration_s / end * W).max(1.0), h, velocity: n.velocity, drum: n.drum, fill: colour(Instrument::of(n), k) }
            })
            .collect();
        (title, rects, end, notes.len(), legend)
    });
    view! {
        <figure class="roll">
            <svg data-testid="piano-roll" data-notes=move || layout.get().3 data-instruments=move || layout.get().4.len()
                viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none" role="img" aria-label="piano roll of the clip">
                {move || layout.get().1.into_iter().map(|r| {
                    let opacity = 0.35 + 0.65 * r.velocity as f64 / 127.0;
                    view! { <rect x=r.x y=r.y width=r.w height=r.h class:drum=r.drum fill=r.fill fill-opacity=opacity /> }
                }).collect_view()}
                {move || playhead.get().map(|t| {
                    let x = t / layout.get_untracked().2 * W;
                    view! { <line data-testid="playhead" class="playhead" x1=x x2=x y1=0 y2=H /> }
                })}
            </svg>
            <figcaption>
                {move || {
                    let (title, _, end, n, _) = layout.get();
                    if n == 0 { "Nothing to show yet.".to_string() } else { format!("{title}: {n} notes, {end:.1} s") }
                }}
                <span class="legend" data-testid="roll-legend">
                    {move || layout.get().4.into_iter().map(|(name, fill)| view! {
                        <span class="swatch"><i style=format!("background:{fill}")></i>{name}</span>
                    }).collect_view()}
                </span>
            </figcaption>
        </figure>
    }
}
