//! One training run, fresh or resumed, generic over the preset.

use super::adam::Adam;
use super::batches::{normal_noise, stream, Purpose};
use super::checkpoint::{Checkpoint, CheckpointError};
use super::config::TrainConfig;
use super::ema::Ema;
use super::metrics::{write_csv, MetricRow, QualityRow};
use super::params::{collect, restore};
use super::run_dir::RunDir;
use super::step::{scaled_images, Models, StepStats, Stepper};
use crate::artifacts::{grid, plot};
use crate::data::{Dataset, PIXELS};
use crate::eval::{Evaluator, Quality, EVAL_SAMPLES};
use crate::fsutil::write_atomic;
use crate::models::{generator_input, Preset, Rows, CLASSES, PIXELS as NET_PIXELS};
use crate::with_training_preset;
use dfdx::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

const _: () = assert!(PIXELS == NET_PIXELS);

/// How a run reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar with ETA, it/s and the current losses.
    Bar,
    /// One plain line per metrics row (for logs and non-terminals).
    Lines,
    /// Nothing.
    Quiet,
}

/// How a run ended without error.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Iterations completed.
    pub iteration: u64,
    /// Stopped early by the stop flag (Ctrl-C); a checkpoint was written.
    pub interrupted: bool,
    /// Training seconds (resumed runs included).
    pub train_seconds: f64,
    /// The last metrics row.
    pub last: Option<MetricRow>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Settings that cannot train.
    #[error("invalid settings: {0}")]
    Config(String),
    /// A file of the run could not be written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint problem.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A checkpoint that does not fit this preset.
    #[error("{path}: {message}")]
    Incompatible { path: PathBuf, message: String },
    /// A loss became NaN or infinite; the last checkpoint on disk is the last good state.
    #[error("training diverged at iteration {iteration} (D loss {d_loss}, G loss {g_loss}); the last good checkpoint is {checkpoint} — resume from it with a lower --lr")]
    Diverged {
        iteration: u64,
        d_loss: f32,
        g_loss: f32,
        checkpoint: PathBuf,
    },
    /// An image or plot could not be drawn.
    #[error("{path}: {message}")]
    Artifact { path: PathBuf, message: String },
}

fn io_err(path: PathBuf) -> impl FnOnce(std::io::Error) -> TrainError {
    move |source| TrainError::Io { path, source }
}

/// Trains (or resumes) a run in `dir` on `data` until `config.iterations` or until `stop` is set.
/// The last `config.holdout` images of `data` are not trained on: they are the validation set
/// (see [`validation_split`]), which the `evaluator` should compare with. With an `evaluator`,
/// the generator (its average, when the run keeps one) is scored at every snapshot and
/// checkpoint iteration (scores in `metrics.csv` and `quality.png`; the best by FID kept as
/// `checkpoint-best.bin`).
pub fn train(
    config: &TrainConfig,
    data: &Dataset,
    dir: &RunDir,
    resume: Option<Checkpoint>,
    stop: &AtomicBool,
    progress: Progress,
    evaluator: Option<&Evaluator>,
) -> Result<Outcome, TrainError> {
    config.validate().map_err(TrainError::Config)?;
    if data.len() <= config.holdout {
        return Err(TrainError::Config(format!(
            "the training set has {} images: too few to hold out {} for validation (--holdout)",
            data.len(),
            config.holdout
        )));
    }
    let (data, _validation) = validation_split(data, config.holdout);
    dir.create().map_err(io_err(dir.root.clone()))?;
    let json = serde_json::to_string_pretty(config).expect("config serialises");
    write_atomic(&dir.config(), json.as_bytes()).map_err(io_err(dir.config()))?;
    let run = Run {
        config,
        dir,
        stop,
        progress,
        evaluator,
    };
    with_training_preset!(config, P => train_preset::<P>(&run, &data, resume))
}

/// The training images and the validation images: the last `holdout` of `data`.
pub fn validation_split(data: &Dataset, holdout: usize) -> (Dataset, Dataset) {
    let keep = data.len().saturating_sub(holdout);
    let part = |range: std::ops::Range<usize>| Dataset {
        images: data.images[range.start * PIXELS..range.end * PIXELS].to_vec(),
        labels: data.labels[range].to_vec(),
    };
    (part(0..keep), part(keep..data.len()))
}

