//! The browser layer (wasm32 only): the Leptos page (`ui`), the worker that trains and generates
//! (`worker`), and the glue between the page and browser APIs.

mod audio;
mod bridge;
mod files;
mod helpers;
mod gpu;
mod storage;
mod team;
mod ui;
mod worker;

/// Where Trunk copies the SoundFont (see index.html and static/soundfont/LICENSE.md); the worker
/// fetches it on the first Play.
const SOUNDFONT_URL: &str = "./soundfont/TimGM6mb.sf2";
/// The first clip's sound bank: the SoundFont's two pianos alone (192 KB of its 6 MB, cut by
/// `scripts/soundfont_subset.py`, byte for byte the same instruments), so the first click's clip
/// (the starter writes for acoustic and honky-tonk piano) does not wait for the whole font.
const PIANO_SOUNDFONT_URL: &str = "./soundfont/piano.sf2";
/// The General MIDI programs the piano bank holds.
const PIANO_PROGRAMS: [u8; 2] = [0, 3];

/// A clip on the event vocabulary's grid, notes in canonical order (as a link carries them). The
/// page holds every clip this way, and the worker renders a clip's opening from exactly these
/// notes, so the whole clip's rendering continues it without a seam.
fn share_clip(notes: Vec<crate::midi::Note>, bpm: f64, recipe: Option<crate::share::Recipe>) -> crate::share::Clip {
    crate::share::Clip::new(notes, bpm, crate::encoding::EventVocab::default().steps_per_beat, recipe)
}

/// Resolves after `ms` milliseconds, in a worker: lets its event loop run (Pause and Stop arrive
/// between training steps) and times out a helper that does not answer.
async fn sleep(ms: i32) {
    use wasm_bindgen::JsCast;
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Entry point of the page binary (which first runs the static constructors once: see
/// `src/bin/app.rs`).
pub fn start_app() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(ui::App);
}

/// Entry point of the worker binary.
pub fn start_worker() {
    worker::start();
}
