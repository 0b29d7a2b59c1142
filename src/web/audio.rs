//! Sound through the Web Audio API, for the [`Player`](super::ui::player::Player). The worker
//! renders the notes with the General MIDI SoundFont in parts, the opening first; [`keep_part`]
//! turns each into a buffer, [`play_buffer`] plays the parts end to end from any offset, and a
//! part that arrives while they play is scheduled in its place, so the sound starts before the
//! whole clip is rendered; [`play`] is the fallback (an oscillator per note,
//! velocity-scaled envelope) if the SoundFont cannot be used. The AudioContext is created or
//! resumed by [`unlock`] on the press of Play (browsers only allow sound after a user gesture).

use crate::midi::Note;
use std::cell::RefCell;
use wasm_bindgen::JsValue;
use web_sys::{AudioContext, OscillatorType};

thread_local! {
    static CONTEXT: RefCell<Option<AudioContext>> = const { RefCell::new(None) };
    static VOICES: RefCell<Vec<web_sys::AudioScheduledSourceNode>> = const { RefCell::new(Vec::new()) };
    /// The last rendering's parts (seconds into the clip they start at, audio), kept so pause,
    /// resume and seek do not render again.
    static PARTS: RefCell<Vec<(f64, web_sys::AudioBuffer)>> = const { RefCell::new(Vec::new()) };
    /// While the parts play: the audio clock time at which the clip's second 0 sounds (or would
    /// have sounded), and the offset they play from.
    static PLAYING: std::cell::Cell<Option<(f64, f64)>> = const { std::cell::Cell::new(None) };
}

/// Creates or resumes the AudioContext; call from the click handler itself.
pub fn unlock() -> Result<(), JsValue> {
    let _ = context()?.resume()?;
    Ok(())
}

/// Where the browser blocks sound until a gesture (autoplay policy), the first tap, click or key
/// anywhere on the page starts the audio that is already scheduled.
pub fn resume_on_first_gesture() {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    let resume = Closure::<dyn FnMut()>::new(|| {
        let _ = unlock();
    });
    let options = web_sys::AddEventListenerOptions::new();
    options.set_once(true);
    for event in ["pointerdown", "keydown"] {
        let _ = doc.add_event_listener_with_callback_and_add_event_listener_options(event, resume.as_ref().unchecked_ref(), &options);
    }
    resume.forget();
}

/// Keeps one part of a rendering (see `FromWorker::Rendered`: f32 samples, left then right,
/// starting `at` frames into the clip); the part at frame 0 starts a new rendering. If the parts
/// are playing, this one is scheduled in its place (what is already past is skipped, so the sound
/// keeps time with the playhead).
pub fn keep_part(pcm: &[u8], sample_rate: u32, at: u64) -> Result<(), JsValue> {
    let ctx = context()?;
    let samples: Vec<f32> = pcm.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let frames = samples.len() / 2;
    if at == 0 {
        PARTS.with(|p| p.borrow_mut().clear());
    }
    if frames == 0 {
        return Err("nothing to play".into());
    }
    let buffer = ctx.create_buffer(2, frames as u32, sample_rate as f32)?;
    buffer.copy_to_channel(&samples[..frames], 0)?;
    buffer.copy_to_channel(&samples[frames..2 * frames], 1)?;
    let start = at as f64 / sample_rate as f64;
    PARTS.with(|p| p.borrow_mut().push((start, buffer.clone())));
    if let Some((zero, from)) = PLAYING.with(|p| p.get()) {
        schedule(&ctx, &buffer, start, zero, from)?;
    }
    Ok(())
}

/// Plays the kept parts from `offset` seconds into the clip (parts still to come join in as they
/// arrive); returns the audio clock time it starts at.
pub fn play_buffer(offset: f64) -> Result<f64, JsValue> {
    stop();
    let ctx = context()?;
    let parts = PARTS.with(|p| p.borrow().clone());
    if parts.is_empty() {
        return Err(JsValue::from_str("nothing rendered to play"));
    }
    let start = ctx.current_time() + 0.05;
    let zero = start - offset;
    PLAYING.with(|p| p.set(Some((zero, offset))));
    for (at, buffer) in &parts {
        schedule(&ctx, buffer, *at, zero, offset)?;
    }
    Ok(start)
}

