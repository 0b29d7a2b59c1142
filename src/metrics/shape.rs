//! Whole-piece figures that show at once whether generated music has the corpus's shape: do notes
//! end (note-length 99th percentile), does the rhythm sit on the bar's grid (onset position in the
//! bar), how many notes sound at once, how busy it is, which instruments play, how much is drums,
//! how much of the time nothing sounds, and whether each instrument carries its line through.
//! Unlike [`style`](super::style) these count drums and work on whole pieces.

use super::originality::percentile;
use super::style::{histogram_overlap, overlap_area, FeatureRow};
use crate::encoding::bars::DRUM_STEPS;
use crate::encoding::Instrument;
use crate::midi::Note;

/// Onset positions are counted on the 12-per-beat grid.
const STEPS_PER_BEAT: f64 = 12.0;

/// The figures of one piece.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// Share of onsets at each grid step of the bar (length: steps per bar).
    pub onsets_in_bar: Vec<f64>,
    /// 99th percentile of melodic note lengths, seconds.
    pub length_p99_s: f64,
    /// Mean sounding melodic notes over steps where any sounds.
    pub polyphony: f64,
    pub notes_per_second: f64,
    pub instruments: usize,
    /// Share of notes that are drum hits.
    pub drum_share: f64,
    /// Share of the piece (first onset to last note's end, on the grid) in which no note sounds
    /// (a drum hit sounds a sixteenth, as generated hits do).
    pub silence: f64,
    /// Mean over its instruments of the share of the piece's sounding time each one sounds in:
    /// 1 when every instrument plays throughout, low when lines appear and vanish.
    pub instrument_sounding: f64,
    /// Share of the bars with notes that repeat an earlier bar of the piece exactly (the same
    /// onsets in the bar with the same pitches and instruments), and its rhythm alone (onsets).
    pub bar_repeats: f64,
    pub rhythm_repeats: f64,
}

impl Shape {
    /// `None` for a piece without notes. `bar_beats`: the length of a bar (4 for 4/4, 3 for 3/4).
    pub fn of(notes: &[Note], bar_beats: f64) -> Option<Shape> {
        if notes.is_empty() {
            return None;
        }
        let bar_steps = (bar_beats * STEPS_PER_BEAT).round().max(1.0) as usize;
        let mut onsets_in_bar = vec![0.0; bar_steps];
        for n in notes {
            let step = (n.start * STEPS_PER_BEAT).round().max(0.0) as usize;
            onsets_in_bar[step % bar_steps] += 1.0 / notes.len() as f64;
        }
        let melodic: Vec<&Note> = notes.iter().filter(|n| !n.drum).collect();
        let mut lengths: Vec<f64> = melodic.iter().map(|n| n.duration_s).collect();
        let length_p99_s = if lengths.is_empty() { 0.0 } else { percentile(&mut lengths, 0.99) };
        let grid = |b: f64| (b * STEPS_PER_BEAT).round().max(0.0) as usize;
        let end = melodic.iter().map(|n| grid(n.end())).max().unwrap_or(0) + 1;
        let mut sounding = vec![0u32; end];
        for n in &melodic {
            let (a, b) = (grid(n.start), grid(n.end()).max(grid(n.start) + 1));
            sounding[a.min(end)..b.min(end)].iter_mut().for_each(|s| *s += 1);
        }
        let busy: Vec<u32> = sounding.into_iter().filter(|&s| s > 0).collect();
        let polyphony = busy.iter().map(|&s| s as f64).sum::<f64>() / busy.len().max(1) as f64;
        let seconds = notes.iter().map(|n| n.start_s + n.duration_s).fold(0.0, f64::max).max(1e-3);
        let mut instruments: Vec<Instrument> = notes.iter().map(Instrument::of).collect();
        instruments.sort();
        instruments.dedup();
        let (silence, instrument_sounding) = sounding_time(notes, &instruments);
        let (bar_repeats, rhythm_repeats) = repeated_bars(notes, bar_steps);
        Some(Shape {
            onsets_in_bar,
            length_p99_s,
            polyphony,
            notes_per_second: notes.len() as f64 / seconds,
            instruments: instruments.len(),
            drum_share: (notes.len() - melodic.len()) as f64 / notes.len() as f64,
            silence,
            instrument_sounding,
            bar_repeats,
            rhythm_repeats,
        })
    }
}

/// Bar-by-bar self-similarity of a piece: `m[i][j]` is the Jaccard similarity of bars `i` and `j`
/// (their notes as onset in the bar, pitch and instrument; 1 on the diagonal of a bar with notes, 0
/// between an empty bar and any other). Repeated bars show as bright cells off the diagonal, a
/// returning section as a bright diagonal stripe.
pub fn self_similarity(notes: &[Note], bar_beats: f64) -> Vec<Vec<f64>> {
    use std::collections::HashSet;
    let bar_steps = (bar_beats * STEPS_PER_BEAT).round().max(1.0) as usize;
    let mut bars: Vec<HashSet<(usize, u8, Instrument)>> = Vec::new();
    for n in notes {
        let step = (n.start * STEPS_PER_BEAT).round().max(0.0) as usize;
        let b = step / bar_steps;
        if bars.len() <= b {
            bars.resize(b + 1, HashSet::new());
        }
        bars[b].insert((step % bar_steps, n.pitch, Instrument::of(n)));
    }
    bars.iter()
        .map(|a| {
            bars.iter()
                .map(|b| {
                    let union = a.union(b).count();
                    if union == 0 { 0.0 } else { a.intersection(b).count() as f64 / union as f64 }
                })
                .collect()
        })
        .collect()
}

