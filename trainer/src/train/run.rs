//! One training run, fresh or resumed, generic over the preset.

use super::adam::Adam;
use super::batches::{normal_noise, stream, Purpose};
use super::checkpoint::{Checkpoint, CheckpointError};
use super::config::TrainConfig;
use super::metrics::{write_csv, MetricRow, QualityRow};
use super::params::{collect, restore};
use super::run_dir::RunDir;
use super::step::{scaled_images, Models, StepStats, Stepper};
use crate::artifacts::{grid, plot};
use crate::data::{Dataset, PIXELS};
use crate::eval::{Evaluator, EVAL_SAMPLES};
use crate::fsutil::write_atomic;
use crate::models::{generator_input, Preset, Rows, CLASSES, PIXELS as NET_PIXELS};
use crate::with_preset;
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
/// With an `evaluator`, the generator is scored at every snapshot and checkpoint iteration
/// (scores in `metrics.csv` and `quality.png`; the best by FID kept as `checkpoint-best.bin`).
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
    if data.is_empty() {
        return Err(TrainError::Config("the training set is empty".into()));
    }
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
    with_preset!(config.model, P => train_preset::<P>(&run, data, resume))
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
        }
    }
}

fn build_models<P: Preset>(
    dev: &Cpu,
    config: &TrainConfig,
    resume: Option<&Checkpoint>,
    path: &std::path::Path,
) -> Result<Models<P>, TrainError> {
    let mut g = P::G::build(dev);
    let mut d = P::D::build(dev);
    let new_opt = || Adam::new(config.lr, config.betas, 1e-8);
    let (mut g_opt, mut d_opt) = (new_opt(), new_opt());
    if let Some(ck) = resume {
        let incompatible = |what: &str, message: String| TrainError::Incompatible {
            path: path.to_owned(),
            message: format!("{what} does not fit preset {}: {message}", P::NAME),
        };
        restore(&mut g, &ck.generator).map_err(|m| incompatible("generator", m))?;
        restore(&mut d, &ck.discriminator).map_err(|m| incompatible("discriminator", m))?;
        // Moments and step count continue; hyper-parameters follow the (possibly changed) config.
        for (opt, saved) in [
            (&mut g_opt, &ck.generator_opt),
            (&mut d_opt, &ck.discriminator_opt),
        ] {
            *opt = Adam {
                lr: config.lr,
                betas: config.betas,
                ..saved.clone()
            };
        }
    }
    Ok(Models { g, d, g_opt, d_opt })
}

