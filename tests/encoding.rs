//! Event and frame encodings: exact round trips, robustness, melody mode, augmentation, split.

mod common;
use cantor::encoding::corpus::{event_corpus, split_by_file, transpose, CorpusOptions, NoteFilter};
use cantor::encoding::split::SplitRule;
use cantor::encoding::{EventVocab, FrameOrder, FrameVocab, Token};
use cantor::midi::{read_song, Note, Song};

fn note(pitch: u8, start: f64, duration: f64, velocity: u8) -> Note {
    Note { pitch, velocity, start, duration, start_s: 0.0, duration_s: 0.0, channel: 0, program: 0, drum: false, track: 0 }
}

fn shape(notes: &[Note]) -> Vec<(u8, i64, i64, u8)> {
    let mut v: Vec<_> = notes.iter().map(|n| (n.pitch, (n.start * 1200.0).round() as i64, (n.duration * 1200.0).round() as i64, n.velocity)).collect();
    v.sort();
    v
}

#[test]
fn quantized_notes_round_trip_exactly() {
    let v = EventVocab::default();
    let notes = vec![
        note(60, 0.0, 1.0, 100),
        note(64, 0.0, 0.5, 30),
        note(67, 1.0 / 3.0, 1.0 / 3.0, 127), // triplet
        note(72, 0.75, 0.25, 1),             // sixteenth
        note(60, 0.5, 2.0, 90),              // overlaps the first C
        note(48, 20.0, 9.0, 64),             // after a long rest, longer than one shift token
    ];
    let q = v.quantize(&notes);
    let tokens = v.encode(&q);
    assert_eq!(tokens[0], v.start());
    assert_eq!(*tokens.last().unwrap(), v.end());
    let back = v.decode(&tokens, 0, 120.0);
    assert_eq!(shape(&back), shape(&q));
    // The grid holds triplets and sixteenths: quantizing them changes nothing.
    assert!(q.iter().any(|n| (n.start - 1.0 / 3.0).abs() < 1e-9));
    assert!(q.iter().any(|n| (n.start - 0.75).abs() < 1e-9));
}

#[test]
fn real_files_round_trip_through_tokens() {
    let v = EventVocab::default();
    for name in ["test-karaoke-kar.mid", "test-multichannel-chords-3.mid", "test-all-gm-sounds.mid"] {
        let song = read_song(&common::jazz_soft(name)).unwrap();
        let q = v.quantize(&NoteFilter::default().select(&song));
        assert!(!q.is_empty());
        assert_eq!(shape(&v.decode(&v.encode(&q), 0, 120.0)), shape(&q), "{name}");
    }
}

#[test]
fn velocity_bins_decode_into_their_own_bin() {
    let v = EventVocab::default();
    for vel in 1..=127u8 {
        let bin = v.velocity_bin(vel);
        assert!(bin < v.velocity_bins);
        assert_eq!(v.velocity_bin(v.bin_velocity(bin)), bin, "velocity {vel}");
    }
}

#[test]
fn any_token_sequence_decodes_to_valid_notes() {
    let v = EventVocab::default();
    let mut state = 99u64;
    for _ in 0..200 {
        let tokens: Vec<u16> = (0..300)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                ((state >> 33) % v.size() as u64) as u16
            })
            .collect();
        for n in v.decode(&tokens, 5, 100.0) {
            assert!(n.duration > 0.0 && n.start >= 0.0 && n.pitch < 128 && (1..=127).contains(&n.velocity));
            assert_eq!(n.program, 5);
        }
    }
    // Stray off, repeated on, and a note that never ends.
    let ids = [
        v.id(Token::Off(60)),
        v.id(Token::On(60)),
        v.id(Token::Shift(12)),
        v.id(Token::On(60)),
        v.id(Token::Shift(6)),
    ];
    let notes = v.decode(&ids, 0, 120.0);
    assert_eq!(notes.iter().map(|n| (n.start, n.duration)).collect::<Vec<_>>(), vec![(0.0, 1.0), (1.0, 0.5)]);
}

#[test]
fn melody_mode_keeps_only_the_top_voice() {
    let v = EventVocab::default();
    let chords = vec![note(60, 0.0, 2.0, 80), note(64, 0.0, 2.0, 80), note(67, 0.0, 2.0, 80), note(55, 1.0, 1.0, 80)];
    let m = v.melody(&chords);
    assert_eq!(m.iter().map(|n| (n.pitch, n.start, n.duration)).collect::<Vec<_>>(), vec![(67, 0.0, 1.0), (55, 1.0, 1.0)]);
    // Monophonic: no two notes overlap.
    for w in m.windows(2) {
        assert!(w[0].end() <= w[1].start);
    }
}

#[test]
fn frames_encode_sorted_and_decode_back() {
    let v = FrameVocab::default();
    let frames = vec![vec![67, 60, 64], vec![], vec![72]];
    let t = v.encode(&frames).unwrap();
    assert_eq!(t.len(), 1 + 4 + 1 + 2);
    assert_eq!(v.decode(&t), vec![vec![60, 64, 67], vec![], vec![72]]);
    assert_eq!(v.encode(&[vec![10]]), Err(10), "pitches outside the piano range are refused");
}

