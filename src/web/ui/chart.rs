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
        let max_step = state.progress.get().map_or(1, |p| p.total_steps) as f64;
        (points(&train, max_step, lo, hi), points(&valid, max_step, lo, hi), hi)
    };
    view! {
        <figure class="chart">
            <svg data-testid="loss-chart" data-points=move || state.train_curve.get().len() viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none">
                <polyline class="train" points=move || geometry().0 />
                <polyline class="valid" points=move || geometry().1 />
            </svg>
            <figcaption>
                <span class="key train">"training loss"</span>
                <span class="key valid">"validation loss"</span>
                {move || format!(" (nats per token, top of chart {:.2})", geometry().2)}
            </figcaption>
        </figure>
    }
}
