//! The corpus: a drop zone for files and folders plus a file picker, one row per file with what it
//! holds or why it cannot be used, and the note-selection options. The worker reads and tokenises
//! the files; the page keeps their bytes (and storage keeps them across reloads).

use super::{AppState, CorpusFile};
use crate::encoding::{BarVocab, MusicVocab};
use crate::protocol::{FileRead, ToWorker};
use crate::sequences::{self, CorpusReport, NamedNotes, SelectedFile, Selection};
use crate::web::bridge;
use crate::web::files::{self, Picked};
use crate::web::storage::{self, StoredFile};
use leptos::prelude::*;
use std::sync::Arc;
use web_sys::{DragEvent, HtmlInputElement};

/// The corpus slice of the page's state: the files (read by the worker, off the page's thread),
/// the note-selection options and what the worker counted in them. Its methods are the actions.
#[derive(Clone, Copy)]
pub struct CorpusState {
    pub files: RwSignal<Vec<CorpusFile>>,
    pub drums: RwSignal<bool>,
    pub melody: RwSignal<bool>,
    pub piano: RwSignal<bool>,
    /// Drops and picks whose bytes the browser is still reading (before they go to the worker).
    opening: RwSignal<usize>,
    /// Files sent to the worker to be read, by id: they get their row when the answer comes.
    reading: RwSignal<Vec<CorpusFile>>,
    next_id: StoredValue<u32>,
    /// What the worker counted in the current selection (`None`: no usable files).
    pub report: RwSignal<Option<CorpusReport>>,
    /// Count requests not answered yet (the report on show is stale while there are any).
    counting: RwSignal<usize>,
    /// Files this browser's storage refused (it ran out part-way): their names, and why.
    pub not_kept: RwSignal<(Vec<String>, String)>,
    /// The worker's wasm memory after reading (its peak so far), for the big-corpus figures.
    pub worker_memory: RwSignal<u64>,
    /// Files waiting to be stored, and whether the loop that stores them runs.
    to_keep: StoredValue<std::collections::VecDeque<StoredFile>>,
    keeping: StoredValue<bool>,
}

impl CorpusState {
    pub fn new() -> Self {
        CorpusState {
            files: RwSignal::new(Vec::new()),
            drums: RwSignal::new(true),
            melody: RwSignal::new(false),
            piano: RwSignal::new(false),
            opening: RwSignal::new(0),
            reading: RwSignal::new(Vec::new()),
            next_id: StoredValue::new(0),
            report: RwSignal::new(None),
            counting: RwSignal::new(0),
            not_kept: RwSignal::new((Vec::new(), String::new())),
            worker_memory: RwSignal::new(0),
            to_keep: StoredValue::new(Default::default()),
            keeping: StoredValue::new(false),
        }
    }

    /// Files the user dropped or picked: the worker reads them; a file the browser could not
    /// read gets its row at once, with why (there is nothing to keep or send).
    fn add(self, picked: Vec<Picked>) {
        let mut fresh = Vec::new();
        for p in picked {
            let id = self.next_id.get_value();
            self.next_id.set_value(id + 1);
            // Until the worker has read it, a file's song is empty: it has no row yet.
            let file = |song, bytes| CorpusFile { id: id as usize, name: p.name.clone(), song, bytes: Arc::new(bytes), included: true, excluded_tracks: Vec::new() };
            match p.bytes {
                Ok(bytes) => fresh.push(file(Err(String::new()), bytes)),
                Err(why) => self.files.update(|fs| fs.push(file(Err(why), Vec::new()))),
            }
        }
        self.read(fresh);
    }

    /// Rows for files kept from an earlier visit (read again by the worker).
    pub fn restore(self, stored: Vec<StoredFile>) {
        let known: Vec<usize> = self.files.get_untracked().iter().map(|f| f.id).collect();
        let files: Vec<CorpusFile> = stored
            .into_iter()
            .filter(|f| !known.contains(&(f.id as usize)))
            .map(|f| CorpusFile { id: f.id as usize, name: f.name, song: Err(String::new()), bytes: Arc::new(f.bytes), included: f.included, excluded_tracks: f.excluded_tracks })
            .collect();
        let top = files.iter().map(|f| f.id as u32 + 1).max().unwrap_or(0);
        self.next_id.update_value(|n| *n = (*n).max(top));
        self.read(files);
    }

