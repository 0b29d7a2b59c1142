//! Tempo map: converts beat positions to seconds.

use serde::{Deserialize, Serialize};

/// Default MIDI tempo when a file names none: 120 beats per minute.
pub const DEFAULT_US_PER_BEAT: u32 = 500_000;

/// Piecewise-constant tempo, as (beat, microseconds per beat) change points sorted by beat.
/// The first point is always at beat 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TempoMap {
    changes: Vec<(f64, u32)>,
}

impl TempoMap {
    pub fn constant(bpm: f64) -> TempoMap {
        TempoMap {
            changes: vec![(0.0, bpm_to_us(bpm))],
        }
    }

    /// Builds a map from (beat, µs per beat) points in any order; later points at the same beat win.
    pub fn from_changes(mut points: Vec<(f64, u32)>) -> TempoMap {
        points.retain(|&(b, us)| b.is_finite() && b >= 0.0 && us > 0);
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut changes: Vec<(f64, u32)> = vec![(0.0, DEFAULT_US_PER_BEAT)];
        for (beat, us) in points {
            match changes.last_mut() {
                Some(last) if last.0 == beat => last.1 = us,
                Some(last) if last.1 == us => {}
                _ => changes.push((beat, us)),
            }
        }
        TempoMap { changes }
    }

    /// The change points, (beat, µs per beat).
    pub fn changes(&self) -> &[(f64, u32)] {
        &self.changes
    }

    /// Beats per minute at the start.
    pub fn initial_bpm(&self) -> f64 {
        60_000_000.0 / self.changes[0].1 as f64
    }

    pub fn seconds_at(&self, beat: f64) -> f64 {
        let mut seconds = 0.0;
        for (i, &(b, us)) in self.changes.iter().enumerate() {
            let next = self.changes.get(i + 1).map_or(f64::INFINITY, |c| c.0);
            if beat <= next {
                return seconds + (beat - b) * us as f64 / 1e6;
            }
            seconds += (next - b) * us as f64 / 1e6;
        }
        seconds
    }

    /// Multiplies every tempo by `factor` (2.0 = twice as fast).
    pub fn scaled(&self, factor: f64) -> TempoMap {
        TempoMap {
            changes: self
                .changes
                .iter()
                .map(|&(b, us)| (b, ((us as f64 / factor).round() as u32).max(1)))
                .collect(),
        }
    }
}

pub fn bpm_to_us(bpm: f64) -> u32 {
    (60_000_000.0 / bpm.clamp(1.0, 1000.0)).round() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_follow_tempo_changes() {
        // 120 bpm for 4 beats (2 s), then 60 bpm.
        let map = TempoMap::from_changes(vec![(4.0, 1_000_000), (0.0, 500_000)]);
        assert_eq!(map.seconds_at(0.0), 0.0);
        assert!((map.seconds_at(4.0) - 2.0).abs() < 1e-12);
        assert!((map.seconds_at(6.0) - 4.0).abs() < 1e-12);
        assert!((map.initial_bpm() - 120.0).abs() < 1e-9);
    }
}
