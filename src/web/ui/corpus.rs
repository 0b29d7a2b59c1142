//! The corpus: a drop zone for files and folders plus a file picker, one row per file with what it
//! holds or why it cannot be used, and the note-selection options.

use super::{AppState, CorpusFile};
use crate::encoding::corpus::{music_corpus, style_from_path, CorpusOptions, NoteFilter, TokenCorpus};
use crate::encoding::{BarVocab, MusicVocab};
use crate::midi::read_notes;
use crate::web::files::{self, Picked};
use crate::web::storage::{self, StoredFile};
use leptos::prelude::*;
use std::sync::Arc;
use web_sys::{DragEvent, HtmlInputElement};

/// Share of files held out for validation.
pub const VALID_FRACTION: f64 = 0.15;

fn add(state: AppState, picked: Vec<Picked>) {
    let mut added = Vec::new();
    state.files.update(|files| {
        let mut next = files.iter().map(|f| f.id + 1).max().unwrap_or(0);
        for p in picked {
            // A file the browser could not read is shown with why, but not kept (there is nothing to keep).
            let (song, bytes, keep) = match p.bytes {
                Ok(bytes) => (read_notes(&bytes).map(Arc::new).map_err(|e| e.to_string()), bytes, true),
                Err(why) => (Err(why), Vec::new(), false),
            };
            let file = CorpusFile { id: next, name: p.name, song, bytes: Arc::new(bytes), included: true, excluded_tracks: Vec::new() };
            if keep {
                added.push(file.stored());
            }
            files.push(file);
            next += 1;
        }
    });
    // Keep the files themselves so a reload brings the corpus back (bad files too: their row explains them).
    leptos::task::spawn_local(async move {
        for f in added {
            if let Err(e) = storage::save_file(&f).await {
                return state.error.set(Some(e));
            }
        }
    });
}

/// Rows for files kept from an earlier visit.
pub fn restore(state: AppState, stored: Vec<StoredFile>) {
    state.files.update(|files| {
        for f in stored {
            if files.iter().any(|x| x.id == f.id as usize) {
                continue;
            }
            let song = read_notes(&f.bytes).map(Arc::new).map_err(|e| e.to_string());
            files.push(CorpusFile { id: f.id as usize, name: f.name, song, bytes: Arc::new(f.bytes), included: f.included, excluded_tracks: f.excluded_tracks });
        }
        files.sort_by_key(|f| f.id);
    });
}

/// Applies `change` to file `id` and stores the result.
fn change(state: AppState, id: usize, change: impl FnOnce(&mut CorpusFile)) {
    let mut stored = None;
    state.files.update(|fs| {
        if let Some(f) = fs.iter_mut().find(|f| f.id == id) {
            change(f);
            stored = Some(f.stored());
        }
    });
    if let Some(f) = stored {
        leptos::task::spawn_local(async move {
            if let Err(e) = storage::save_file(&f).await {
                state.error.set(Some(e));
            }
        });
    }
}

fn remove(state: AppState, id: usize) {
    state.files.update(|fs| fs.retain(|f| f.id != id));
    leptos::task::spawn_local(async move {
        if let Err(e) = storage::delete_file(id as u32).await {
            state.error.set(Some(e));
        }
    });
}

/// The included, readable, non-empty files with their left-out tracks removed: (name, song).
pub fn usable_songs(state: AppState) -> Vec<(String, crate::midi::Song)> {
    state
        .files
        .get_untracked()
        .iter()
        .filter(|f| f.included && f.song.as_ref().is_ok_and(|s| !s.notes.is_empty()))
        .map(|f| {
            let mut song = (**f.song.as_ref().unwrap()).clone();
            song.notes.retain(|n| !f.excluded_tracks.contains(&n.track));
            (f.name.clone(), song)
        })
        .collect()
}

/// The notes a model learns: every instrument and the drums unless the user narrowed it (the
/// first event vocabulary has no drum tokens, so it learns drums only when asked).
fn filter(state: AppState, vocab: &MusicVocab) -> NoteFilter {
    let drums = state.drums.get_untracked() && matches!(vocab, MusicVocab::Bars(_));
    NoteFilter { drums, tracks: None, melody_only: state.melody.get_untracked(), piano: state.piano.get_untracked() }
}

/// The vocabulary new models learn.
pub fn new_vocab() -> MusicVocab {
    MusicVocab::Bars(BarVocab::default())
}

