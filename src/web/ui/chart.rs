//! Training and validation loss curves as an SVG drawn in the page.

use super::AppState;
use leptos::prelude::*;

const W: f64 = 600.0;
const H: f64 = 180.0;

/// Chart coordinates of a curve.
fn coords(curve: &[(usize, f64)], max_step: f64, lo: f64, hi: f64) -> Vec<(f64, f64)> {
    curve
        .iter()
        .map(|&(s, l)| (s as f64 / max_step.max(1.0) * W, H - (l - lo) / (hi - lo).max(1e-9) * (H - 10.0) - 5.0))
        .collect()
}

fn polyline(points: &[(f64, f64)]) -> String {
    points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ")
}

#[component]
pub fn LossChart() -> impl IntoView {
    let state = expect_context::<AppState>();
    // (training points, validation points, top of chart), computed once per change.
    let geometry = Memo::new(move |_| {
        let train = state.training.train_curve.get();
        let valid = state.training.valid_curve.get();
        let all = train.iter().chain(valid.iter());
        let lo = all.clone().map(|p| p.1).fold(f64::INFINITY, f64::min).min(0.0);
        let hi = all.clone().map(|p| p.1).fold(0.0, f64::max);
        // The run's length while training; the curves' own extent for a model restored or loaded.
        let last = all.map(|p| p.0).max().unwrap_or(1);
        let max_step = state.training.progress.get().map_or(last, |p| p.total_steps.max(last)) as f64;
        (coords(&train, max_step, lo, hi), coords(&valid, max_step, lo, hi), hi)
    });
    // Dots for the validation points (one per epoch) and for a training curve of a single point.
    let dots = move || {
        geometry.with(|(train, valid, _)| {
            let single: &[(f64, f64)] = if train.len() == 1 { train } else { &[] };
            [(single, "train"), (valid.as_slice(), "valid")]
                .into_iter()
                .flat_map(|(pts, class)| pts.iter().map(move |&(x, y)| view! { <circle class=class cx=format!("{x:.1}") cy=format!("{y:.1}") r="3" /> }))
                .collect_view()
        })
    };
    // The training curve's values, for tests that compare runs.
    let losses = move || state.training.train_curve.get().iter().map(|(_, l)| format!("{l:.4}")).collect::<Vec<_>>().join(" ");
    view! {
        <figure class="chart">
            <svg data-testid="loss-chart" data-points=move || state.training.train_curve.get().len()
 data-losses=losses viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none">
                <polyline class="train" points=move || geometry.with(|g| polyline(&g.0)) />
                <polyline class="valid" points=move || geometry.with(|g| polyline(&g.1)) />
                {dots}
            </svg>
            <figcaption>
                <span class="key train">"training loss"</span>
                <span class="key valid">"validation loss"</span>
                {move || format!(" (nats per token, top of chart {:.2})", geometry.with(|g| g.2))}
            </figcaption>
        </figure>
    }
}
