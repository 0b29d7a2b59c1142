//! Training controls: model presets and advanced fields, start/pause/resume/stop, live progress,
//! loss curves, tokens per second, ETA and best validation perplexity, and a few bars to hear
//! after each epoch.

use super::chart::LossChart;
use super::fields::{self, Problems};
use crate::settings;
use super::corpus::new_vocab;
use super::{AppState, TrainStatus};
use crate::model::{CellKind, ModelConfig};
use crate::protocol::ToWorker;
use crate::train::TrainConfig;
use leptos::prelude::*;

/// (name, embedding, hidden, layers)
const PRESETS: [(&str, usize, usize, usize); 3] = [("small", 64, 128, 1), ("medium", 128, 256, 2), ("large", 256, 512, 2)];
/// Offered when training runs on a GPU, where the sequence kernels make a step's cost grow
/// slowly with the model (3×512: about 6.6 M parameters).
const GPU_PRESET: (&str, usize, usize, usize) = ("xl", 256, 512, 3);

fn model_config(embed: usize, hidden: usize, layers: usize) -> ModelConfig {
    ModelConfig { vocab_size: new_vocab().size(), embed, hidden, layers, dropout: 0.1, cell: CellKind::Fused, awd: Default::default(), frame_context: false, sounding: None }
}

/// A preset's button: chosen while the size fields hold its shape; `note` follows its name.
fn preset_button((name, e, h, l): (&'static str, usize, usize, usize), note: &'static str, embed: RwSignal<usize>, hidden: RwSignal<usize>, layers: RwSignal<usize>) -> impl IntoView {
    let p = model_config(e, h, l).param_count();
    view! {
        <button data-testid=format!("preset-{name}") class:chosen=move || embed.get() == e && hidden.get() == h && layers.get() == l
            on:click=move |_| { embed.set(e); hidden.set(h); layers.set(l); }>
            {format!("{name}{note} ({:.1} M parameters)", p as f64 / 1e6)}
        </button>
    }
}

fn eta(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{s:.0} s")
    }
}

/// Where training runs: the backend in use, why, and the choice (automatic, WebGPU, CPU).
#[component]
fn Compute() -> impl IntoView {
    use crate::protocol::BackendChoice;
    let state = expect_context::<AppState>();
    let choose = move |ev| {
        let choice = match event_target_value(&ev).as_str() {
            "gpu" => BackendChoice::WebGpu,
            "cpu" => BackendChoice::Cpu,
            _ => BackendChoice::Auto,
        };
        state.backend.set("checking…".into());
        crate::web::bridge::send(&ToWorker::Init { choice });
    };
    view! {
        <div class="compute">
            <span>"Trains on: "</span>
            <strong data-testid="backend">{move || state.backend.get()}</strong>
            <select on:change=choose aria-label="Backend" data-testid="backend-choice">
                <option value="auto">"automatic"</option>
                <option value="gpu">"WebGPU"</option>
                <option value="cpu">"CPU"</option>
            </select>
            <p class="detail" data-testid="backend-reason">{move || state.backend_reason.get()}</p>
        </div>
    }
}