/// Plays the part starting `at` seconds into the clip where it belongs when second 0 sounds at
/// audio time `zero`, leaving out what lies before `from` or is already past.
fn schedule(ctx: &AudioContext, buffer: &web_sys::AudioBuffer, at: f64, zero: f64, from: f64) -> Result<(), JsValue> {
    let skip = (from - at).max(ctx.current_time() - (zero + at)).max(0.0);
    if skip >= buffer.duration() {
        return Ok(());
    }
    let source = ctx.create_buffer_source()?;
    source.set_buffer(Some(buffer));
    source.connect_with_audio_node(&ctx.destination())?;
    source.start_with_when_and_grain_offset(zero + at + skip, skip)?;
    VOICES.with(|v| v.borrow_mut().push(source.into()));
    Ok(())
}

/// The sample rate the worker renders at and the AudioContext runs at.
pub const RENDER_RATE: u32 = 44_100;

fn context() -> Result<AudioContext, JsValue> {
    CONTEXT.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            // At the worker's sample rate, the parts of a rendering join without resampling at
            // their seams; a browser that cannot run at that rate gets its own.
            let options = web_sys::AudioContextOptions::new();
            options.set_sample_rate(RENDER_RATE as f32);
            *c = Some(AudioContext::new_with_context_options(&options).or_else(|_| AudioContext::new())?);
        }
        Ok(c.clone().expect("just set"))
    })
}

fn frequency(pitch: u8) -> f32 {
    440.0 * 2f32.powf((pitch as f32 - 69.0) / 12.0)
}

/// Schedules the notes from `from` seconds into the clip (a note already sounding there plays
/// its rest), `speed` × their tempo. Returns the audio clock time at which `from` sounds.
pub fn play(notes: &[Note], speed: f64, from: f64) -> Result<f64, JsValue> {
    stop();
    let ctx = context()?;
    let _ = ctx.resume();
    let start = ctx.current_time() + 0.1;
    let mut voices = Vec::with_capacity(notes.len());
    for n in notes.iter().filter(|n| n.start_s + n.duration_s > from) {
        let onset = n.start_s.max(from);
        let t0 = start + (onset - from) / speed;
        let len = ((n.start_s + n.duration_s - onset) / speed).max(0.03);
        let osc = ctx.create_oscillator()?;
        let gain = ctx.create_gain()?;
        let peak = 0.25 * (n.velocity as f32 / 127.0);
        let g = gain.gain();
        g.set_value_at_time(0.0, t0)?;
        if n.drum {
            osc.set_type(OscillatorType::Square);
            osc.frequency().set_value_at_time(frequency(n.pitch.saturating_sub(24)), t0)?;
            g.linear_ramp_to_value_at_time(peak, t0 + 0.005)?;
            g.exponential_ramp_to_value_at_time(0.0001, t0 + 0.12)?;
        } else {
            osc.set_type(OscillatorType::Triangle);
            osc.frequency().set_value_at_time(frequency(n.pitch), t0)?;
            g.linear_ramp_to_value_at_time(peak, t0 + 0.01)?;
            g.exponential_ramp_to_value_at_time(peak * 0.6, t0 + 0.01 + (len * 0.5).min(0.3))?;
            g.set_value_at_time(peak * 0.6, t0 + len)?;
            g.exponential_ramp_to_value_at_time(0.0001, t0 + len + 0.08)?;
        }
        osc.connect_with_audio_node(&gain)?;
        gain.connect_with_audio_node(&ctx.destination())?;
        osc.start_with_when(t0)?;
        osc.stop_with_when(t0 + len + 0.1)?;
        voices.push(osc.into());
    }
    VOICES.with(|v| *v.borrow_mut() = voices);
    Ok(start)
}

/// The audio clock, seconds (for the playhead).
pub fn now() -> f64 {
    CONTEXT.with(|c| c.borrow().as_ref().map_or(0.0, |c| c.current_time()))
}

pub fn stop() {
    PLAYING.with(|p| p.set(None));
    VOICES.with(|v| {
        for osc in v.borrow_mut().drain(..) {
            let _ = osc.stop();
        }
    });
}