fn train_preset<P: Preset>(
    run: &Run<'_>,
    data: &Dataset,
    resume: Option<Checkpoint>,
) -> Result<Outcome, TrainError> {
    let Run {
        config,
        dir,
        stop,
        progress,
        evaluator,
    } = *run;
    let dev = Cpu::seed_from_u64(config.seed);
    let mut models = build_models::<P>(&dev, config, resume.as_ref(), &dir.checkpoint())?;
    let (start, mut metrics, mut quality, mut train_seconds) = match &resume {
        Some(ck) => (
            ck.iteration,
            ck.metrics.clone(),
            ck.quality.clone(),
            ck.train_seconds,
        ),
        None => (0, Vec::new(), Vec::new(), 0.0),
    };
    drop(resume);

    let images = scaled_images(data);
    let latent = P::Latent::SIZE;
    let batch = config.batch_size;
    let fixed = fixed_noise(config.seed, latent);
    let mut stepper = Stepper::new(&dev, &models, &images, &data.labels, config);

    let fixed_classes = balanced_classes(grid::GRID_COUNT);
    let draw_grid = |g: &P::G, iteration: u64| -> Result<(), TrainError> {
        let pixels = generate_with::<P>(g, &dev, &fixed, &fixed_classes);
        let path = dir.grid(iteration);
        grid::save_grid(&path, &pixels).map_err(|message| TrainError::Artifact { path, message })
    };
    let eval_latents = evaluator.map(|_| evaluation_latents(latent, EVAL_SAMPLES));
    let eval_classes = balanced_classes(EVAL_SAMPLES);
    // Scores the generator; on a new best FID, keeps this state as the best checkpoint.
    let evaluate = |models: &Models<P>,
                    iteration: u64,
                    metrics: &[MetricRow],
                    quality: &mut Vec<QualityRow>,
                    train_seconds: f64|
     -> Result<(), TrainError> {
        let (Some(evaluator), Some(latents)) = (evaluator, &eval_latents) else {
            return Ok(());
        };
        let pixels: Vec<u8> = generate_with::<P>(&models.g, &dev, latents, &eval_classes)
            .into_iter()
            .map(grid::to_pixel)
            .collect();
        let asked = P::CONDITIONAL.then_some(eval_classes.as_slice());
        let Some(scores) = evaluator.score(&pixels, asked) else {
            return Ok(());
        };
        if progress == Progress::Lines {
            println!(
                "iter {iteration:>6}: FID {:.2}, classifier score {:.2}, class entropy {:.2} bits",
                scores.fid, scores.classifier_score, scores.class_entropy_bits
            );
        }
        let improved = quality.iter().all(|r| scores.fid < r.quality.fid);
        quality.push(QualityRow {
            iteration,
            quality: scores,
        });
        write_csv(&dir.metrics(), metrics, quality).map_err(io_err(dir.metrics()))?;
        if let Err(message) = plot::save_quality_plot(&dir.quality_plot(), quality) {
            eprintln!("warning: {}: {message}", dir.quality_plot().display());
        }
        if improved {
            models
                .checkpoint(config, iteration, metrics, quality, train_seconds)
                .save(&dir.best_checkpoint())?;
        }
        Ok(())
    };
    if start == 0 && config.is_snapshot(0) {
        draw_grid(&models.g, 0)?;
        evaluate(&models, 0, &metrics, &mut quality, train_seconds)?;
    }

    let bar = match progress {
        Progress::Bar => ProgressBar::new(config.iterations),
        _ => ProgressBar::hidden(),
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_position(start);

    let mut clock = Instant::now();
    let mut window = Window::new(start);
    let mut iteration = start;
    while iteration < config.iterations {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let StepStats {
            d_loss,
            g_loss,
            d_real,
            d_fake,
        } = stepper.step(&mut models, iteration);

        iteration += 1;
        if !(d_loss.is_finite() && g_loss.is_finite()) {
            bar.abandon();
            return Err(TrainError::Diverged {
                iteration,
                d_loss,
                g_loss,
                checkpoint: dir.checkpoint(),
            });
        }
        let elapsed = clock.elapsed().as_secs_f64();
        train_seconds += elapsed;
        window.add(elapsed, [d_loss, g_loss, d_real, d_fake]);
        bar.set_position(iteration);
        bar.set_message(format!("D {d_loss:.3} G {g_loss:.3}"));

        if config.is_log(iteration) {
            let row = window.row(iteration, batch, train_seconds);
            if progress == Progress::Lines {
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
            metrics.push(row);
            write_csv(&dir.metrics(), &metrics, &quality).map_err(io_err(dir.metrics()))?;
        }
        if config.is_snapshot(iteration) {
            draw_grid(&models.g, iteration)?;
        }
        if config.is_snapshot(iteration) || config.is_checkpoint(iteration) {
            evaluate(&models, iteration, &metrics, &mut quality, train_seconds)?;
        }
        if config.is_checkpoint(iteration) {
            models
                .checkpoint(config, iteration, &metrics, &quality, train_seconds)
                .save(&dir.checkpoint())?;
            // The plot is a convenience: failing to draw it must not end a long run.
            if let Err(message) = plot::save_loss_plot(&dir.loss_plot(), &metrics) {
                eprintln!("warning: {}: {message}", dir.loss_plot().display());
            }
        }
        // Artifacts are not training time.
        clock = Instant::now();
    }
    let interrupted = iteration < config.iterations;
    if interrupted {
        models
            .checkpoint(config, iteration, &metrics, &quality, train_seconds)
            .save(&dir.checkpoint())?;
        bar.abandon_with_message(format!("interrupted at iteration {iteration}"));
    } else {
        bar.finish();
        save_generator_weights(&models.g, dir)?;
    }
    Ok(Outcome {
        iteration,
        interrupted,
        train_seconds,
        last: metrics.last().cloned(),
    })
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
