//! Sharing: "copy link" puts the clip (notes, tempo, recipe) into the page address's fragment, so
//! no server sees it; opening such a link shows and plays the clip with nothing installed, and
//! offers "regenerate" / "vary" when this browser holds the model that made it. Also the list of
//! clips kept in this browser. Text from a link is only ever shown as text.

use super::{models, AppState, Clip, ClipOrigin, Request};
use crate::protocol::ToWorker;
use crate::share;
use crate::web::bridge;
use crate::web::storage::{self, StoredClip};
use leptos::prelude::*;
use std::sync::Arc;
use wasm_bindgen::prelude::*;

/// The page's own address without the fragment.
fn base() -> String {
    let href = web_sys::window().and_then(|w| w.location().href().ok()).unwrap_or_default();
    href.split('#').next().unwrap_or_default().to_string()
}

fn label(c: &share::Clip) -> String {
    let seed = c.recipe.as_ref().map_or(String::new(), |r| format!("seed {} · ", r.config.sampling.seed));
    format!("{seed}{} notes · {:.0} s", c.notes.len(), c.seconds())
}

/// Shows a decoded clip (from a link or the saved list) in the piano roll, ready to play.
fn show(state: AppState, clip: share::Clip) {
    let notes = Arc::new(clip.notes);
    state.roll.set(Some(("Shared clip".into(), notes.clone())));
    let clip = Clip { notes, bpm: clip.bpm, meters: Arc::new(Vec::new()), recipe: clip.recipe, origin: ClipOrigin::Link, millis: 0.0, tokens: 0, sections: Arc::new(clip.sections) };
    state.clips.show_shared(clip);
}

fn open(state: AppState, fragment: &str) {
    match share::decode(fragment) {
        Ok(clip) => {
            state.share_error.set(None);
            show(state, clip);
        }
        Err(e) => state.share_error.set(Some(e.to_string())),
    }
}

/// Opens the clip in the address (now and whenever the fragment changes) and starts playing it:
/// at once where the browser allows sound without a gesture, else on the first tap or key.
pub fn open_from_address(state: AppState) {
    let Some(window) = web_sys::window() else { return };
    let check = move || {
        let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
        if hash.len() > 1 {
            open(state, &hash);
            if let Some(clip) = state.clips.shared.get_untracked() {
                crate::web::audio::resume_on_first_gesture();
                state.player.start(clip.notes.clone(), 1.0);
            }
        }
    };
    check();
    let on_change = Closure::<dyn FnMut()>::new(check);
    let _ = window.add_event_listener_with_callback("hashchange", on_change.as_ref().unchecked_ref());
    on_change.forget();
}

/// Keeps a generated clip in this browser (as its share fragment).
pub fn keep(state: AppState, clip: &Clip) {
    let shareable = clip.shareable();
    let Ok(fragment) = share::encode(&shareable) else { return };
    let id = state.saved_clips.get_untracked().iter().map(|c| c.id + 1).max().unwrap_or(1);
    let stored = StoredClip { id, label: label(&shareable), saved: js_sys::Date::now(), fragment };
    leptos::task::spawn_local(async move {
        match storage::save_clip(&stored).await {
            Ok(()) => state.saved_clips.update(|cs| {
                cs.insert(0, stored);
                cs.truncate(storage::KEEP_CLIPS);
            }),
            Err(e) => state.error.set(Some(e)),
        }
    });
}

/// "Copy link", the link itself, and what was left out when the clip is too long for one link.
#[component]
pub fn ShareControls() -> impl IntoView {
    let state = expect_context::<AppState>();
    let link = RwSignal::new(None::<String>);
    let note = RwSignal::new(String::new());
    Effect::new(move |_| {
        state.clips.clip.track();
        link.set(None);
        note.set(String::new());
    });
    let copy = move |_| {
        let Some(clip) = state.clips.clip.get_untracked() else { return };
        let shareable = clip.shareable();
        match share::link_within_budget(&base(), &shareable) {
            Ok((l, left_out)) => {
                if left_out > 0 {
                    let kept = shareable.prefix(shareable.notes.len() - left_out);
                    note.set(format!(
                        "The whole clip does not fit in a link short enough for every chat app ({} characters); this link holds its first {:.0} of {:.0} seconds. Download the .mid to send all of it.",
                        share::LINK_BUDGET,
                        kept.seconds(),
                        shareable.seconds()
                    ));
                } else {
                    note.set(format!("Copied: {} characters; the music is inside the link, nothing is uploaded.", l.len()));
                }
                if let Some(w) = web_sys::window() {
                    let _ = w.navigator().clipboard().write_text(&l);
                }
                link.set(Some(l));
            }
            Err(e) => note.set(e.to_string()),
        }
    };
    view! {
        <div class="share" id="share">
            <h3>"4. Share"</h3>
            <p class="detail">"The link holds the clip itself (notes, tempo, instruments and how it was made): whoever opens it hears it, with nothing uploaded anywhere."</p>
            <button data-testid="copy-link" disabled=move || state.clips.clip.get().is_none() on:click=copy>"Copy link"</button>
            <Show when=move || link.get().is_some()>
                <a data-testid="share-link" class="share-link" href=move || link.get().unwrap_or_default()>{move || link.get().unwrap_or_default()}</a>
            </Show>
            <p class="detail" data-testid="share-note">{move || note.get()}</p>
        </div>
    }
}