/// The vocabulary of the current model, or the one a new model would have.
pub fn current_vocab(state: AppState) -> MusicVocab {
    state.vocab.get_untracked().unwrap_or_else(new_vocab)
}

/// The style tag of a file: the folder it was dropped from.
pub fn style_of(name: &str) -> Option<String> {
    style_from_path(name)
}

/// The token corpus for the current files and options, tokenised with `base` (which, for the bar
/// vocabulary, learns the corpus's tempo, meter, instruments and styles): (corpus, the
/// vocabulary to save with the model, file names).
pub fn token_corpus(state: AppState, transpose: u8, base: &MusicVocab) -> (TokenCorpus, MusicVocab, Vec<String>) {
    let (names, songs): (Vec<String>, Vec<_>) = usable_songs(state).into_iter().unzip();
    let styles: Vec<Option<String>> = names.iter().map(|n| style_of(n)).collect();
    let options = CorpusOptions { filter: filter(state, base), transpose, valid_fraction: VALID_FRACTION, seed: 7, held_out: None };
    let (corpus, vocab) = music_corpus(&songs, &styles, base, &options);
    (corpus, vocab, names)
}

/// Tokens and seconds of music in the held-out files (for NLL per second).
pub fn held_out_size(state: AppState) -> (usize, f64) {
    let (corpus, _, _) = token_corpus(state, 0, &current_vocab(state));
    let songs = usable_songs(state);
    (corpus.valid_tokens(), corpus.valid_files.iter().filter_map(|&i| songs.get(i)).map(|(_, s)| s.seconds()).sum())
}

/// The selected notes of the usable files, split as training splits them: (training files,
/// held-out files), each with its name and length in seconds.
pub fn split_notes(state: AppState) -> (Vec<(String, Vec<crate::midi::Note>, f64)>, Vec<(String, Vec<crate::midi::Note>, f64)>) {
    let (corpus, _, _) = token_corpus(state, 0, &current_vocab(state));
    let songs = usable_songs(state);
    // Clips are compared with the music as the user has it: every instrument and the drums.
    let pick = |idx: &[usize]| {
        idx.iter().filter_map(|&i| songs.get(i)).map(|(name, song)| (name.clone(), NoteFilter::default().select(song), song.seconds())).collect::<Vec<_>>()
    };
    (pick(&corpus.train_files), pick(&corpus.valid_files))
}

fn seconds(s: f64) -> String {
    format!("{}:{:02}", (s / 60.0) as u64, (s % 60.0) as u64)
}

