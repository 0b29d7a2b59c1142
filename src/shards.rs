//! A corpus on disk, for collections far bigger than memory (a public MIDI data set of 100,000+
//! files): `cantor corpus build` reads the files in parallel and writes their tokens as shards,
//! `cantor train --corpus` memory-maps them, and `scripts/torch_train.py` reads the same files.
//! After jthickstun/anticipation's token shards: flat little-endian integers and an index.
//!
//! A corpus folder holds:
//! - `manifest.json` ([`Manifest`]): the vocabulary, each shard with its SHA-256 checksums;
//!   it is the commit point: a shard counts once it is listed here.
//! - per shard `shard-NNNNN.tokens` (the pieces' tokens end to end, `u16` LE) and
//!   `shard-NNNNN.index` (one 16-byte [`PieceRecord`] per piece: offset `u64`, length `u32`,
//!   head `u16`, split `u8`, padding `u8`, all LE);
//! - `files.jsonl`: one line per input file read ([`FileLine`]: kept, a duplicate, or unreadable
//!   with the reason), so an interrupted build resumes and a finished one is not redone;
//! - `report.tsv`: the files skipped, with why, for people.
//!
//! Every file is one piece (the whole song, no transposition: that is done on the fly). Which
//! pieces are held out is decided by each file's content hash, so a build is the same whatever
//! order or batches the files come in, and appending files never moves one from training to
//! validation.

use crate::encoding::corpus::{song_tokens, style_from_path, NoteFilter};
use crate::encoding::{BarVocab, MusicVocab, TokenId, Vocab};
use crate::midi::read_song;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const FORMAT: &str = "cantor-corpus";
pub const VERSION: u32 = 1;
/// Bytes of one [`PieceRecord`] in an index file.
pub const RECORD: usize = 16;
/// Files parsed to learn the vocabulary's tempo, meter and instruments (the first, by path).
const LEARN_FROM: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub vocab_size: usize,
    /// The token training windows start at (after a piece's head): the bar line.
    pub anchor: Option<TokenId>,
    pub vocab: Vocab,
    /// The share of files held out, by content hash.
    pub valid_fraction: f64,
    pub shards: Vec<ShardEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardEntry {
    pub name: String,
    pub pieces: usize,
    pub tokens: usize,
    pub sha256_tokens: String,
    pub sha256_index: String,
}

/// One piece in a shard's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PieceRecord {
    /// Its first token, counted in tokens from the start of the shard.
    pub offset: u64,
    pub length: u32,
    /// Leading tokens that are its head (START, style, instruments) up to the first bar line.
    pub head: u16,
    /// 0: training, 1: held out.
    pub split: u8,
}

impl PieceRecord {
    fn bytes(&self) -> [u8; RECORD] {
        let mut b = [0u8; RECORD];
        b[..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..12].copy_from_slice(&self.length.to_le_bytes());
        b[12..14].copy_from_slice(&self.head.to_le_bytes());
        b[14] = self.split;
        b
    }

    fn read(b: &[u8]) -> PieceRecord {
        PieceRecord {
            offset: u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
            length: u32::from_le_bytes(b[8..12].try_into().expect("4 bytes")),
            head: u16::from_le_bytes(b[12..14].try_into().expect("2 bytes")),
            split: b[14],
        }
    }
}

/// What became of one input file (a line of `files.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileLine {
    pub path: String,
    /// The shard whose build read it (the line counts only if that shard is in the manifest).
    pub shard: String,
    /// SHA-256 of its bytes (empty when it could not be read).
    pub sha256: String,
    /// "kept", "duplicate", "near-duplicate" or "unreadable".
    pub outcome: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// For a kept file: SHA-256 of its music's tokens (from the first bar line), which finds the
    /// same song in other bytes (another file's metadata, track names, a re-save).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub music_sha256: String,
}

#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub valid_fraction: f64,
    /// Files per shard.
    pub shard_files: usize,
    pub filter: NoteFilter,
    /// Stop after this many shards (tests: an interrupted build).
    pub max_shards: Option<usize>,
    /// Also drop files whose music is a kept file's note for note (the same tokens from the first
    /// bar line: the same song saved with other metadata, track names or tempo map bytes).
    pub near_duplicates: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions { valid_fraction: 0.05, shard_files: 2000, filter: NoteFilter::default(), max_shards: None, near_duplicates: false }
    }
}

