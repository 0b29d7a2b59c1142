//! Training and validation loss curves as an SVG drawn in the page.

use super::AppState;
use leptos::prelude::*;

const W: f64 = 600.0;
const H: f64 = 180.0;

fn points(curve: &[(usize, f64)], max_step: f64, lo: f64, hi: f64) -> String {
    curve
        .iter()
        .map(|&(s, l)| {
            let x = s as f64 / max_step.max(1.0) * W;
            let y = H - (l - lo) / (hi - lo).max(1e-9) * (H - 10.0) - 5.0;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[component]
pub fn LossChart() -> impl IntoView {
    let state = expect_context::<AppState>();
    let geometry = move || {
        let train = state.train_curve.get();
        let valid = state.valid_curve.get();
        let all = train.iter().chain(valid.iter());
        let lo = all.clone().map(|p| p.1).fold(f64::INFINITY, f64::min).min(0.0);
        let hi = all.clone().map(|p| p.1).fold(0.0, f64::max);
        // The run's length while training; the curves' own extent for a model restored or loaded.
        let last = train.iter().chain(valid.iter()).map(|p| p.0).max().unwrap_or(1);
        let max_step = state.progress.get().map_or(last, |p| p.total_steps.max(last)) as f64;
        (points(&train, max_step, lo, hi), points(&valid, max_step, lo, hi), hi)
    };
    // Dots for the validation points (one per epoch) and for a training curve of a single point.
    let dots = move || {
        let (train, valid, _) = geometry();
        let single = if train.contains(' ') { String::new() } else { train };
        [(single, "train"), (valid, "valid")]
            .into_iter()
            .flat_map(|(pts, class)| {
                pts.split(' ').filter(|p| !p.is_empty()).map(|p| {
                    let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
                    view! { <circle class=class cx=x.to_string() cy=y.to_string() r="3" /> }
                }).collect::<Vec<_>>()
            })
            .collect_view()
    };
    view! {
        <figure class="chart">
            <svg data-testid="loss-chart" data-points=move || state.train_curve.get().len() viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none">
                <polyline class="train" points=move || geometry().0 />
                <polyline class="valid" points=move || geometry().1 />
                {dots}
            </svg>
            <figcaption>
                <span class="key train">"training loss"</span>
                <span class="key valid">"validation loss"</span>
                {move || format!(" (nats per token, top of chart {:.2})", geometry().2)}
            </figcaption>
        </figure>
    }
}
