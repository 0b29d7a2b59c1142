//! Import problems, worded for musicians. Fatal ones are [`MidiError`]s; the rest are [`Warning`]s
//! attached to a song that was still (partly) read.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MidiError {
    /// Zero bytes.
    Empty,
    /// The file does not start like a MIDI file (no "MThd", no RIFF RMID wrapper).
    NotMidi,
    /// A RIFF file that holds no MIDI data chunk.
    RiffWithoutMidi,
    /// The header chunk is cut short.
    TruncatedHeader,
    /// The header names a format other than 0, 1 or 2.
    UnknownFormat(u16),
    /// The header's timing field is zero or otherwise unusable.
    BadTiming,
    /// The file was read but no note came out of it: nothing to learn or play. Holds the
    /// problems met on the way (a damaged first track, say), in words.
    NoNotes(Vec<String>),
}

impl fmt::Display for MidiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MidiError::Empty => write!(f, "the file is empty (0 bytes)"),
            MidiError::NotMidi => write!(
                f,
                "this is not a MIDI file (it does not start with the MIDI header \"MThd\")"
            ),
            MidiError::RiffWithoutMidi => {
                write!(f, "this RIFF file holds no MIDI data (no \"data\" chunk with a MIDI song)")
            }
            MidiError::TruncatedHeader => {
                write!(f, "the file ends inside its MIDI header, before any track")
            }
            MidiError::UnknownFormat(n) => write!(
                f,
                "the header says MIDI format {n}; only formats 0, 1 and 2 exist"
            ),
            MidiError::BadTiming => write!(
                f,
                "the header gives 0 ticks per beat, so no note can be placed in time"
            ),
            MidiError::NoNotes(problems) if problems.is_empty() => write!(f, "the file contains no notes"),
            MidiError::NoNotes(problems) => write!(f, "no note could be read from it ({})", problems.join("; ")),
        }
    }
}

impl std::error::Error for MidiError {}

/// A problem the import worked around. Tracks are numbered from 1, as sequencers show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Warning {
    /// The last chunk is shorter than its length field says.
    FileEndsInTrack { track: usize },
    /// An event could not be decoded; the rest of the track was skipped.
    BadEvent { track: usize, notes_read: usize, reason: String },
    /// System common / real-time bytes (F1–F6, F8–FE) that a file may not contain were skipped.
    IllegalMessages { track: usize, count: usize },
    /// The header promised a different number of tracks than the file holds.
    TrackCount { declared: u16, found: usize },
    /// A format-0 file with more than one track; all were read.
    Format0WithManyTracks { found: usize },
    /// Chunks that are neither header nor track were skipped.
    UnknownChunks { ids: Vec<String> },
    /// Notes still sounding when their track ended were ended there.
    UnterminatedNotes { track: usize, count: usize },
    /// SMPTE (frames per second) timing: beats are assumed at 120 per minute.
    SmpteTiming { fps: u8, subframes: u8 },
    /// Data after the end of the last chunk.
    TrailingBytes { count: usize },
    /// The file holds no notes at all.
    NoNotes,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::FileEndsInTrack { track } => write!(
                f,
                "the file ends in the middle of track {track}; the notes up to that point were kept"
            ),
            Warning::BadEvent { track, notes_read, reason } => write!(
                f,
                "track {track} has damaged data after {notes_read} notes ({reason}); the rest of that track was skipped"
            ),
            Warning::IllegalMessages { track, count } => write!(
                f,
                "track {track} holds {count} live-performance message(s) (system common or real-time) that do not belong in a MIDI file; they were ignored"
            ),
            Warning::TrackCount { declared, found } => write!(
                f,
                "the header announces {declared} track(s) but the file holds {found}; all {found} were read"
            ),
            Warning::Format0WithManyTracks { found } => write!(
                f,
                "a format-0 file should have one track but this one has {found}; all were read as if format 1"
            ),
            Warning::UnknownChunks { ids } => write!(
                f,
                "skipped {} chunk(s) that are not MIDI tracks ({})",
                ids.len(),
                ids.join(", ")
            ),
            Warning::UnterminatedNotes { track, count } => write!(
                f,
                "{count} note(s) in track {track} never end; they were stopped at the end of the track"
            ),
            Warning::SmpteTiming { fps, subframes } => write!(
                f,
                "the file counts time in video frames ({fps} fps × {subframes}), not beats; beats were placed at 120 per minute"
            ),
            Warning::TrailingBytes { count } => {
                write!(f, "{count} byte(s) after the last track were ignored")
            }
            Warning::NoNotes => write!(f, "the file contains no notes"),
        }
    }
}