/// The fixed latents of the progress grids (64 = 8×8).
pub fn fixed_noise(seed: u64, latent: usize) -> Vec<f32> {
    normal_noise(
        &mut stream(seed, Purpose::FixedNoise, 0),
        grid::GRID_COUNT,
        latent,
    )
}

/// The latents every evaluation scores (the same at every iteration and in `trainer eval`, so
/// the numbers are comparable and reproducible).
pub fn evaluation_latents(latent: usize, count: usize) -> Vec<f32> {
    normal_noise(&mut stream(0, Purpose::Evaluation, 0), count, latent)
}

/// The classes asked for when a conditional model draws `count` digits without being told
/// which: 0, 1, …, 9, 0, 1, … (balanced).
pub fn balanced_classes(count: usize) -> Vec<u8> {
    (0..count).map(|i| (i % CLASSES) as u8).collect()
}

/// Runs the generator in evaluation mode on `latents` (row-major, the preset's latent length
/// per row) and, for conditional presets, `classes` (one per row; ignored otherwise), in chunks
/// so memory stays small for any count.
pub fn generate_with<P: Preset>(g: &P::G, dev: &Cpu, latents: &[f32], classes: &[u8]) -> Vec<f32> {
    const CHUNK_ROWS: usize = 256;
    let latent = P::Latent::SIZE;
    let rows = latents.len() / latent;
    let mut out = Vec::with_capacity(rows * PIXELS);
    for first in (0..rows).step_by(CHUNK_ROWS) {
        let last = (first + CHUNK_ROWS).min(rows);
        let chunk_classes = classes.get(first..last).unwrap_or(&[]);
        let input = generator_input::<P>(&latents[first * latent..last * latent], chunk_classes);
        let x: Rows<P::Input> = dev.tensor_from_vec(input, (last - first, Default::default()));
        out.extend(g.forward(x).as_vec());
    }
    out
}

/// The settings of one call to [`train`] that stay fixed during the run.
struct Run<'a> {
    config: &'a TrainConfig,
    dir: &'a RunDir,
    stop: &'a AtomicBool,
    progress: Progress,
    evaluator: Option<&'a Evaluator>,
}

impl<P: Preset> Models<P> {
    /// The state after `iteration` iterations, as a checkpoint.
    fn checkpoint(
        &self,
        config: &TrainConfig,
        iteration: u64,
        metrics: &[MetricRow],
        quality: &[QualityRow],
        train_seconds: f64,
    ) -> Checkpoint {
        Checkpoint {
            config: config.clone(),
            iteration,
            generator: collect(&self.g),
            discriminator: collect(&self.d),
            generator_opt: self.g_opt.clone(),
            discriminator_opt: self.d_opt.clone(),
            metrics: metrics.to_vec(),
            quality: quality.to_vec(),
            train_seconds,
            ema: self.ema.clone(),
        }
    }

    /// Runs `show` on the generator that inference uses: the average when there is one (built
    /// on a device of its own, so the training device's random numbers are not drawn from).
    fn with_inference_generator<R>(&self, show: impl FnOnce(&P::G) -> R) -> R {
        match &self.ema {
            Some(ema) => {
                let g: P::G = ema
                    .model(&Cpu::default())
                    .expect("the average has the generator's tensors");
                show(&g)
            }
            None => show(&self.g),
        }
    }
}

/// Fresh models (initialised from the device's seed), or those of `resume` with their Adam
/// moments (hyper-parameters follow `config`, which may have changed).
fn build_models<P: Preset>(
    dev: &Cpu,
    config: &TrainConfig,
    resume: Option<&Checkpoint>,
    path: &std::path::Path,
) -> Result<Models<P>, TrainError> {
    let mut models = Models::<P>::new(dev, config);
    let Models {
        g,
        d,
        g_opt,
        d_opt,
        ema,
    } = &mut models;
    if let Some(ck) = resume {
        let incompatible = |what: &str, message: String| TrainError::Incompatible {
            path: path.to_owned(),
            message: format!("{what} does not fit preset {}: {message}", P::NAME),
        };
        restore(g, &ck.generator).map_err(|m| incompatible("generator", m))?;
        restore(d, &ck.discriminator).map_err(|m| incompatible("discriminator", m))?;
        for (opt, saved, lr) in [
            (g_opt, &ck.generator_opt, config.lr),
            (d_opt, &ck.discriminator_opt, config.discriminator_lr()),
        ] {
            *opt = Adam {
                lr,
                betas: config.betas,
                ..saved.clone()
            };
        }
        // The average continues; a run that starts averaging on resume starts from the weights.
        *ema = match (&ck.ema, config.ema > 0.0) {
            (Some(saved), true) => {
                if saved.tensors.tensors.len() != ck.generator.tensors.len() {
                    return Err(incompatible(
                        "generator average",
                        "tensor count differs".into(),
                    ));
                }
                Some(saved.clone())
            }
            (None, true) => Some(Ema::new(&*g)),
            (_, false) => None,
        };
    }
    Ok(models)
}

