//! `cantor quantize`: a model file with 8-bit weights (a quarter of the size), for a model that is
//! downloaded before anything sounds, such as the page's starter.

use crate::shared::Res;
use burn::prelude::Device;
use cantor::model::{ModelFile, WeightsFormat};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(crate) struct QuantizeArgs {
    /// The model file to make smaller (f32 weights).
    model: PathBuf,
    /// Where to write the 8-bit model file.
    #[arg(long)]
    out: PathBuf,
}

pub(crate) fn run(a: QuantizeArgs) -> Res {
    let file = ModelFile::from_bytes(&std::fs::read(&a.model)?)?;
    if file.format == WeightsFormat::Int8Rows {
        return Err("that model's weights are already 8-bit".into());
    }
    let small = file.to_int8(&Device::flex())?;
    let bytes = small.to_bytes();
    std::fs::write(&a.out, &bytes)?;
    println!("{}: {} bytes of weights → {} ({:.1} %); {} bytes in all", a.out.display(), file.weights.len(), small.weights.len(), 100.0 * small.weights.len() as f64 / file.weights.len() as f64, bytes.len());
    Ok(ExitCode::SUCCESS)
}
