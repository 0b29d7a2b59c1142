//! The corpus as the worker builds it and the page shows it (`sequences`): which files and notes
//! are selected, the split into training and held-out files, what a corpus holds, excerpts.

use cantor::encoding::{BarVocab, EventVocab, MusicVocab};
use cantor::midi::{read_notes, Note, Song};
use cantor::encoding::split::WHOLE_FILES_FROM;
use cantor::sequences::{excerpt, prepare, report, split_notes, SelectedFile, Selection, VALID_FRACTION};

fn band(name: &str) -> Song {
    read_notes(&std::fs::read(format!("tests/fixtures/{name}")).unwrap()).unwrap()
}

/// Ten files: the two band pieces in turn, each under a folder name (its style tag).
fn corpus() -> Vec<(u32, String, Song)> {
    corpus_of(10)
}

/// `n` files, as [`corpus`].
fn corpus_of(n: u32) -> Vec<(u32, String, Song)> {
    (0..n).map(|i| (i * 2 + 1, format!("{}/piece{i}.mid", if i % 2 == 0 { "funk" } else { "rock" }), band(if i % 2 == 0 { "band.mid" } else { "band2.mid" }))).collect()
}

fn all(files: &[(u32, String, Song)]) -> Selection {
    Selection { files: files.iter().map(|f| SelectedFile { id: f.0, excluded_tracks: vec![] }).collect(), drums: true, ..Selection::default() }
}

fn songs(files: &[(u32, String, Song)], selection: &Selection) -> Vec<(String, Song)> {
    selection.songs(|id| files.iter().find(|f| f.0 == id).map(|f| (f.1.as_str(), &f.2)))
}

fn bars() -> MusicVocab {
    MusicVocab::Bars(BarVocab::default())
}

#[test]
fn a_selection_takes_the_chosen_files_without_their_left_out_tracks() {
    let files = corpus();
    let drum_track = files[0].2.notes.iter().find(|n| n.drum).expect("the band piece has drums").track;
    let mut selection = all(&files);
    selection.files.retain(|f| f.id != 5); // one file left out
    selection.files[0].excluded_tracks = vec![drum_track];
    selection.files.push(SelectedFile { id: 99, excluded_tracks: vec![] }); // unknown: skipped
    let picked = songs(&files, &selection);
    assert_eq!(picked.len(), 9);
    assert!(picked.iter().all(|(name, _)| name != "funk/piece2.mid"));
    assert!(picked[0].1.notes.iter().all(|n| n.track != drum_track), "the left-out track is gone");
    assert!(picked[0].1.notes.len() < files[0].2.notes.len());
    assert_eq!(picked[1].1.notes, files[1].2.notes, "other files are whole");
    // A file with no notes is not usable.
    let empty = vec![(1u32, "empty.mid".to_string(), Song::new(vec![]))];
    assert!(songs(&empty, &all(&empty)).is_empty());
}

#[test]
fn the_page_and_the_worker_split_the_same_files() {
    // Ten files are few: each file's opening is trained on and its last bars are held out.
    let files = corpus();
    let selection = all(&files);
    let songs = songs(&files, &selection);
    let prepared = prepare(&songs, &selection, &bars());
    let (train, valid) = split_notes(&songs, &selection);
    let names = |v: &[(String, Vec<Note>, f64)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&valid), names(&train), "every file gives up its end");
    assert_eq!(valid.len(), 10);
    assert_eq!(prepared.held_out_share(), Some(VALID_FRACTION));
    assert!(prepared.held_out().is_empty(), "no file is held out whole");
    assert_eq!(prepared.corpus.valid.len(), valid.len());
    assert!(prepared.split_why().contains("last 15 % of each file's bars"), "{}", prepared.split_why());
    // What is held out is the end of each piece: it is short, and training saw only what came before.
    for ((_, opening, _), (_, end, secs)) in train.iter().zip(&valid) {
        let whole = songs[0].1.seconds().max(songs[1].1.seconds());
        assert!(*secs > 1.0 && *secs < 0.5 * whole, "{secs} of {whole} s held out");
        assert!(end.iter().all(|n| n.start >= 0.0) && end.iter().any(|n| n.start < 1.0), "held-out bars start at beat 0");
        let last_trained = opening.iter().map(|n| n.end()).fold(0.0, f64::max);
        assert!(opening.len() > end.len() && last_trained > 4.0);
    }
    // The split depends on the files, not on the vocabulary or the transposition.
    let events = prepare(&songs, &Selection { transpose: 2, ..selection.clone() }, &MusicVocab::Events(EventVocab::default()));
    assert_eq!(events.held_out_share(), prepared.held_out_share());
    assert_eq!(events.corpus.train.len(), 5 * train.len(), "each training file in five keys");
    // The evaluation compares with the music as the user has it: the drums stay in.
    assert!(valid.iter().all(|(_, notes, _)| notes.iter().any(|n| n.drum)));
}