    /// Sends files to the worker to be read.
    fn read(self, files: Vec<CorpusFile>) {
        if files.is_empty() {
            return;
        }
        let sent = files.iter().map(CorpusFile::bytes_for_worker).collect();
        self.reading.update(|r| r.extend(files));
        bridge::read_files(sent);
    }

    /// A fresh worker knows no files: sends it those it has not read (before counting or training).
    fn ensure_read(self) {
        let missing: Vec<_> = self
            .files
            .get_untracked()
            .iter()
            .filter(|f| f.song.is_ok() && !bridge::knows_file(f.id as u32))
            .map(CorpusFile::bytes_for_worker)
            .collect();
        if !missing.is_empty() {
            bridge::read_files(missing);
        }
    }

    /// The worker's answer to a [`ToWorker::ReadFiles`]: each file gets its row (a file read
    /// again by a fresh worker keeps its row). New rows are kept in storage, bad files too: their
    /// row explains them.
    pub fn on_read(self, read: Vec<FileRead>) {
        let mut added = Vec::new();
        for r in read {
            let song = r.song.map(Arc::new);
            let pending = self.reading.try_update(|p| p.iter().position(|f| f.id == r.id as usize).map(|i| p.remove(i))).flatten();
            match pending {
                Some(mut file) => {
                    file.song = song;
                    added.push(file.stored());
                    self.files.update(|fs| {
                        fs.retain(|f| f.id != file.id);
                        fs.push(file);
                        fs.sort_by_key(|f| f.id);
                    });
                }
                None => self.files.update(|fs| {
                    if let Some(f) = fs.iter_mut().find(|f| f.id == r.id as usize) {
                        f.song = song;
                    }
                }),
            }
        }
        self.keep(added);
    }

    /// Offers files to storage one at a time, in the order they came (a big drop's batches
    /// answer close together; IndexedDB refused many writes racing each other). When storage runs
    /// out part-way, those kept stay kept and the page names the others (they stay in this visit's
    /// corpus).
    fn keep(self, files: Vec<StoredFile>) {
        self.to_keep.update_value(|q| q.extend(files));
        if self.keeping.get_value() {
            return; // the running loop takes them
        }
        self.keeping.set_value(true);
        leptos::task::spawn_local(async move {
            while let Some(f) = self.to_keep.try_update_value(|q| q.pop_front()).flatten() {
                if let Err(e) = storage::keep_file(&f).await {
                    self.not_kept.update(|(names, why)| {
                        names.push(f.name.clone());
                        *why = e;
                    });
                }
            }
            self.keeping.set_value(false);
        });
    }

    /// The worker could not read the files in flight (it stopped): they become rows that say so.
    pub fn reading_failed(self, why: &str) {
        let failed = self.reading.try_update(std::mem::take).unwrap_or_default();
        self.files.update(|fs| {
            for mut f in failed {
                f.song = Err(format!("it could not be read ({why})"));
                fs.push(f);
            }
            fs.sort_by_key(|f| f.id);
        });
    }

    /// How many files are being read.
    pub fn reading(self) -> usize {
        self.reading.with(Vec::len)
    }

    /// Whether files just dropped or picked are still being read (by the browser or the worker):
    /// training waits for them, or it would start without them.
    pub fn busy(self) -> bool {
        self.opening.get() > 0 || self.reading() > 0
    }

    /// Reads a drop or a pick in the browser, then hands it on; [`busy`](Self::busy) from the
    /// moment it is called (the event's handler), not only once the bytes are here.
    fn open(self, picked: impl std::future::Future<Output = Vec<Picked>> + 'static, then: impl FnOnce() + 'static) {
        self.opening.update(|n| *n += 1);
        leptos::task::spawn_local(async move {
            let picked = picked.await;
            self.add(picked);
            self.opening.update(|n| *n -= 1);
            then();
        });
    }

