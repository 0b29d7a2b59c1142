//! Share links: a generated clip (notes + tempo + the recipe that made it) packed into a URL fragment,
//! so the music travels inside the link and no server ever sees it.
//!
//! Fragment: `c<version>.<base64url(zlib(payload))>`. The payload is a small columnar binary (LEB128
//! varints) — all start gaps, then all durations, pitches, velocities — because columns of similar
//! numbers compress far better than interleaved records. zlib's Adler-32 catches damaged links.
//!
//! Decoding treats the link as hostile: length, decompressed size, note count, times and strings are
//! all bounded before anything is allocated from them, and every failure is a plain-words
//! [`ShareError`]. Nothing here produces HTML; the page shows decoded strings as text only.

use crate::generate::{Form, Returns, Section};
use crate::generate::{SamplingParams, Scale};
use crate::generate::GenerateConfig;
use crate::midi::Note;
use crate::settings::BPM;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The format this code writes and reads.
pub const VERSION: u32 = 1;
/// A link this long (whole URL) pastes into any chat or mail program.
pub const LINK_BUDGET: usize = 2000;
/// Longest fragment accepted (characters); longer is refused before decoding.
pub const MAX_FRAGMENT: usize = 256 * 1024;
/// Largest decompressed payload (bytes): caps a decompression bomb.
pub const MAX_PAYLOAD: usize = 512 * 1024;
pub const MAX_NOTES: usize = 50_000;
/// Longest clip in beats (over an hour at any sane tempo).
pub const MAX_BEATS: u64 = crate::settings::BEATS.max as u64;
const MAX_TEXT: usize = 200;
const MAX_PRIMER: usize = 8_192;
const MAX_INSTRUMENTS: usize = 16;

/// How a clip was made, so a visitor holding the same model can regenerate or vary it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipe {
    /// [`ModelFile::fingerprint`](crate::model::ModelFile::fingerprint) of the model that made it.
    pub model: String,
    /// The generation settings (seed, temperature, top-p, top-k, key, length, program, tempo).
    pub config: GenerateConfig,
    /// The primer tokens the model continued.
    pub primer: Vec<u16>,
    /// The primer in words ("first 2 bars of bach.mid", "none").
    pub primer_label: String,
    /// The form asked for (`None`: free generation). Written only when there is one, so links
    /// without a form are byte for byte what they were.
    pub form: Option<Form>,
}

/// A shareable clip: notes on a grid of `steps_per_beat`, one tempo, optional recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    pub notes: Vec<Note>,
    pub bpm: f64,
    pub steps_per_beat: u16,
    pub recipe: Option<Recipe>,
    /// Where the recipe's form's sections begin (lettered on the piano roll); empty without a form.
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ShareError {
    NotALink,
    TooLong(usize),
    Base64,
    Version(u32),
    Corrupt,
    TooBig,
    Truncated,
    Invalid(String),
    Empty,
}

impl std::fmt::Display for ShareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShareError::NotALink => write!(f, "This link holds no Cantor clip (the part after # is missing or not ours)."),
            ShareError::TooLong(n) => write!(f, "This link is far too long ({n} characters) to be a Cantor clip; it was not opened."),
            ShareError::Base64 => write!(f, "This link is damaged: it contains characters a Cantor link never has. Was it cut or changed when copied?"),
            ShareError::Version(v) => write!(
                f,
                "This link was made by a different version of Cantor (clip format {v}); this page reads format {VERSION}."
            ),
            ShareError::Corrupt => write!(f, "This link is damaged (its checksum does not match). Was it cut or changed when copied?"),
            ShareError::TooBig => write!(f, "This link unpacks to far more data than any clip; it was refused."),
            ShareError::Truncated => write!(f, "This link is incomplete: the clip ends too early. Was the end of the link cut off?"),
            ShareError::Invalid(why) => write!(f, "This link's clip is not valid: {why}."),
            ShareError::Empty => write!(f, "There are no notes to share."),
        }
    }
}

