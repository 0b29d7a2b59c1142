//! SMF bytes → [`Song`]. Chunks are walked here (so a cut-off file can name the track it ends in);
//! events are decoded by midly. Nothing in here panics or loops on bad input: every read is bounded
//! by the slice it reads from.

use super::error::{MidiError, Warning};
use super::tempo::{TempoMap, DEFAULT_US_PER_BEAT};
use super::{KeySignature, Note, Song, TimeSignature, TrackInfo, DRUM_CHANNEL};
use midly::{EventIter, MetaMessage, MidiMessage, TrackEventKind};
use std::collections::{BTreeMap, VecDeque};

/// Reads a Standard MIDI File (format 0, 1 or 2, optionally inside a RIFF RMID wrapper).
///
/// A file that is damaged after its header still yields whatever could be read, with
/// [`Song::warnings`] saying what was skipped.
/// [`read_song`] for a file that is meant to be learned from or played: a file no note can be
/// read from is an error (with the problems that left it empty), not a song with a warning.
pub fn read_notes(bytes: &[u8]) -> Result<Song, MidiError> {
    let song = read_song(bytes)?;
    if song.notes.is_empty() {
        let problems = song.warnings.iter().filter(|w| **w != Warning::NoNotes).map(|w| w.to_string()).collect();
        return Err(MidiError::NoNotes(problems));
    }
    Ok(song)
}

pub fn read_song(bytes: &[u8]) -> Result<Song, MidiError> {
    if bytes.is_empty() {
        return Err(MidiError::Empty);
    }
    let smf = if bytes.starts_with(b"RIFF") { unwrap_riff(bytes)? } else { bytes };
    if !smf.starts_with(b"MThd") {
        return Err(MidiError::NotMidi);
    }
    let header = read_header(smf)?;
    let mut warnings = Vec::new();
    let chunks = split_chunks(&smf[header.body_start..], &mut warnings);

    let found = chunks.len();
    if found != header.declared_tracks as usize {
        warnings.push(Warning::TrackCount { declared: header.declared_tracks, found });
    }
    if header.format == 0 && found > 1 {
        warnings.push(Warning::Format0WithManyTracks { found });
    }

    let mut events = TrackEvents::default();
    let mut offset = 0u64; // format 2: patterns play one after another
    for (i, chunk) in chunks.iter().enumerate() {
        let track_no = i + 1;
        if chunk.truncated {
            warnings.push(Warning::FileEndsInTrack { track: track_no });
        }
        let end = read_track(i as u16, chunk.data, offset, &mut events, &mut warnings);
        if header.format == 2 {
            offset = end;
        }
    }

    Ok(assemble(header, events, warnings))
}

struct Header {
    format: u16,
    declared_tracks: u16,
    timing: Timing,
    body_start: usize,
}

#[derive(Clone, Copy)]
enum Timing {
    TicksPerBeat(u16),
    /// Ticks per second (fps × subframes), with the two factors for the warning.
    Smpte { fps: u8, subframes: u8 },
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be_u16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// RIFF RMID: `RIFF <len> RMID` then sub-chunks; the SMF is the payload of the `data` chunk.
fn unwrap_riff(bytes: &[u8]) -> Result<&[u8], MidiError> {
    if bytes.len() < 12 || &bytes[8..12] != b"RMID" {
        return Err(MidiError::RiffWithoutMidi);
    }
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes([bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]])
            as usize;
        let start = pos + 8;
        let end = start.saturating_add(len).min(bytes.len());
        if id == b"data" {
            return Ok(&bytes[start..end]);
        }
        pos = end + (len & 1); // RIFF chunks are padded to even length
    }
    Err(MidiError::RiffWithoutMidi)
}

