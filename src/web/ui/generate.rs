//! Generation and listening: primer, length (beats, or bars on a slider), temperature, top-p,
//! seed, key lock; the piano roll (click to seek) with a playhead; play/pause/stop with a tempo
//! control ([`Player`](super::player::Player)); download as .mid.

use super::fields::{self, Problems};
use super::piano_roll::PianoRoll;
use super::similarity::SelfSimilarity;
use super::share::ShareControls;
use super::{AppState, Request};
use crate::encoding::corpus::NoteFilter;
use crate::encoding::{Conditioning, Instrument, MusicVocab};
use crate::generate::{Form, GenerateConfig, Returns, SamplingParams, Scale};
use crate::midi::{write_song, Song, TempoMap};
use crate::protocol::ToWorker;
use crate::settings;
use crate::share::Recipe;
use crate::web::files;
use leptos::prelude::*;

/// The primer is the first two bars of the chosen file.
const PRIMER_BARS: f64 = 2.0;

/// Beats in the first bar of a song (4 when it names no meter).
fn bar_beats(song: &Song) -> f64 {
    song.time_signatures.first().map_or(4.0, |t| t.numerator as f64 * 4.0 / t.denominator.max(1) as f64)
}

/// The temperature in words, for the slider.
fn adventure_words(t: f32) -> &'static str {
    match t {
        t if t < 0.6 => "very safe: the model's most likely choices",
        t if t < 0.9 => "safe",
        t if t <= 1.1 => "as the model learned it",
        t if t <= 1.4 => "adventurous",
        _ => "very adventurous: surprising, sometimes wrong",
    }
}

/// Any seed a link can carry.
const SEED: settings::Whole = settings::Whole { label: "the seed", min: 0, max: u64::MAX, default: 1 };

const KEYS: [&str; 12] = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];

