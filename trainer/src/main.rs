use anyhow::{bail, Context, Result};
use clap::Parser;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use trainer::cli::{Cli, Command, ProgressArg, SampleArgs, TrainArgs};
use trainer::data::{load_split, locate, Locator, Split};
use trainer::export::{export_run, ExportReport};
use trainer::models::ModelKind;
use trainer::train::{train, Checkpoint, Progress, RunDir, TrainConfig};

static STOP: AtomicBool = AtomicBool::new(false);

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => run_train(cli.train),
        Some(Command::Train(args)) => run_train(args),
        Some(Command::Sample(args)) => run_sample(args),
        Some(Command::Export(args)) => run_export(&RunDir::new(args.run)),
    }
}

fn config_from(args: &TrainArgs, resumed: Option<&Checkpoint>) -> TrainConfig {
    let mut c = resumed.map(|ck| ck.config.clone()).unwrap_or_default();
    if let Some(v) = args.model {
        c.model = v;
    }
    if let Some(v) = args.iterations {
        c.iterations = v;
    }
    if let Some(v) = args.seed {
        c.seed = v;
    }
    if let Some(v) = args.batch {
        c.batch_size = v;
    }
    if let Some(v) = args.lr {
        c.lr = v;
    }
    if let Some(v) = args.beta1 {
        c.betas[0] = v;
    }
    if let Some(v) = args.beta2 {
        c.betas[1] = v;
    }
    if let Some(v) = args.snapshot_every {
        c.snapshot_every = v;
    }
    if let Some(v) = args.checkpoint_every {
        c.checkpoint_every = v;
    }
    if let Some(v) = args.log_every {
        c.log_every = v;
    }
    c
}

fn run_train(args: TrainArgs) -> Result<()> {
    let (dir, resumed) = match &args.resume {
        Some(path) => {
            let dir = RunDir::new(path);
            let ck = Checkpoint::load(&dir.checkpoint()).with_context(|| {
                format!("cannot resume {}: no usable checkpoint", path.display())
            })?;
            (dir, Some(ck))
        }
        None => {
            let c = config_from(&args, None);
            let name = args
                .name
                .clone()
                .unwrap_or_else(|| format!("{}-seed{}", c.model, c.seed));
            let dir = RunDir::new(args.runs_dir.join(name));
            if dir.checkpoint().exists() {
                bail!(
                    "{} already holds a run: continue it with --resume {0}, or choose another --name",
                    dir.path().display()
                );
            }
            (dir, None)
        }
    };
    let config = config_from(&args, resumed.as_ref());
    if let Some(ck) = &resumed {
        if ck.iteration >= config.iterations {
            println!(
                "{} is complete ({} iterations); pass a larger --iterations to continue",
                dir.path().display(),
                ck.iteration
            );
            return Ok(());
        }
    }

    let mut locator = Locator::from_env(args.data.clone());
    locator.allow_download = !args.no_download;
    let source = locate(&locator)?;
    let data = load_split(source.dir(), Split::Train)?;
    eprintln!("MNIST: {} training images from {source}", data.len());

    ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            // A second Ctrl-C: checkpoints are written atomically, so leaving now loses nothing.
            std::process::exit(130);
        }
        eprintln!(
            "\nCtrl-C: finishing this iteration and writing a checkpoint (again to quit at once)"
        );
    })
    .context("cannot install the Ctrl-C handler")?;

    let progress = match args.progress {
        ProgressArg::Auto if std::io::stderr().is_terminal() => Progress::Bar,
        ProgressArg::Auto | ProgressArg::Lines => Progress::Lines,
        ProgressArg::Bar => Progress::Bar,
        ProgressArg::Quiet => Progress::Quiet,
    };
    let start = resumed.as_ref().map_or(0, |ck| ck.iteration);
    eprintln!(
        "training {} for {} iterations (from {start}), seed {}, into {}",
        config.model,
        config.iterations,
        config.seed,
        dir.path().display()
    );
    let outcome = train(&config, &data, &dir, resumed, &STOP, progress)?;
    let images_per_sec = if outcome.train_seconds > 0.0 {
        (outcome.iteration as f64 * config.batch_size as f64) / outcome.train_seconds
    } else {
        0.0
    };
    if outcome.interrupted {
        println!(
            "stopped at iteration {}; checkpoint written. Continue with: trainer --resume {}",
            outcome.iteration,
            dir.path().display()
        );
        std::process::exit(130);
    }
    println!(
        "done: {} iterations in {:.1} s of training ({:.0} images/s); results in {}",
        outcome.iteration,
        outcome.train_seconds,
        images_per_sec,
        dir.path().display()
    );
    if config.model == ModelKind::Mcu {
        run_export(&dir)?;
    }
    Ok(())
}

fn print_export(dir: &RunDir, r: &ExportReport) {
    println!(
        "exported {} ({} bytes); int8 firmware vs float on {} digits: PSNR {:.1} dB (worst digit {:.1} dB), mean |error| {:.2}, max |error| {} of 255; report: {}",
        dir.blob().display(),
        r.blob_bytes,
        r.digits,
        r.psnr_db,
        r.worst_digit_psnr_db,
        r.mean_abs_error,
        r.max_abs_error,
        dir.export_report().display()
    );
}

fn run_export(dir: &RunDir) -> Result<()> {
    let report = export_run(dir)?;
    print_export(dir, &report);
    Ok(())
}

fn run_sample(args: SampleArgs) -> Result<()> {
    let dir = RunDir::new(&args.run);
    let ck = Checkpoint::load(&dir.checkpoint())?;
    let written = trainer::sample::write_samples(&ck, args.count, args.seed, &args.out)?;
    println!(
        "wrote {} digits to {} and a grid to {}",
        args.count,
        args.out.display(),
        written.display()
    );
    Ok(())
}