#[test]
fn transposition_and_split_by_file() {
    let notes = vec![note(60, 0.0, 1.0, 80), note(120, 1.0, 1.0, 80)];
    assert_eq!(transpose(&notes, 5).unwrap()[0].pitch, 65);
    assert!(transpose(&notes, 8).is_none(), "128 is out of range");

    let (train, valid) = split_by_file(10, 0.2, 3);
    assert_eq!((train.len(), valid.len()), (8, 2));
    assert!(train.iter().all(|i| !valid.contains(i)));
    assert_eq!(split_by_file(10, 0.2, 3), (train.clone(), valid.clone()), "same seed, same split");
    assert_eq!(split_by_file(1, 0.5, 3), (vec![0], vec![]));
    assert_eq!(split_by_file(2, 0.01, 3).1.len(), 1, "two files: one is held out");

    let songs: Vec<Song> = (0..5).map(|i| Song::new(vec![note(60 + i, 0.0, 1.0, 80), note(62, 1.0, 1.0, 80)])).collect();
    let opts = CorpusOptions { transpose: 2, valid_fraction: 0.2, split: SplitRule::Files, ..CorpusOptions::default() };
    let corpus = event_corpus(&songs, &EventVocab::default(), &opts);
    assert_eq!(corpus.valid.len(), 1);
    assert_eq!(corpus.train.len(), 4 * 5, "each training file in 5 transpositions");
}

#[test]
fn ascending_frame_mask_allows_exactly_the_canonical_continuations() {
    let v = FrameVocab::default();
    let size = v.size();
    let (start, end) = (v.start() as i64, v.frame_end() as i64);
    let c4 = v.pitch(60).unwrap() as i64;
    let mask = v.order_mask(&[start, c4, end]);
    let allowed = |row: usize| -> Vec<usize> { (0..size).filter(|&i| mask[row * size + i] == 0.0).collect() };
    // After START: any pitch or an empty frame.
    assert_eq!(allowed(0), [vec![end as usize], (3..size).collect()].concat());
    // After C4: only higher pitches or the end of the frame.
    assert_eq!(allowed(1), [vec![end as usize], ((c4 as usize + 1)..size).collect()].concat());
    // After a frame end: a new frame, or the START of the next piece in a training window.
    assert_eq!(allowed(2), [vec![start as usize, end as usize], (3..size).collect()].concat());
}

#[test]
fn descending_frames_put_the_melody_first_and_mask_accordingly() {
    let v = FrameVocab::default().with_order(FrameOrder::Descending);
    let size = v.size();
    let t = v.encode(&[vec![60, 67, 64], vec![72]]).unwrap();
    let (p, end) = (|n: u8| v.pitch(n).unwrap(), v.frame_end());
    assert_eq!(t, vec![v.start(), p(67), p(64), p(60), end, p(72), end]);
    let mask = v.order_mask(&[p(64) as i64]);
    let allowed: Vec<usize> = (0..size).filter(|&i| mask[i] == 0.0).collect();
    // After E4: only lower pitches or the end of the frame.
    assert_eq!(allowed, [vec![end as usize], (3..p(64) as usize).collect()].concat());
    // The frame's likelihood covers the same frames as ascending order: decode is order-free.
    assert_eq!(v.decode(&t), vec![vec![67, 64, 60], vec![72]]);
}

#[test]
fn primer_is_the_opening_without_end() {
    let v = EventVocab::default();
    let notes = vec![note(60, 0.0, 1.0, 80), note(64, 1.5, 1.0, 80), note(67, 3.0, 1.0, 80)];
    let p = v.primer(&notes, 2.0);
    assert_eq!(p[0], v.start());
    assert!(!p.contains(&v.end()));
    // C whole, E cut at beat 2, G not yet.
    let back = v.decode(&p, 0, 120.0);
    assert_eq!(back.iter().map(|n| (n.pitch, n.start, n.duration)).collect::<Vec<_>>(), vec![(60, 0.0, 1.0), (64, 1.5, 0.5)]);
}

#[test]
fn frame_context_holds_the_previous_frame_and_the_current_one_so_far() {
    let v = FrameVocab::default();
    let size = v.size();
    let p = |n: u8| v.pitch(n).unwrap() as usize;
    let piece: Vec<i64> = v.encode(&[vec![60, 64], vec![62], vec![]]).unwrap().into_iter().map(i64::from).collect();
    // START C4 E4 END D4 END END, then a second piece.
    let second: Vec<i64> = v.encode(&[vec![67]]).unwrap().into_iter().map(i64::from).collect();
    let stream = [piece.clone(), second].concat();
    let ctx = v.context(&stream, 0, stream.len());
    let on = |k: usize| -> (Vec<usize>, Vec<usize>) {
        let row = &ctx[k * 2 * size..(k + 1) * 2 * size];
        ((0..size).filter(|&i| row[i] == 1.0).collect(), (0..size).filter(|&i| row[size + i] == 1.0).collect())
    };
    assert_eq!(on(0), (vec![], vec![]), "START: nothing before");
    assert_eq!(on(2), (vec![], vec![p(60), p(64)]), "inside the first frame");
    assert_eq!(on(3), (vec![p(60), p(64)], vec![]), "after its FRAME_END it is the previous frame");
    assert_eq!(on(4), (vec![p(60), p(64)], vec![p(62)]));
    assert_eq!(on(5), (vec![p(62)], vec![]));
    assert_eq!(on(6), (vec![], vec![]), "an empty frame is a previous frame too");
    assert_eq!(on(7), (vec![], vec![]), "the next piece's START clears it");
    // A window anywhere in the stream gets the features of the whole stream (the lookback).
    for from in 0..stream.len() {
        for len in 1..=stream.len() - from {
            assert_eq!(v.context(&stream, from, len), ctx[from * 2 * size..(from + len) * 2 * size], "window {from}+{len}");
        }
    }
    // Past the end (padding): zeros.
    assert!(v.context(&stream, stream.len() - 1, 3)[2 * size..].iter().all(|&x| x == 0.0));
}