/// (share of bars with notes equal to an earlier bar of the piece, the same for their rhythm).
fn repeated_bars(notes: &[Note], bar_steps: usize) -> (f64, f64) {
    use std::collections::{BTreeMap, HashSet};
    let mut bars: BTreeMap<usize, Vec<(usize, u8, Instrument)>> = BTreeMap::new();
    for n in notes {
        let step = (n.start * STEPS_PER_BEAT).round().max(0.0) as usize;
        bars.entry(step / bar_steps).or_default().push((step % bar_steps, n.pitch, Instrument::of(n)));
    }
    let (mut seen, mut seen_rhythm) = (HashSet::new(), HashSet::new());
    let (mut exact, mut rhythm) = (0usize, 0usize);
    for mut bar in bars.into_values() {
        bar.sort();
        bar.dedup();
        let mut onsets: Vec<usize> = bar.iter().map(|b| b.0).collect();
        onsets.dedup();
        exact += usize::from(!seen.insert(bar));
        rhythm += usize::from(!seen_rhythm.insert(onsets));
    }
    let count = seen.len() + exact;
    (exact as f64 / count.max(1) as f64, rhythm as f64 / count.max(1) as f64)
}

/// (share of grid steps from the first onset to the last end in which nothing sounds, mean share
/// of the sounding steps in which each instrument sounds). Drum hits sound for their written length.
fn sounding_time(notes: &[Note], instruments: &[Instrument]) -> (f64, f64) {
    let grid = |b: f64| (b * STEPS_PER_BEAT).round().max(0.0) as usize;
    let first = notes.iter().map(|n| grid(n.start)).min().unwrap_or(0);
    let end = notes.iter().map(|n| if n.drum { grid(n.start) + DRUM_STEPS as usize } else { grid(n.end()).max(grid(n.start) + 1) }).max().unwrap_or(first + 1);
    let span = end.saturating_sub(first).max(1);
    // One bit per instrument at each step.
    let mut playing = vec![vec![false; instruments.len()]; span];
    for n in notes {
        let i = instruments.binary_search(&Instrument::of(n)).unwrap_or(0);
        // A drum hit sounds a sixteenth here, whatever its note-off says: a General MIDI kit
        // ignores the note-off, files hold hits from a tick to a bar, and generated ones last a
        // sixteenth (`DRUM_STEPS`), so the files' own lengths would count a corpus's drums as
        // filling gaps its clips' drums leave (a two-song band: silence 0.00 as written, 0.08
        // with every hit a sixteenth).
        let length = if n.drum { DRUM_STEPS as usize } else { grid(n.end()).saturating_sub(grid(n.start)) };
        let (a, b) = (grid(n.start), grid(n.start) + length.max(1));
        for step in &mut playing[a - first..b.min(end) - first] {
            step[i] = true;
        }
    }
    let sounding = playing.iter().filter(|s| s.iter().any(|&p| p)).count();
    let silence = 1.0 - sounding as f64 / span as f64;
    let share = |i: usize| playing.iter().filter(|s| s[i]).count() as f64 / sounding.max(1) as f64;
    let mean = (0..instruments.len()).map(share).sum::<f64>() / instruments.len().max(1) as f64;
    (silence, mean)
}

/// The corpus-vs-generated table of whole-piece figures (histograms compared by Σmin, scalars
/// by the overlapping area of their densities, as in [`style::compare`](super::style::compare)).
pub fn compare(corpus: &[Shape], generated: &[Shape]) -> Vec<FeatureRow> {
    let mean = |s: &[Shape], f: &dyn Fn(&Shape) -> f64| s.iter().map(f).sum::<f64>() / s.len().max(1) as f64;
    let scalar = |name, f: &dyn Fn(&Shape) -> f64| {
        let (a, b): (Vec<f64>, Vec<f64>) = (corpus.iter().map(f).collect(), generated.iter().map(f).collect());
        FeatureRow { name, corpus: mean(corpus, f), generated: mean(generated, f), overlap: overlap_area(&a, &b) }
    };
    let onsets = |s: &[Shape]| {
        let len = s.iter().map(|x| x.onsets_in_bar.len()).max().unwrap_or(1);
        let mut h = vec![0.0; len];
        for x in s {
            for (i, v) in x.onsets_in_bar.iter().enumerate() {
                h[i] += v / s.len() as f64;
            }
        }
        h
    };
    let (a, b) = (onsets(corpus), onsets(generated));
    let on_beat = |h: &[f64]| h.iter().step_by(STEPS_PER_BEAT as usize).sum::<f64>();
    vec![
        FeatureRow { name: "onsets on the beat (share; overlap: position in bar)", corpus: on_beat(&a), generated: on_beat(&b), overlap: histogram_overlap(&a, &b) },
        scalar("note length, 99th percentile (s)", &|s| s.length_p99_s),
        scalar("polyphony, whole pieces (sounding notes)", &|s| s.polyphony),
        scalar("notes per second", &|s| s.notes_per_second),
        scalar("instruments per piece", &|s| s.instruments as f64),
        scalar("share of drum hits", &|s| s.drum_share),
        scalar("silence (share of time nothing sounds)", &|s| s.silence),
        scalar("each instrument's share of sounding time", &|s| s.instrument_sounding),
        scalar("bars repeating an earlier bar exactly", &|s| s.bar_repeats),
        scalar("bars repeating an earlier bar's rhythm", &|s| s.rhythm_repeats),
    ]
}
