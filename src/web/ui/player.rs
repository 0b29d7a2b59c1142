//! Playback in one place, as magenta-js's `BasePlayer`: one clip at a time with start, pause,
//! resume, seek and stop, a playhead, and a note callback. It owns the rendering (the worker
//! renders the clip with the SoundFont once, in parts, and the clip sounds as soon as the first
//! part is here; pause, resume and seek replay those parts from any point) and the fallback to
//! oscillators when the SoundFont cannot be used.

use crate::midi::Note;
use crate::protocol::ToWorker;
use crate::web::{audio, bridge, files::js_error};
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

/// What makes the sound of the clip.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sound {
    /// Waiting for the worker's rendering.
    Preparing,
    SoundFont,
    Oscillators,
}

/// The clip the player holds: its notes, the speed it was rendered at, and where to start once
/// the sound is ready.
struct Loaded {
    notes: Arc<Vec<Note>>,
    speed: f64,
    sound: Sound,
    from: f64,
    /// Holding only a clip's opening (frames of it rendered): the whole clip extends it.
    opening: Option<u64>,
}

thread_local! {
    static CLIP: RefCell<Option<Loaded>> = const { RefCell::new(None) };
    static ON_NOTE: RefCell<Option<Box<dyn Fn(&Note)>>> = RefCell::new(None);
    /// Bumped on every start, pause and stop: the playhead timer of an earlier run ends itself.
    static RUN: Cell<u64> = const { Cell::new(0) };
    /// Renderings asked for and not answered yet: only the last answer is the clip held.
    static RENDERS: Cell<u32> = const { Cell::new(0) };
    /// Of those, the oldest ones that no longer belong to the clip held (an opening took over).
    static STALE: Cell<u32> = const { Cell::new(0) };
}

/// The player's state on the page (signals only; the clip and the sound live beside it).
#[derive(Clone, Copy)]
pub struct Player {
    /// Seconds into the clip (its own time, before speed) while playing or paused; `None`: stopped.
    pub playhead: RwSignal<Option<f64>>,
    pub paused: RwSignal<bool>,
    /// Waiting for the worker's rendering.
    pub preparing: RwSignal<bool>,
    /// Notes scheduled by the last start, and what made their sound: "soundfont" or "oscillators".
    pub scheduled: RwSignal<usize>,
    pub sound: RwSignal<&'static str>,
    /// Notes the note callback reported since the last start from the beginning.
    pub sounded: RwSignal<usize>,
    /// Parts of the clip's rendering kept so far, and how many were there when it last started
    /// to sound (1 when the opening alone started it).
    pub parts: RwSignal<usize>,
    pub parts_at_start: RwSignal<usize>,
    error: RwSignal<Option<String>>,
}

impl Player {
    pub fn new(error: RwSignal<Option<String>>) -> Self {
        Player {
            playhead: RwSignal::new(None),
            paused: RwSignal::new(false),
            preparing: RwSignal::new(false),
            scheduled: RwSignal::new(0),
            sound: RwSignal::new(""),
            sounded: RwSignal::new(0),
            parts: RwSignal::new(0),
            parts_at_start: RwSignal::new(0),
            error,
        }
    }

    /// Calls `f` with each note as it starts to sound.
    pub fn on_note(self, f: impl Fn(&Note) + 'static) {
        ON_NOTE.with(|n| *n.borrow_mut() = Some(Box::new(f)));
    }

    /// Plays `notes` from the beginning at `speed` × their tempo; call from the click itself
    /// (the audio starts on the user's gesture). The clip playing last is not rendered again.
    pub fn start(self, notes: Arc<Vec<Note>>, speed: f64) {
        self.start_at(notes, speed, 0.0);
    }