impl std::error::Error for ShareError {}

impl Clip {
    /// A clip of `notes` in canonical order (start, pitch, end). Notes on the grid (all generated
    /// notes are) survive a link exactly; others are snapped to it. Parts of one program (a note's
    /// `track`, as generation numbers them: Violin I and Violin II) stay apart.
    pub fn new(mut notes: Vec<Note>, bpm: f64, steps_per_beat: u16, recipe: Option<Recipe>) -> Clip {
        let spb = steps_per_beat as f64;
        let grid = |b: f64| (b * spb).round() as i64;
        let order = |n: &Note| (grid(n.start), n.pitch, grid(n.start + n.duration), n.drum, n.program, n.velocity, n.track);
        notes.sort_by_key(order);
        canonical_channels(&mut notes);
        // Again on the instruments' new numbers, so two parts' notes that tie keep the order a link
        // gives back (the sort is stable: the order above decides everything else).
        notes.sort_by_key(order);
        Clip { notes, bpm, steps_per_beat, recipe, sections: Vec::new() }
    }

    /// The clip with where its form's sections begin (on its grid), so a link letters them too.
    pub fn with_sections(mut self, sections: Vec<Section>) -> Clip {
        let spb = self.steps_per_beat as f64;
        self.sections = sections.into_iter().map(|s| Section { beat: (s.beat * spb).round() / spb, ..s }).collect();
        self
    }

    /// Length in seconds (end of the last note).
    pub fn seconds(&self) -> f64 {
        self.notes.iter().map(|n| n.start_s + n.duration_s).fold(0.0, f64::max)
    }

    /// The first `count` notes (by start), for a link that must fit a budget.
    pub fn prefix(&self, count: usize) -> Clip {
        Clip { notes: self.notes[..count.min(self.notes.len())].to_vec(), ..self.clone() }
    }
}

/// Channels and tracks as a link gives them back: instruments (a program's part, or the drums) in
/// order of first use, each on its own channel (skipping channel 10), drums on channel 10; `track`
/// becomes the instrument's number; so a clip and its link compare equal.
/// One instrument of a clip: program, drums, and which part of the program (0 for drums).
type Instrument = (u8, bool, u16);

fn instrument(n: &Note) -> Instrument {
    (n.program.min(127), n.drum, if n.drum { 0 } else { n.track })
}

fn canonical_channels(notes: &mut [Note]) {
    let mut order: Vec<Instrument> = Vec::new();
    let mut melodic = 0u8;
    let mut channel_of: Vec<u8> = Vec::new();
    for n in notes.iter_mut() {
        let key = instrument(n);
        let k = match order.iter().position(|&o| o == key) {
            Some(k) => k,
            None => {
                order.push(key);
                channel_of.push(if n.drum {
                    9
                } else {
                    let c = melodic % 15;
                    melodic += 1;
                    if c >= 9 { c + 1 } else { c }
                });
                order.len() - 1
            }
        };
        n.channel = channel_of[k];
        n.track = k as u16;
    }
}

/// Packs a clip into a URL fragment (without the `#`).
pub fn encode(clip: &Clip) -> Result<String, ShareError> {
    if clip.notes.is_empty() {
        return Err(ShareError::Empty);
    }
    Ok(pack_payload(&write_payload(clip)?))
}

/// The envelope around a payload: `c<version>.` + base64url(zlib(payload)). Public for the fuzz
/// target and tests, which feed the decoder arbitrary payloads behind a valid envelope.
pub fn pack_payload(payload: &[u8]) -> String {
    let packed = miniz_oxide::deflate::compress_to_vec_zlib(payload, 10);
    format!("c{VERSION}.{}", URL_SAFE_NO_PAD.encode(packed))
}

