//! Writing notes to a type-1 file and reading them back; hand-made byte-level cases (RIFF, SMPTE,
//! running status, velocity-0 note-offs, overlapping notes, tempo maps).

mod common;
use cantor::midi::{read_song, write_song, KeySignature, MidiError, Note, Song, TempoMap, TimeSignature, Warning};

fn note(pitch: u8, start: f64, duration: f64, velocity: u8, channel: u8, program: u8, drum: bool) -> Note {
    Note { pitch, velocity, start, duration, start_s: 0.0, duration_s: 0.0, channel, program, drum, track: 0 }
}

/// Comparable view of a note: beats on a 1/480 grid, channel, program, drum flag.
fn key(n: &Note) -> (i64, i64, u8, u8, u8, u8, bool) {
    ((n.start * 480.0).round() as i64, (n.duration * 480.0).round() as i64, n.pitch, n.velocity, n.channel, n.program, n.drum)
}

#[test]
fn written_file_reimports_to_the_same_notes() {
    let mut song = Song::new(vec![
        note(60, 0.0, 1.0, 100, 0, 0, false),
        note(64, 0.5, 1.5, 80, 0, 0, false),
        // Overlaps the previous E of the same pitch (ends after it: nested same-pitch notes are
        // ambiguous in MIDI itself, and readers pair the first on with the first off).
        note(64, 1.0, 1.75, 70, 0, 0, false),
        note(43, 2.0, 2.0 / 3.0, 64, 1, 33, false),
        note(36, 0.0, 0.25, 120, 9, 0, true),
        note(42, 0.5, 0.25, 90, 9, 0, true),
        note(72, 3.0, 1.0, 50, 0, 40, false), // program change mid-track
    ]);
    song.tempo = TempoMap::from_changes(vec![(0.0, 500_000), (2.0, 750_000)]);
    song.time_signatures = vec![TimeSignature { beat: 0.0, numerator: 3, denominator: 4 }];
    song.key_signatures = vec![KeySignature { beat: 0.0, sharps: -2, minor: true }];
    song.retime();

    let bytes = write_song(&song);
    let back = read_song(&bytes).expect("our own file reads back");
    assert!(back.warnings.is_empty(), "{:?}", back.warnings);
    assert_eq!(back.format, 1);
    let mut a: Vec<_> = song.notes.iter().map(key).collect();
    let mut b: Vec<_> = back.notes.iter().map(key).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert_eq!(back.tempo, song.tempo);
    assert_eq!(back.time_signatures, song.time_signatures);
    assert_eq!(back.key_signatures, song.key_signatures);
    for (x, y) in song.notes.iter().zip(&back.notes) {
        assert!((x.start_s - y.start_s).abs() < 1e-9 && (x.duration_s - y.duration_s).abs() < 1e-9);
    }
    // After the tempo change at beat 2 a beat lasts 0.75 s.
    let late = back.notes.iter().find(|n| n.pitch == 72).unwrap();
    assert!((late.start_s - (1.0 + 0.75)).abs() < 1e-9, "{}", late.start_s);
}

/// A tiny type-0 file with one track of raw event bytes, 96 ticks per beat.
fn smf(division: [u8; 2], track: &[u8]) -> Vec<u8> {
    let mut b = b"MThd\0\0\0\x06\0\0\0\x01".to_vec();
    b.extend_from_slice(&division);
    b.extend_from_slice(b"MTrk");
    b.extend_from_slice(&(track.len() as u32).to_be_bytes());
    b.extend_from_slice(track);
    b
}

#[test]
fn running_status_velocity_zero_and_overlaps() {
    // on C4, (running status) on C4 again, vel-0 off, vel-0 off, end of track
    let track = [0x00, 0x90, 60, 100, 0x30, 60, 90, 0x30, 60, 0, 0x30, 60, 0, 0x00, 0xFF, 0x2F, 0x00];
    let song = read_song(&smf([0, 96], &track)).unwrap();
    assert!(song.warnings.is_empty(), "{:?}", song.warnings);
    let spans: Vec<(f64, f64, u8)> = song.notes.iter().map(|n| (n.start, n.end(), n.velocity)).collect();
    // First on pairs with first off (FIFO): [0, 1) at 100 and [0.5, 1.5) at 90.
    assert_eq!(spans, vec![(0.0, 1.0, 100), (0.5, 1.5, 90)]);
}

#[test]
fn notes_left_sounding_are_closed_with_a_warning() {
    let track = [0x00, 0x90, 60, 100, 0x60, 0xFF, 0x2F, 0x00];
    let song = read_song(&smf([0, 96], &track)).unwrap();
    assert_eq!(song.notes.len(), 1);
    assert_eq!(song.notes[0].duration, 1.0);
    assert!(song.warnings.contains(&Warning::UnterminatedNotes { track: 1, count: 1 }));
}