fn random_seed() -> u64 {
    (js_sys::Math::random() * 1e9) as u64
}

/// Regenerates (same seed: the same clip) or varies (new seed) a clip from its recipe.
fn remake(state: AppState, vary: bool) {
    let Some(clip) = state.clips.shared.get_untracked() else { return };
    let Some(mut recipe) = clip.recipe.clone() else { return };
    let Some(model) = state.models.kept.get_untracked().into_iter().find(|m| m.id == recipe.model) else { return };
    if state.models.id.get_untracked().as_deref() != Some(model.id.as_str()) {
        models::make_current(state, &model);
    }
    let model = bridge::ensure_loaded(&model.id, &model.file);
    if vary {
        recipe.config.sampling.seed = random_seed();
    }
    let request = Request { recipe: recipe.clone(), expect: (!vary).then(|| clip.notes.clone()) };
    state.clips.ask(request, ToWorker::Generate { model: Some(model), primer: recipe.primer, config: recipe.config, opening: false, form: recipe.form });
}

/// What a shared link holds (or why it could not be opened), with regenerate / vary.
#[component]
pub fn SharedBanner() -> impl IntoView {
    let state = expect_context::<AppState>();
    let shared = move || state.clips.shared.get();
    let have_model = move || {
        let want = state.clips.shared.get().and_then(|c| c.recipe).map(|r| r.model);
        want.is_some_and(|w| state.models.kept.get().iter().any(|m| m.id == w))
    };
    view! {
        <Show when=move || state.share_error.get().is_some()>
            <p class="error" data-testid="share-error">{move || state.share_error.get().unwrap_or_default()}</p>
        </Show>
        <Show when=move || shared().is_some()>
            <section class="card shared" data-testid="shared-clip">
                <h2>"A clip shared with you"</h2>
                <p>{move || shared().map(|c| {
                    let s = c.shareable();
                    let recipe = c.recipe.as_ref().map_or("No recipe came with it.".to_string(), |r| format!(
                        "Made by model {} with seed {}, temperature {}, top-p {}, primer: {}.",
                        r.model, r.config.sampling.seed, r.config.sampling.temperature, r.config.sampling.top_p,
                        if r.primer_label.is_empty() { "none" } else { r.primer_label.as_str() }
                    ));
                    format!("{} notes, {:.0} seconds at {:.0} bpm. {recipe}", s.notes.len(), s.seconds(), c.bpm)
                })}</p>
                <div class="buttons">
                    <button data-testid="shared-play" on:click=move |_| {
                        if let Some(c) = state.clips.shared.get_untracked() {
                            state.roll.set(Some(("Shared clip".into(), c.notes.clone())));
                            state.player.start(c.notes.clone(), 1.0)
                        }
                    }>"▶ Play"</button>
                    <button data-testid="regenerate" disabled=move || !have_model() || state.clips.generating.get().is_some()
                        title="needs the model that made it, in this browser" on:click=move |_| remake(state, false)>"Regenerate"</button>
                    <button data-testid="vary" disabled=move || !have_model() || state.clips.generating.get().is_some()
                        on:click=move |_| remake(state, true)>"Vary (new seed)"</button>
                    <span data-testid="regenerated">{move || match state.clips.regenerated.get() {
                        Some(true) => "Regenerated: the same clip, note for note.",
                        Some(false) => "Regenerated, but it differs (another backend or browser can round differently).",
                        None if !have_model() => "Regenerate and vary need the model that made it in this browser.",
                        None => "",
                    }}</span>
                </div>
            </section>
        </Show>
    }
}

/// Clips kept in this browser; each opens like a link.
#[component]
pub fn SavedClips() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <Show when=move || !state.saved_clips.get().is_empty()>
            <section class="card">
                <h2>"Recent clips"</h2>
                <ul class="clips">
                    <For each=move || state.saved_clips.get() key=|c| c.id let:c>
                        {
                            let fragment = c.fragment.clone();
                            let when = js_sys::Date::new(&c.saved.into()).to_locale_string("en-GB", &JsValue::UNDEFINED);
                            view! {
                                <li data-testid="clip-row">
                                    <a href=format!("#{}", c.fragment) on:click=move |ev| { ev.prevent_default(); open(state, &fragment) }>{c.label.clone()}</a>
                                    <span class="detail">{format!(" · {}", String::from(when))}</span>
                                </li>
                            }
                        }
                    </For>
                </ul>
            </section>
        </Show>
    }
}
