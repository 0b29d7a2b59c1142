//! Standard MIDI Files ↔ [`Song`] (a flat list of [`Note`]s with their tempo map).
//!
//! This is the only module that knows about ticks, chunks, running status and tempo maps. Everything
//! downstream works with beats (for the model: tempo does not matter) and seconds (for playback).

mod error;
mod programs;
mod read;
mod tempo;
mod write;

pub use error::{MidiError, Warning};
pub use programs::program_name;
pub use read::{read_notes, read_song};
pub use tempo::TempoMap;
pub use write::{write_song, WRITE_TICKS_PER_BEAT};

use serde::{Deserialize, Serialize};

/// The General MIDI percussion channel (channel 10, zero-based 9).
pub const DRUM_CHANNEL: u8 = 9;

/// One sounding note. Positions are given both in beats (quarter notes, tempo-free) and in seconds
/// (through the file's tempo map), so the encoder and the player each get the unit they need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub pitch: u8,
    pub velocity: u8,
    /// Onset in beats from the start of the song.
    pub start: f64,
    /// Length in beats (> 0).
    pub duration: f64,
    /// Onset in seconds.
    pub start_s: f64,
    /// Length in seconds.
    pub duration_s: f64,
    /// Zero-based MIDI channel (9 = channel 10).
    pub channel: u8,
    /// General MIDI program (0 = acoustic grand piano) active on the channel when the note starts.
    pub program: u8,
    /// Percussion: channel 10, or a channel a GS "drum part" message turned into a drum channel.
    pub drum: bool,
    /// Index of the track chunk the note came from.
    pub track: u16,
}

impl Note {
    pub fn end(&self) -> f64 {
        self.start + self.duration
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeSignature {
    pub beat: f64,
    pub numerator: u8,
    pub denominator: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KeySignature {
    pub beat: f64,
    /// Sharps (> 0) or flats (< 0), -7..=7.
    pub sharps: i8,
    pub minor: bool,
}

/// What a track chunk held, for the corpus table (name, notes, channels).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrackInfo {
    pub name: Option<String>,
    pub notes: usize,
    /// Channels used by the track's notes, sorted.
    pub channels: Vec<u8>,
    /// True when every note of the track is a drum note.
    pub drums: bool,
}

/// A parsed MIDI file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Song {
    /// SMF format: 0 (one track), 1 (parallel tracks) or 2 (independent patterns, played in turn).
    pub format: u16,
    pub tracks: Vec<TrackInfo>,
    /// Notes sorted by onset, then pitch.
    pub notes: Vec<Note>,
    pub tempo: TempoMap,
    pub time_signatures: Vec<TimeSignature>,
    pub key_signatures: Vec<KeySignature>,
    /// Length in beats including trailing silence: the last event of any track.
    pub end: f64,
    /// Problems that did not stop the import; each is a sentence for the user.
    pub warnings: Vec<Warning>,
}

impl Song {
    /// An empty song at 120 beats per minute, for building note lists by hand.
    pub fn new(notes: Vec<Note>) -> Song {
        let mut song = Song {
            format: 1,
            end: 0.0,
            tracks: Vec::new(),
            notes,
            tempo: TempoMap::constant(120.0),
            time_signatures: Vec::new(),
            key_signatures: Vec::new(),
            warnings: Vec::new(),
        };
        song.sort_notes();
        song
    }

    pub fn sort_notes(&mut self) {
        self.notes.sort_by(|a, b| {
            a.start
                .total_cmp(&b.start)
                .then(a.pitch.cmp(&b.pitch))
                .then(a.channel.cmp(&b.channel))
        });
    }

    /// Recomputes every note's seconds from its beats through the tempo map.
    pub fn retime(&mut self) {
        for n in &mut self.notes {
            n.start_s = self.tempo.seconds_at(n.start);
            n.duration_s = self.tempo.seconds_at(n.start + n.duration) - n.start_s;
        }
    }

    /// Length in seconds: the end of the last note or of the last track, whichever is later.
    pub fn seconds(&self) -> f64 {
        self.tempo.seconds_at(self.beats())
    }

    /// Length in beats: the end of the last note or of the last track, whichever is later.
    pub fn beats(&self) -> f64 {
        self.notes.iter().map(Note::end).fold(self.end, f64::max)
    }
}