fn read_header(smf: &[u8]) -> Result<Header, MidiError> {
    if smf.len() < 14 {
        return Err(MidiError::TruncatedHeader);
    }
    let len = be_u32(&smf[4..8]) as usize;
    if len < 6 {
        return Err(MidiError::TruncatedHeader);
    }
    let format = be_u16(&smf[8..10]);
    if format > 2 {
        return Err(MidiError::UnknownFormat(format));
    }
    let declared_tracks = be_u16(&smf[10..12]);
    let division = be_u16(&smf[12..14]);
    let timing = if division & 0x8000 == 0 {
        if division == 0 {
            return Err(MidiError::BadTiming);
        }
        Timing::TicksPerBeat(division)
    } else {
        // The high byte is minus the frame rate; -128 has no positive (found by fuzzing: it
        // overflowed the negation).
        let fps = ((division >> 8) as u8 as i8).checked_neg().map_or(0, |f| f as u8);
        let subframes = (division & 0xFF) as u8;
        if !matches!(fps, 24 | 25 | 29 | 30) || subframes == 0 {
            return Err(MidiError::BadTiming);
        }
        Timing::Smpte { fps, subframes }
    };
    Ok(Header {
        format,
        declared_tracks,
        timing,
        body_start: 8usize.saturating_add(len).min(smf.len()),
    })
}

struct Chunk<'a> {
    data: &'a [u8],
    truncated: bool,
}

/// Splits the bytes after the header into track chunks, skipping (and reporting) other chunk types.
fn split_chunks<'a>(mut rest: &'a [u8], warnings: &mut Vec<Warning>) -> Vec<Chunk<'a>> {
    let mut tracks = Vec::new();
    let mut unknown = Vec::new();
    while !rest.is_empty() {
        if rest.len() < 8 {
            if rest.starts_with(b"MTrk") || b"MTrk".starts_with(&rest[..rest.len().min(4)]) {
                // A track header cut off: count it as a track the file ends in.
                tracks.push(Chunk { data: &[], truncated: true });
            } else {
                warnings.push(Warning::TrailingBytes { count: rest.len() });
            }
            break;
        }
        let id = &rest[0..4];
        let len = be_u32(&rest[4..8]) as usize;
        let body = &rest[8..];
        let truncated = len > body.len();
        let data = &body[..len.min(body.len())];
        rest = &body[data.len()..];
        if id == b"MTrk" {
            tracks.push(Chunk { data, truncated });
        } else if id.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            unknown.push(String::from_utf8_lossy(id).into_owned());
        } else {
            // Not a chunk id at all: the previous length was wrong or this is junk.
            warnings.push(Warning::TrailingBytes { count: rest.len() + 8 + data.len() });
            break;
        }
    }
    if !unknown.is_empty() {
        warnings.push(Warning::UnknownChunks { ids: unknown });
    }
    tracks
}

/// Everything the tracks said, with absolute tick times, before it becomes a [`Song`].
#[derive(Default)]
struct TrackEvents {
    /// (tick, track, channel, pitch, velocity, end tick)
    notes: Vec<(u64, u16, u8, u8, u8, u64)>,
    tempos: Vec<(u64, u32)>,
    time_signatures: Vec<(u64, u8, u8)>,
    key_signatures: Vec<(u64, i8, bool)>,
    /// (tick, order, channel, program)
    programs: Vec<(u64, usize, u8, u8)>,
    /// (tick, order, channel, is drum) from GS "use for rhythm part" messages.
    drum_parts: Vec<(u64, usize, u8, bool)>,
    names: Vec<Option<String>>,
    /// Tick of the last event of any track (trailing silence counts towards the length).
    end: u64,
}

/// Length in bytes of the data of a system common / real-time status, which an SMF may not hold.
fn illegal_status_len(status: u8) -> Option<usize> {
    match status {
        0xF1 | 0xF3 => Some(1),
        0xF2 => Some(2),
        0xF4..=0xF6 | 0xF8..=0xFE => Some(0),
        _ => None,
    }
}