/// A link for `clip` on the page at `base` (its address without fragment). When the whole clip
/// does not fit [`LINK_BUDGET`], the link holds the longest opening that does, and the second value
/// says how many notes were left out (0 = the whole clip).
pub fn link_within_budget(base: &str, clip: &Clip) -> Result<(String, usize), ShareError> {
    let link = |c: &Clip| encode(c).map(|f| format!("{base}#{f}"));
    let whole = link(clip)?;
    if whole.len() <= LINK_BUDGET {
        return Ok((whole, 0));
    }
    // Binary search on the number of notes kept (link length grows with it).
    let (mut lo, mut hi) = (1usize, clip.notes.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if link(&clip.prefix(mid))?.len() <= LINK_BUDGET { lo = mid } else { hi = mid - 1 }
    }
    let cut = clip.prefix(lo);
    let l = link(&cut)?;
    if l.len() > LINK_BUDGET {
        return Ok((whole, 0)); // even one note does not fit (a huge base address): give the whole link
    }
    Ok((l, clip.notes.len() - lo))
}

/// Reads a clip from a whole link, a fragment with `#`, or a bare fragment.
pub fn decode(link: &str) -> Result<Clip, ShareError> {
    let frag = link.rsplit_once('#').map_or(link, |(_, f)| f).trim();
    if frag.len() > MAX_FRAGMENT {
        return Err(ShareError::TooLong(frag.len()));
    }
    let rest = frag.strip_prefix('c').ok_or(ShareError::NotALink)?;
    let (version, data) = rest.split_once('.').ok_or(ShareError::NotALink)?;
    if version.is_empty() || version.len() > 6 || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ShareError::NotALink);
    }
    let version: u32 = version.parse().map_err(|_| ShareError::NotALink)?;
    if version != VERSION {
        return Err(ShareError::Version(version));
    }
    let packed = URL_SAFE_NO_PAD.decode(data.trim_end_matches('=')).map_err(|_| ShareError::Base64)?;
    let payload = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&packed, MAX_PAYLOAD).map_err(|e| match e.status {
        miniz_oxide::inflate::TINFLStatus::HasMoreOutput => ShareError::TooBig,
        miniz_oxide::inflate::TINFLStatus::FailedCannotMakeProgress => ShareError::Truncated,
        _ => ShareError::Corrupt,
    })?;
    read_payload(&payload)
}

// ---- payload ------------------------------------------------------------------------------------

