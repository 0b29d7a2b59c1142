//! Every file of the jazz-soft MIDI test suite, with the outcome each one must have.

mod common;
use cantor::midi::{read_song, MidiError, Warning};

#[derive(Debug)]
enum Expect {
    /// Parsed without warnings, with this many notes.
    Clean(usize),
    /// Parsed with this many notes and a warning matching the predicate.
    Warn(usize, fn(&Warning) -> bool),
    Fail(MidiError),
}
use Expect::*;

fn no_notes(w: &Warning) -> bool {
    *w == Warning::NoNotes
}

fn illegal(w: &Warning) -> bool {
    matches!(w, Warning::IllegalMessages { track: 1, .. })
}

const CASES: &[(&str, Expect)] = &[
    ("test-2-tracks-type-0.mid", Warn(16, |w| matches!(w, Warning::Format0WithManyTracks { found: 2 }))),
    ("test-2-tracks-type-1.mid", Clean(16)),
    ("test-2-tracks-type-2.mid", Clean(16)),
    ("test-all-gm-percussion.mid", Clean(183)),
    ("test-all-gm-sounds.mid", Clean(512)),
    ("test-all-gm2-sounds.mid", Clean(1060)),
    ("test-all-gs-sounds.mid", Clean(5044)),
    ("test-all-microsoft-gs-wavetable-synth-sounds.mid", Clean(904)),
    ("test-all-xg-sounds.mid", Clean(4560)),
    ("test-c-major-scale.mid", Clean(8)),
    ("test-control-00-20-bank-select.mid", Clean(8)),
    ("test-control-40-damper.mid", Clean(8)),
    ("test-control-41-portamento.mid", Clean(8)),
    ("test-control-54-portamento-control.mid", Clean(1)),
    ("test-control-7c-omni-mode-off.mid", Warn(0, no_notes)),
    ("test-control-7d-omni-mode-on.mid", Warn(0, no_notes)),
    ("test-control-7e-mono-mode-on.mid", Warn(0, no_notes)),
    ("test-control-7f-poly-mode-on.mid", Warn(0, no_notes)),
    ("test-corrupt-file-extra-byte.mid", Warn(8, |w| matches!(w, Warning::TrailingBytes { count: 1 }))),
    ("test-corrupt-file-missing-byte.mid", Warn(8, |w| matches!(w, Warning::FileEndsInTrack { track: 1 }))),
    ("test-empty-file.mid", Fail(MidiError::Empty)),
    ("test-empty.mid", Warn(0, no_notes)),
    ("test-gm2-doggy-78-00-38-4c.mid", Clean(3)),
    ("test-gm2-doggy-79-01-7b.mid", Clean(3)),
    ("test-gs-doggy-01-00-7b.mid", Clean(3)),
    ("test-illegal-message-all.mid", Warn(8, |w| matches!(w, Warning::IllegalMessages { track: 1, count: 13 }))),
    ("test-illegal-message-f1-xx.mid", Warn(8, illegal)),
    ("test-illegal-message-f2-xx-xx.mid", Warn(8, illegal)),
    ("test-illegal-message-f3-xx.mid", Warn(8, illegal)),
    ("test-illegal-message-f4.mid", Warn(8, illegal)),
    ("test-illegal-message-f5.mid", Warn(8, illegal)),
    ("test-illegal-message-f6.mid", Warn(8, illegal)),
    ("test-illegal-message-f8.mid", Warn(8, illegal)),
    ("test-illegal-message-f9.mid", Warn(8, illegal)),
    ("test-illegal-message-fa.mid", Warn(8, illegal)),
    ("test-illegal-message-fb.mid", Warn(8, illegal)),
    ("test-illegal-message-fc.mid", Warn(8, illegal)),
    ("test-illegal-message-fd.mid", Warn(8, illegal)),
    ("test-illegal-message-fe.mid", Warn(8, illegal)),
    ("test-karaoke-kar.mid", Clean(29)),
    ("test-multichannel-chords-0.mid", Clean(24)),
    ("test-multichannel-chords-1.mid", Clean(24)),
    ("test-multichannel-chords-2.mid", Clean(24)),
    ("test-multichannel-chords-3.mid", Clean(24)),
    ("test-non-midi-track.mid", Warn(8, |w| matches!(w, Warning::UnknownChunks { ids } if ids == &["Junk"]))),
    ("test-not-a-midi-file.mid", Fail(MidiError::NotMidi)),
    ("test-note-on-velocity.mid", Clean(9)),
    ("test-rpn-00-00-pitch-bend-range.mid", Clean(5)),
    ("test-rpn-00-01-fine-tuning.mid", Clean(25)),
    ("test-rpn-00-02-coarse-tuning.mid", Clean(8)),
    ("test-rpn-00-05-modulation-depth-range.mid", Clean(5)),
    ("test-running-status-metaevent.mid", Clean(8)),
    ("test-running-status-sysex.mid", Clean(8)),
    ("test-silence-all-notes-off.mid", Warn(0, no_notes)),
    ("test-silence-end-of-track.mid", Warn(0, no_notes)),
    ("test-silence-text-metaevent.mid", Warn(0, no_notes)),
    ("test-smpte-offset.mid", Clean(8)),
    ("test-sysex-7e-06-01-id-request.mid", Warn(0, no_notes)),
    ("test-sysex-7e-09-01-gm1-enable.mid", Warn(0, no_notes)),
    ("test-sysex-7e-09-02-gm-disable.mid", Warn(0, no_notes)),
    ("test-sysex-7e-09-03-gm2-enable.mid", Warn(0, no_notes)),
    ("test-sysex-7f-04-03-master-fine-tuning.mid", Clean(5)),
    ("test-sysex-7f-04-04-master-coarse-tuning.mid", Clean(8)),
    ("test-sysex-7x-08-0x-scale-tuning.mid", Clean(65)),
    ("test-sysex-gs-40-1x-15-drum-part-change.mid", Clean(8)),
    ("test-sysex-gs-40-1x-4x-scale-tuning.mid", Clean(3)),
    ("test-track-length.mid", Clean(1)),
    ("test-vlq-2-byte.mid", Clean(8)),
    ("test-vlq-3-byte.mid", Clean(8)),
    ("test-vlq-4-byte.mid", Clean(8)),
    ("test-xg-doggy-40-00-30.mid", Clean(3)),
    ("test-xg-doggy-7e-00-00-54.mid", Clean(3)),
];