#[test]
fn many_files_are_held_out_whole() {
    let files = corpus_of(WHOLE_FILES_FROM as u32);
    let selection = all(&files);
    let songs = songs(&files, &selection);
    let prepared = prepare(&songs, &selection, &bars());
    let (train, valid) = split_notes(&songs, &selection);
    let names = |v: &[(String, Vec<Note>, f64)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&valid), prepared.held_out(), "the evaluation compares with the files training held out");
    assert_eq!(train.len() + valid.len(), WHOLE_FILES_FROM);
    assert!(!valid.is_empty() && !train.is_empty());
    assert!(names(&train).iter().all(|n| !names(&valid).contains(n)));
    assert_eq!(prepared.corpus.valid.len(), valid.len());
    assert_eq!(prepared.held_out_share(), None);
    assert!(prepared.split_why().contains("held out whole"), "{}", prepared.split_why());
    assert!(valid.iter().all(|(_, notes, secs)| notes.iter().any(|n| n.drum) && *secs > 1.0));
}

#[test]
fn the_report_counts_what_the_worker_would_train_on() {
    let files = corpus();
    let selection = all(&files);
    let songs = songs(&files, &selection);
    let r = report(&songs, &Selection { transpose: 4, ..selection.clone() }, &bars());
    let untransposed = prepare(&songs, &selection, &bars());
    assert_eq!((r.files, r.train_files, r.valid_files), (10, untransposed.corpus.train_files.len(), untransposed.corpus.valid_files.len()));
    assert_eq!(r.train_tokens, untransposed.corpus.train_tokens(), "counted before transposition");
    assert_eq!(r.valid_tokens, untransposed.corpus.valid_tokens());
    let held: f64 = split_notes(&songs, &selection).1.iter().map(|(_, _, secs)| secs).sum();
    assert!((r.valid_seconds - held).abs() < 1e-9 && held > 0.0);
    assert!(r.instruments.iter().any(|i| i == "Drums"), "{:?}", r.instruments);
    assert!(r.instruments.len() >= 3);
    assert_eq!(r.styles, vec!["funk".to_string(), "rock".to_string()]);
    assert!(r.bpm > 20.0 && r.bpm < 400.0);
    // Without drums the count changes and drums are not among what is learned.
    let no_drums = report(&songs, &Selection { drums: false, ..selection.clone() }, &bars());
    assert!(no_drums.train_tokens < r.train_tokens);
    assert!(!no_drums.instruments.iter().any(|i| i == "Drums"));
    // The first event vocabulary counts its own tokens.
    let events = report(&songs, &selection, &MusicVocab::Events(EventVocab::default()));
    assert_ne!(events.train_tokens, r.train_tokens);
    // What a new model would learn does not depend on the vocabulary counted in.
    assert_eq!((&events.instruments, &events.styles, events.bpm, events.meter), (&r.instruments, &r.styles, r.bpm, r.meter));
}

#[test]
fn an_excerpt_starts_at_zero_and_ends_inside() {
    let song = band("band.mid");
    let cut = excerpt(&song.notes, 8.0, 4.0);
    let inside = song.notes.iter().filter(|n| n.start >= 8.0 && n.start < 12.0).count();
    assert_eq!(cut.len(), inside);
    assert!(cut.iter().all(|n| n.start >= 0.0 && n.start < 4.0 && n.end() <= 4.0 + 1e-9 && n.duration > 0.0));
    assert!(cut.iter().all(|n| n.start_s >= -1e-9 && n.duration_s > 0.0));
    let first = cut.iter().map(|n| n.start).fold(f64::MAX, f64::min);
    let expected = song.notes.iter().filter(|n| n.start >= 8.0).map(|n| n.start).fold(f64::MAX, f64::min) - 8.0;
    assert!((first - expected).abs() < 1e-9);
    assert!(excerpt(&song.notes, 1e6, 4.0).is_empty(), "nothing starts there");
}
