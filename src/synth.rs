//! Notes → stereo PCM through a General MIDI SoundFont (rustysynth): the sound the page plays and,
//! later, the WAV export. Drums go to channel 10 (the percussion bank); each channel gets the
//! program of its notes.

use crate::midi::{Note, DRUM_CHANNEL};
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};
use std::sync::Arc;

pub struct Renderer {
    font: Arc<SoundFont>,
    pub sample_rate: u32,
}

/// Stereo audio, one `Vec` per side.
pub struct Pcm {
    pub left: Vec<f32>,
    pub right: Vec<f32>,
    pub sample_rate: u32,
}

/// Seconds of release rendered after the last note ends.
const TAIL_S: f64 = 1.0;
/// Longest clip rendered (protects memory: 10 minutes of 44.1 kHz stereo is 212 MB).
const MAX_SECONDS: f64 = 600.0;

impl Renderer {
    pub fn new(soundfont: &[u8], sample_rate: u32) -> Result<Renderer, String> {
        let font = SoundFont::new(&mut std::io::Cursor::new(soundfont)).map_err(|e| format!("the SoundFont cannot be read ({e:?})"))?;
        Ok(Renderer { font: Arc::new(font), sample_rate })
    }

    /// Renders `notes` played `speed` times as fast as their seconds say.
    pub fn render(&self, notes: &[Note], speed: f64) -> Result<Pcm, String> {
        self.render_with_progress(notes, speed, |_| {})
    }

    /// [`render`](Self::render), calling `progress` with the share done (0–1) about every second of audio.
    pub fn render_with_progress(&self, notes: &[Note], speed: f64, mut progress: impl FnMut(f64)) -> Result<Pcm, String> {
        let mut pcm = Pcm { left: Vec::new(), right: Vec::new(), sample_rate: self.sample_rate };
        let mut total = 0;
        let second = self.sample_rate as usize;
        self.render_parts(notes, speed, second, second, |part| {
            pcm.left.extend_from_slice(&part.left);
            pcm.right.extend_from_slice(&part.right);
            total = part.total;
            if !part.last {
                progress(pcm.left.len() as f64 / total.max(1) as f64);
            }
            true
        })?;
        if total > self.sample_rate as usize {
            progress(1.0);
        }
        Ok(pcm)
    }

    /// Renders `notes` as consecutive parts, the first `first` frames long and the others `rest`,
    /// handing each to `part` as soon as it is done (it returns false to stop there): the page
    /// plays the opening while the rest is still being rendered. The parts laid end to end are
    /// exactly [`render`](Self::render).
    pub fn render_parts(&self, notes: &[Note], speed: f64, first: usize, rest: usize, mut part: impl FnMut(Part) -> bool) -> Result<(), String> {
        let settings = SynthesizerSettings::new(self.sample_rate as i32);
        let mut synth = Synthesizer::new(&self.font, &settings).map_err(|e| format!("{e:?}"))?;
        let sr = self.sample_rate as f64;
        let speed = speed.clamp(0.1, 10.0);
        // Melodic notes that sat on channel 10 move to a free channel so they keep their pitch.
        let used: Vec<u8> = notes.iter().filter(|n| !n.drum).map(|n| n.channel).collect();
        let spare = (0..16u8).find(|c| *c != DRUM_CHANNEL && !used.contains(c)).unwrap_or(0);
        let channel = |n: &Note| if n.drum { DRUM_CHANNEL } else if n.channel == DRUM_CHANNEL { spare } else { n.channel & 15 };
        // (sample, order: 0 = off / 1 = program / 2 = on, channel, key or program, velocity)
        let mut events: Vec<(usize, u8, u8, u8, u8)> = Vec::with_capacity(notes.len() * 2);
        let mut programs = [None::<u8>; 16];
        for n in notes {
            let ch = channel(n);
            let start = (n.start_s / speed).min(MAX_SECONDS);
            let end = ((n.start_s + n.duration_s) / speed).min(MAX_SECONDS).max(start + 0.01);
            if !n.drum && programs[ch as usize] != Some(n.program) {
                programs[ch as usize] = Some(n.program);
                events.push(((start * sr) as usize, 1, ch, n.program, 0));
            }
            events.push(((start * sr) as usize, 2, ch, n.pitch, n.velocity.max(1)));
            events.push(((end * sr) as usize, 0, ch, n.pitch, 0));
        }
        events.sort_unstable();
        let total = events.last().map_or(0, |e| e.0) + (TAIL_S * sr) as usize;
        let mut events = events.into_iter().peekable();
        let (first, rest) = (first.max(1), rest.max(1));
        let mut at = 0;
        while at < total {
            let end = (at + if at == 0 { first } else { rest }).min(total);
            let (mut left, mut right) = (vec![0.0; end - at], vec![0.0; end - at]);
            // Renders up to each event inside this part, then applies it.
            let mut pos = at;
            loop {
                let next = events.peek().map_or(end, |e| e.0.min(end));
                synth.render(&mut left[pos - at..next - at], &mut right[pos - at..next - at]);
                pos = next;
                match events.next_if(|e| e.0 <= pos && pos < end) {
                    Some((_, 0, ch, key, _)) => synth.note_off(ch as i32, key as i32),
                    Some((_, 1, ch, program, _)) => synth.process_midi_message(ch as i32, 0xC0, program as i32, 0),
                    Some((_, _, ch, key, velocity)) => synth.note_on(ch as i32, key as i32, velocity as i32),
                    None if pos >= end => break,
                    None => {}
                }
            }
            if !part(Part { left, right, at, total, last: end == total }) {
                break;
            }
            at = end;
        }
        Ok(())
    }
}

/// One part of a rendering in [`Renderer::render_parts`]: stereo samples starting `at` frames
/// into the clip, which is `total` frames long.
pub struct Part {
    pub left: Vec<f32>,
    pub right: Vec<f32>,
    pub at: usize,
    pub total: usize,
    pub last: bool,
}

impl Pcm {
    /// A 16-bit stereo WAV file of this audio (peaks above full scale are clipped).
    pub fn to_wav(&self) -> Vec<u8> {
        let spec = hound::WavSpec { channels: 2, sample_rate: self.sample_rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        let mut out = std::io::Cursor::new(Vec::with_capacity(44 + self.left.len() * 4));
        {
            let mut w = hound::WavWriter::new(&mut out, spec).expect("writing to memory cannot fail");
            let mut i16w = w.get_i16_writer((self.left.len() * 2) as u32);
            for (l, r) in self.left.iter().zip(&self.right) {
                i16w.write_sample((l.clamp(-1.0, 1.0) * 32767.0) as i16);
                i16w.write_sample((r.clamp(-1.0, 1.0) * 32767.0) as i16);
            }
            i16w.flush().expect("writing to memory cannot fail");
            w.finalize().expect("writing to memory cannot fail");
        }
        out.into_inner()
    }

    /// Seconds of audio.
    pub fn seconds(&self) -> f64 {
        self.left.len() as f64 / self.sample_rate as f64
    }
}
