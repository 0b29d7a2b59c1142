//! Style statistics of a piece of music and how well two sets of pieces agree on them.
//! Definitions follow MusPy / Yang & Lerch as summarised in `../shared/notes/data-and-evaluation.md`
//! §3: drum notes are ignored; polyphony counts sounding pitches over non-silent steps of a
//! 12-per-beat grid; scale consistency is the best of the 24 major/minor scales; durations go to
//! the nearest of the 12 note-length classes (whole … 8th-triplet, in 4/4).

use crate::encoding::EventVocab;
use crate::midi::Note;

/// Note-length classes in beats: whole, half, quarter, 8th, 16th, dotted half, dotted quarter,
/// dotted 8th, dotted 16th, half-triplet, quarter-triplet, 8th-triplet.
pub const DURATION_CLASSES: [f64; 12] = [4.0, 2.0, 1.0, 0.5, 0.25, 3.0, 1.5, 0.75, 0.375, 4.0 / 3.0, 2.0 / 3.0, 1.0 / 3.0];
pub const DURATION_NAMES: [&str; 12] = ["1", "1/2", "1/4", "1/8", "1/16", "1/2.", "1/4.", "1/8.", "1/16.", "1/2t", "1/4t", "1/8t"];

/// Index of the nearest note-length class.
pub fn duration_class(beats: f64) -> usize {
    (0..12).min_by(|&a, &b| (DURATION_CLASSES[a] - beats).abs().total_cmp(&(DURATION_CLASSES[b] - beats).abs())).unwrap_or(2)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Style {
    /// Share of notes per pitch class (C = 0).
    pub pitch_classes: [f64; 12],
    /// Share of notes per duration class.
    pub durations: [f64; 12],
    /// Highest minus lowest pitch.
    pub pitch_range: f64,
    /// Notes per beat.
    pub density: f64,
    /// Mean size of the steps of the top voice, in semitones.
    pub mean_interval: f64,
    /// Mean number of sounding pitches while anything sounds.
    pub polyphony: f64,
    /// Share of notes in the best-fitting major or minor scale.
    pub scale_consistency: f64,
}

const MAJOR: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];
const MINOR: [u8; 7] = [0, 2, 3, 5, 7, 8, 10];

impl Style {
    /// The statistics of some notes (`None` when there are no pitched notes).
    pub fn of(notes: &[Note]) -> Option<Style> {
        let notes: Vec<&Note> = notes.iter().filter(|n| !n.drum && n.duration > 0.0).collect();
        if notes.is_empty() {
            return None;
        }
        let n = notes.len() as f64;
        let mut pitch_classes = [0.0; 12];
        let mut durations = [0.0; 12];
        for note in &notes {
            pitch_classes[(note.pitch % 12) as usize] += 1.0 / n;
            durations[duration_class(note.duration)] += 1.0 / n;
        }
        let lo = notes.iter().map(|x| x.pitch).min().unwrap_or(0);
        let hi = notes.iter().map(|x| x.pitch).max().unwrap_or(0);
        let start = notes.iter().map(|x| x.start).fold(f64::INFINITY, f64::min);
        let end = notes.iter().map(|x| x.start + x.duration).fold(0.0, f64::max);
        let owned: Vec<Note> = notes.iter().map(|&x| x.clone()).collect();
        let line = EventVocab::default().melody(&owned);
        let steps: Vec<f64> = line.windows(2).map(|w| (w[1].pitch as f64 - w[0].pitch as f64).abs()).collect();
        let mean_interval = if steps.is_empty() { 0.0 } else { steps.iter().sum::<f64>() / steps.len() as f64 };
        // Polyphony on the 12-per-beat grid: a note covers [start, end).
        let grid = |b: f64| ((b - start) * 12.0).round().max(0.0) as usize;
        let steps_total = grid(end) + 1;
        let mut sounding = vec![0u32; steps_total];
        for note in &notes {
            let (a, b) = (grid(note.start), grid(note.start + note.duration).max(grid(note.start) + 1));
            sounding[a.min(steps_total)..b.min(steps_total)].iter_mut().for_each(|s| *s += 1);
        }
        let busy: Vec<u32> = sounding.into_iter().filter(|&s| s > 0).collect();
        let polyphony = busy.iter().map(|&s| s as f64).sum::<f64>() / busy.len().max(1) as f64;
        let scale_consistency = (0..12u8)
            .flat_map(|root| [(root, MAJOR), (root, MINOR)])
            .map(|(root, scale)| scale.iter().map(|&d| pitch_classes[((root + d) % 12) as usize]).sum::<f64>())
            .fold(0.0, f64::max);
        Some(Style {
            pitch_classes,
            durations,
            pitch_range: (hi - lo) as f64,
            density: n / (end - start).max(1.0 / 12.0),
            mean_interval,
            polyphony,
            scale_consistency,
        })
    }

    /// All figures as one vector (for the classifier): 12 pitch classes, 12 durations, 5 scalars.
    pub fn vector(&self) -> Vec<f64> {
        let mut v = Vec::with_capacity(29);
        v.extend_from_slice(&self.pitch_classes);
        v.extend_from_slice(&self.durations);
        v.extend_from_slice(&[self.pitch_range, self.density, self.mean_interval, self.polyphony, self.scale_consistency]);
        v
    }