    /// Applies `change` to file `id` and stores the result.
    fn change(self, state: AppState, id: usize, change: impl FnOnce(&mut CorpusFile)) {
        let mut stored = None;
        self.files.update(|fs| {
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

    fn remove(self, state: AppState, id: usize) {
        self.files.update(|fs| fs.retain(|f| f.id != id));
        if bridge::knows_file(id as u32) {
            bridge::send(&ToWorker::ForgetFiles { ids: vec![id as u32] });
        }
        leptos::task::spawn_local(async move {
            if let Err(e) = storage::delete_file(id as u32).await {
                state.error.set(Some(e));
            }
        });
    }

    /// What a model is to learn: the included files that hold notes, and the options.
    pub fn selection(self, transpose: u8) -> Selection {
        let files = self
            .files
            .get_untracked()
            .iter()
            .filter(|f| f.included && f.song.as_ref().is_ok_and(|s| !s.notes.is_empty()))
            .map(|f| SelectedFile { id: f.id as u32, excluded_tracks: f.excluded_tracks.clone() })
            .collect();
        Selection { files, drums: self.drums.get_untracked(), melody: self.melody.get_untracked(), piano: self.piano.get_untracked(), transpose }
    }

    /// The selected files' songs, as the worker tokenises them.
    pub fn usable_songs(self) -> Vec<(String, crate::midi::Song)> {
        let files = self.files.get_untracked();
        self.selection(0).songs(|id| files.iter().find(|f| f.id == id as usize).and_then(|f| Some((f.name.as_str(), &**f.song.as_ref().ok()?))))
    }

    /// Every note of the usable files, split as training splits them (for the evaluation).
    pub fn split_notes(self) -> (Vec<NamedNotes>, Vec<NamedNotes>) {
        sequences::split_notes(&self.usable_songs(), &self.selection(0))
    }

    /// Asks the worker to count the current selection (only when there is one: an empty corpus
    /// does not start the worker).
    fn count(self, base: MusicVocab) {
        let selection = self.selection(0);
        if selection.files.is_empty() {
            self.report.set(None);
            return;
        }
        self.ensure_read();
        self.counting.update(|n| *n += 1);
        bridge::send(&ToWorker::Tokenise { selection, base });
    }

    /// The worker's answer to a count (`None`: it failed).
    pub fn counted(self, report: Option<CorpusReport>) {
        self.counting.update(|n| *n = n.saturating_sub(1));
        if report.is_some() || self.counting.get_untracked() == 0 {
            self.report.set(report);
        }
    }

    /// Sends `selection` for training, after any files a fresh worker has not read.
    /// Sends `msg` (a Train) to the training worker, with `helpers` more workers to share the
    /// CPU path's steps (unused when WebGPU trains).
    pub fn train(self, msg: ToWorker, helpers: usize) {
        // Training runs in the training worker (WebGPU or the CPU, whichever is faster).
        let _ = bridge::ensure_full();
        self.ensure_read();
        crate::web::helpers::start(helpers);
        bridge::send(&msg);
    }
}

/// File rows listed at first, and added by each "show more".
const ROWS_AT_ONCE: usize = 100;

/// The vocabulary new models learn.
pub fn new_vocab() -> MusicVocab {
    MusicVocab::Bars(BarVocab::default())
}

/// The vocabulary of the current model, or the one a new model would have.
pub fn current_vocab(state: AppState) -> MusicVocab {
    state.models.vocab.get_untracked().unwrap_or_else(new_vocab)
}

/// Tokens and seconds of music in the held-out files (for NLL per second), as the worker counted
/// them in the current model's vocabulary.
pub fn held_out_size(state: AppState) -> (usize, f64) {
    state.corpus.report.get().map_or((0, 0.0), |r| (r.valid_tokens, r.valid_seconds))
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
            state.corpus.open(files::from_drop(data), || ());
        }
    };
    let on_pick = move |ev: web_sys::Event| {
        let input: HtmlInputElement = event_target(&ev);
        if let Some(list) = input.files() {
            state.corpus.open(files::from_file_list(list), move || input.set_value(""));
        }
    };
    let corpus = state.corpus;
    // The worker counts the selection again whenever the files, the options or the model's
    // vocabulary change (not on every progress message).
    Effect::new(move |_| {
        corpus.files.track();
        corpus.drums.track();
        corpus.melody.track();
        corpus.piano.track();
        state.models.vocab.track();
        corpus.count(current_vocab(state));
    });
    let summary = move || {
        let reading = corpus.reading();
        if reading > 0 {
            return format!("Reading {reading} file(s)…");
        }
        if corpus.busy() {
            return "Reading your files…".to_string();
        }
        if corpus.counting.get() > 0 {
            return "Counting…".to_string();
        }
        let Some(r) = corpus.report.get() else { return "No usable files yet.".to_string() };
        let learned = if r.instruments.is_empty() {
            String::new()
        } else {
            format!(
                " Plays {} at {:.0} bpm in {}/{}{}.",
                r.instruments.join(", "),
                r.bpm,
                r.meter.0,
                r.meter.1,
                if r.styles.is_empty() { String::new() } else { format!("; styles (from folder names): {}", r.styles.join(", ")) }
            )
        };
        // With few files each file's last bars are held out, not whole files (`encoding/split.rs`).
        let ends = if r.held_out_ends { "the last bars of " } else { "" };
        format!(
            "{} usable file(s): {} for training ({} tokens before transposition), {ends}{} held out for validation ({} tokens). {}{learned}",
            r.files, r.train_files, r.train_tokens, r.valid_files, r.valid_tokens, r.split
        )
    };
    // A big drop lists its first rows (laying out thousands of table rows held the page for
    // hundreds of milliseconds at a time); more on request.
    let shown = RwSignal::new(ROWS_AT_ONCE);
    let more_files = move || corpus.files.with(Vec::len) > shown.get();
    view! {
        <section class="card" id="music">
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
                <p class="drop-words">"Drop MIDI files or whole folders here, or "</p>
                <label class="button pick">
                    <span class="drop-words">"choose files"</span>
                    <span class="pick-words">"Choose MIDI files"</span>
                    <input type="file" multiple accept=".mid,.midi,.kar,.rmi" data-testid="corpus-input" on:change=on_pick/>
                </label>
            </div>
            <div class="options">
                <label><input type="checkbox" data-testid="opt-drums" prop:checked=move || corpus.drums.get() on:change=move |ev| corpus.drums.set(event_target_checked(&ev))/>" include drums"</label>
                <label><input type="checkbox" data-testid="opt-piano" prop:checked=move || corpus.piano.get() on:change=move |ev| corpus.piano.set(event_target_checked(&ev))/>" piano reduction (every instrument on one piano)"</label>
                <label><input type="checkbox" data-testid="opt-melody" prop:checked=move || corpus.melody.get() on:change=move |ev| corpus.melody.set(event_target_checked(&ev))/>" melody only (top voice)"</label>
            </div>
            <table class="corpus" data-testid="corpus-table" data-files=move || corpus.files.with(Vec::len)>
                <thead><tr><th></th><th>"File"</th><th>"Tracks"</th><th>"Notes"</th><th>"Length"</th><th>"Notes on import"</th><th></th></tr></thead>
                <tbody>
                    <For each=move || corpus.files.get().into_iter().take(shown.get()) key=|f| (f.id, f.included, f.excluded_tracks.clone()) let:file>
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
                                                        corpus.change(state, id, |f| {
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
                                                corpus.change(state, id, |f| f.included = on);
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
                                    <td><button class="remove" data-testid="corpus-remove" title="remove this file" on:click=move |_| corpus.remove(state, id)>"×"</button></td>
                                </tr>
                            }
                        }
                    </For>
                </tbody>
            </table>
            <Show when=more_files>
                <p class="detail" data-testid="corpus-more-words">
                    {move || format!("Showing the first {} of {} files; all of them are used. ", shown.get(), corpus.files.with(Vec::len))}
                    <button data-testid="corpus-more" on:click=move |_| shown.update(|s| *s += ROWS_AT_ONCE)>{format!("Show {ROWS_AT_ONCE} more")}</button>
                </p>
            </Show>
            <p data-testid="corpus-summary" aria-live="polite" data-worker-memory=move || corpus.worker_memory.get()>{summary}</p>
            <Show when=move || corpus.not_kept.with(|(names, _)| !names.is_empty())>
                <p class="warning" data-testid="not-kept">
                    {move || corpus.not_kept.with(|(names, why)| format!(
                        "{} of the files were not kept in this browser: its storage refused them ({why}). They are in this visit's corpus, but a later visit will not have them; removing files or models frees room.",
                        names.len()))}
                    <details>
                        <summary>"which files"</summary>
                        {move || corpus.not_kept.with(|(names, _)| names.join(", "))}
                    </details>
                </p>
            </Show>
        </section>
    }
}