/// Reads a variable-length quantity; `None` if the bytes run out or it is longer than 4 bytes.
fn read_vlq(raw: &[u8]) -> Option<(u32, usize)> {
    let mut value = 0u32;
    for (i, &b) in raw.iter().take(4).enumerate() {
        value = (value << 7) | (b & 0x7F) as u32;
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Reads one track chunk into `out`; returns the tick of its last event.
fn read_track(
    track: u16,
    data: &[u8],
    offset: u64,
    out: &mut TrackEvents,
    warnings: &mut Vec<Warning>,
) -> u64 {
    let track_no = track as usize + 1;
    let mut tick = offset;
    let mut open: BTreeMap<(u8, u8), VecDeque<(u64, u8)>> = BTreeMap::new();
    // Sustain pedal (CC 64): notes released while it is down keep sounding until it comes up
    // (or the same key is struck again), as a piano's dampers do.
    let mut pedal = [false; 16];
    let mut sustained: BTreeMap<(u8, u8), Vec<(u64, u8)>> = BTreeMap::new();
    let mut name = None;
    let mut illegal = 0usize;
    let mut notes_read = 0usize;
    let mut iter = EventIter::new(data);
    // Last channel-message status, to resume running status that a meta or sysex event cut off
    // (the spec cancels it there, but files in the wild rely on it surviving).
    let mut last_channel_status: Option<u8> = None;
    let mut resumed_at: Option<usize> = None;
    loop {
        let before = iter.unread();
        if before.is_empty() {
            break;
        }
        let Some(Ok(event)) = iter.next() else {
            // midly stops a track at the first event it cannot decode. Skip live-performance
            // bytes ourselves and go on; anything else ends the track with a warning.
            let status_pos = read_vlq(before);
            let skip = status_pos.and_then(|(delta, n)| {
                let status = *before.get(n)?;
                let len = illegal_status_len(status)?;
                let total = n + 1 + len;
                (total <= before.len()).then_some((delta, total))
            });
            let data_byte = status_pos.and_then(|(_, n)| before.get(n)).is_some_and(|&b| b < 0x80);
            if data_byte && iter.running_status().is_none() && resumed_at != Some(before.len()) {
                if let Some(status) = last_channel_status {
                    resumed_at = Some(before.len());
                    iter = EventIter::new(before);
                    *iter.running_status_mut() = Some(status);
                    continue;
                }
            }
            match skip {
                Some((delta, total)) => {
                    illegal += 1;
                    tick += delta as u64;
                    let running = iter.running_status();
                    iter = EventIter::new(&before[total..]);
                    *iter.running_status_mut() = running;
                    continue;
                }
                None => {
                    let reason = describe_bad_event(before, status_pos);
                    warnings.push(Warning::BadEvent { track: track_no, notes_read, reason });
                    break;
                }
            }
        };
        tick += event.delta.as_int() as u64;
        match event.kind {
            TrackEventKind::Midi { channel, message } => {
                let ch = channel.as_int();
                last_channel_status = Some(channel_status(&message) | ch);
                match message {
                    MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                        for (start, v) in sustained.remove(&(ch, key.as_int())).unwrap_or_default() {
                            out.notes.push((start, track, ch, key.as_int(), v, tick.max(start + 1)));
                        }
                        open.entry((ch, key.as_int())).or_default().push_back((tick, vel.as_int()));
                    }
                    MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                        // Overlapping notes of one pitch: the earliest still sounding ends first.
                        if let Some((start, vel)) =
                            open.get_mut(&(ch, key.as_int())).and_then(VecDeque::pop_front)
                        {
                            notes_read += 1;
                            if pedal[ch as usize] {
                                sustained.entry((ch, key.as_int())).or_default().push((start, vel));
                            } else {
                                out.notes.push((start, track, ch, key.as_int(), vel, tick));
                            }
                        }
                    }
                    MidiMessage::Controller { controller, value } if controller.as_int() == 64 => {
                        let down = value.as_int() >= 64;
                        if pedal[ch as usize] && !down {
                            let keys: Vec<(u8, u8)> = sustained.keys().filter(|k| k.0 == ch).copied().collect();
                            for key in keys {
                                for (start, v) in sustained.remove(&key).unwrap_or_default() {
                                    out.notes.push((start, track, ch, key.1, v, tick.max(start + 1)));
                                }
                            }
                        }
                        pedal[ch as usize] = down;
                    }
                    MidiMessage::ProgramChange { program } => {
                        let order = out.programs.len();
                        out.programs.push((tick, order, ch, program.as_int()));
                    }
                    _ => {}
                }
            }
            TrackEventKind::Meta(meta) => match meta {
                MetaMessage::Tempo(us) => out.tempos.push((tick, us.as_int())),
                MetaMessage::TimeSignature(num, den_pow, _, _) if num > 0 && den_pow < 8 => {
                    out.time_signatures.push((tick, num, 1u8 << den_pow))
                }
                MetaMessage::KeySignature(sharps, minor) if (-7..=7).contains(&sharps) => {
                    out.key_signatures.push((tick, sharps, minor))
                }
                MetaMessage::TrackName(bytes) if name.is_none() => {
                    let text = String::from_utf8_lossy(bytes).trim().to_string();
                    if !text.is_empty() {
                        name = Some(text);
                    }
                }
                MetaMessage::EndOfTrack => break,
                _ => {}
            },
            TrackEventKind::SysEx(bytes) => {
                if let Some((ch, on)) = gs_drum_part(bytes) {
                    let order = out.drum_parts.len();
                    out.drum_parts.push((tick, order, ch, on));
                }
            }
            TrackEventKind::Escape(_) => {}
        }
    }
    // Still held by the pedal at the end: they end with the track.
    for ((ch, pitch), held) in sustained {
        for (start, vel) in held {
            out.notes.push((start, track, ch, pitch, vel, tick.max(start + 1)));
        }
    }
    let mut unterminated = 0;
    for ((ch, pitch), starts) in open {
        for (start, vel) in starts {
            unterminated += 1;
            // End it at the track's end, or one tick later when that would make it empty.
            out.notes.push((start, track, ch, pitch, vel, tick.max(start + 1)));
        }
    }
    if unterminated > 0 {
        warnings.push(Warning::UnterminatedNotes { track: track_no, count: unterminated });
    }
    if illegal > 0 {
        warnings.push(Warning::IllegalMessages { track: track_no, count: illegal });
    }
    out.names.push(name);
    out.end = out.end.max(tick);
    tick
}