/// What a build did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BuildReport {
    /// Files found under the inputs.
    pub found: usize,
    /// Files already read by an earlier build (not read again).
    pub already: usize,
    /// Files read by this build.
    pub read: usize,
    pub kept: usize,
    pub duplicates: usize,
    /// Files dropped as the same music as a kept one (with `near_duplicates`).
    pub near_duplicates: usize,
    /// (file, why) for each file that could not be used.
    pub unreadable: Vec<(String, String)>,
    pub tokens: usize,
    /// Shards written by this build.
    pub shards: usize,
}

/// Errors in words (the folder, a damaged manifest, a disk that refuses).
#[derive(Debug)]
pub struct CorpusError(pub String);

impl std::fmt::Display for CorpusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CorpusError {}

fn io(what: &str, path: &Path) -> impl Fn(std::io::Error) -> CorpusError {
    let (what, path) = (what.to_string(), path.display().to_string());
    move |e| CorpusError(format!("could not {what} {path}: {e}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// MIDI files under `inputs` (files as given; folders walked recursively, sorted by path within
/// each), each with its style (the folder it was found in, for files found in a folder). Every
/// command that reads MIDI files lists them here.
pub fn list_files(inputs: &[PathBuf]) -> Vec<(PathBuf, Option<String>)> {
    let is_midi = |p: &Path| {
        p.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "mid" | "midi" | "kar" | "rmi" | "smf"))
    };
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(input)
                .follow_links(true)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file() && is_midi(e.path()))
                .map(|e| e.into_path())
                .collect();
            found.sort();
            out.extend(found.into_iter().map(|p| {
                let style = style_from_path(&p.to_string_lossy());
                (p, style)
            }));
        } else {
            out.push((input.clone(), None));
        }
    }
    out
}

/// Whether a file with this content hash is held out: its first 8 bytes as a number, below the
/// share of all such numbers.
fn held_out(sha: &[u8], valid_fraction: f64) -> bool {
    let x = u64::from_le_bytes(sha[..8].try_into().expect("8 bytes"));
    (x as f64 / u64::MAX as f64) < valid_fraction
}

enum Read {
    Tokens { sha: Vec<u8>, tokens: Vec<TokenId> },
    Unreadable { sha: Vec<u8>, why: String },
}

fn read_one(path: &Path, style: Option<&str>, vocab: &BarVocab, filter: &NoteFilter) -> Read {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return Read::Unreadable { sha: Vec::new(), why: format!("could not be read: {e}") },
    };
    let sha = Sha256::digest(&bytes).to_vec();
    match read_song(&bytes) {
        Err(e) => Read::Unreadable { sha, why: e.to_string() },
        Ok(song) if song.notes.is_empty() => Read::Unreadable { sha, why: "it has no notes".into() },
        Ok(song) => {
            let tokens = song_tokens(vocab, &song, style, filter);
            if tokens.len() > u32::MAX as usize || tokens.iter().position(|&t| t == vocab.bar()).is_none() {
                return Read::Unreadable { sha, why: "none of its notes could be written as bars".into() };
            }
            Read::Tokens { sha, tokens }
        }
    }
}

/// A new corpus's vocabulary: the bar vocabulary after learning tempo, meter and instruments from
/// the first [`LEARN_FROM`] files (a bounded sample, so memory does not grow with the corpus)
/// and style names from every file's folder.
fn learn_vocab(files: &[(PathBuf, Option<String>)], filter: &NoteFilter) -> BarVocab {
    let sample: Vec<(crate::midi::Song, Option<String>)> = files[..files.len().min(LEARN_FROM)]
        .par_iter()
        .filter_map(|(p, style)| std::fs::read(p).ok().and_then(|b| read_song(&b).ok()).filter(|s| !s.notes.is_empty()).map(|s| (s, style.clone())))
        .collect();
    let (songs, styles): (Vec<_>, Vec<_>) = sample.into_iter().unzip();
    let options = crate::encoding::corpus::CorpusOptions { filter: filter.clone(), ..Default::default() };
    let mut vocab = crate::encoding::corpus::learn_bar_vocab(&BarVocab::default(), &songs, &styles, &options);
    vocab.add_styles(files.iter().filter_map(|(_, s)| s.as_deref()));
    vocab
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CorpusError> {
    let tmp = path.with_extension("part");
    let mut f = std::fs::File::create(&tmp).map_err(io("write", &tmp))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io("rename", path))
}