#[component]
pub fn Corpus() -> impl IntoView {
    let state = expect_context::<AppState>();
    let over = RwSignal::new(false);
    let on_drop = move |ev: DragEvent| {
        ev.prevent_default();
        over.set(false);
        if let Some(data) = ev.data_transfer() {
            leptos::task::spawn_local(async move { add(state, files::from_drop(data).await) });
        }
    };
    let on_pick = move |ev: web_sys::Event| {
        let input: HtmlInputElement = event_target(&ev);
        if let Some(list) = input.files() {
            leptos::task::spawn_local(async move {
                add(state, files::from_file_list(list).await);
                input.set_value("");
            });
        }
    };
    let summary = Memo::new(move |_| {
        state.files.track();
        state.drums.track();
        state.melody.track();
        state.piano.track();
        let (corpus, vocab, names) = token_corpus(state, 0, &new_vocab());
        let learned = match vocab {
            MusicVocab::Bars(v) if !names.is_empty() => format!(
                " Plays {} at {:.0} bpm in {}/{}{}.",
                v.instruments.iter().map(|i| i.name()).collect::<Vec<_>>().join(", "),
                v.bpm,
                v.meter.0,
                v.meter.1,
                if v.styles.is_empty() { String::new() } else { format!("; styles (from folder names): {}", v.styles.join(", ")) }
            ),
            _ => String::new(),
        };
        (names.len(), corpus.train_files.len(), corpus.valid_files.len(), corpus.train_tokens(), corpus.valid_tokens(), learned)
    });
    view! {
        <section class="card">
            <h2>"1. Your music"</h2>
            <div
                class="dropzone"
                class:over=move || over.get()
                data-testid="dropzone"
                on:dragover=move |ev: DragEvent| {
                    ev.prevent_default();
                    over.set(true);
                }
                on:dragleave=move |_| over.set(false)
                on:drop=on_drop
            >
                <p>"Drop MIDI files or whole folders here, or "</p>
                <label class="button">
                    "choose files"
                    <input type="file" multiple accept=".mid,.midi,.kar,.rmi" data-testid="corpus-input" on:change=on_pick/>
                </label>
            </div>
            <div class="options">
                <label><input type="checkbox" data-testid="opt-drums" prop:checked=move || state.drums.get() on:change=move |ev| state.drums.set(event_target_checked(&ev))/>" include drums"</label>
                <label><input type="checkbox" data-testid="opt-piano" prop:checked=move || state.piano.get() on:change=move |ev| state.piano.set(event_target_checked(&ev))/>" piano reduction (every instrument on one piano)"</label>
                <label><input type="checkbox" data-testid="opt-melody" prop:checked=move || state.melody.get() on:change=move |ev| state.melody.set(event_target_checked(&ev))/>" melody only (top voice)"</label>
            </div>
            <table class="corpus">
                <thead><tr><th></th><th>"File"</th><th>"Tracks"</th><th>"Notes"</th><th>"Length"</th><th>"Notes on import"</th><th></th></tr></thead>
                <tbody>
                    <For each=move || state.files.get() key=|f| (f.id, f.included, f.excluded_tracks.clone()) let:file>
                        {
                            let id = file.id;
                            let status = file.status();
                            let preview = file.song.clone().ok();
                            let title = file.name.clone();
                            let track_picker = match &file.song {
                                Ok(s) if s.tracks.iter().filter(|t| t.notes > 0).count() > 1 => {
                                    let excluded = file.excluded_tracks.clone();
                                    s.tracks.iter().enumerate().filter(|(_, t)| t.notes > 0).map(|(i, t)| {
                                        let i = i as u16;
                                        let label = format!("{}{}", t.name.clone().unwrap_or_else(|| format!("track {}", i + 1)), if t.drums { " (drums)" } else { "" });
                                        view! {
                                            <label class="track">
                                                <input type="checkbox" data-testid="track-toggle" prop:checked=!excluded.contains(&i)
                                                    on:change=move |ev| {
                                                        let on = event_target_checked(&ev);
                                                        change(state, id, |f| {
                                                            f.excluded_tracks.retain(|&t| t != i);
                                                            if !on { f.excluded_tracks.push(i) }
                                                        });
                                                    }/>
                                                {label}
                                            </label>
                                        }
                                    }).collect_view().into_any()
                                }
                                _ => ().into_any(),
                            };
                            let (tracks, notes, length, message) = match &file.song {
                                Ok(s) => (
                                    s.tracks.len().to_string(),
                                    s.notes.len().to_string(),
                                    seconds(s.seconds()),
                                    s.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>().join("; "),
                                ),
                                Err(e) => (String::new(), String::new(), String::new(), format!("Cannot be used: {e}")),
                            };
                            view! {
                                <tr data-testid="corpus-row" data-status=status class=status>
                                    <td>
                                        <input type="checkbox" title="use this file" prop:checked=file.included disabled=status == "error"
                                            on:change=move |ev| {
                                                let on = event_target_checked(&ev);
                                                change(state, id, |f| f.included = on);
                                            }/>
                                    </td>
                                    <td class="name">
                                        <a href="#" on:click=move |ev| {
                                            ev.prevent_default();
                                            if let Some(s) = &preview {
                                                state.roll.set(Some((title.clone(), Arc::new(s.notes.clone()))));
                                            }
                                        }>{file.name.clone()}</a>
                                    </td>
                                    <td>{tracks}<div class="tracks">{track_picker}</div></td>
                                    <td>{notes}</td>
                                    <td>{length}</td>
                                    <td class="message">{message}</td>
                                    <td><button class="remove" data-testid="corpus-remove" title="remove this file" on:click=move |_| remove(state, id)>"×"</button></td>
                                </tr>
                            }
                        }
                    </For>
                </tbody>
            </table>
            <p data-testid="corpus-summary">
                {move || {
                    let (files, train, valid, train_tokens, valid_tokens, learned) = summary.get();
                    if files == 0 {
                        "No usable files yet.".to_string()
                    } else {
                        format!("{files} usable file(s): {train} for training ({train_tokens} tokens before transposition), {valid} held out for validation ({valid_tokens} tokens).{learned}")
                    }
                }}
            </p>
        </section>
    }
}
