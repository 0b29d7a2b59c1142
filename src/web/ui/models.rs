//! Models kept in this browser: the current one, the saved list (use, export, delete) and import of
//! a model file (the same format the `cantor` command line reads and writes).

use super::AppState;
use crate::model::{ModelFile, TrainingSummary};
use crate::web::files;
use crate::web::storage::{self, StoredModel};
use leptos::prelude::*;
use std::sync::Arc;
use web_sys::HtmlInputElement;

/// The models slice of the page's state: the current model and the models kept in this browser.
/// The actions (adopt a trained model, make a kept one current, use the starter, import) are the
/// functions below.
#[derive(Clone, Copy)]
pub struct ModelsState {
    pub file: RwSignal<Option<Arc<Vec<u8>>>>,
    /// Fingerprint of `file`.
    pub id: RwSignal<Option<String>>,
    pub summary: RwSignal<Option<TrainingSummary>>,
    /// The current model's vocabulary (what its music can hold: styles, instruments, tempo).
    pub vocab: RwSignal<Option<crate::encoding::MusicVocab>>,
    /// Models kept in this browser, newest first.
    pub kept: RwSignal<Vec<StoredModel>>,
}

impl ModelsState {
    pub fn new() -> Self {
        ModelsState { file: RwSignal::new(None), id: RwSignal::new(None), summary: RwSignal::new(None), vocab: RwSignal::new(None), kept: RwSignal::new(Vec::new()) }
    }

    /// The current model as the worker knows it (its file is sent once per worker): its fingerprint.
    pub fn loaded(self) -> Option<String> {
        let (id, file) = (self.id.get_untracked()?, self.file.get_untracked()?);
        Some(crate::web::bridge::ensure_loaded(&id, &file))
    }
}

fn describe(file: &ModelFile) -> String {
    let c = &file.config;
    let s = &file.summary;
    let ppl = s.best_valid_nll.map_or(String::new(), |n| format!(", validation perplexity {:.2}", n.exp()));
    let epochs = if s.epochs == 1 { "1 epoch".to_string() } else { format!("{} epochs", s.epochs) };
    format!("{}×{} LSTM, {:.2} M parameters, {epochs}{ppl}", c.layers, c.hidden, c.param_count() as f64 / 1e6)
}

/// Where Trunk copies the starter model (see static/starter/README.md for what it learned from).
const STARTER_URL: &str = "./starter/starter.cantor";
pub const STARTER_NAME: &str = "Starter: public-domain ragtime and piano (Joplin, Debussy, Satie)";

/// Fetches the starter model file (lazily: only when someone asks for it).
pub async fn fetch_starter() -> Result<Vec<u8>, String> {
    let window = web_sys::window().ok_or("no window")?;
    let bytes = files::fetch_bytes(window.fetch_with_str(STARTER_URL), "the starter model").await?;
    files::keep_bytes_for_offline(STARTER_URL, &bytes);
    Ok(bytes)
}

/// Loads the starter model and makes it the current one.
pub async fn use_starter(state: AppState) -> Result<(), String> {
    let bytes = fetch_starter().await?;
    let file = ModelFile::from_bytes(&bytes).map_err(|e| e.to_string())?;
    adopt_named(state, bytes, file.summary.clone(), true, Some(STARTER_NAME.to_string()));
    Ok(())
}

/// Makes a model file the current model; with `keep`, stores it too (training end or pause).
pub fn adopt(state: AppState, bytes: Vec<u8>, summary: TrainingSummary, keep: bool) {
    adopt_named(state, bytes, summary, keep, None)
}

fn adopt_named(state: AppState, bytes: Vec<u8>, summary: TrainingSummary, keep: bool, name: Option<String>) {
    let file = match ModelFile::from_bytes(&bytes) {
        Ok(f) => f,
        Err(e) => return state.error.set(Some(format!("the model could not be read: {e}"))),
    };
    let name = name.map_or_else(|| describe(&file), |n| format!("{n} · {}", describe(&file)));
    let stored = StoredModel { id: file.fingerprint(), name, saved: js_sys::Date::now(), file: bytes };
    make_current(state, &stored);
    state.models.summary.set(Some(summary));
    if keep {
        leptos::task::spawn_local(async move {
            match storage::save_model(&stored).await {
                Ok(()) => state.models.kept.update(|ms| {
                    ms.retain(|m| m.id != stored.id);
                    ms.insert(0, stored);
                }),
                Err(e) => state.error.set(Some(e)),
            }
        });
    }
}

