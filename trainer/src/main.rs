use anyhow::{bail, Context, Result};
use clap::Parser;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use trainer::cli::{
    Baseline, CheckpointArg, Cli, Command, DataArgs, EvalArgs, ProgressArg, ReferenceArg,
    SampleArgs, TrainArgs,
};
use trainer::data::{load_split, locate, Dataset, Locator, Split, PIXELS};
use trainer::eval::{Evaluator, Quality};
use trainer::export::{export_run, ExportReport};
use trainer::models::ModelKind;
use trainer::train::{train, Checkpoint, Progress, Recipe, RunDir, TrainConfig};

static STOP: AtomicBool = AtomicBool::new(false);

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => run_train(cli.train),
        Some(Command::Train(args)) => run_train(args),
        Some(Command::Sample(args)) => run_sample(args),
        Some(Command::Export(args)) => run_export(&RunDir::new(args.run)),
        Some(Command::Eval(args)) => run_eval(args),
    }
}

/// Finds MNIST as the options say and loads one split.
fn load_mnist(args: &DataArgs, split: Split) -> Result<Dataset> {
    let mut locator = Locator::from_env(args.data.clone());
    locator.allow_download = !args.no_download;
    let source = locate(&locator)?;
    let data = load_split(source.dir(), split)?;
    eprintln!("MNIST: {} {split:?} images from {source}", data.len());
    Ok(data)
}

/// The evaluator, training and caching its classifier on first use. It compares with the test
/// set, or with the last `holdout` training images when `holdout` is given; precision and recall
/// compare `coverage_samples` digits with as many of those images.
fn prepare_evaluator(
    args: &DataArgs,
    train: Option<&Dataset>,
    holdout: Option<usize>,
    coverage_samples: usize,
) -> Result<Evaluator> {
    let test = load_mnist(args, Split::Test)?;
    let loaded;
    let train = match train {
        Some(t) => t,
        None => {
            loaded = load_mnist(args, Split::Train)?;
            &loaded
        }
    };
    let validation;
    let reference = match holdout {
        Some(n) => {
            validation = trainer::train::validation_split(train, n).1;
            eprintln!(
                "scores compare with the validation set: the last {} training images",
                validation.len()
            );
            &validation
        }
        None => &test,
    };
    let evaluator = Evaluator::prepare(train, &test, reference, coverage_samples, &mut |line| {
        eprintln!("{line}")
    })?;
    eprintln!(
        "evaluator: MNIST classifier with {:.2} % test accuracy",
        evaluator.classifier.test_accuracy
    );
    Ok(evaluator)
}

fn checkpoint_path(dir: &RunDir, which: CheckpointArg) -> std::path::PathBuf {
    match which {
        CheckpointArg::Last => dir.checkpoint(),
        CheckpointArg::Best => dir.best_checkpoint(),
    }
}

