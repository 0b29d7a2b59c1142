//! [`Song`] → type-1 SMF bytes: a conductor track (tempo, time and key signatures) and one track per
//! channel, drums on channel 10.

use super::{Song, DRUM_CHANNEL};
use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
use std::collections::BTreeMap;

/// Ticks per beat of written files: divisible by 2, 3, 4, 5, 8, 16 so every encoder grid is exact.
pub const WRITE_TICKS_PER_BEAT: u16 = 480;

/// Writes the song as a type-1 Standard MIDI File.
pub fn write_song(song: &Song) -> Vec<u8> {
    let tpq = WRITE_TICKS_PER_BEAT as f64;
    let tick = |beat: f64| (beat.max(0.0) * tpq).round() as u64;

    // Conductor track.
    let mut conductor: Vec<(u64, u8, TrackEventKind<'static>)> = Vec::new();
    for &(beat, us) in song.tempo.changes() {
        conductor.push((tick(beat), 0, TrackEventKind::Meta(MetaMessage::Tempo(u24::new(us.min(0xFF_FFFF))))));
    }
    for ts in &song.time_signatures {
        let pow = ts.denominator.max(1).trailing_zeros() as u8;
        conductor.push((
            tick(ts.beat),
            1,
            TrackEventKind::Meta(MetaMessage::TimeSignature(ts.numerator, pow, 24, 8)),
        ));
    }
    for ks in &song.key_signatures {
        conductor.push((tick(ks.beat), 2, TrackEventKind::Meta(MetaMessage::KeySignature(ks.sharps, ks.minor))));
    }

    // Channel assignment: drums go to channel 10; a melodic note that sat on channel 10 moves to a
    // free channel so it does not turn into percussion.
    let used: Vec<u8> = song.notes.iter().filter(|n| !n.drum).map(|n| n.channel).collect();
    let spare = (0..16u8).find(|c| *c != DRUM_CHANNEL && !used.contains(c)).unwrap_or(0);
    let mut per_channel: BTreeMap<u8, Vec<(u64, u8, TrackEventKind<'static>)>> = BTreeMap::new();
    let mut last_program: BTreeMap<u8, Option<u8>> = BTreeMap::new();
    for n in &song.notes {
        let ch = if n.drum {
            DRUM_CHANNEL
        } else if n.channel == DRUM_CHANNEL {
            spare
        } else {
            n.channel & 0x0F
        };
        let events = per_channel.entry(ch).or_default();
        let (on, off) = (tick(n.start), tick(n.end()).max(tick(n.start) + 1));
        let channel = u4::new(ch);
        let last = last_program.entry(ch).or_insert(None);
        if !n.drum && *last != Some(n.program) {
            *last = Some(n.program);
            let message = MidiMessage::ProgramChange { program: u7::new(n.program & 0x7F) };
            events.push((on, 1, TrackEventKind::Midi { channel, message }));
        }
        let key = u7::new(n.pitch & 0x7F);
        let vel = u7::new(n.velocity.clamp(1, 127));
        events.push((on, 2, TrackEventKind::Midi { channel, message: MidiMessage::NoteOn { key, vel } }));
        let message = MidiMessage::NoteOff { key, vel: u7::new(64) };
        events.push((off, 0, TrackEventKind::Midi { channel, message }));
    }

    let mut tracks = vec![finish_track(conductor)];
    tracks.extend(per_channel.into_values().map(finish_track));
    let smf = Smf {
        header: Header::new(Format::Parallel, Timing::Metrical(u15::new(WRITE_TICKS_PER_BEAT))),
        tracks,
    };
    let mut out = Vec::new();
    smf.write_std(&mut out).expect("writing to a Vec cannot fail");
    out
}

/// Sorts events by tick (note-offs, then program changes, then note-ons at one tick; the sort is
/// stable so same-kind events keep their order), turns ticks into deltas and ends the track.
fn finish_track(mut events: Vec<(u64, u8, TrackEventKind<'static>)>) -> Vec<TrackEvent<'static>> {
    events.sort_by_key(|e| (e.0, e.1));
    let mut now = 0;
    let mut out: Vec<TrackEvent<'static>> = events
        .into_iter()
        .map(|(t, _, kind)| {
            let delta = (t - now).min(0x0FFF_FFFF) as u32;
            now = t;
            TrackEvent { delta: u28::new(delta), kind }
        })
        .collect();
    out.push(TrackEvent { delta: u28::new(0), kind: TrackEventKind::Meta(MetaMessage::EndOfTrack) });
    out
}
