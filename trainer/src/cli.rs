//! Command-line interface: `trainer [train]`, `trainer sample`, `trainer export`, `trainer eval`.

use crate::models::ModelKind;
use crate::train::Recipe;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Trains a GAN on MNIST (the original paper's experiment) and exports its generator for
/// microcontrollers.
#[derive(Debug, Parser)]
#[command(name = "trainer", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; without a subcommand, `train`.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Training options (when no subcommand is given).
    #[command(flatten)]
    pub train: TrainArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a GAN (the default).
    Train(TrainArgs),
    /// Write generated digits of a run as an IDX3 file plus a PNG grid.
    Sample(SampleArgs),
    /// Quantise a run's `mcu` or `cmcu` generator into the firmware blob and check it against the float model.
    Export(ExportArgs),
    /// Score digits with the built-in MNIST classifier: FID, precision and recall, classifier score, class balance.
    Eval(EvalArgs),
}

/// Which checkpoint of a run to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckpointArg {
    /// The latest (`checkpoint.bin`).
    Last,
    /// The one with the lowest FID during training (`checkpoint-best.bin`).
    Best,
}

/// Where MNIST comes from (for commands that need it).
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Folder holding the four MNIST IDX files (raw or .gz); else $MNIST_DIR, the cache, a download.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Never download MNIST.
    #[arg(long)]
    pub no_download: bool,
}

/// What `trainer eval` scores: exactly one of these.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct EvalSource {
    /// A run's float generator (writes `eval.json` into the run folder).
    #[arg(long, value_name = "RUN_DIR")]
    pub run: Option<PathBuf>,
    /// A firmware blob, run through firmware-core's integer inference on this machine.
    #[arg(long, value_name = "FILE")]
    pub blob: Option<PathBuf>,
    /// Any IDX3 file of 28×28 digits (for example from `trainer sample`).
    #[arg(long, value_name = "FILE")]
    pub images: Option<PathBuf>,
    /// A reference point: `train` = real training images (the floor), `noise` = uniform noise.
    #[arg(long, value_enum)]
    pub baseline: Option<Baseline>,
}

/// Reference sets that show the range of the scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Baseline {
    /// The first N MNIST training images: what a perfect generator would score.
    Train,
    /// Uniformly random pixels: a generator that learnt nothing.
    Noise,
}

/// Options of `trainer eval`.
#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// What to score.
    #[command(flatten)]
    pub source: EvalSource,
    /// With --run: which checkpoint.
    #[arg(long, value_enum, default_value = "last")]
    pub checkpoint: CheckpointArg,
    /// With --run of a run that averages its generator (--ema): score the trained weights
    /// themselves instead of their average.
    #[arg(long)]
    pub raw: bool,
    /// Digits to score (10,000 is what the README's numbers use).
    #[arg(long, default_value_t = crate::eval::EVAL_SAMPLES)]
    pub count: usize,
    /// With --blob of a class-conditional model: ask for no class (`generate(None, …)`, a class
    /// drawn from each seed) instead of balanced classes, to check what a device draws unasked.
    #[arg(long)]
    pub any_class: bool,
    /// The real digits the scores compare with: the MNIST test set (for reporting), or the
    /// validation images held out at the end of the training file (for choosing settings and
    /// checkpoints: a run's own `--holdout`; for other digits the last 10,000).
    #[arg(long, value_enum, default_value = "test")]
    pub reference: ReferenceArg,
    /// Also write the scores as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Where MNIST comes from.
    #[command(flatten)]
    pub data: DataArgs,
}

/// The real digits `trainer eval` compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReferenceArg {
    /// The 10,000 MNIST test images.
    Test,
    /// The validation images held out of the training file.
    Validation,
}

/// Options of `trainer export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The run folder whose checkpoint to export.
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
}

/// How to show progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
    /// A bar when stderr is a terminal, plain lines otherwise.
    Auto,
    /// Always the bar.
    Bar,
    /// Always plain lines.
    Lines,
    /// Nothing but the summary.
    Quiet,
}