/// A new run's settings: the model's recipe (or `--recipe`), then the options given; a resumed
/// run's: its checkpoint's, then the options given.
fn config_from(args: &TrainArgs, resumed: Option<&Checkpoint>) -> Result<TrainConfig> {
    let mut c = match resumed {
        Some(ck) => {
            if args.recipe.is_some() {
                bail!("--recipe applies to new runs: a resumed run keeps the settings it started with");
            }
            let mut c = ck.config.clone();
            if let Some(v) = args.model {
                c.model = v;
            }
            c
        }
        None => {
            let model = args.model.unwrap_or(TrainConfig::default().model);
            let recipe = args.recipe.unwrap_or(Recipe::default_for(model));
            if recipe == Recipe::Tuned && !model.runs_on_firmware() {
                bail!("--recipe tuned is for the mcu and cmcu models (its minibatch std is theirs), not {model}: use --recipe paper");
            }
            TrainConfig::new(model, recipe)
        }
    };
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
    if let Some(v) = args.d_lr {
        c.d_lr = Some(v);
    }
    if let Some(v) = args.lr_decay_from {
        c.lr_decay_from = v;
    }
    if let Some(v) = args.ema {
        c.ema = v;
    }
    if let Some(v) = args.real_label {
        c.real_label = v;
    }
    if let Some(v) = args.augment_shift {
        c.augment_shift = v;
    }
    if args.minibatch_std {
        c.minibatch_std = true;
    }
    if let Some(v) = args.holdout {
        c.holdout = v;
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
    Ok(c)
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
            let c = config_from(&args, None)?;
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
    let config = config_from(&args, resumed.as_ref())?;
    if let Some(ck) = &resumed {
        if config.minibatch_std != ck.config.minibatch_std {
            anyhow::bail!(
                "{}: trained without --minibatch-std, whose discriminator differs; start a new run to use it",
                dir.path().display()
            );
        }
        if ck.iteration >= config.iterations {
            if final_files_written(&dir, config.model) {
                println!(
                    "{} is complete ({} iterations); pass a larger --iterations to continue",
                    dir.path().display(),
                    ck.iteration
                );
                return Ok(());
            }
            // Killed after the last checkpoint but before the weights or the export were
            // written: a zero-iteration run writes them now.
            eprintln!(
                "{} is complete ({} iterations) but lacks its final files: writing them",
                dir.path().display(),
                ck.iteration
            );
        }
    }

    let data = load_mnist(&args.data, Split::Train)?;
    let evaluator = if args.no_eval {
        None
    } else {
        Some(prepare_evaluator(
            &args.data,
            Some(&data),
            (config.holdout > 0).then_some(config.holdout),
            trainer::eval::TRAINING_COVERAGE_SAMPLES,
        )?)
    };

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
    let outcome = train(
        &config,
        &data,
        &dir,
        resumed,
        &STOP,
        progress,
        evaluator.as_ref(),
    )?;
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
    if config.model.runs_on_firmware() {
        run_export(&dir)?;
    }
    Ok(())
}

/// Whether the files written after the final checkpoint (float weights; for firmware presets the
/// blob and its report) exist and are not older than the checkpoint (a resumed run rewrites them).
fn final_files_written(dir: &RunDir, model: ModelKind) -> bool {
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let Some(checkpoint) = modified(&dir.checkpoint()) else {
        return false;
    };
    let mut files = vec![dir.generator_weights()];
    if model.runs_on_firmware() {
        files.extend([dir.blob(), dir.export_report()]);
    }
    files
        .iter()
        .all(|f| modified(f).is_some_and(|t| t >= checkpoint))
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
    let (pixels, classes) = match (&args.run, &args.blob) {
        (Some(run), _) => {
            let ck = Checkpoint::load(&checkpoint_path(&RunDir::new(run), args.checkpoint))?;
            let classes = trainer::sample::sample_classes(&ck, args.count);
            (
                trainer::sample::sample_pixels(&ck, args.count, args.seed)?,
                classes,
            )
        }
        (None, Some(blob)) => trainer::sample::blob_pixels(blob, args.count, args.seed, false)?,
        (None, None) => unreachable!("clap requires --run or --blob"),
    };
    let written = trainer::sample::write_pixels(&pixels, classes.as_deref(), &args.out)?;
    if classes.is_some() {
        println!(
            "wrote the classes asked for to {}",
            trainer::sample::classes_path(&args.out).display()
        );
    }
    println!(
        "wrote {} digits to {} and a grid to {}",
        args.count,
        args.out.display(),
        written.display()
    );
    Ok(())
}

fn run_eval(args: EvalArgs) -> Result<()> {
    let source = &args.source;
    if args.count < 2 {
        bail!("--count must be at least 2 (a covariance needs two digits)");
    }
    let mut asked: Option<Vec<u8>> = None;
    let mut holdout = trainer::train::VALIDATION_IMAGES;
    let (what, pixels, report) = if let Some(run) = &source.run {
        let dir = RunDir::new(run);
        let path = checkpoint_path(&dir, args.checkpoint);
        let mut ck = Checkpoint::load(&path)?;
        holdout = ck.config.holdout;
        let averaged = ck.ema.is_some() && !args.raw;
        if args.raw {
            ck.ema = None;
        }
        let latents = trainer::train::evaluation_latents(ck.config.model.latent_dim(), args.count);
        let classes = trainer::train::balanced_classes(args.count);
        asked = ck.config.model.conditional().then_some(classes.clone());
        let pixels = trainer::sample::generate_latents(&ck, latents, &classes)?
            .into_iter()
            .map(trainer::artifacts::grid::to_pixel)
            .collect();
        let what = format!(
            "{} ({} generator{}, iteration {})",
            path.display(),
            ck.config.model,
            if averaged { ", averaged" } else { "" },
            ck.iteration
        );
        // eval.json holds the scores of what the run exports: the average, on the test set.
        let report = (!args.raw && args.reference == ReferenceArg::Test).then(|| dir.eval_report());
        (what, pixels, report)
    } else if let Some(blob) = &source.blob {
        let (pixels, classes) = trainer::sample::blob_pixels(blob, args.count, 0, args.any_class)?;
        asked = classes;
        let what = format!(
            "{} (firmware-core int8, seeds 0..{})",
            blob.display(),
            args.count
        );
        (what, pixels, None)
    } else if let Some(images) = &source.images {
        let bytes = trainer::data::read_maybe_gz(images)?;
        let parsed = trainer::data::parse_images(&bytes, images)?;
        let mut pixels = parsed.pixels;
        pixels.truncate(args.count * PIXELS);
        (format!("{}", images.display()), pixels, None)
    } else if let Some(baseline) = source.baseline {
        let pixels = match baseline {
            Baseline::Train => {
                let mut pixels = load_mnist(&args.data, Split::Train)?.images;
                pixels.truncate(args.count * PIXELS);
                pixels
            }
            Baseline::Noise => {
                use rand::{Rng, SeedableRng};
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
                (0..args.count * PIXELS).map(|_| rng.gen()).collect()
            }
        };
        (format!("baseline {baseline:?}"), pixels, None)
    } else {
        unreachable!("clap requires one source")
    };
    let digits = pixels.len() / PIXELS;
    let holdout = match args.reference {
        ReferenceArg::Test => None,
        ReferenceArg::Validation if holdout == 0 => {
            bail!("--reference validation: the run trained on every training image (--holdout 0)")
        }
        ReferenceArg::Validation => Some(holdout),
    };
    let evaluator = prepare_evaluator(&args.data, None, holdout, digits)?;
    let quality = evaluator
        .score(&pixels, asked.as_deref())
        .context("need at least two digits to score")?;
    let against = match holdout {
        Some(n) => format!("the validation set, the last {n} training images"),
        None => "the MNIST test set".to_owned(),
    };
    print_quality(&what, &quality, &against);
    let json = serde_json::to_string_pretty(&quality)?;
    for path in report.iter().chain(&args.json) {
        trainer::fsutil::write_atomic(path, json.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("scores written to {}", path.display());
    }
    Ok(())
}

fn print_quality(what: &str, q: &Quality, against: &str) {
    println!("{} digits of {what}, against {against}", q.samples);
    println!("  FID               {:10.3}   (lower is better)", q.fid);
    if let (Some(precision), Some(recall)) = (q.precision, q.recall) {
        println!(
            "  precision         {precision:10.3}   (share of the digits that look real: inside the real digits' {k}-NN manifold)",
            k = trainer::eval::manifold::K
        );
        println!(
            "  recall            {recall:10.3}   (share of the real digits' variety they reach: real digits inside their {k}-NN manifold)",
            k = trainer::eval::manifold::K
        );
    }
    println!("  classifier score  {:10.3}   (of 10)", q.classifier_score);
    println!(
        "  class entropy     {:10.3}   bits (of {:.3}); shares {:.1} % .. {:.1} %",
        q.class_entropy_bits,
        10f64.log2(),
        100.0 * q.min_class_share,
        100.0 * q.max_class_share
    );
    println!("  mean confidence   {:10.3}", q.mean_confidence);
    let histogram: Vec<String> = q
        .class_histogram
        .iter()
        .enumerate()
        .map(|(class, n)| format!("{class}:{n}"))
        .collect();
    println!("  classes           {}", histogram.join(" "));
    if let Some(accuracy) = q.conditional_accuracy {
        println!("  asked-for class   {:9.2} %", 100.0 * accuracy);
    }
}