/// Reads the manifest of the corpus in `dir`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, CorpusError> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| CorpusError(format!("{} is not a Cantor corpus (no readable manifest.json: {e})", dir.display())))?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| CorpusError(format!("{} is damaged: {e}", path.display())))?;
    if m.format != FORMAT || m.version != VERSION {
        return Err(CorpusError(format!("{} is not a corpus this cantor reads (format {} version {})", path.display(), m.format, m.version)));
    }
    Ok(m)
}

/// The files an earlier build read (their lines whose shard the manifest lists).
fn files_read(dir: &Path, manifest: &Manifest) -> Vec<FileLine> {
    let listed: HashSet<&str> = manifest.shards.iter().map(|s| s.name.as_str()).collect();
    std::fs::read_to_string(dir.join("files.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<FileLine>(l).ok())
        .filter(|l| listed.contains(l.shard.as_str()))
        .collect()
}

/// Builds (or resumes, or extends) the corpus in `out` from the MIDI files under `inputs`.
/// `progress(done, total)` is called as files are read. Deterministic: the same files give the
/// same shards, byte for byte, whatever the number of threads.
pub fn build(inputs: &[PathBuf], out: &Path, options: &BuildOptions, progress: impl Fn(usize, usize) + Sync) -> Result<BuildReport, CorpusError> {
    std::fs::create_dir_all(out).map_err(io("create", out))?;
    let files = list_files(inputs);
    let mut report = BuildReport { found: files.len(), ..BuildReport::default() };
    let (mut manifest, earlier) = if out.join("manifest.json").exists() {
        let m = read_manifest(out)?;
        let lines = files_read(out, &m);
        // Lines of a shard the manifest never listed (a build stopped between the two) are
        // dropped for good: that shard's name is written again by this build.
        let kept: String = lines.iter().map(|l| serde_json::to_string(l).expect("a line serialises") + "\n").collect();
        write_atomic(&out.join("files.jsonl"), kept.as_bytes())?;
        (m, lines)
    } else {
        if files.is_empty() {
            return Err(CorpusError("no MIDI files (.mid, .midi, .kar, .rmi, .smf) were found there".into()));
        }
        let vocab = learn_vocab(&files, &options.filter);
        let manifest = Manifest {
            format: FORMAT.into(),
            version: VERSION,
            vocab_size: vocab.size(),
            anchor: Some(vocab.bar()),
            vocab: Vocab::from(MusicVocab::Bars(vocab)),
            valid_fraction: options.valid_fraction,
            shards: Vec::new(),
        };
        // Lines from a build that never wrote its manifest belong to no shard: start afresh.
        let _ = std::fs::remove_file(out.join("files.jsonl"));
        (manifest, Vec::new())
    };
    let Vocab::Bars(vocab) = manifest.vocab.clone() else {
        return Err(CorpusError("the corpus's vocabulary is not the bar vocabulary".into()));
    };
    let done: HashSet<&str> = earlier.iter().map(|l| l.path.as_str()).collect();
    let mut hashes: HashSet<String> = earlier.iter().filter(|l| l.outcome == "kept").map(|l| l.sha256.clone()).collect();
    let mut music: HashSet<String> = earlier.iter().filter(|l| l.outcome == "kept").map(|l| l.music_sha256.clone()).collect();
    let todo: Vec<&(PathBuf, Option<String>)> = files.iter().filter(|(p, _)| !done.contains(p.to_string_lossy().as_ref())).collect();
    report.already = files.len() - todo.len();
    let total = files.len();
    let counter = std::sync::atomic::AtomicUsize::new(report.already);
    let mut lines_file = std::fs::OpenOptions::new().create(true).append(true).open(out.join("files.jsonl")).map_err(io("write", out))?;
    for chunk in todo.chunks(options.shard_files.max(1)) {
        if options.max_shards.is_some_and(|m| report.shards >= m) {
            break;
        }
        let name = format!("shard-{:05}", manifest.shards.len());
        let read: Vec<Read> = chunk
            .par_iter()
            .map(|(p, style)| {
                let r = read_one(p, style.as_deref(), &vocab, &options.filter);
                progress(counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, total);
                r
            })
            .collect();
        let (mut tokens, mut index, mut lines) = (Vec::new(), Vec::new(), Vec::new());
        let mut offset = 0u64;
        report.read += chunk.len();
        for ((path, _), r) in chunk.iter().zip(read) {
            let path = path.to_string_lossy().into_owned();
            let line = |sha: &[u8], outcome: &str, reason: String| FileLine { path: path.clone(), shard: name.clone(), sha256: hex(sha), outcome: outcome.into(), reason, music_sha256: String::new() };
            match r {
                Read::Unreadable { sha, why } => {
                    report.unreadable.push((path.clone(), why.clone()));
                    lines.push(line(&sha, "unreadable", why));
                }
                Read::Tokens { sha, tokens: t } => {
                    if !hashes.insert(hex(&sha)) {
                        report.duplicates += 1;
                        lines.push(line(&sha, "duplicate", "the same bytes as a file kept earlier".into()));
                        continue;
                    }
                    let bar = t.iter().position(|&x| x == vocab.bar()).unwrap_or(0);
                    let body: Vec<u8> = t[bar..].iter().flat_map(|x| x.to_le_bytes()).collect();
                    let music_sha = hex(&Sha256::digest(&body));
                    if options.near_duplicates && music.contains(&music_sha) {
                        hashes.remove(&hex(&sha)); // only kept files count as exact duplicates (as on resuming)
                        report.near_duplicates += 1;
                        lines.push(line(&sha, "near-duplicate", "the same music as a file kept earlier".into()));
                        continue;
                    }
                    music.insert(music_sha.clone());
                    let head = bar.min(u16::MAX as usize) as u16;
                    let split = u8::from(held_out(&sha, manifest.valid_fraction));
                    index.extend_from_slice(&PieceRecord { offset, length: t.len() as u32, head, split }.bytes());
                    offset += t.len() as u64;
                    tokens.extend(t.iter().flat_map(|x| x.to_le_bytes()));
                    report.kept += 1;
                    report.tokens += t.len();
                    lines.push(FileLine { music_sha256: music_sha, ..line(&sha, "kept", String::new()) });
                }
            }
        }
        // Shard files, then the lines saying what was read, then the manifest listing the shard.
        write_atomic(&out.join(format!("{name}.tokens")), &tokens)?;
        write_atomic(&out.join(format!("{name}.index")), &index)?;
        for l in &lines {
            writeln!(lines_file, "{}", serde_json::to_string(l).expect("a line serialises")).map_err(io("write", out))?;
        }
        lines_file.sync_all().map_err(io("write", out))?;
        manifest.shards.push(ShardEntry {
            name,
            pieces: index.len() / RECORD,
            tokens: tokens.len() / 2,
            sha256_tokens: hex(&Sha256::digest(&tokens)),
            sha256_index: hex(&Sha256::digest(&index)),
        });
        write_atomic(&out.join("manifest.json"), serde_json::to_string_pretty(&manifest).expect("the manifest serialises").as_bytes())?;
        report.shards += 1;
    }
    // For people: every file skipped, by this build or an earlier one, and why.
    let mut skipped: Vec<String> = files_read(out, &manifest)
        .into_iter()
        .filter(|l| l.outcome != "kept")
        .map(|l| format!("{}\t{}\t{}", l.path, l.outcome, if l.reason.is_empty() { "-" } else { &l.reason }))
        .collect();
    skipped.insert(0, "file\toutcome\twhy".into());
    write_atomic(&out.join("report.tsv"), (skipped.join("\n") + "\n").as_bytes())?;
    Ok(report)
}

/// A built corpus, memory-mapped: its training pieces as one stream (in shard and piece order),
/// read without loading it. Memory: the maps, and a few numbers per piece.
pub struct ShardCorpus {
    pub manifest: Manifest,
    tokens: Vec<memmap2::Mmap>,
    /// Training pieces: (shard, first token in that shard, length, head).
    train: Vec<(u32, u64, u32, u16)>,
    /// Held-out pieces, the same way.
    valid: Vec<(u32, u64, u32, u16)>,
}

impl ShardCorpus {
    /// Opens the corpus in `dir`, checking each shard's size against its index (and, with
    /// `verify`, its checksums: a full read).
    pub fn open(dir: &Path, verify: bool) -> Result<ShardCorpus, CorpusError> {
        let manifest = read_manifest(dir)?;
        let (mut tokens, mut train, mut valid) = (Vec::new(), Vec::new(), Vec::new());
        for (s, shard) in manifest.shards.iter().enumerate() {
            let map = |ext: &str| -> Result<memmap2::Mmap, CorpusError> {
                let path = dir.join(format!("{}.{ext}", shard.name));
                let f = std::fs::File::open(&path).map_err(io("open", &path))?;
                // SAFETY: the corpus's files are written once (renamed into place) and only read after.
                unsafe { memmap2::Mmap::map(&f) }.map_err(io("map", &path))
            };
            let (t, i) = (map("tokens")?, map("index")?);
            let damaged = || CorpusError(format!("shard {} of the corpus is damaged (its size or checksum is not the manifest's); build it again", shard.name));
            if t.len() != shard.tokens * 2 || i.len() != shard.pieces * RECORD {
                return Err(damaged());
            }
            if verify && (hex(&Sha256::digest(&t[..])) != shard.sha256_tokens || hex(&Sha256::digest(&i[..])) != shard.sha256_index) {
                return Err(damaged());
            }
            // Every token must be one of the vocabulary's (a damaged shard would feed the model
            // ids it has no row for).
            let size = manifest.vocab_size;
            if t.chunks_exact(2).any(|b| u16::from_le_bytes([b[0], b[1]]) as usize >= size) {
                return Err(damaged());
            }
            for r in i.chunks(RECORD).map(PieceRecord::read) {
                if r.offset.checked_add(r.length as u64).is_none_or(|end| end > shard.tokens as u64) {
                    return Err(damaged());
                }
                let piece = (s as u32, r.offset, r.length, r.head);
                if r.split == 0 { train.push(piece) } else { valid.push(piece) }
            }
            tokens.push(t);
        }
        Ok(ShardCorpus { manifest, tokens, train, valid })
    }

    fn piece(&self, p: &(u32, u64, u32, u16)) -> impl Iterator<Item = TokenId> + '_ {
        let bytes = &self.tokens[p.0 as usize][p.1 as usize * 2..(p.1 as usize + p.2 as usize) * 2];
        bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn train_pieces(&self) -> usize {
        self.train.len()
    }

    pub fn valid_pieces(&self) -> usize {
        self.valid.len()
    }

    /// Held-out pieces in memory for validation, up to about `max_tokens` tokens in all.
    pub fn valid(&self, max_tokens: usize) -> Vec<Vec<TokenId>> {
        let mut out = Vec::new();
        let mut n = 0;
        for p in &self.valid {
            if n >= max_tokens {
                break;
            }
            n += p.2 as usize;
            out.push(self.piece(p).collect());
        }
        out
    }

    /// Every training piece in memory (tests: the same pieces as `cantor train DIR` makes).
    pub fn train_in_memory(&self) -> Vec<Vec<TokenId>> {
        self.train.iter().map(|p| self.piece(p).collect()).collect()
    }
}

impl crate::train::TokenSource for ShardCorpus {
    fn pieces(&self) -> usize {
        self.train.len()
    }
    fn head(&self, piece: usize) -> usize {
        self.train[piece].3 as usize
    }
    fn len(&self, piece: usize) -> usize {
        self.train[piece].2 as usize
    }
    fn read(&self, piece: usize, from: usize, out: &mut Vec<i64>, count: usize) -> usize {
        let before = out.len();
        out.extend(self.piece(&self.train[piece]).skip(from).take(count).map(i64::from));
        out.len() - before
    }
    fn transpose(&self, window: &mut [i64], semitones: i32) -> bool {
        match &self.manifest.vocab {
            Vocab::Bars(v) => v.transpose_tokens(window, semitones),
            _ => false,
        }
    }
}