fn channel_status(message: &MidiMessage) -> u8 {
    match message {
        MidiMessage::NoteOff { .. } => 0x80,
        MidiMessage::NoteOn { .. } => 0x90,
        MidiMessage::Aftertouch { .. } => 0xA0,
        MidiMessage::Controller { .. } => 0xB0,
        MidiMessage::ProgramChange { .. } => 0xC0,
        MidiMessage::ChannelAftertouch { .. } => 0xD0,
        MidiMessage::PitchBend { .. } => 0xE0,
    }
}

fn describe_bad_event(raw: &[u8], status_pos: Option<(u32, usize)>) -> String {
    match status_pos {
        None => "a time value runs past the end of the track".into(),
        Some((_, n)) => match raw.get(n) {
            None => "the track stops right after a time value".into(),
            Some(&s) if s < 0x80 => format!("byte {s:#04x} appears where a message should start"),
            Some(&s) if s == 0xFF || s == 0xF0 || s == 0xF7 => {
                "a meta or system-exclusive message is longer than the track".into()
            }
            Some(_) => "a message is cut short by the end of the track".into(),
        },
    }
}

/// Roland GS "use for rhythm part": F0 41 dev 42 12 40 1p 15 vv sum F7. Part p maps to a channel:
/// 0 → channel 10, 1–9 → channels 1–9, A–F → channels 11–16.
fn gs_drum_part(sysex: &[u8]) -> Option<(u8, bool)> {
    if sysex.len() >= 8 && sysex[0] == 0x41 && sysex[2] == 0x42 && sysex[3] == 0x12 && sysex[4] == 0x40
        && sysex[5] & 0xF0 == 0x10 && sysex[6] == 0x15
    {
        let part = sysex[5] & 0x0F;
        let channel = match part {
            0 => 9,
            1..=9 => part - 1,
            _ => part,
        };
        return Some((channel, sysex[7] != 0));
    }
    None
}

