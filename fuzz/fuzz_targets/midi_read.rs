//! Any bytes as a dropped MIDI file: reading must return a song or an error in words, never panic,
//! hang or allocate without bound; a song's notes all end, and those read for training have notes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(song) = cantor::midi::read_song(data) {
        for n in &song.notes {
            assert!(n.duration >= 0.0 && n.start.is_finite() && n.duration.is_finite(), "{n:?}");
        }
        let _ = song.warnings.iter().map(|w| w.to_string()).count();
    }
    match cantor::midi::read_notes(data) {
        Ok(song) => assert!(!song.notes.is_empty()),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
