//! `cantor corpus build`: a collection of MIDI files too big for memory, as token shards on disk
//! (`src/shards.rs`), for `cantor train --corpus` and `scripts/torch_train.py`.

use crate::shared::Res;
use cantor::encoding::corpus::NoteFilter;
use cantor::shards::{self, BuildOptions};
use cantor::settings;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(crate) struct CorpusArgs {
    #[command(subcommand)]
    command: CorpusCommand,
}

#[derive(Subcommand)]
enum CorpusCommand {
    /// Read MIDI files (folders recursively, on every core) into token shards. Unreadable files
    /// are skipped into `report.tsv`, exact duplicates dropped. Run it again to resume an
    /// interrupted build or to add new files: files already read are not read again.
    Build(BuildArgs),
}

#[derive(Args)]
struct BuildArgs {
    /// MIDI files or folders.
    inputs: Vec<PathBuf>,
    /// The corpus folder (created, or resumed and extended).
    #[arg(long)]
    out: PathBuf,
    /// Share of files held out for validation (chosen by each file's content, so it does not
    /// change as files are added).
    #[arg(long, default_value_t = 0.05)]
    valid: f64,
    /// Threads reading files (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Files per shard.
    #[arg(long, default_value_t = 2000)]
    shard_files: usize,
    /// Leave the drums out.
    #[arg(long)]
    no_drums: bool,
    /// A piano reduction: every melodic note on one piano, no drums.
    #[arg(long)]
    piano: bool,
    /// Also drop files whose music is a kept file's note for note (the same song saved again with
    /// other metadata or track names).
    #[arg(long)]
    near_duplicates: bool,
    /// Stop after writing this many shards (what an interrupted build leaves; for tests).
    #[arg(long, hide = true)]
    max_shards: Option<usize>,
}

pub(crate) fn run(a: CorpusArgs) -> Res {
    match a.command {
        CorpusCommand::Build(b) => build(b),
    }
}

fn build(a: BuildArgs) -> Res {
    settings::VALID_SHARE.check(a.valid)?;
    if a.inputs.is_empty() {
        return Err("give the MIDI files or folders to read".into());
    }
    let threads = if a.threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { a.threads };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} files  {per_sec}  eta {eta}").expect("valid template"));
    let options = BuildOptions {
        valid_fraction: a.valid,
        shard_files: a.shard_files.max(1),
        filter: NoteFilter { drums: !a.no_drums, tracks: None, melody_only: false, piano: a.piano },
        max_shards: a.max_shards,
        near_duplicates: a.near_duplicates,
    };
    let t0 = std::time::Instant::now();
    let report = pool.install(|| {
        shards::build(&a.inputs, &a.out, &options, |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })
    })?;
    bar.finish_and_clear();
    let seconds = t0.elapsed().as_secs_f64();
    let read = report.read;
    eprintln!(
        "{} files found, {} read ({:.0} files/s on {threads} threads), {} already in the corpus{}; kept {} ({} tokens) in {} new shard(s); {} duplicate(s) and {} near-duplicate(s) dropped; {} unreadable (see {}).",
        report.found,
        read,
        read as f64 / seconds.max(1e-9),
        report.already,
        if report.found > report.already + read { format!(", {} left for the next run", report.found - report.already - read) } else { String::new() },
        report.kept,
        report.tokens,
        report.shards,
        report.duplicates,
        report.near_duplicates,
        report.unreadable.len(),
        a.out.join("report.tsv").display(),
    );
    for (file, why) in report.unreadable.iter().take(10) {
        eprintln!("  skipped {file}: {why}");
    }
    Ok(ExitCode::SUCCESS)
}