/// The run, step by step: start (fresh or resumed), the iteration-0 snapshot, then iterations
/// with their logging, snapshots, evaluations and checkpoints, and the end (finished or
/// interrupted).
fn train_preset<P: Preset>(
    run: &Run<'_>,
    data: &Dataset,
    resume: Option<Checkpoint>,
) -> Result<Outcome, TrainError> {
    let dev = Cpu::seed_from_u64(run.config.seed);
    let mut training = Training::<P>::start(run, &dev, resume)?;
    let images = scaled_images(data);
    let mut stepper = Stepper::new(&dev, &training.models, &images, &data.labels, run.config);
    let snapshots = Snapshots::<P>::new(run, &dev);
    training.snapshot_at_start(&snapshots)?;
    let bar = progress_bar(run.progress, run.config.iterations, training.iteration);
    let mut clock = Instant::now();
    while training.iteration < run.config.iterations {
        if run.stop.load(Ordering::SeqCst) {
            break;
        }
        let stats = stepper.step(&mut training.models, training.iteration);
        training.iteration += 1;
        if let Err(e) = training.check_finite(stats) {
            bar.abandon();
            return Err(e);
        }
        training.record(stats, clock.elapsed().as_secs_f64(), &bar);
        training.after_iteration(&snapshots)?;
        // Artifacts are not training time.
        clock = Instant::now();
    }
    training.finish(&bar)
}

/// A run in progress: the models and everything a checkpoint keeps besides them.
struct Training<'r, P: Preset> {
    run: &'r Run<'r>,
    models: Models<P>,
    /// Iterations completed.
    iteration: u64,
    metrics: Vec<MetricRow>,
    quality: Vec<QualityRow>,
    /// Training seconds so far (resumed runs included; artifacts not).
    train_seconds: f64,
    /// The iterations since the last metrics row.
    window: Window,
}

impl<'r, P: Preset> Training<'r, P> {
    /// The models and history of `resume`, or fresh ones.
    fn start(run: &'r Run<'r>, dev: &Cpu, resume: Option<Checkpoint>) -> Result<Self, TrainError> {
        let models = build_models::<P>(dev, run.config, resume.as_ref(), &run.dir.checkpoint())?;
        let (iteration, metrics, quality, train_seconds) = match resume {
            Some(ck) => (ck.iteration, ck.metrics, ck.quality, ck.train_seconds),
            None => (0, Vec::new(), Vec::new(), 0.0),
        };
        Ok(Training {
            run,
            models,
            iteration,
            metrics,
            quality,
            train_seconds,
            window: Window::new(iteration),
        })
    }

    /// The grid (and scores) of the untrained generator, for a fresh run that snapshots 0.
    fn snapshot_at_start(&mut self, snapshots: &Snapshots<'_, P>) -> Result<(), TrainError> {
        if self.iteration == 0 && self.run.config.is_snapshot(0) {
            self.draw_grid(snapshots)?;
            self.evaluate(snapshots)?;
        }
        Ok(())
    }

    /// An error unless both losses of the iteration just taken are finite.
    fn check_finite(&self, stats: StepStats) -> Result<(), TrainError> {
        if stats.d_loss.is_finite() && stats.g_loss.is_finite() {
            return Ok(());
        }
        Err(TrainError::Diverged {
            iteration: self.iteration,
            d_loss: stats.d_loss,
            g_loss: stats.g_loss,
            checkpoint: self.run.dir.checkpoint(),
        })
    }

    /// Counts the iteration just taken (`seconds` long) into the time, the window and the bar.
    fn record(&mut self, stats: StepStats, seconds: f64, bar: &ProgressBar) {
        let StepStats {
            d_loss,
            g_loss,
            d_real,
            d_fake,
        } = stats;
        self.train_seconds += seconds;
        self.window.add(seconds, [d_loss, g_loss, d_real, d_fake]);
        bar.set_position(self.iteration);
        bar.set_message(format!("D {d_loss:.3} G {g_loss:.3}"));
    }