    /// Plays `notes` from `from` seconds into them.
    pub fn start_at(self, notes: Arc<Vec<Note>>, speed: f64, from: f64) {
        if let Err(e) = audio::unlock() {
            return self.error.set(Some(format!("sound could not start: {}", js_error(&e))));
        }
        let ready = CLIP.with(|c| {
            let mut c = c.borrow_mut();
            match c.as_mut() {
                Some(l) if Arc::ptr_eq(&l.notes, &notes) && l.speed == speed && l.sound != Sound::Preparing => true,
                _ => {
                    *c = Some(Loaded { notes: notes.clone(), speed, sound: Sound::Preparing, from, opening: None });
                    false
                }
            }
        });
        if ready {
            return self.begin(from);
        }
        self.halt();
        self.preparing.set(true);
        RENDERS.with(|r| r.set(r.get() + 1));
        bridge::send(&ToWorker::Render { notes: notes.to_vec(), speed, wav: false, from_frame: 0 });
    }

    /// Plays a clip's opening, rendered while the rest was written ([`FromWorker::Opening`]);
    /// [`extend`](Self::extend) carries on with the whole clip from where the opening ends.
    ///
    /// [`FromWorker::Opening`]: crate::protocol::FromWorker::Opening
    pub fn start_opening(self, notes: Arc<Vec<Note>>, pcm: &[u8], sample_rate: u32) {
        if audio::unlock().is_err() {
            return; // the whole clip then says why, the usual way
        }
        self.halt();
        if audio::keep_part(pcm, sample_rate, 0).is_err() {
            return;
        }
        // Renderings still on their way belong to the clip held before.
        STALE.with(|s| s.set(RENDERS.with(Cell::get)));
        let frames = (pcm.len() / 8) as u64;
        CLIP.with(|c| *c.borrow_mut() = Some(Loaded { notes, speed: 1.0, sound: Sound::SoundFont, from: 0.0, opening: Some(frames) }));
        self.parts.set(1);
        self.preparing.set(false);
        self.begin(0.0);
    }

    /// The whole clip whose opening the player holds: it becomes the clip held, and its sound
    /// after the opening is asked for and joins as it arrives. False if the player holds no
    /// opening (another clip was started meanwhile).
    pub fn extend(self, notes: Arc<Vec<Note>>) -> bool {
        let frames = CLIP.with(|c| {
            let mut c = c.borrow_mut();
            let l = c.as_mut()?;
            let frames = l.opening.take()?;
            l.notes = notes.clone();
            Some(frames)
        });
        let Some(frames) = frames else { return false };
        RENDERS.with(|r| r.set(r.get() + 1));
        bridge::send(&ToWorker::Render { notes: notes.to_vec(), speed: 1.0, wav: false, from_frame: frames });
        true
    }

    /// A part of the worker's rendering arrived (in order, the opening first): the clip plays
    /// with the SoundFont as soon as its opening is here; later parts join it as they arrive.
    pub fn on_rendered(self, pcm: &[u8], sample_rate: u32, at: u64, last: bool) {
        // Parts of an earlier rendering (a newer one is asked for) are not the clip held.
        let current = if last { answered() } else { is_current() };
        if !current {
            return;
        }
        let kept = audio::keep_part(pcm, sample_rate, at).is_ok();
        if at == 0 {
            self.parts.set(1);
            self.ready(if kept { Sound::SoundFont } else { Sound::Oscillators });
        } else if kept {
            self.parts.update(|n| *n += 1);
        }
    }

    /// The worker could not render the clip: it plays with the built-in oscillators instead.
    pub fn on_render_failed(self) {
        if answered() {
            self.ready(Sound::Oscillators);
        }
    }

    fn ready(self, sound: Sound) {
        let from = CLIP.with(|c| {
            c.borrow_mut().as_mut().map(|l| {
                l.sound = sound;
                l.from
            })
        });
        // Stopped meanwhile: the sound is kept for the next start.
        if self.preparing.get_untracked() {
            self.preparing.set(false);
            if let Some(from) = from {
                self.begin(from);
            }
        }
    }

