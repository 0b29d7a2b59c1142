//! `cantor inspect`: read MIDI files and report what is in them (or why they cannot be read).

use crate::shared::Res;
use cantor::midi::read_song;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(crate) struct InspectArgs {
    files: Vec<PathBuf>,
    /// One JSON object per file.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(InspectArgs { files, json }: InspectArgs) -> Res {
    let mut any_error = false;
    for (path, _) in cantor::shards::list_files(&files) {
        let name = path.display().to_string();
        let result = std::fs::read(&path).map_err(|e| e.to_string()).and_then(|b| read_song(&b).map_err(|e| e.to_string()));
        any_error |= result.is_err();
        if json {
            let value = match &result {
                Ok(s) => serde_json::json!({
                    "file": name, "ok": true, "format": s.format, "tracks": s.tracks.len(),
                    "notes": s.notes.len(), "seconds": s.seconds(), "beats": s.beats(),
                    "warnings": s.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
                    "error": null,
                }),
                Err(e) => serde_json::json!({
                    "file": name, "ok": false, "notes": 0, "seconds": 0.0, "warnings": [], "error": e,
                }),
            };
            println!("{value}");
        } else {
            match &result {
                Ok(s) => {
                    println!(
                        "{name}: format {}, {} track(s), {} notes, {:.1} s",
                        s.format,
                        s.tracks.len(),
                        s.notes.len(),
                        s.seconds()
                    );
                    for w in &s.warnings {
                        println!("  warning: {w}");
                    }
                }
                Err(e) => println!("{name}: cannot be read: {e}"),
            }
        }
    }
    Ok(if any_error { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
