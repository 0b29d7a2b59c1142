//! A piano roll (SVG) of the clip or of a corpus file, with a moving playhead; each instrument has
//! its colour (named in the legend), drums are drawn in grey on their own band at the bottom. A
//! keyboard runs up the left edge (black keys dark, each C marked across the roll), and bar lines
//! (with fainter beat lines) run across it in the clip's meter.

use super::AppState;
use crate::encoding::Instrument;
use leptos::prelude::*;
use std::sync::Arc;

const W: f64 = 800.0;
/// Width of the keyboard strip at the left; notes are drawn to its right.
const KEYS: f64 = 18.0;
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

/// A key of the keyboard strip, or a line across the roll: (y, height, black key) and (x, bar line).
#[derive(Clone, PartialEq)]
struct Grid {
    /// (y, height, black key, a C, pitch)
    keys: Vec<(f64, f64, bool, bool, u8)>,
    lines: Vec<(f64, bool)>,
    /// Where an asked-for form's sections begin: (x, letter, a return).
    sections: Vec<(f64, char, bool)>,
}

fn is_black(pitch: u8) -> bool {
    matches!(pitch % 12, 1 | 3 | 6 | 8 | 10)
}

#[component]
pub fn PianoRoll(playhead: RwSignal<Option<f64>>, #[prop(optional)] on_seek: Option<Callback<f64>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let grid = Memo::new(move |_| {
        let Some((_, notes)) = state.roll.get() else { return Grid { keys: Vec::new(), lines: Vec::new(), sections: Vec::new() } };
        let pitched = notes.iter().filter(|n| !n.drum);
        let lo = pitched.clone().map(|n| n.pitch).min().unwrap_or(60).saturating_sub(2);
        let hi = pitched.map(|n| n.pitch).max().unwrap_or(72).saturating_add(2);
        let top = if notes.iter().any(|n| n.drum) { H - DRUM_BAND } else { H };
        let row = top / (hi as f64 - lo as f64 + 1.0);
        let keys = (lo..=hi).map(|p| (top - (p as f64 - lo as f64 + 1.0) * row, row, is_black(p), p % 12 == 0, p)).collect();
        // Beats → seconds from the notes themselves (one tempo per clip); bars in the clip's meter.
        let end = notes.iter().map(|n| n.start_s + n.duration_s).fold(1.0, f64::max);
        let per_beat = notes.iter().find(|n| n.start > 0.0).map_or(0.5, |n| n.start_s / n.start);
        let clip = state.clips.clip.get().filter(|c| Arc::ptr_eq(&c.notes, &notes));
        let sections = clip.as_ref().map_or_else(Vec::new, |c| {
            c.sections.iter().map(|s| (KEYS + s.beat * per_beat / end * (W - KEYS), s.letter, s.returning)).collect()
        });
        let bar_beats = clip
            .and_then(|c| c.meters.first().map(|m| m.numerator as f64 * 4.0 / m.denominator.max(1) as f64))
            .unwrap_or(4.0);
        let beats = (end / per_beat).ceil() as usize;
        let mut lines = Vec::new();
        if per_beat > 0.0 && beats < 4000 {
            for b in 1..beats {
                let bar = (b as f64 / bar_beats).fract().abs() < 1e-9;
                lines.push((KEYS + b as f64 * per_beat / end * (W - KEYS), bar));
            }
        }
        Grid { keys, lines, sections }
    });
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
                let x = KEYS + n.start_s / end * (W - KEYS);
                Rect { x, y, w: (n.duration_s / end * (W - KEYS)).max(1.0), h, velocity: n.velocity, drum: n.drum, fill: colour(Instrument::of(n), k) }
            })
            .collect();
        (title, rects, end, notes.len(), legend)
    });
    // The player's note callback lights each key while its note sounds: (pitch, end in seconds).
    let lit = RwSignal::new(Vec::<(u8, f64)>::new());
    state.player.on_note(move |n| {
        if !n.drum {
            lit.update(|l| {
                l.retain(|&(_, end)| end > n.start_s);
                l.push((n.pitch, n.start_s + n.duration_s));
            });
        }
    });
    // A click on the roll: the time under the pointer (the keyboard strip is the clip's start).
    let click = move |ev: web_sys::MouseEvent| {
        let Some(seek) = on_seek else { return };
        let Some(svg) = ev.current_target().and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok()) else { return };
        let rect = svg.get_bounding_client_rect();
        if rect.width() <= 0.0 || layout.with_untracked(|l| l.3) == 0 {
            return;
        }
        let x = (ev.client_x() as f64 - rect.left()) / rect.width() * W;
        seek.run(((x - KEYS) / (W - KEYS)).clamp(0.0, 1.0) * layout.with_untracked(|l| l.2));
    };
    view! {
        <figure class="roll">
            <svg data-testid="piano-roll" on:click=click class:seekable=on_seek.is_some() data-notes=move || layout.get().3 data-instruments=move || layout.get().4.len()
                data-bars=move || grid.get().lines.iter().filter(|l| l.1).count() data-keys=move || grid.get().keys.len() data-lit=move || lit.with(|l| l.len())
                viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none" role="img" aria-label="piano roll of the clip">
                {move || grid.get().keys.into_iter().map(|(y, h, black, c, pitch)| view! {
                    <rect class="key" class:black=black x=0 y=y width=KEYS height=h
                        class:lit=move || playhead.get().is_some_and(|t| lit.with(|l| l.iter().any(|&(p, end)| p == pitch && end > t))) />
                    {c.then(|| view! { <line class="octave" x1=KEYS x2=W y1=y + h y2=y + h /> })}
                }).collect_view()}
                {move || grid.get().lines.into_iter().map(|(x, bar)| view! {
                    <line class=if bar { "bar-line" } else { "beat-line" } x1=x x2=x y1=0 y2=H />
                }).collect_view()}
                {move || grid.get().sections.into_iter().map(|(x, letter, returning)| view! {
                    <line class="section-line" x1=x x2=x y1=0 y2=H />
                    <text data-testid="roll-section" class="section" class:returning=returning x=x + 3.0 y=14>{letter.to_string()}</text>
                }).collect_view()}
                {move || layout.get().1.into_iter().map(|r| {
                    let opacity = 0.35 + 0.65 * r.velocity as f64 / 127.0;
                    view! { <rect x=r.x y=r.y width=r.w height=r.h class:drum=r.drum fill=r.fill fill-opacity=opacity /> }
                }).collect_view()}
                {move || playhead.get().map(|t| {
                    let x = KEYS + t / layout.get_untracked().2 * (W - KEYS);
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