/// Shows a stored model as the current one (its curves included).
pub fn make_current(state: AppState, m: &StoredModel) {
    if let Ok(file) = ModelFile::from_bytes(&m.file) {
        state.training.show_curves(file.summary.train_curve.clone(), file.summary.valid_curve.clone());
        state.models.summary.set(Some(file.summary));
        state.models.vocab.set(file.vocab.music());
    }
    state.models.file.set(Some(Arc::new(m.file.clone())));
    state.models.id.set(Some(m.id.clone()));
}

fn import(state: AppState, name: String, bytes: Vec<u8>) {
    match ModelFile::from_bytes(&bytes) {
        Ok(file) if file.vocab.music().is_some() => {
            let summary = file.summary.clone();
            adopt(state, bytes, summary, true);
        }
        Ok(_) => state.error.set(Some(format!("{name} is a benchmark model (piano-roll frames); it cannot write music here."))),
        Err(e) => state.error.set(Some(format!("{name} could not be imported: {e}. Nothing was changed."))),
    }
}

#[component]
pub fn Models() -> impl IntoView {
    let state = expect_context::<AppState>();
    let on_import = move |ev: web_sys::Event| {
        let input: HtmlInputElement = event_target(&ev);
        let Some(file) = input.files().and_then(|l| l.get(0)) else { return };
        leptos::task::spawn_local(async move {
            match files::read_file(&file).await {
                Ok(bytes) => import(state, file.name(), bytes),
                Err(e) => state.error.set(Some(format!("{} could not be read: {e}", file.name()))),
            }
            input.set_value("");
        });
    };
    let export = move |m: &StoredModel| {
        let name = format!("cantor-{}.cantor", &m.id[..8.min(m.id.len())]);
        if let Err(e) = files::download(&m.file, &name, "application/octet-stream") {
            state.error.set(Some(e));
        }
    };
    view! {
        <section class="card">
            <h2>"Your models"</h2>
            <p class="detail">"Kept in this browser. A model file works with the "<code>"cantor"</code>" command line both ways."</p>
            <ul class="models">
                <For each=move || state.models.kept.get() key=|m| m.id.clone() let:m>
                    {
                        let (use_m, exp_m, del_id, id) = (m.clone(), m.clone(), m.id.clone(), m.id.clone());
                        let saved = js_sys::Date::new(&m.saved.into()).to_locale_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED);
                        view! {
                            <li data-testid="model-row" class:current=move || state.models.id.get().as_deref() == Some(id.as_str())>
                                <span>{m.name.clone()}</span>
                                <span class="detail">{format!(" · {} · {}", String::from(saved), &m.id)}</span>
                                <button on:click=move |_| make_current(state, &use_m)>"use"</button>
                                <button data-testid="model-export" on:click=move |_| export(&exp_m)>"export"</button>
                                <button on:click=move |_| {
                                    let id = del_id.clone();
                                    leptos::task::spawn_local(async move {
                                        match storage::delete_model(&id).await {
                                            Ok(()) => state.models.kept.update(|ms| ms.retain(|m| m.id != id)),
                                            Err(e) => state.error.set(Some(e)),
                                        }
                                    });
                                }>"delete"</button>
                            </li>
                        }
                    }
                </For>
            </ul>
            <div class="buttons">
                <button data-testid="starter-load" on:click=move |_| leptos::task::spawn_local(async move {
                    if let Err(e) = use_starter(state).await { state.error.set(Some(e)) }
                })>"Use the starter model"</button>
                <label class="button">"import a model file"
                    <input type="file" accept=".cantor,application/octet-stream" data-testid="model-import" on:change=on_import/>
                </label>
            </div>
        </section>
    }
}