fn assemble(header: Header, ev: TrackEvents, mut warnings: Vec<Warning>) -> Song {
    // Everything below works in beats; SMPTE files get a fixed 120 bpm grid.
    let (ticks_per_beat, tempo) = match header.timing {
        Timing::TicksPerBeat(tpq) => {
            let tpq = tpq as f64;
            let changes = ev.tempos.iter().map(|&(t, us)| (t as f64 / tpq, us)).collect();
            (tpq, TempoMap::from_changes(changes))
        }
        Timing::Smpte { fps, subframes } => {
            warnings.push(Warning::SmpteTiming { fps, subframes });
            let real_fps = if fps == 29 { 30.0 / 1.001 } else { fps as f64 };
            let ticks_per_second = real_fps * subframes as f64;
            let tpq = ticks_per_second * DEFAULT_US_PER_BEAT as f64 / 1e6;
            (tpq, TempoMap::from_changes(Vec::new()))
        }
    };
    let beat = |t: u64| t as f64 / ticks_per_beat;

    let mut programs = ev.programs;
    programs.sort_by_key(|&(t, order, _, _)| (t, order));
    let mut drum_parts = ev.drum_parts;
    drum_parts.sort_by_key(|&(t, order, _, _)| (t, order));

    let mut tracks: Vec<TrackInfo> = ev
        .names
        .into_iter()
        .map(|name| TrackInfo { name, ..TrackInfo::default() })
        .collect();
    let mut notes = Vec::with_capacity(ev.notes.len());
    for (start, track, channel, pitch, velocity, end) in ev.notes {
        let program = programs
            .iter()
            .take_while(|p| p.0 <= start)
            .filter(|p| p.2 == channel)
            .last()
            .map_or(0, |p| p.3);
        let drum = drum_parts
            .iter()
            .take_while(|p| p.0 <= start)
            .filter(|p| p.2 == channel)
            .last()
            .map_or(channel == DRUM_CHANNEL, |p| p.3);
        let (b0, b1) = (beat(start), beat(end));
        let s0 = tempo.seconds_at(b0);
        notes.push(Note {
            pitch,
            velocity,
            start: b0,
            duration: b1 - b0,
            start_s: s0,
            duration_s: tempo.seconds_at(b1) - s0,
            channel,
            program,
            drum,
            track,
        });
        if let Some(info) = tracks.get_mut(track as usize) {
            info.notes += 1;
            if !info.channels.contains(&channel) {
                info.channels.push(channel);
            }
        }
    }
    for (i, info) in tracks.iter_mut().enumerate() {
        info.channels.sort_unstable();
        info.drums = info.notes > 0 && notes.iter().filter(|n| n.track as usize == i).all(|n| n.drum);
    }
    if notes.is_empty() {
        warnings.push(Warning::NoNotes);
    }
    let mut song = Song {
        format: header.format,
        end: beat(ev.end),
        tracks,
        notes,
        tempo,
        time_signatures: ev
            .time_signatures
            .iter()
            .map(|&(t, numerator, denominator)| TimeSignature { beat: beat(t), numerator, denominator })
            .collect(),
        key_signatures: ev
            .key_signatures
            .iter()
            .map(|&(t, sharps, minor)| KeySignature { beat: beat(t), sharps, minor })
            .collect(),
        warnings,
    };
    song.sort_notes();
    song
}