#[component]
pub fn Train() -> impl IntoView {
    let state = expect_context::<AppState>();
    let embed = RwSignal::new(64usize);
    let hidden = RwSignal::new(128usize);
    let layers = RwSignal::new(1usize);
    let seq_len = RwSignal::new(64usize);
    let batch = RwSignal::new(16usize);
    let lr = RwSignal::new(3e-3f64);
    let epochs = RwSignal::new(20usize);
    let transpose = RwSignal::new(3u8);
    // One worker per core (the page's own thread is mostly idle while training), capped.
    let cores = web_sys::window().map_or(1.0, |w| w.navigator().hardware_concurrency()) as usize;
    let workers = RwSignal::new(cores.clamp(1, settings::WORKERS.default as usize));
    let steps = RwSignal::new(0usize); // 0 = one pass over the data per epoch
    // "scratch", "starter" (fine-tune the starter model) or "current" (continue the current model).
    let from = RwSignal::new(String::from("scratch"));
    let problems = Problems::new();

    let start = move |_| {
        if let Some(problem) = problems.first() {
            state.error.set(Some(format!("Training did not start: {problem}")));
            return;
        }
        if state.corpus.busy() {
            return; // the button is disabled meanwhile
        }
        if state.corpus.selection(0).files.is_empty() {
            state.error.set(Some("Add at least one MIDI file with notes before training.".into()));
            return;
        }
        let transpose = transpose.get_untracked();
        let config = TrainConfig {
            seq_len: seq_len.get_untracked(),
            batch: batch.get_untracked(),
            lr: lr.get_untracked(),
            max_epochs: epochs.get_untracked(),
            steps_per_epoch: Some(steps.get_untracked()).filter(|&s| s > 0),
            patience: 3,
            log_every: 5,
            ..TrainConfig::default()
        };
        let from = from.get_untracked();
        let model = model_config(embed.get_untracked(), hidden.get_untracked(), layers.get_untracked());
        if let Err(e) = model.validate().and_then(|()| config.validate()) {
            state.error.set(Some(format!("Training did not start: {e}")));
            return;
        }
        state.error.set(None);
        state.training.begin();
        leptos::task::spawn_local(async move {
            let init_model = match from.as_str() {
                "starter" => match super::models::fetch_starter().await {
                    Ok(bytes) => Some(bytes),
                    Err(e) => {
                        state.training.on_failed();
                        return state.error.set(Some(e));
                    }
                },
                "current" => state.models.file.get_untracked().map(|m| m.to_vec()),
                _ => None,
            };
            // The worker tokenises the files: a model being fine-tuned keeps its vocabulary (the
            // bar vocabulary learns this corpus's tempo, meter, instruments and styles on top); a
            // new one gets the bar vocabulary.
            let known_speeds = crate::web::storage::remembered_speeds();
            // WebGPU trains in the one worker: helpers share only the CPU path's steps.
            let helpers = if state.backend_gpu.get_untracked() { 0 } else { workers.get_untracked().saturating_sub(1) };
            state.corpus.train(ToWorker::Train { selection: state.corpus.selection(transpose), model, config, init_model, known_speeds }, helpers);
        });
    };
    let training = state.training;
    let running = move || training.running();
    // Workers that shared the last step (the tests read it).
    let replicas = move || state.training.progress.get().map_or(0, |p| p.replicas);
    let step_split = move || state.training.progress.get().and_then(|p| p.step_split_ms).map_or(String::new(), |t| format!("{:.0} {:.0} {:.0}", t[0], t[1], t[2]));
    let params = move || model_config(embed.get(), hidden.get(), layers.get()).param_count();

    view! {
        <section class="card" id="train">
            <h2>"2. Train"</h2>
            <Compute/>
            <div class="presets">
                {PRESETS.iter().map(|&preset| preset_button(preset, "", embed, hidden, layers)).collect_view()}
                <Show when=move || state.backend_gpu.get()>
                    {move || preset_button(GPU_PRESET, ", GPU", embed, hidden, layers)}
                </Show>
            </div>
            <details>
                <summary>"Advanced"</summary>
                <div class="fields">
                    {fields::whole("layers", "field-layers", settings::LAYERS, layers, problems)}
                    {fields::whole("hidden size", "field-hidden", settings::HIDDEN, hidden, problems)}
                    {fields::whole("embedding", "field-embed", settings::EMBED, embed, problems)}
                    {fields::whole("sequence length", "field-seq", settings::SEQ_LEN, seq_len, problems)}
                    {fields::whole("batch", "field-batch", settings::BATCH, batch, problems)}
                    {fields::real("learning rate", "field-lr", settings::LEARNING_RATE, "any", lr, problems)}
                    {fields::whole("epochs", "field-epochs", settings::EPOCHS, epochs, problems)}
                    {fields::whole("steps per epoch (0 = one pass)", "field-steps", settings::Whole { min: 0, ..settings::STEPS_PER_EPOCH }, steps, problems)}
                    {fields::whole("transpose ± semitones", "field-transpose", settings::TRANSPOSE, transpose, problems)}
                    {fields::whole("CPU workers (one per core)", "field-workers", settings::WORKERS, workers, problems)}
                </div>
            </details>
            <label>"start from "
                <select data-testid="train-from" on:change=move |ev| from.set(event_target_value(&ev))>
                    <option value="scratch">"nothing (train from scratch)"</option>
                    <option value="starter">"the starter model (fine-tune it: best with only a few files)"</option>
                    <option value="current">"the current model (continue training)"</option>
                </select>
            </label>
            <p class="detail">"Fine-tuning keeps that model's size; the size fields above apply to training from scratch."</p>
            <p class="detail">{move || format!("Model: {:.2} M parameters.", params() as f64 / 1e6)}</p>
            <Show when=move || state.backend_gpu.get()>
                <p class="detail">"On a GPU each layer runs its whole time loop in one kernel, so a larger batch or model costs little more per step: the ETA below is measured on this GPU."</p>
            </Show>
            <div class="buttons">
                <button class="primary" data-testid="train-start" on:click=start disabled=move || running() || state.corpus.busy()>"Start training"</button>
                <button data-testid="train-pause" disabled=move || state.training.status.get() != TrainStatus::Training
                    on:click=move |_| training.pause()>"Pause"</button>
                <button data-testid="train-resume" disabled=move || state.training.status.get() != TrainStatus::Paused
                    on:click=move |_| training.resume()>"Resume"</button>
                <button data-testid="train-stop" disabled=move || !running()
                    on:click=move |_| training.stop()>"Stop"</button>
            </div>
            <Show when=move || state.corpus.busy() && !running()>
                <p class="detail" data-testid="train-waits">"Training can start once your files are read."</p>
            </Show>
            <progress data-testid="train-progress"
                max=move || state.training.progress.get().map_or(1, |p| p.total_steps.max(1))
                value=move || state.training.progress.get().map_or(0, |p| p.step)></progress>
            <p data-testid="train-stats" data-status=move || format!("{:?}", state.training.status.get()).to_lowercase() data-workers=replicas data-step-split=step_split>
                {move || match state.training.progress.get() {
                    None => match state.training.status.get() {
                        TrainStatus::Training => "Starting…".to_string(),
                        _ => "Not trained yet.".to_string(),
                    },
                    Some(p) => {
                        let best = p.best_valid_nll.map_or(String::new(), |n| format!(", best validation perplexity {:.2}", n.exp()));
                        let state_word = match state.training.status.get() {
                            TrainStatus::Paused => " (paused)",
                            TrainStatus::Done => " (finished)",
                            _ => "",
                        };
                        // Reports at an epoch's end count it as done; others are inside the next one.
                        let epoch = if p.epoch_end { p.epoch } else { p.epoch + 1 };
                        let workers = if p.replicas > 1 { format!(" on {} workers", p.replicas) } else { String::new() };
                        format!("Epoch {}, step {} of {}{state_word}: loss {:.3}, {:.0} tokens/s{workers}, ETA {}{best}",
                            epoch, p.step, p.total_steps, p.loss, p.tokens_per_s, eta(p.eta_s))
                    }
                }}
            </p>
            <Show when=move || state.training.stopped.get().is_some()>
                <p class="detail" data-testid="train-stopped">{move || state.training.stopped.get().unwrap_or_default()}</p>
            </Show>
            <LossChart/>
            <Show when=move || !state.training.epoch_samples.get().is_empty()>
                <div class="epoch-samples" data-testid="epoch-samples">
                    <span>"Hear it learn: "</span>
                    {move || state.training.epoch_samples.get().into_iter().map(|(epoch, notes)| {
                        let hear = move |_| {
                            state.roll.set(Some((format!("After epoch {epoch}"), notes.clone())));
                            state.player.start(notes.clone(), 1.0);
                        };
                        view! { <button data-testid="epoch-sample" title="a few bars from the model as it stood" on:click=hear>{format!("▶ epoch {epoch}")}</button> }
                    }).collect_view()}
                </div>
            </Show>
        </section>
    }
}