    /// Sound and playhead from `from` seconds into the clip held.
    fn begin(self, from: f64) {
        let Some((notes, speed, sound)) = CLIP.with(|c| c.borrow().as_ref().map(|l| (l.notes.clone(), l.speed, l.sound))) else { return };
        let started = match sound {
            Sound::SoundFont => audio::play_buffer(from / speed),
            _ => audio::play(&notes, speed, from),
        };
        let start = match started {
            Ok(s) => s,
            Err(e) => return self.error.set(Some(format!("sound could not start: {}", js_error(&e)))),
        };
        let run = RUN.with(|r| {
            r.set(r.get() + 1);
            r.get()
        });
        self.scheduled.set(notes.iter().filter(|n| n.start_s + n.duration_s > from).count());
        self.sound.set(if sound == Sound::SoundFont { "soundfont" } else { "oscillators" });
        self.parts_at_start.set(self.parts.get_untracked());
        if from == 0.0 {
            self.sounded.set(0);
        }
        self.paused.set(false);
        self.playhead.set(Some(from));
        // Follow the audio clock until the clip ends or another start, pause or stop; then the
        // timer clears itself. Notes whose onset the playhead passed go to the note callback.
        // The clip is read at each tick: an opening grows into the whole clip while it plays.
        let last = Cell::new(from);
        let own: std::rc::Rc<Cell<Option<IntervalHandle>>> = Default::default();
        let me = own.clone();
        let tick = move || {
            if RUN.with(Cell::get) != run {
                if let Some(h) = me.take() {
                    h.clear();
                }
                return;
            }
            let t = from + (audio::now() - start).max(0.0) * speed;
            let Some((notes, opening)) = CLIP.with(|c| c.borrow().as_ref().map(|l| (l.notes.clone(), l.opening.is_some()))) else { return };
            let end = notes.iter().map(|n| n.start_s + n.duration_s).fold(0.0, f64::max);
            let passed: Vec<&Note> = notes.iter().filter(|n| n.start_s >= last.get() && n.start_s < t).collect();
            if !passed.is_empty() {
                ON_NOTE.with(|f| {
                    if let Some(f) = f.borrow().as_ref() {
                        passed.iter().for_each(|n| f(n));
                    }
                });
                self.sounded.update(|s| *s += passed.len());
            }
            last.set(t);
            // An opening's end is not the clip's: the rest is on its way.
            if t > end && !opening {
                self.stop();
            } else {
                self.playhead.set(Some(t));
            }
        };
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_millis(50)) {
            own.set(Some(handle));
        }
    }

    /// Silence and no timer, the playhead where it is.
    fn halt(self) {
        RUN.with(|r| r.set(r.get() + 1));
        audio::stop();
    }

    pub fn playing(self) -> bool {
        self.playhead.get_untracked().is_some() && !self.paused.get_untracked()
    }

    /// Holds the clip where it is; [`resume`](Self::resume) goes on from there.
    pub fn pause(self) {
        if self.playing() {
            self.halt();
            self.paused.set(true);
        }
    }

    pub fn resume(self) {
        if self.paused.get_untracked() {
            if let Some(t) = self.playhead.get_untracked() {
                self.begin(t);
            }
        }
    }

    /// Moves to `t` seconds into the clip: playing goes on from there, paused stays paused there.
    pub fn seek(self, t: f64) {
        let end = CLIP.with(|c| c.borrow().as_ref().map(|l| l.notes.iter().map(|n| n.start_s + n.duration_s).fold(0.0, f64::max)));
        let Some(end) = end else { return };
        let t = t.clamp(0.0, end);
        if self.paused.get_untracked() {
            self.playhead.set(Some(t));
        } else if self.playing() {
            self.begin(t);
        }
    }

    /// Whether `notes` is the clip the player holds (playing, paused or rendered).
    pub fn holds(self, notes: &Arc<Vec<Note>>) -> bool {
        CLIP.with(|c| c.borrow().as_ref().is_some_and(|l| Arc::ptr_eq(&l.notes, notes)))
    }

    pub fn stop(self) {
        self.halt();
        self.preparing.set(false);
        self.paused.set(false);
        self.playhead.set(None);
    }
}

/// Whether the rendering answering now (the oldest one asked for) is the clip held's: the only
/// one in flight, and not one an opening took over from.
fn is_current() -> bool {
    RENDERS.with(Cell::get) == 1 && STALE.with(Cell::get) == 0
}

/// Counts a rendering's last answer; true when it was the clip held's.
fn answered() -> bool {
    let current = is_current();
    RENDERS.with(|r| r.set(r.get().saturating_sub(1)));
    STALE.with(|s| s.set(s.get().saturating_sub(1)));
    current
}
