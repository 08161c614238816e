//! Issue 17 experiment: how the spread of the latent trades precision for recall.
//!
//! Multiplying the noise columns of the generator's first (linear) layer by `s` is the same as
//! drawing the noise with standard deviation `s` instead of 1, and it costs nothing on the
//! device: the blob keeps its shapes. For each scale this writes a copy of the run,
//! `RUN-z<s>/`, with the scaled generator (the averaged one for `--ema` runs) and its exported
//! blob, to score with `trainer eval --blob RUN-z<s>/generator.postcard`.
//!
//! ```sh
//! cargo run --release -p trainer --example latent_scale -- runs/NAME 0.9 1.1 1.25
//! ```

use firmware_core::LATENT_DIM;
use std::process::ExitCode;
use trainer::export::export_checkpoint;
use trainer::train::{Checkpoint, RunDir};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((run, scales)) = args.split_first() else {
        eprintln!("usage: latent_scale RUN_DIR SCALE...");
        return ExitCode::FAILURE;
    };
    match scale_run(run, scales) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn scale_run(run: &str, scales: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let ck = Checkpoint::load(&RunDir::new(run).checkpoint())?;
    let model = ck.config.model;
    // Refused here, before any copy of the run is written (the export would refuse it too).
    if !model.runs_on_firmware() {
        return Err(format!("{run}: preset `{model}` does not run on the firmware").into());
    }
    // The noise inputs only: a conditional generator's last inputs are the one-hot class,
    // which must stay 1.
    let noise = model.latent_dim();
    for text in scales {
        let scale: f32 = text.parse().map_err(|e| format!("scale {text:?}: {e}"))?;
        let mut scaled = ck.clone();
        let tensors = match scaled.ema.as_mut() {
            Some(average) => &mut average.tensors,
            None => &mut scaled.generator,
        };
        // The first tensor is the linear layer's weight, (outputs, LATENT_DIM) row-major.
        let weight = tensors
            .tensors
            .first_mut()
            .ok_or("checkpoint holds no tensors")?;
        if weight.len() % LATENT_DIM != 0 {
            return Err(
                format!("{run}: the first tensor is not a (_, {LATENT_DIM}) weight").into(),
            );
        }
        for row in weight.chunks_mut(LATENT_DIM) {
            row[..noise].iter_mut().for_each(|w| *w *= scale);
        }
        let out = RunDir::new(format!("{run}-z{text}"));
        out.create()?;
        scaled.save(&out.checkpoint())?;
        let report = export_checkpoint(&scaled, &out)?;
        println!(
            "{}: int8 vs float PSNR {:.1} dB",
            out.blob().display(),
            report.psnr_db
        );
    }
    Ok(())
}