    /// What the configuration asks for after this iteration: a metrics row, a grid, scores, a
    /// checkpoint.
    fn after_iteration(&mut self, snapshots: &Snapshots<'_, P>) -> Result<(), TrainError> {
        let (config, iteration) = (self.run.config, self.iteration);
        if config.is_log(iteration) {
            self.log_metrics()?;
        }
        if config.is_snapshot(iteration) {
            self.draw_grid(snapshots)?;
        }
        if config.is_snapshot(iteration) || config.is_checkpoint(iteration) {
            self.evaluate(snapshots)?;
        }
        if config.is_checkpoint(iteration) {
            self.save_checkpoint()?;
            // The plot is a convenience: failing to draw it must not end a long run.
            let dir = self.run.dir;
            if let Err(message) = plot::save_loss_plot(&dir.loss_plot(), &self.metrics) {
                eprintln!("warning: {}: {message}", dir.loss_plot().display());
            }
        }
        Ok(())
    }

    /// Closes the window into a metrics row: printed (with `--progress lines`) and written.
    fn log_metrics(&mut self) -> Result<(), TrainError> {
        let (config, dir) = (self.run.config, self.run.dir);
        let row = self
            .window
            .row(self.iteration, config.batch_size, self.train_seconds);
        if self.run.progress == Progress::Lines {
            println!(
                "iter {:>6}/{}  D {:.4}  G {:.4}  D(x) {:.3}  D(G(z)) {:.3}  {:.0} img/s  {:.0}s",
                row.iteration,
                config.iterations,
                row.d_loss,
                row.g_loss,
                row.d_real,
                row.d_fake,
                row.images_per_sec,
                row.wall_seconds
            );
        }
        self.metrics.push(row);
        write_csv(&dir.metrics(), &self.metrics, &self.quality).map_err(io_err(dir.metrics()))
    }

    /// Scores the generator (with an evaluator); on a new best FID, keeps this state as the best
    /// checkpoint.
    fn evaluate(&mut self, snapshots: &Snapshots<'_, P>) -> Result<(), TrainError> {
        let Some(scores) = self.models.with_inference_generator(|g| snapshots.score(g)) else {
            return Ok(());
        };
        let (dir, iteration) = (self.run.dir, self.iteration);
        if self.run.progress == Progress::Lines {
            println!(
                "iter {iteration:>6}: FID {:.2}, precision {}, recall {}, classifier score {:.2}, class entropy {:.2} bits",
                scores.fid,
                scores.precision.map_or("-".into(), |p| format!("{p:.3}")),
                scores.recall.map_or("-".into(), |r| format!("{r:.3}")),
                scores.classifier_score,
                scores.class_entropy_bits
            );
        }
        let improved = self.quality.iter().all(|r| scores.fid < r.quality.fid);
        self.quality.push(QualityRow {
            iteration,
            quality: scores,
        });
        write_csv(&dir.metrics(), &self.metrics, &self.quality).map_err(io_err(dir.metrics()))?;
        if let Err(message) = plot::save_quality_plot(&dir.quality_plot(), &self.quality) {
            eprintln!("warning: {}: {message}", dir.quality_plot().display());
        }
        if improved {
            self.checkpoint().save(&dir.best_checkpoint())?;
        }
        Ok(())
    }

    /// Saves the grid of this iteration (of the averaged generator, when there is one).
    fn draw_grid(&self, snapshots: &Snapshots<'_, P>) -> Result<(), TrainError> {
        self.models
            .with_inference_generator(|g| snapshots.draw_grid(g, self.iteration))
    }

    /// The state now, as a checkpoint.
    fn checkpoint(&self) -> Checkpoint {
        self.models.checkpoint(
            self.run.config,
            self.iteration,
            &self.metrics,
            &self.quality,
            self.train_seconds,
        )
    }

    /// Writes the state now as the run's checkpoint.
    fn save_checkpoint(&self) -> Result<(), TrainError> {
        Ok(self.checkpoint().save(&self.run.dir.checkpoint())?)
    }

    /// The end of the loop: a finished run saves the generator's weights, an interrupted one a
    /// checkpoint to resume from.
    fn finish(self, bar: &ProgressBar) -> Result<Outcome, TrainError> {
        let iteration = self.iteration;
        let interrupted = iteration < self.run.config.iterations;
        if interrupted {
            self.save_checkpoint()?;
            bar.abandon_with_message(format!("interrupted at iteration {iteration}"));
        } else {
            bar.finish();
            self.models
                .with_inference_generator(|g| save_generator_weights(g, self.run.dir))?;
        }
        Ok(Outcome {
            iteration,
            interrupted,
            train_seconds: self.train_seconds,
            last: self.metrics.last().cloned(),
        })
    }
}

