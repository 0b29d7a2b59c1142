//! The SoundFont renderer: notes sound where they should, drums use the percussion bank.

use cantor::midi::Note;
use cantor::synth::Renderer;

fn soundfont() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/static/soundfont/TimGM6mb.sf2")).expect("the shipped SoundFont")
}

fn note(pitch: u8, start_s: f64, duration_s: f64, drum: bool, program: u8) -> Note {
    Note { pitch, velocity: 100, start: start_s * 2.0, duration: duration_s * 2.0, start_s, duration_s, channel: if drum { 9 } else { 0 }, program, drum, track: 0 }
}

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&s| (s as f64) * (s as f64)).sum::<f64>() / x.len().max(1) as f64
}

#[test]
fn notes_sound_where_they_are_and_silence_elsewhere() {
    let r = Renderer::new(&soundfont(), 22_050).unwrap();
    let pcm = r.render(&[note(60, 0.5, 0.5, false, 0)], 1.0).unwrap();
    let sr = 22_050.0;
    assert_eq!(pcm.left.len(), ((1.0 + 1.0) * sr) as usize, "clip plus one second of release");
    let before = energy(&pcm.left[..(0.45 * sr) as usize]);
    let during = energy(&pcm.left[(0.55 * sr) as usize..(0.95 * sr) as usize]);
    assert_eq!(before, 0.0);
    assert!(during > 1e-5, "a piano C4 is audible: {during}");
    // Twice as fast: the note starts at 0.25 s.
    let fast = r.render(&[note(60, 0.5, 0.5, false, 0)], 2.0).unwrap();
    assert!(energy(&fast.left[(0.3 * sr) as usize..(0.45 * sr) as usize]) > 1e-5);
}

#[test]
fn drums_and_programs_change_the_sound() {
    let r = Renderer::new(&soundfont(), 22_050).unwrap();
    let piano = r.render(&[note(38, 0.0, 0.3, false, 0)], 1.0).unwrap();
    let snare = r.render(&[note(38, 0.0, 0.3, true, 0)], 1.0).unwrap();
    let organ = r.render(&[note(38, 0.0, 0.3, false, 19)], 1.0).unwrap();
    assert!(energy(&snare.left) > 0.0 && energy(&organ.left) > 0.0);
    assert_ne!(piano.left, snare.left, "channel 10 plays the drum kit");
    assert_ne!(piano.left, organ.left, "program 19 is another instrument");
}

#[test]
fn a_damaged_soundfont_is_an_error() {
    assert!(Renderer::new(b"RIFF\0\0\0\0sfbk", 44_100).is_err());
}

#[test]
fn wav_export_is_the_rendered_audio_with_progress() {
    let r = Renderer::new(&soundfont(), 22_050).unwrap();
    let notes: Vec<Note> = (0..8).map(|i| note(60 + i, i as f64 * 0.5, 0.5, false, 0)).collect();
    let mut seen = Vec::new();
    let pcm = r.render_with_progress(&notes, 1.0, |p| seen.push(p)).unwrap();
    assert_eq!(pcm.left, r.render(&notes, 1.0).unwrap().left, "progress reporting does not change the sound");
    assert!(seen.len() >= 4 && seen.windows(2).all(|w| w[0] < w[1]) && *seen.last().unwrap() <= 1.0, "{seen:?}");
    let wav = pcm.to_wav();
    let mut reader = hound::WavReader::new(std::io::Cursor::new(&wav)).unwrap();
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (2, 22_050, 16));
    let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    assert_eq!(samples.len(), pcm.left.len() * 2);
    // Interleaved left/right, scaled to 16 bits.
    let k = pcm.left.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).unwrap().0;
    assert_eq!(samples[2 * k], (pcm.left[k].clamp(-1.0, 1.0) * 32767.0) as i16);
    assert!(samples.iter().any(|&s| s.abs() > 1000), "the WAV holds audible sound");
}