fn put(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_text(out: &mut Vec<u8>, s: &str) {
    let mut end = s.len().min(MAX_TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    put(out, end as u64);
    out.extend_from_slice(&s.as_bytes()[..end]);
}

fn invalid(why: &str) -> ShareError {
    ShareError::Invalid(why.to_string())
}

fn write_payload(clip: &Clip) -> Result<Vec<u8>, ShareError> {
    // The encoder refuses what the decoder would: both use the bounds of `settings`.
    BPM.check(clip.bpm).map_err(|e| ShareError::Invalid(e.0))?;
    if let Some(r) = &clip.recipe {
        r.config.validate().map_err(|e| ShareError::Invalid(e.0))?;
        if r.primer.len() > MAX_PRIMER {
            return Err(invalid("the primer is too long for a link"));
        }
    }
    if clip.steps_per_beat == 0 || clip.steps_per_beat > 960 {
        return Err(invalid("the time grid must have 1 to 960 steps per beat"));
    }
    if clip.notes.len() > MAX_NOTES {
        return Err(invalid("the clip has too many notes for a link"));
    }
    let spb = clip.steps_per_beat as f64;
    let mut out = Vec::with_capacity(16 + clip.notes.len() * 5);
    put(&mut out, clip.steps_per_beat as u64);
    out.extend_from_slice(&clip.bpm.to_le_bytes());
    // Instruments: (program, drum) pairs in order of first use; a program listed twice is two of
    // its parts.
    let mut instruments: Vec<Instrument> = Vec::new();
    let mut which = Vec::with_capacity(clip.notes.len());
    for n in &clip.notes {
        let key = instrument(n);
        let i = match instruments.iter().position(|&k| k == key) {
            Some(i) => i,
            None => {
                instruments.push(key);
                instruments.len() - 1
            }
        };
        which.push(i as u8);
    }
    if instruments.len() > MAX_INSTRUMENTS {
        return Err(invalid("the clip uses more than 16 instruments"));
    }
    put(&mut out, instruments.len() as u64);
    for &(program, drum, _) in &instruments {
        out.push(program);
        out.push(drum as u8);
    }
    put(&mut out, clip.notes.len() as u64);
    let steps: Vec<(u64, u64)> = clip
        .notes
        .iter()
        .map(|n| {
            let s = (n.start * spb).round().max(0.0) as u64;
            let e = ((n.start + n.duration) * spb).round().max(0.0) as u64;
            (s, e.max(s + 1) - s)
        })
        .collect();
    let mut prev = 0;
    for &(s, _) in &steps {
        put(&mut out, s.checked_sub(prev).ok_or_else(|| invalid("notes must be in order of start"))?);
        prev = s;
    }
    for &(_, d) in &steps {
        put(&mut out, d);
    }
    out.extend(clip.notes.iter().map(|n| n.pitch.min(127)));
    out.extend(clip.notes.iter().map(|n| n.velocity.clamp(1, 127)));
    if instruments.len() > 1 {
        out.extend_from_slice(&which);
    }
    match &clip.recipe {
        None => out.push(0),
        Some(r) => {
            out.push(1);
            let fp = u64::from_str_radix(&r.model, 16).map_err(|_| invalid("the model fingerprint is not 16 hex digits"))?;
            out.extend_from_slice(&fp.to_le_bytes());
            let c = &r.config;
            put(&mut out, c.sampling.seed);
            out.extend_from_slice(&c.sampling.temperature.to_le_bytes());
            out.extend_from_slice(&c.sampling.top_p.to_le_bytes());
            put(&mut out, c.sampling.top_k as u64);
            match c.sampling.scale {
                None => out.push(0),
                Some(s) => out.push(1 + s.root % 12 + if s.minor { 12 } else { 0 }),
            }
            put(&mut out, c.max_tokens as u64);
            out.extend_from_slice(&c.max_beats.unwrap_or(-1.0).to_le_bytes());
            out.push(c.program.min(127));
            out.extend_from_slice(&c.bpm.to_le_bytes());
            if r.primer.len() > MAX_PRIMER {
                return Err(invalid("the primer is too long for a link"));
            }
            put(&mut out, r.primer.len() as u64);
            for &t in &r.primer {
                put(&mut out, t as u64);
            }
            put_text(&mut out, &r.primer_label);
            if let Some(form) = &r.form {
                form.validate().map_err(|e| ShareError::Invalid(e.0))?;
                out.push(1);
                put_text(&mut out, &form.sections);
                put(&mut out, form.section_bars as u64);
                out.push(match form.returns {
                    Returns::Exact => 0,
                    Returns::Varied => 1,
                });
                // Where each section begins, in grid steps from the last (links from before they
                // were written end above and open without letters).
                let letters = form.letters();
                let matches = clip.sections.len() == letters.len() && clip.sections.iter().zip(&letters).all(|(s, l)| s.letter == *l);
                if matches {
                    let mut prev = 0;
                    for s in &clip.sections {
                        let step = (s.beat * spb).round().max(0.0) as u64;
                        put(&mut out, step.checked_sub(prev).ok_or_else(|| invalid("its sections are out of order"))?);
                        prev = step;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// A bounds-checked reader: every read fails with `Truncated` instead of panicking.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], ShareError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or(ShareError::Truncated)?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn byte(&mut self) -> Result<u8, ShareError> {
        Ok(self.bytes(1)?[0])
    }
    fn varint(&mut self) -> Result<u64, ShareError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= ((b & 0x7f) as u64).checked_shl(shift).ok_or_else(|| invalid("a number is too large"))?;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(invalid("a number is too large"))
    }
    fn bounded(&mut self, max: u64, what: &str) -> Result<u64, ShareError> {
        let v = self.varint()?;
        if v > max { Err(invalid(what)) } else { Ok(v) }
    }
    fn f64(&mut self) -> Result<f64, ShareError> {
        Ok(f64::from_le_bytes(self.bytes(8)?.try_into().expect("8 bytes")))
    }
    fn f32(&mut self) -> Result<f32, ShareError> {
        Ok(f32::from_le_bytes(self.bytes(4)?.try_into().expect("4 bytes")))
    }
    fn text(&mut self) -> Result<String, ShareError> {
        let n = self.bounded(MAX_TEXT as u64, "a text field is too long")? as usize;
        String::from_utf8(self.bytes(n)?.to_vec()).map_err(|_| invalid("a text field is not valid text"))
    }
}

fn read_payload(data: &[u8]) -> Result<Clip, ShareError> {
    let mut r = Reader { data, pos: 0 };
    let spb = r.bounded(960, "the time grid is too fine")? as u16;
    if spb == 0 {
        return Err(invalid("the time grid has no steps"));
    }
    let bpm = r.f64()?;
    BPM.check(bpm).map_err(|e| ShareError::Invalid(e.0))?;
    let k = r.bounded(MAX_INSTRUMENTS as u64, "too many instruments")? as usize;
    let mut instruments = Vec::with_capacity(k);
    for _ in 0..k {
        let program = r.byte()?;
        let drum = r.byte()?;
        if program > 127 || drum > 1 {
            return Err(invalid("an instrument number is out of range"));
        }
        // Drums are one instrument (listing them twice would spell one clip two ways: found by
        // fuzzing); a program listed again is a further part of it (links before parts never did).
        if drum == 1 && instruments.contains(&(program, true)) {
            return Err(invalid("it lists the drums twice"));
        }
        instruments.push((program, drum == 1));
    }
    let n = r.bounded(MAX_NOTES as u64, "it has an absurd number of notes")? as usize;
    if n == 0 {
        return Err(invalid("it has no notes"));
    }
    if k == 0 {
        return Err(invalid("it names no instrument"));
    }
    // Each note needs at least 4 bytes: refuse a count the payload cannot hold before allocating.
    if n.saturating_mul(4) > data.len() {
        return Err(ShareError::Truncated);
    }
    let limit = MAX_BEATS * spb as u64;
    let mut starts = Vec::with_capacity(n);
    let mut t = 0u64;
    for _ in 0..n {
        t = t.checked_add(r.varint()?).filter(|&t| t <= limit).ok_or_else(|| invalid("a note starts absurdly late"))?;
        starts.push(t);
    }
    let mut durs = Vec::with_capacity(n);
    for _ in 0..n {
        let d = r.varint()?;
        if d == 0 || d > limit {
            return Err(invalid("a note has an impossible length"));
        }
        durs.push(d);
    }
    let pitches = r.bytes(n)?;
    let velocities = r.bytes(n)?;
    if pitches.iter().any(|&p| p > 127) || velocities.iter().any(|&v| v == 0 || v > 127) {
        return Err(invalid("a pitch or loudness is out of range"));
    }
    let which: Vec<u8> = if k > 1 { r.bytes(n)?.to_vec() } else { vec![0; n] };
    if which.iter().any(|&i| i as usize >= k) {
        return Err(invalid("a note names a missing instrument"));
    }
    // One canonical form: instruments are listed in order of first use, each used.
    let mut seen = 0usize;
    for &i in &which {
        if i as usize == seen {
            seen += 1;
        } else if i as usize > seen {
            return Err(invalid("its instruments are out of order"));
        }
    }
    if seen != k {
        return Err(invalid("it lists an instrument no note uses"));
    }
    let (fspb, sec) = (spb as f64, 60.0 / bpm);
    let mut notes: Vec<Note> = (0..n)
        .map(|i| {
            let (program, drum) = instruments[which[i] as usize];
            let (b0, b1) = (starts[i] as f64 / fspb, (starts[i] + durs[i]) as f64 / fspb);
            Note {
                pitch: pitches[i],
                velocity: velocities[i],
                start: b0,
                duration: b1 - b0,
                start_s: b0 * sec,
                duration_s: (b1 - b0) * sec,
                channel: if drum { 9 } else { which[i].min(15) },
                program,
                drum,
                track: which[i] as u16,
            }
        })
        .collect();
    canonical_channels(&mut notes);
    let recipe = match r.byte()? {
        0 => None,
        1 => Some(read_recipe(&mut r)?),
        _ => return Err(invalid("its recipe marker is unknown")),
    };
    // Where the form's sections begin, in links made since they were written.
    let mut sections = Vec::new();
    if let Some(form) = recipe.as_ref().and_then(|r| r.form.as_ref()).filter(|_| r.pos < data.len()) {
        let mut heard = Vec::new();
        let mut step = 0u64;
        for letter in form.letters() {
            step = step.checked_add(r.varint()?).filter(|&t| t <= limit).ok_or_else(|| invalid("a section starts absurdly late"))?;
            sections.push(Section { letter, beat: step as f64 / fspb, returning: heard.contains(&letter) });
            heard.push(letter);
        }
    }
    if r.pos != data.len() {
        return Err(invalid("it has extra data at the end"));
    }
    Ok(Clip { notes, bpm, steps_per_beat: spb, recipe, sections })
}

fn read_recipe(r: &mut Reader) -> Result<Recipe, ShareError> {
    let model = format!("{:016x}", u64::from_le_bytes(r.bytes(8)?.try_into().expect("8 bytes")));
    let seed = r.varint()?;
    let temperature = r.f32()?;
    let top_p = r.f32()?;
    let top_k = r.varint()? as usize;
    let scale = match r.byte()? {
        0 => None,
        s @ 1..=24 => Some(Scale { root: (s - 1) % 12, minor: s > 12 }),
        _ => return Err(invalid("its key is unknown")),
    };
    let max_tokens = r.varint()? as usize;
    let max_beats = r.f64()?;
    let max_beats = (max_beats != -1.0).then_some(max_beats);
    let program = r.byte()?;
    let bpm = r.f64()?;
    let primer_len = r.bounded(MAX_PRIMER as u64, "its primer is too long")? as usize;
    let mut primer = Vec::with_capacity(primer_len.min(r.data.len()));
    for _ in 0..primer_len {
        primer.push(r.bounded(u16::MAX as u64, "a primer token is out of range")? as u16);
    }
    let primer_label = r.text()?;
    // A form follows only in links made with one (older links end here).
    let form = if r.pos < r.data.len() {
        if r.byte()? != 1 {
            return Err(invalid("its form marker is unknown"));
        }
        let sections = r.text()?;
        let section_bars = r.bounded(u32::MAX as u64, "its section length is absurd")? as usize;
        let returns = match r.byte()? {
            0 => Returns::Exact,
            1 => Returns::Varied,
            _ => return Err(invalid("how its sections return is unknown")),
        };
        Some(Form::new(&sections, section_bars, returns).map_err(|e| ShareError::Invalid(format!("its form is not one Cantor writes. {}", e.0)))?)
    } else {
        None
    };
    let sampling = SamplingParams { temperature, top_k, top_p, seed, scale };
    let config = GenerateConfig { sampling, max_tokens, max_beats, program, bpm };
    // The same check the encoder made: a link this code writes always opens.
    config.validate().map_err(|e| ShareError::Invalid(format!("its recipe is out of range. {}", e.0)))?;
    Ok(Recipe { model, config, primer, primer_label, form })
}