#[test]
fn every_jazz_soft_file_has_its_expected_outcome() {
    let dir = common::shared("midi/jazz-soft-test-midi-files");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".mid"))
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = CASES.iter().map(|c| c.0).collect();
    assert_eq!(on_disk, listed, "the table must cover exactly the files in {}", dir.display());

    for (name, expect) in CASES {
        let result = read_song(&common::jazz_soft(name));
        match (expect, &result) {
            (Clean(n), Ok(song)) => {
                assert!(song.warnings.is_empty(), "{name}: unexpected warnings {:?}", song.warnings);
                assert_eq!(song.notes.len(), *n, "{name}: note count");
            }
            (Warn(n, pred), Ok(song)) => {
                assert_eq!(song.notes.len(), *n, "{name}: note count");
                assert!(song.warnings.iter().any(pred), "{name}: expected warning missing, got {:?}", song.warnings);
            }
            (Fail(e), Err(got)) => assert_eq!(got, e, "{name}"),
            _ => panic!("{name}: expected {expect:?}, got {result:?}"),
        }
        // Every note ends after it starts, in beats and in seconds.
        if let Ok(song) = &result {
            for n in &song.notes {
                assert!(n.duration > 0.0 && n.duration_s > 0.0, "{name}: empty note {n:?}");
            }
        }
    }
}

#[test]
fn messages_read_like_sentences() {
    assert_eq!(MidiError::Empty.to_string(), "the file is empty (0 bytes)");
    assert_eq!(
        Warning::FileEndsInTrack { track: 3 }.to_string(),
        "the file ends in the middle of track 3; the notes up to that point were kept"
    );
}

#[test]
fn type_2_patterns_play_one_after_another() {
    let t1 = read_song(&common::jazz_soft("test-2-tracks-type-1.mid")).unwrap();
    let t2 = read_song(&common::jazz_soft("test-2-tracks-type-2.mid")).unwrap();
    assert_eq!(t2.format, 2);
    assert!((t2.seconds() - 2.0 * t1.seconds()).abs() < 1e-9, "{} vs {}", t2.seconds(), t1.seconds());
}

#[test]
fn drums_on_channel_10_and_gs_drum_part() {
    let perc = read_song(&common::jazz_soft("test-all-gm-percussion.mid")).unwrap();
    assert!(perc.notes.iter().all(|n| n.drum && n.channel == 9));
    assert!(perc.tracks[0].drums);
    let gs = read_song(&common::jazz_soft("test-sysex-gs-40-1x-15-drum-part-change.mid")).unwrap();
    let drums: Vec<_> = gs.notes.iter().filter(|n| n.drum).collect();
    assert_eq!(drums.len(), 4);
    assert!(drums.iter().all(|n| n.channel != 9), "the drum part message made another channel percussive");
}

#[test]
fn programs_follow_program_changes() {
    let song = read_song(&common::jazz_soft("test-all-gm-sounds.mid")).unwrap();
    let mut programs: Vec<u8> = song.notes.iter().map(|n| n.program).collect();
    programs.dedup();
    assert_eq!(programs.len(), 128, "one run of notes per GM program");
    assert_eq!(programs, (0..128).collect::<Vec<u8>>());
}

#[test]
fn truncated_and_garbage_bytes_never_panic() {
    // Every prefix of a real file, and a few byte flips, must give a song or an error — never a panic.
    let bytes = common::jazz_soft("test-karaoke-kar.mid");
    for len in 0..bytes.len() {
        let _ = read_song(&bytes[..len]);
    }
    let mut state = 12345u64;
    for _ in 0..2000 {
        let mut b = bytes.clone();
        for _ in 0..4 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let i = (state >> 33) as usize % b.len();
            b[i] = (state >> 13) as u8;
        }
        let _ = read_song(&b);
    }
}

/// Found by the `midi_read` fuzz target: an SMPTE division whose frame-rate byte is -128 (0x80)
/// overflowed the negation that reads the frame rate (a panic wherever overflow is checked).
#[test]
fn an_smpte_division_of_minus_128_frames_is_bad_timing() {
    let mut bytes = b"MThd\0\0\0\x06\0\0\0\x01\x80\x60MTrk\0\0\0\x04\0\xff\x2f\0".to_vec();
    assert_eq!(read_song(&bytes).unwrap_err(), MidiError::BadTiming);
    bytes[12] = 0xe7; // -25 frames per second, 0x60 subframes: a real SMPTE division
    assert!(read_song(&bytes).is_ok());
}