/// Options of `trainer train`.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Model preset [default: cmcu].
    #[arg(long, value_enum)]
    pub model: Option<ModelKind>,
    /// Iterations (one discriminator step + one generator step each) [default: 20000].
    #[arg(long)]
    pub iterations: Option<u64>,
    /// Seed for weights, batches and noise [default: 1].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Batch size [default: 64].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Where the settings start: `tuned` (the paper's losses plus --ema 0.999, --minibatch-std
    /// and --d-lr 1e-4; mcu and cmcu) or `paper` (every option below off); the options given
    /// override it [default: tuned for cmcu, paper for the others].
    #[arg(long, value_enum)]
    pub recipe: Option<Recipe>,
    /// Adam learning rate of the generator (and of the discriminator without --d-lr) [default: 0.0002].
    #[arg(long)]
    pub lr: Option<f32>,
    /// Adam learning rate of the discriminator (two time-scale updates) [default: the recipe's:
    /// 0.0001 tuned, --lr paper].
    #[arg(long)]
    pub d_lr: Option<f32>,
    /// Let both learning rates fall linearly to zero from this fraction of the iterations on
    /// (1: constant) [default: 1].
    #[arg(long)]
    pub lr_decay_from: Option<f32>,
    /// Keep a moving average of the generator's weights with this decay, and use it for grids,
    /// scores and the export (0: none) [default: the recipe's: 0.999 tuned, 0 paper].
    #[arg(long)]
    pub ema: Option<f32>,
    /// The discriminator's target for real images (one-sided label smoothing below 1) [default: 1].
    #[arg(long)]
    pub real_label: Option<f32>,
    /// Shift every image the discriminator sees by up to N pixels (DiffAugment; 0: none) [default: 0].
    #[arg(long, value_name = "N")]
    pub augment_shift: Option<u8>,
    /// Give the discriminator the batch's feature spread, its minibatch standard deviation
    /// (Karras et al. 2018), to see too-uniform fakes by (mcu and cmcu; the generator and the
    /// firmware network are unchanged) [default: the recipe's: on tuned, off paper].
    #[arg(long)]
    pub minibatch_std: bool,
    /// Training images held out at the end of the training file for validation: the scores
    /// during training compare with them (0: train on all, score against the test set; the
    /// experiments of docs/quality.md use 10000) [default: 0].
    #[arg(long, value_name = "N")]
    pub holdout: Option<usize>,
    /// Adam β₁ [default: 0.5].
    #[arg(long)]
    pub beta1: Option<f32>,
    /// Adam β₂ [default: 0.999].
    #[arg(long)]
    pub beta2: Option<f32>,
    /// Draw an extra sample grid every N iterations (the paper's 0, 100, 3000, 20000 are always drawn).
    #[arg(long)]
    pub snapshot_every: Option<u64>,
    /// Write a checkpoint every N iterations [default: 1000].
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Write a metrics row every N iterations [default: 50].
    #[arg(long)]
    pub log_every: Option<u64>,
    /// Where MNIST comes from.
    #[command(flatten)]
    pub data: DataArgs,
    /// Skip the quality scores (FID and others at every snapshot and checkpoint, which need the
    /// built-in classifier: trained once, about a minute, then cached).
    #[arg(long)]
    pub no_eval: bool,
    /// Folder for run folders.
    #[arg(long, default_value = "runs", value_name = "DIR")]
    pub runs_dir: PathBuf,
    /// Run name [default: <model>-seed<seed>].
    #[arg(long)]
    pub name: Option<String>,
    /// Continue the run in this folder from its checkpoint (--iterations, --lr, --beta1, --beta2
    /// and the logging intervals may change; the model, seed and batch size may not).
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["model", "seed", "batch", "name", "holdout"])]
    pub resume: Option<PathBuf>,
    /// Progress display.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressArg,
}

/// Options of `trainer sample`.
#[derive(Debug, Clone, Args)]
// A struct-level `#[group]` would take in every field, so `--out` would exclude `--run`.
#[group(skip)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["run", "blob"]))]
pub struct SampleArgs {
    /// The run folder whose float generator to sample.
    #[arg(long, value_name = "RUN_DIR")]
    pub run: Option<PathBuf>,
    /// A firmware blob to sample through firmware-core's integer inference (seeds seed, seed+1, …:
    /// exactly what a device draws).
    #[arg(long, value_name = "FILE")]
    pub blob: Option<PathBuf>,
    /// With --run: which checkpoint.
    #[arg(long, value_enum, default_value = "last")]
    pub checkpoint: CheckpointArg,
    /// Number of digits.
    #[arg(long, default_value_t = 64)]
    pub count: usize,
    /// Output IDX3 file; the PNG grid goes beside it with the extension `.png`.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Seed of the latents (with --blob: the first firmware seed).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}
