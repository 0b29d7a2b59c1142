//! The clips slice of the page's state: the clip on show, the one a link opened, the generation
//! in flight and its recipe, "regenerate" and the WAV export. Its methods are the actions and the
//! worker's answers, so the generate panel and the share controls meet here, not in each other.

use super::{share, AppState, Clip, ClipOrigin, Request};
use crate::web::share_clip;
use crate::generate::Section;
use crate::midi::Note;
use crate::protocol::ToWorker;
use crate::web::bridge;
use leptos::prelude::*;
use std::sync::Arc;

#[derive(Clone, Copy)]
pub struct ClipsState {
    pub clip: RwSignal<Option<Clip>>,
    /// The clip opened from a share link (stays shown while regenerating or varying it).
    pub shared: RwSignal<Option<Clip>>,
    /// New tokens so far while generating.
    pub generating: RwSignal<Option<usize>>,
    /// The generation request in flight.
    request: RwSignal<Option<Request>>,
    /// After "regenerate": whether the model gave back exactly the linked clip.
    pub regenerated: RwSignal<Option<bool>>,
    /// Bumped to generate a clip with the generate panel's settings (the first screen's button).
    pub generate_now: RwSignal<u32>,
    /// Play the next generated clip as soon as it arrives.
    autoplay: RwSignal<bool>,
    /// WAV export in progress (share done, 0–1).
    pub wav_progress: RwSignal<Option<f64>>,
}

impl ClipsState {
    pub fn new() -> Self {
        ClipsState {
            clip: RwSignal::new(None),
            shared: RwSignal::new(None),
            generating: RwSignal::new(None),
            request: RwSignal::new(None),
            regenerated: RwSignal::new(None),
            generate_now: RwSignal::new(0),
            autoplay: RwSignal::new(false),
            wav_progress: RwSignal::new(None),
        }
    }

    /// The first screen's action: a clip with the generate panel's settings, played when it comes.
    pub fn hear(self) {
        self.autoplay.set(true);
        self.generate_now.update(|n| *n += 1);
    }

    /// Whether the clip asked for is the first screen's (played from its opening as it is written).
    pub fn hearing(self) -> bool {
        self.autoplay.get_untracked()
    }

    /// A generation is being prepared (the starter model may still be loading).
    pub fn preparing(self) {
        self.generating.set(Some(0));
    }

    /// Asks the worker for a clip made by `request`'s recipe (`msg` is its Generate).
    pub fn ask(self, request: Request, msg: ToWorker) {
        self.request.set(Some(request));
        self.regenerated.set(None);
        self.generating.set(Some(0));
        bridge::send(&msg);
    }

    /// Shows a clip from a link or the saved list.
    pub fn show_shared(self, clip: Clip) {
        self.regenerated.set(None);
        self.shared.set(Some(clip.clone()));
        self.clip.set(Some(clip));
    }

    /// The worker's clip: shown, kept, checked against the linked clip after "regenerate", and
    /// played when the first screen asked for it.
    pub fn on_generated(self, state: AppState, notes: Vec<Note>, tokens: &[u16], primer_len: usize, millis: f64, sections: Vec<Section>) {
        self.generating.set(None);
        let Some(request) = self.request.get_untracked() else { return };
        let bpm = request.recipe.config.bpm;
        let made = share_clip(notes, bpm, Some(request.recipe));
        if let Some(expect) = &request.expect {
            // A long clip's link holds its opening: the regenerated clip must begin with it.
            self.regenerated.set(Some(made.notes.len() >= expect.len() && made.prefix(expect.len()).notes == **expect));
        }
        let notes = Arc::new(made.notes);
        state.roll.set(Some(("Generated clip".into(), notes.clone())));
        let meters = state.models.vocab.get_untracked().map_or_else(Vec::new, |v| v.time_signatures(tokens));
        let clip = Clip { notes, bpm, meters: Arc::new(meters), recipe: made.recipe, origin: ClipOrigin::Generated, millis, tokens: tokens.len() - primer_len, sections: Arc::new(sections) };
        share::keep(state, &clip);
        if self.autoplay.get_untracked() {
            self.autoplay.set(false);
            // Its opening may already be sounding: the whole clip carries on from there.
            if !state.player.extend(clip.notes.clone()) {
                state.player.start(clip.notes.clone(), 1.0);
            }
            // The first screen's clip: its roll, player and share controls come into view.
            if let Some(listen) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("listen")) {
                let options = web_sys::ScrollIntoViewOptions::new();
                options.set_behavior(web_sys::ScrollBehavior::Smooth);
                listen.scroll_into_view_with_scroll_into_view_options(&options);
            }
        }
        self.clip.set(Some(clip));
    }

    /// The first bars of the clip being written, with their sound: played at once when the first
    /// screen asked for the clip.
    pub fn on_opening(self, state: AppState, notes: Vec<Note>, pcm: &[u8], sample_rate: u32) {
        if self.autoplay.get_untracked() {
            state.player.start_opening(Arc::new(notes), pcm, sample_rate);
        }
    }

    pub fn on_failed(self) {
        self.generating.set(None);
        self.autoplay.set(false);
    }

    /// The clip on show as a WAV file, rendered by the worker.
    pub fn export_wav(self) {
        let Some(clip) = self.clip.get_untracked() else { return };
        self.wav_progress.set(Some(0.0));
        bridge::send(&ToWorker::Render { notes: clip.notes.to_vec(), speed: 1.0, wav: true, from_frame: 0 });
    }
}