    /// Names of [`vector`](Self::vector)'s entries.
    pub fn vector_names() -> Vec<String> {
        const PC: [&str; 12] = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];
        PC.iter()
            .map(|p| format!("pitch class {p}"))
            .chain(DURATION_NAMES.iter().map(|d| format!("duration {d}")))
            .chain(["pitch range", "note density", "mean interval", "polyphony", "scale consistency"].map(String::from))
            .collect()
    }
}

/// One line of the generated-vs-corpus table.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureRow {
    pub name: &'static str,
    /// Mean over the corpus excerpts and over the generated ones (histograms: their entropy in bits).
    pub corpus: f64,
    pub generated: f64,
    /// 0 = nothing in common, 1 = the same distribution.
    pub overlap: f64,
}

/// Σ min(p, q) of two normalised histograms.
pub fn histogram_overlap(p: &[f64], q: &[f64]) -> f64 {
    p.iter().zip(q).map(|(a, b)| a.min(*b)).sum()
}

fn entropy_bits(p: &[f64]) -> f64 {
    -p.iter().filter(|&&x| x > 0.0).map(|&x| x * x.log2()).sum::<f64>()
}

fn mean_hist(styles: &[Style], f: impl Fn(&Style) -> [f64; 12]) -> [f64; 12] {
    let mut h = [0.0; 12];
    for s in styles {
        for (a, b) in h.iter_mut().zip(f(s)) {
            *a += b / styles.len() as f64;
        }
    }
    h
}

/// Overlapping area of two samples' Gaussian kernel density estimates (Scott's bandwidth), on one
/// common grid over both samples' range. 1 for identical samples, near 0 for disjoint ones.
pub fn overlap_area(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let lo = a.iter().chain(b).copied().fold(f64::INFINITY, f64::min);
    let hi = a.iter().chain(b).copied().fold(f64::NEG_INFINITY, f64::max);
    let span = hi - lo;
    if span <= 1e-12 {
        return 1.0;
    }
    let bandwidth = |x: &[f64]| {
        let m = x.iter().sum::<f64>() / x.len() as f64;
        let sd = if x.len() > 1 { (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64).sqrt() } else { 0.0 };
        // A single value or a constant sample still needs some width: 5 % of the joint range.
        (sd * (x.len() as f64).powf(-0.2)).max(span * 0.05)
    };
    let (ha, hb) = (bandwidth(a), bandwidth(b));
    let (lo, hi) = (lo - 3.0 * ha.max(hb), hi + 3.0 * ha.max(hb));
    let kde = |x: &[f64], h: f64, t: f64| {
        x.iter().map(|v| (-0.5 * ((t - v) / h).powi(2)).exp()).sum::<f64>() / (x.len() as f64 * h * (2.0 * std::f64::consts::PI).sqrt())
    };
    const N: usize = 1000;
    let dx = (hi - lo) / N as f64;
    (0..N).map(|i| lo + (i as f64 + 0.5) * dx).map(|t| kde(a, ha, t).min(kde(b, hb, t)) * dx).sum::<f64>().min(1.0)
}

/// The generated-vs-corpus table over excerpts of both.
pub fn compare(corpus: &[Style], generated: &[Style]) -> Vec<FeatureRow> {
    let mean = |s: &[Style], f: &dyn Fn(&Style) -> f64| s.iter().map(f).sum::<f64>() / s.len().max(1) as f64;
    let scalar = |name, f: &dyn Fn(&Style) -> f64| {
        let (a, b): (Vec<f64>, Vec<f64>) = (corpus.iter().map(f).collect(), generated.iter().map(f).collect());
        FeatureRow { name, corpus: mean(corpus, f), generated: mean(generated, f), overlap: overlap_area(&a, &b) }
    };
    let hist = |name, f: fn(&Style) -> [f64; 12]| {
        let (a, b) = (mean_hist(corpus, f), mean_hist(generated, f));
        FeatureRow { name, corpus: entropy_bits(&a), generated: entropy_bits(&b), overlap: histogram_overlap(&a, &b) }
    };
    vec![
        hist("pitch-class histogram (entropy, bits)", |s| s.pitch_classes),
        hist("rhythm: duration classes (entropy, bits)", |s| s.durations),
        scalar("pitch range (semitones)", &|s| s.pitch_range),
        scalar("note density (notes per beat)", &|s| s.density),
        scalar("mean interval (semitones)", &|s| s.mean_interval),
        scalar("polyphony (sounding notes)", &|s| s.polyphony),
        scalar("scale consistency", &|s| s.scale_consistency),
    ]
}

/// Cuts notes into excerpts of `beats` beats (notes belong to the excerpt they start in, times
/// made relative to it); excerpts with fewer than `min_notes` notes are dropped.
pub fn excerpts(notes: &[Note], beats: f64, min_notes: usize) -> Vec<Vec<Note>> {
    let end = notes.iter().map(|n| n.start).fold(0.0, f64::max);
    let count = (end / beats).floor() as usize + 1;
    let mut out = vec![Vec::new(); count];
    for n in notes {
        let k = ((n.start / beats).floor() as usize).min(count - 1);
        let mut m = n.clone();
        m.start -= k as f64 * beats;
        out[k].push(m);
    }
    out.into_iter().filter(|e| e.len() >= min_notes).collect()
}
