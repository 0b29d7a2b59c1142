//! `cantor generate`: write a MIDI clip with a trained model.

use crate::shared::{device, Res};
use cantor::encoding::corpus::NoteFilter;
use cantor::encoding::{Conditioning, Instrument, MusicVocab};
use cantor::generate::{generate, generate_form, Form, GenerateConfig, Returns, SamplingParams, Scale};
use cantor::midi::{read_song, write_song, Song};
use cantor::model::ModelFile;
use cantor::settings;
use cantor::train::block_on;
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(crate) struct GenerateArgs {
    model: PathBuf,
    #[arg(long, required_unless_present = "list")]
    out: Option<PathBuf>,
    /// Start from the first bars of this MIDI file.
    #[arg(long)]
    primer: Option<PathBuf>,
    /// How many beats of the primer to use.
    #[arg(long, default_value_t = settings::PRIMER_BEATS.default)]
    primer_beats: f64,
    /// Length of the result in beats.
    #[arg(long, default_value_t = settings::BEATS.default)]
    beats: f64,
    #[arg(long, default_value_t = settings::TEMPERATURE.default as f32)]
    temperature: f32,
    #[arg(long, default_value_t = settings::TOP_K.default_usize())]
    top_k: usize,
    #[arg(long, default_value_t = settings::TOP_P.default as f32)]
    top_p: f32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stay in a key, e.g. C, F#, Am, Ebm.
    #[arg(long)]
    key: Option<String>,
    /// Instrument of an `events` model's notes (bar models play the instruments they learned).
    #[arg(long, default_value_t = 0)]
    program: u8,
    /// Tempo (default: the median tempo of the model's corpus).
    #[arg(long)]
    bpm: Option<f64>,
    /// Play in this style (a style tag the model learned; `cantor generate MODEL --list` shows them).
    #[arg(long)]
    style: Option<String>,
    /// Play exactly these instruments: General MIDI program numbers or names, and `drums`,
    /// e.g. `piano,33,drums` (default: the model chooses).
    #[arg(long, value_delimiter = ',')]
    instruments: Option<Vec<String>>,
    /// Print the model's styles and instruments, and exit.
    #[arg(long)]
    list: bool,
    /// A form: sections in order, such as AABA, ABAB, AAB or ABACA (default: free, the model
    /// decides). Its length replaces --beats.
    #[arg(long)]
    form: Option<String>,
    /// Bars in each section of the form.
    #[arg(long, default_value_t = settings::SECTION_BARS.default_usize())]
    section_bars: usize,
    /// How a section heard before comes back: `exact` or `varied` (the same rhythm, some pitches
    /// chosen again within a whole tone).
    #[arg(long, value_enum, default_value_t = ReturnsArg::Exact)]
    returns: ReturnsArg,
    #[arg(long)]
    wgpu: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum ReturnsArg {
    Exact,
    Varied,
}

fn parse_key(key: &str) -> Result<Scale, String> {
    let (name, minor) = match key.strip_suffix('m') {
        Some(n) => (n, true),
        None => (key, false),
    };
    let mut chars = name.chars();
    let base = match chars.next().map(|c| c.to_ascii_uppercase()) {
        Some('C') => 0,
        Some('D') => 2,
        Some('E') => 4,
        Some('F') => 5,
        Some('G') => 7,
        Some('A') => 9,
        Some('B') => 11,
        _ => return Err(format!("unknown key {key:?}; write e.g. C, F#, Bb, Am")),
    };
    let shift: i32 = match chars.as_str() {
        "" => 0,
        "#" => 1,
        "b" => -1,
        _ => return Err(format!("unknown key {key:?}; write e.g. C, F#, Bb, Am")),
    };
    Ok(Scale { root: ((base + shift + 12) % 12) as u8, minor })
}

/// An instrument named on the command line: `drums`, a program number, or a General MIDI name
/// (or the start of one, e.g. `piano`, `fretless`).
fn parse_instrument(name: &str) -> Result<Instrument, String> {
    let n = name.trim().to_ascii_lowercase();
    if n == "drums" || n == "drum" || n == "kit" {
        return Ok(Instrument::Drums);
    }
    if let Ok(p) = n.parse::<u8>() {
        return if p < 128 { Ok(Instrument::Program(p)) } else { Err(format!("program {p} is out of range (0–127)")) };
    }
    (0..128u8)
        .find(|&p| cantor::midi::program_name(p).to_ascii_lowercase().starts_with(&n))
        .or_else(|| (0..128u8).find(|&p| cantor::midi::program_name(p).to_ascii_lowercase().contains(&n)))
        .map(Instrument::Program)
        .ok_or_else(|| format!("no General MIDI instrument is called {name:?}"))
}

pub(crate) fn run(a: GenerateArgs) -> Res {
    let file = ModelFile::from_bytes(&std::fs::read(&a.model)?)?;
    let Some(vocab) = file.vocab.music() else { return Err("that model scores benchmarks; it cannot write MIDI".into()) };
    if a.list {
        match &vocab {
            MusicVocab::Bars(v) => {
                println!("styles: {}", if v.styles.is_empty() { "none".into() } else { v.styles.join(", ") });
                let list: Vec<String> = v.instruments.iter().map(|i| match i {
                    Instrument::Drums => "drums".to_string(),
                    Instrument::Program(p) => format!("{p} {}", i.name()),
                }).collect();
                println!("instruments: {}", list.join(", "));
                println!("tempo: {:.0} bpm; meter {}/{}", v.bpm, v.meter.0, v.meter.1);
            }
            MusicVocab::Events(_) => println!("an events model: one instrument (--program), no styles"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let conditioning = Conditioning {
        style: a.style.clone(),
        instruments: a.instruments.as_ref().map(|l| l.iter().map(|n| parse_instrument(n)).collect::<Result<Vec<_>, _>>()).transpose()?,
    };
    if let (MusicVocab::Bars(v), Some(style)) = (&vocab, &conditioning.style) {
        if v.style_slot(style).is_none() {
            return Err(format!("this model knows no style {style:?} (it knows: {})", if v.styles.is_empty() { "none".into() } else { v.styles.join(", ") }).into());
        }
    }
    let device = device(a.wgpu)?;
    let model = file.load(&device)?;
    let primer = match &a.primer {
        Some(p) => {
            let song = read_song(&std::fs::read(p)?)?;
            vocab.primer(&NoteFilter::default().select(&song), &song.time_signatures, a.primer_beats)
        }
        None => vocab.prompt(&conditioning),
    };
    let bpm = a.bpm.unwrap_or(vocab.bpm_for(conditioning.style.as_deref()));
    settings::BPM.check(bpm)?;
    settings::PRIMER_BEATS.check(a.primer_beats)?;
    let config = GenerateConfig {
        sampling: SamplingParams {
            temperature: a.temperature,
            top_k: a.top_k,
            top_p: a.top_p,
            seed: a.seed,
            scale: a.key.as_deref().map(parse_key).transpose()?,
        },
        max_tokens: 100_000,
        max_beats: Some(a.beats),
        program: a.program,
        bpm,
    };
    let form = a
        .form
        .as_deref()
        .map(|f| Form::new(f, a.section_bars, if a.returns == ReturnsArg::Varied { Returns::Varied } else { Returns::Exact }))
        .transpose()?;
    let out = match (&form, &vocab) {
        (Some(form), MusicVocab::Bars(v)) => {
            let (out, sections) = block_on(generate_form(&model, v, &primer, &config, form, &device))?;
            let said: Vec<String> = sections.iter().map(|s| format!("{}{} from beat {}", s.letter, if s.returning { " (returns)" } else { "" }, s.beat)).collect();
            eprintln!("form {}: {}", form.sections, said.join(", "));
            out
        }
        (Some(_), MusicVocab::Events(_)) => return Err("a form needs a model with the bar vocabulary (this one was made with the first, event vocabulary)".into()),
        (None, _) => {
            let bar = ProgressBar::new_spinner();
            let out = block_on(generate(&model, &vocab, &primer, &config, &device, |n| {
                if n % 50 == 0 {
                    bar.set_message(format!("{n} tokens"))
                }
            }))?;
            bar.finish_and_clear();
            out
        }
    };
    let time_signatures = vocab.time_signatures(&out.tokens);
    let mut song = Song::new(out.notes);
    song.tempo = cantor::midi::TempoMap::constant(bpm);
    song.time_signatures = time_signatures;
    song.retime();
    let out_path = a.out.as_ref().ok_or("--out is missing")?;
    std::fs::write(out_path, write_song(&song))?;
    let mut instruments: Vec<Instrument> = song.notes.iter().map(Instrument::of).collect();
    instruments.sort();
    instruments.dedup();
    eprintln!(
        "wrote {} notes, {:.1} s at {bpm:.0} bpm ({}), to {} (seed {})",
        song.notes.len(),
        song.seconds(),
        instruments.iter().map(Instrument::name).collect::<Vec<_>>().join(", "),
        out_path.display(),
        a.seed
    );
    Ok(ExitCode::SUCCESS)
}