#[test]
fn smpte_division_gives_seconds_from_frames() {
    // 25 fps × 40 subframes = 1000 ticks per second; a note of 500 ticks lasts half a second.
    let track = [0x00, 0x90, 60, 100, 0x83, 0x74, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00];
    let song = read_song(&smf([(-25i8) as u8, 40], &track)).unwrap();
    assert!((song.notes[0].duration_s - 0.5).abs() < 1e-9, "{:?}", song.notes[0]);
    assert!(song.warnings.iter().any(|w| matches!(w, Warning::SmpteTiming { fps: 25, subframes: 40 })));
}

#[test]
fn riff_rmid_wrapper_is_unwrapped() {
    let inner = common::jazz_soft("test-c-major-scale.mid");
    let mut riff = b"RIFF".to_vec();
    riff.extend_from_slice(&((inner.len() + 12) as u32).to_le_bytes());
    riff.extend_from_slice(b"RMIDdata");
    riff.extend_from_slice(&(inner.len() as u32).to_le_bytes());
    riff.extend_from_slice(&inner);
    assert_eq!(read_song(&riff).unwrap().notes, read_song(&inner).unwrap().notes);
    assert_eq!(read_song(b"RIFF\0\0\0\0WAVEfmt ").unwrap_err(), MidiError::RiffWithoutMidi);
}

#[test]
fn broken_headers_are_typed_errors() {
    assert_eq!(read_song(b"MThd\0\0").unwrap_err(), MidiError::TruncatedHeader);
    assert_eq!(read_song(b"MThd\0\0\0\x06\0\x07\0\x01\0\x60").unwrap_err(), MidiError::UnknownFormat(7));
    assert_eq!(read_song(b"MThd\0\0\0\x06\0\0\0\x01\0\0").unwrap_err(), MidiError::BadTiming);
    assert_eq!(read_song(b"hello").unwrap_err(), MidiError::NotMidi);
}

#[test]
fn tempo_map_gives_seconds() {
    // Tempo 1 s per beat, then after one beat 0.25 s per beat.
    let track = [
        0x00, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40, // 1_000_000 µs
        0x00, 0x90, 60, 100, 0x60, 0x80, 60, 0, // beat 0–1
        0x00, 0xFF, 0x51, 0x03, 0x03, 0xD0, 0x90, // 250_000 µs at beat 1
        0x00, 0x90, 62, 100, 0x60, 0x80, 62, 0, // beat 1–2
        0x00, 0xFF, 0x2F, 0x00,
    ];
    let song = read_song(&smf([0, 96], &track)).unwrap();
    let s: Vec<(f64, f64)> = song.notes.iter().map(|n| (n.start_s, n.duration_s)).collect();
    assert_eq!(s, vec![(0.0, 1.0), (1.0, 0.25)]);
}

#[test]
fn the_sustain_pedal_holds_released_notes_until_it_comes_up() {
    // 96 ticks per beat. Pedal down at 0; C4 0–1 beat; E4 1–1.5; pedal up at beat 3; G4 3–4 (no pedal).
    // Then pedal down again, A4 struck at 5 and released, struck again at 6: the re-strike ends the
    // first; the second is still held by the pedal when the track ends at 7.
    let track = [
        0x00, 0xB0, 64, 127, // pedal down
        0x00, 0x90, 60, 100, 0x60, 0x80, 60, 0, // C4 on, off after a beat
        0x00, 0x90, 64, 100, 0x30, 0x80, 64, 0, // E4 on, off half a beat later
        0x81, 0x10, 0xB0, 64, 0, // pedal up at beat 3 (delta 144 ticks)
        0x00, 0x90, 67, 100, 0x60, 0x80, 67, 0, // G4 3–4 (pedal up: written length)
        0x00, 0xB0, 64, 127, // pedal down at 4
        0x60, 0x90, 69, 100, 0x18, 0x80, 69, 0, // A4 on at 5, off at 5.25
        0x48, 0x90, 69, 90, 0x60, 0x80, 69, 0, // A4 again at 6: the first A4 ends here
        0x00, 0xFF, 0x2F, 0x00, // end of track at 7 (the pedal is still down)
    ];
    let song = read_song(&smf([0, 96], &track)).unwrap();
    let mut spans: Vec<(u8, f64, f64)> = song.notes.iter().map(|n| (n.pitch, n.start, n.end())).collect();
    spans.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let up = 3.0; // beat of the pedal-up event
    assert_eq!(spans, vec![(60, 0.0, up), (64, 1.0, up), (67, up, up + 1.0), (69, up + 2.0, up + 3.0), (69, up + 3.0, up + 4.0)]);
}
