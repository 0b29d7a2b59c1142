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

#[test]
fn parts_laid_end_to_end_are_the_whole_rendering() {
    let r = Renderer::new(&soundfont(), 22_050).unwrap();
    // Notes across the part boundaries, one held over two of them, drums and a program change.
    let mut notes: Vec<Note> = (0..10).map(|i| note(60 + i, i as f64 * 0.37, 0.5, false, 0)).collect();
    notes.push(note(48, 0.2, 3.1, false, 19));
    notes.push(note(38, 1.0, 0.2, true, 0));
    let whole = r.render(&notes, 1.25).unwrap();
    let mut parts = Vec::new();
    r.render_parts(&notes, 1.25, 11_025, 28_665, |p| {
        parts.push(p);
        true
    })
    .unwrap();
    assert_eq!(parts[0].left.len(), 11_025, "the opening comes first, on its own");
    assert!(parts.len() >= 3 && parts.iter().skip(1).rev().skip(1).all(|p| p.left.len() == 28_665));
    assert!(parts.last().unwrap().last && parts.iter().filter(|p| p.last).count() == 1);
    let mut at = 0;
    for p in &parts {
        assert_eq!((p.at, p.total), (at, whole.left.len()));
        at += p.left.len();
    }
    let left: Vec<f32> = parts.iter().flat_map(|p| p.left.iter().copied()).collect();
    let right: Vec<f32> = parts.iter().flat_map(|p| p.right.iter().copied()).collect();
    assert!(left == whole.left && right == whole.right, "the same samples as one rendering");
    assert!(energy(&parts[1].left) > 1e-6, "the parts after the opening hold sound too");
    // Stopped after the opening: nothing more is rendered.
    let mut count = 0;
    r.render_parts(&notes, 1.25, 11_025, 28_665, |_| {
        count += 1;
        false
    })
    .unwrap();
    assert_eq!(count, 1);
}

#[test]
fn the_piano_bank_is_the_soundfonts_piano_exactly() {
    let piano = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/static/soundfont/piano.sf2")).expect("the shipped piano bank");
    assert!(piano.len() < 300_000, "a small first download: {} bytes", piano.len());
    let small = Renderer::new(&piano, 22_050).unwrap();
    let whole = Renderer::new(&soundfont(), 22_050).unwrap();
    // Over the keyboard, at several velocities and on both pianos (programs 0 and 3, the starter
    // model's), the same samples as the whole font.
    let mut notes: Vec<Note> = (0..44).map(|i| Note { velocity: 30 + (i as u8 * 7) % 97, ..note(21 + 2 * i as u8, i as f64 * 0.15, 0.6, false, 0) }).collect();
    notes.extend((0..20).map(|i| Note { channel: 1, ..note(40 + 2 * i as u8, 7.0 + i as f64 * 0.2, 0.5, false, 3) }));
    let a = small.render(&notes, 1.0).unwrap();
    let b = whole.render(&notes, 1.0).unwrap();
    assert!(energy(&a.left) > 1e-5);
    assert!(a.left == b.left && a.right == b.right, "the piano bank sounds exactly as the whole font's piano");
}