/// What a run shows of its generator: sample grids from fixed latents and, with an evaluator,
/// scores on fixed evaluation latents.
struct Snapshots<'r, P: Preset> {
    run: &'r Run<'r>,
    dev: Cpu,
    grid_latents: Vec<f32>,
    grid_classes: Vec<u8>,
    /// The evaluation latents, made only when there is an evaluator.
    eval_latents: Option<Vec<f32>>,
    eval_classes: Vec<u8>,
    preset: std::marker::PhantomData<P>,
}

impl<'r, P: Preset> Snapshots<'r, P> {
    fn new(run: &'r Run<'r>, dev: &Cpu) -> Self {
        let latent = P::Latent::SIZE;
        Snapshots {
            run,
            dev: dev.clone(),
            grid_latents: fixed_noise(run.config.seed, latent),
            grid_classes: balanced_classes(grid::GRID_COUNT),
            eval_latents: run
                .evaluator
                .map(|_| evaluation_latents(latent, EVAL_SAMPLES)),
            eval_classes: balanced_classes(EVAL_SAMPLES),
            preset: std::marker::PhantomData,
        }
    }

    /// Saves the grid of iteration `iteration`.
    fn draw_grid(&self, g: &P::G, iteration: u64) -> Result<(), TrainError> {
        let pixels = generate_with::<P>(g, &self.dev, &self.grid_latents, &self.grid_classes);
        let path = self.run.dir.grid(iteration);
        grid::save_grid(&path, &pixels).map_err(|message| TrainError::Artifact { path, message })
    }

    /// The generator's scores, if the run has an evaluator and it could score.
    fn score(&self, g: &P::G) -> Option<Quality> {
        let (evaluator, latents) = (self.run.evaluator?, self.eval_latents.as_ref()?);
        let pixels: Vec<u8> = generate_with::<P>(g, &self.dev, latents, &self.eval_classes)
            .into_iter()
            .map(grid::to_pixel)
            .collect();
        let asked = P::CONDITIONAL.then_some(self.eval_classes.as_slice());
        evaluator.score(&pixels, asked)
    }
}

/// The progress bar for `progress` (hidden unless it is [`Progress::Bar`]), at `position`.
fn progress_bar(progress: Progress, iterations: u64, position: u64) -> ProgressBar {
    let bar = match progress {
        Progress::Bar => ProgressBar::new(iterations),
        _ => ProgressBar::hidden(),
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_position(position);
    bar
}

/// Averages over the iterations since the last metrics row, so rows are not single noisy steps.
struct Window {
    first: u64,
    seconds: f64,
    sums: [f64; 4],
    count: u32,
}

impl Window {
    fn new(first: u64) -> Self {
        Window {
            first,
            seconds: 0.0,
            sums: [0.0; 4],
            count: 0,
        }
    }

    fn add(&mut self, seconds: f64, values: [f32; 4]) {
        self.seconds += seconds;
        for (sum, v) in self.sums.iter_mut().zip(values) {
            *sum += f64::from(v);
        }
        self.count += 1;
    }

    fn row(&mut self, iteration: u64, batch: usize, wall_seconds: f64) -> MetricRow {
        let n = f64::from(self.count.max(1));
        let mean = |i: usize| (self.sums[i] / n) as f32;
        let row = MetricRow {
            iteration,
            d_loss: mean(0),
            g_loss: mean(1),
            d_real: mean(2),
            d_fake: mean(3),
            images_per_sec: ((iteration - self.first) as usize * batch) as f64
                / self.seconds.max(1e-9),
            wall_seconds,
        };
        *self = Window::new(iteration);
        row
    }
}

/// Writes the generator's float weights as safetensors (keys are dfdx's tuple paths).
fn save_generator_weights<M: SaveToSafetensors<f32, Cpu>>(
    g: &M,
    dir: &RunDir,
) -> Result<(), TrainError> {
    let path = dir.generator_weights();
    let tmp = path.with_extension("safetensors.tmp");
    g.save_safetensors(&tmp).map_err(|e| TrainError::Artifact {
        path: path.clone(),
        message: e.to_string(),
    })?;
    std::fs::rename(&tmp, &path).map_err(io_err(path))
}