#[component]
pub fn Generate() -> impl IntoView {
    let state = expect_context::<AppState>();
    let primer = RwSignal::new(None::<usize>);
    let beats = RwSignal::new(64.0f64);
    let temperature = RwSignal::new(1.0f32);
    let top_p = RwSignal::new(0.95f32);
    let seed = RwSignal::new(1u64);
    let key = RwSignal::new(String::from("none"));
    let bpm = RwSignal::new(120.0f64);
    let speed = RwSignal::new(1.0f64);
    // The form: "" lets the model decide; a row of letters (AABA) asks for sections.
    let form = RwSignal::new(String::new());
    let section_bars = RwSignal::new(4u64);
    let varied = RwSignal::new(false);
    // Steering: a style tag the model learned ("" = any) and the instruments to play (none
    // ticked = the model chooses).
    let style = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<Instrument>::new());
    // A new model brings its own styles, instruments and tempo.
    Effect::new(move |_| {
        let vocab = state.models.vocab.get();
        style.set(String::new());
        chosen.set(Vec::new());
        bpm.set(vocab.map_or(120.0, |v| v.bpm().round()));
    });
    let bars_vocab = move || match state.models.vocab.get() {
        Some(MusicVocab::Bars(v)) => Some(v),
        _ => None,
    };

    let problems = Problems::new();
    let generate = move || {
        if let Some(problem) = problems.first() {
            return state.error.set(Some(format!("Nothing was generated: {problem}")));
        }
        let primer_file = primer.get_untracked().and_then(|id| {
            let files = state.corpus.files.get_untracked();
            let f = files.iter().find(|f| f.id == id)?;
            Some((f.name.clone(), f.song.clone().ok()?))
        });
        let primer_label = primer_file.as_ref().map_or(String::new(), |(name, _)| format!("first 2 bars of {name}"));
        let steer = Conditioning {
            style: Some(style.get_untracked()).filter(|s| !s.is_empty()),
            instruments: Some(chosen.get_untracked()).filter(|c| !c.is_empty()),
        };
        let scale = key.get_untracked().split_once(':').and_then(|(root, mode)| {
            Some(Scale { root: KEYS.iter().position(|k| *k == root)? as u8, minor: mode == "minor" })
        });
        let mut config = GenerateConfig {
            sampling: SamplingParams { temperature: temperature.get_untracked(), top_k: 0, top_p: top_p.get_untracked(), seed: seed.get_untracked(), scale },
            max_tokens: 20_000,
            max_beats: Some(beats.get_untracked()),
            program: 0,
            bpm: bpm.get_untracked(),
        };
        if let Err(e) = config.validate() {
            return state.error.set(Some(format!("Nothing was generated: {e}")));
        }
        let letters = form.get_untracked().trim().to_string();
        let form = if letters.is_empty() {
            None
        } else {
            let returns = if varied.get_untracked() { Returns::Varied } else { Returns::Exact };
            match Form::new(&letters, section_bars.get_untracked() as usize, returns) {
                Ok(f) => Some(f),
                Err(e) => return state.error.set(Some(format!("Nothing was generated: {e}"))),
            }
        };
        state.clips.preparing();
        leptos::task::spawn_local(async move {
            // A first visit has no model: the starter model is fetched on this first Generate
            // (and its tempo used).
            if state.models.file.get_untracked().is_none() {
                if let Err(e) = super::models::use_starter(state).await {
                    state.clips.on_failed();
                    return state.error.set(Some(e));
                }
                config.bpm = super::corpus::current_vocab(state).bpm().round();
            }
            // Tokens in the vocabulary of the model that will continue them.
            let vocab = super::corpus::current_vocab(state);
            let primer = match primer_file {
                Some((_, song)) => vocab.primer(&NoteFilter::default().select(&song), &song.time_signatures, PRIMER_BARS * bar_beats(&song)),
                None => vocab.prompt(&steer),
            };
            let model = state.models.id.get_untracked().unwrap_or_default();
            let request = Request { recipe: Recipe { model, config: config.clone(), primer: primer.clone(), primer_label, form: form.clone() }, expect: None };
            // The first screen's clip starts to sound from its first bars while the rest is written.
            let opening = state.clips.hearing() && form.is_none();
            state.clips.ask(request, ToWorker::Generate { model: state.models.loaded(), primer, config, opening, form });
        });
    };

    // The first screen's "hear it" button asks for a clip through `generate_now`.
    Effect::new(move |first: Option<()>| {
        state.clips.generate_now.track();
        if first.is_some() {
            generate();
        }
    });

    let player = state.player;
    let play = move |_| {
        if let Some((_, notes)) = state.roll.get_untracked() {
            player.start(notes, speed.get_untracked());
        }
    };
    let pause = move |_| if player.paused.get_untracked() { player.resume() } else { player.pause() };
    // A click on the roll: playing or paused, the player moves there; stopped, it plays from there.
    let seek = move |t: f64| {
        let Some((_, notes)) = state.roll.get_untracked() else { return };
        if player.holds(&notes) && player.playhead.get_untracked().is_some() {
            player.seek(t);
        } else {
            player.start_at(notes, speed.get_untracked(), t);
        }
    };
    // Length in bars of the model's meter, for the slider (the beats field takes any length).
    let bar = move || state.models.vocab.get().map_or(4.0, |v| v.bar_beats());
    let wav = move |_| {
        state.clips.export_wav();
    };
    let stop = move |_| player.stop();
    let download = move |_| {
        let Some(clip) = state.clips.clip.get_untracked() else { return };
        let mut song = Song::new(clip.notes.to_vec());
        song.tempo = TempoMap::constant(clip.bpm);
        song.time_signatures = clip.meters.to_vec();
        song.retime();
        let name = clip.seed().map_or("cantor.mid".into(), |s| format!("cantor-seed{s}.mid"));
        if let Err(e) = files::download(&write_song(&song), &name, "audio/midi") {
            state.error.set(Some(e));
        }
    };

    let readable = move || -> Vec<_> { state.corpus.files.get().into_iter().filter(|f| f.song.is_ok()).collect() };

    view! {
        <section class="card" id="listen">
            <h2>"3. Generate and listen"</h2>
            <div class="fields">
                <label class="field">"primer"
                    <select data-testid="primer" on:change=move |ev| primer.set(event_target_value(&ev).parse().ok())>
                        <option value="none">"none"</option>
                        <For each=readable key=|f| f.id let:f>
                            <option value=f.id.to_string()>{format!("first 2 bars of {}", f.name)}</option>
                        </For>
                    </select>
                </label>
                // One control per setting: the length in beats, or in bars on its slider.
                {fields::real_with("length (beats)", "gen-beats", settings::BEATS, "1", beats, problems, view! {
                    <span class="ends slider">
                        <input type="range" data-testid="gen-bars" min="1" max="64" step="1" aria-label="length in bars"
                            aria-valuetext=move || format!("{} bars", (beats.get() / bar()).round())
                            prop:value=move || (beats.get() / bar()).round().to_string()
                            on:input=move |ev| { if let Ok(v) = event_target_value(&ev).parse::<f64>() { beats.set(v * bar()) } }/>
                    </span>
                    <span class="detail" data-testid="gen-bars-words">{move || {
                        let bars = beats.get() / bar();
                        let seconds = beats.get() * 60.0 / bpm.get().max(1.0);
                        format!("{bars:.0} bars, about {seconds:.0} s at {:.0} bpm", bpm.get())
                    }}</span>
                })}
                <label class="field">"form (empty: the model decides)"
                    <input type="text" data-testid="gen-form" list="forms" placeholder="free" maxlength="16" autocomplete="off"
                        prop:value=move || form.get() on:change=move |ev| form.set(event_target_value(&ev).trim().to_string())/>
                    <datalist id="forms">
                        {["AABA", "ABAB", "AAB", "ABACA", "AABB"].map(|f| view! { <option value=f></option> }).collect_view()}
                    </datalist>
                </label>
                <Show when=move || !form.get().is_empty()>
                    {fields::whole("bars per section", "gen-section-bars", settings::SECTION_BARS, section_bars, problems)}
                    <label class="field">"a section that comes back"
                        <select data-testid="gen-returns" on:change=move |ev| varied.set(event_target_value(&ev) == "varied")>
                            <option value="exact">"exactly"</option>
                            <option value="varied">"varied (same rhythm, some notes moved)"</option>
                        </select>
                    </label>
                    <span class="detail" data-testid="gen-form-words">{move || {
                        let sections = form.get().chars().count() as u64;
                        format!("{sections} sections × {} bars = {} bars (the length above is not used)", section_bars.get(), sections * section_bars.get())
                    }}</span>
                </Show>
                // The temperature's musical range on a slider beside the number, which takes any value in bounds.
                {fields::real_with("temperature", "gen-temperature", settings::TEMPERATURE, "0.05", temperature, problems, view! {
                    <span class="ends slider">
                        "safe"
                        <input type="range" data-testid="gen-temperature-slider" min="0.3" max="1.6" step="0.05" aria-label="how adventurous"
                            aria-valuetext=move || adventure_words(temperature.get())
                            prop:value=move || temperature.get().to_string()
                            on:input=move |ev| { if let Ok(v) = event_target_value(&ev).parse() { temperature.set(v) } }/>
                        "adventurous"
                    </span>
                    <span class="detail" data-testid="gen-temperature-words">{move || adventure_words(temperature.get())}</span>
                })}
                {fields::real("top-p", "gen-top-p", settings::TOP_P, "0.01", top_p, problems)}
                <div class="field-row">
                    {fields::whole("seed", "gen-seed", SEED, seed, problems)}
                    <button on:click=move |_| seed.set((js_sys::Math::random() * 1e9) as u64)>"new seed"</button>
                </div>
                <label class="field">"key lock"
                    <select data-testid="gen-key" on:change=move |ev| key.set(event_target_value(&ev))>
                        <option value="none">"none"</option>
                        {KEYS.iter().flat_map(|k| [format!("{k}:major"), format!("{k}:minor")]).map(|v| {
                            let label = v.replace(':', " ");
                            view! { <option value=v>{label}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <Show when=move || bars_vocab().is_some_and(|v| !v.styles.is_empty())>
                    <label class="field">"style"
                        <select data-testid="gen-style" on:change=move |ev| {
                            let s = event_target_value(&ev);
                            if let Some(v) = bars_vocab() { bpm.set(v.bpm_for(Some(s.as_str()).filter(|s| !s.is_empty())).round()) }
                            style.set(s);
                        }>
                            <option value="">"any"</option>
                            {move || bars_vocab().map(|v| v.styles.into_iter().map(|s| view! { <option value=s.clone()>{s.clone()}</option> }).collect_view())}
                        </select>
                    </label>
                </Show>
                <Show when=move || bars_vocab().is_some_and(|v| v.instruments.len() > 1)>
                    <fieldset class="field instruments" data-testid="gen-instruments">
                        <legend>"instruments (none ticked: the model chooses)"</legend>
                        {move || bars_vocab().map(|v| v.instruments.into_iter().map(|i| {
                            let label = i.name();
                            view! {
                                <label><input type="checkbox" data-testid="gen-instrument" value=label
                                    prop:checked=move || chosen.get().contains(&i)
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        chosen.update(|c| { c.retain(|x| *x != i); if on { c.push(i) } });
                                    }/>{format!(" {label}")}</label>
                            }
                        }).collect_view())}
                    </fieldset>
                </Show>
                {fields::real("tempo (bpm)", "gen-bpm", settings::BPM, "1", bpm, problems)}
            </div>
            <div class="buttons">
                <button class="primary" data-testid="generate" on:click=move |_| generate() disabled=move || state.clips.generating.get().is_some()
                    title="with no model of your own yet, the starter model writes the music">"Generate"</button>
                <span data-testid="gen-status">{move || match (state.clips.generating.get(), state.clips.clip.get()) {
                    (Some(n), _) => format!("Generating… {n} tokens"),
                    (None, Some(c)) if c.origin == super::ClipOrigin::Link => format!("Showing a shared clip: {} notes.", c.notes.len()),
                    (None, Some(c)) => format!("Generated {} notes ({} tokens) in {:.0} ms with seed {}.", c.notes.len(), c.tokens, c.millis, c.seed().unwrap_or_default()),
                    (None, None) if state.models.file.get().is_none() => "No model yet: Generate uses the starter model (public-domain ragtime and piano), or train your own.".into(),
                    (None, None) => "Ready to generate.".into(),
                }}</span>
            </div>
            <div class="structure">
                <PianoRoll playhead=player.playhead on_seek=Callback::new(seek)/>
                <SelfSimilarity/>
            </div>
            <div class="buttons">
                <button class="primary" data-testid="play" data-scheduled=move || player.scheduled.get() data-sound=move || player.sound.get()
                    data-sounded=move || player.sounded.get() data-parts=move || player.parts.get() data-parts-at-start=move || player.parts_at_start.get()
                    disabled=move || state.roll.get().is_none() || player.preparing.get() on:click=play>
                    {move || if player.preparing.get() { "Preparing sound…" } else { "Play" }}
                </button>
                <button data-testid="pause" disabled=move || player.playhead.get().is_none() on:click=pause>
                    {move || if player.paused.get() { "Resume" } else { "Pause" }}
                </button>
                <button data-testid="stop" on:click=stop>"Stop"</button>
                <label class="field">"speed"
                    <input type="range" min="0.5" max="2" step="0.05" prop:value=move || speed.get().to_string()
                        on:input=move |ev| if let Ok(v) = event_target_value(&ev).parse() { speed.set(v) }/>
                    {move || format!("{:.2}×", speed.get())}
                </label>
                <button data-testid="download-mid" disabled=move || state.clips.clip.get().is_none() on:click=download>"Download .mid"</button>
                <button data-testid="download-wav" disabled=move || state.clips.clip.get().is_none() || state.clips.wav_progress.get().is_some() on:click=wav>"Download .wav"</button>
                <Show when=move || state.clips.wav_progress.get().is_some()>
                    <progress data-testid="wav-progress" max="1" value=move || state.clips.wav_progress.get().unwrap_or(0.0)></progress>
                </Show>
            </div>
            <ShareControls/>
        </section>
    }
}
