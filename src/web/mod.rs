//! The browser layer (wasm32 only): the Leptos page (`ui`), the worker that trains and generates
//! (`worker`), and the glue between the page and browser APIs.

mod audio;
mod bridge;
mod files;
mod gpu;
mod storage;
mod ui;
mod worker;

/// Where Trunk copies the SoundFont (see index.html and static/soundfont/LICENSE.md); the worker
/// fetches it on the first Play.
const SOUNDFONT_URL: &str = "./soundfont/TimGM6mb.sf2";

/// Entry point of the page binary.
pub fn start_app() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(ui::App);
}

/// Entry point of the worker binary.
pub fn start_worker() {
    worker::start();
}
