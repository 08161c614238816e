//! A training run's settings: everything that decides its numbers, stored in every checkpoint.

use crate::models::ModelKind;

/// Iterations at which the original paper's progress grids are drawn (Fig. 3 and Fig. 4).
pub const PAPER_SNAPSHOTS: [u64; 4] = [0, 100, 3_000, 20_000];

/// Size of the validation set the experiments of `docs/quality.md` hold out (`--holdout 10000`),
/// and what `eval --reference validation` compares with for digits that are not a run's.
pub const VALIDATION_IMAGES: usize = 10_000;

/// Settings of one training run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// Which preset to train.
    pub model: ModelKind,
    /// Seeds every random choice: initial weights, batches, noise.
    pub seed: u64,
    /// Total iterations; one iteration is one discriminator step and one generator step.
    pub iterations: u64,
    /// Images per batch.
    pub batch_size: usize,
    /// Adam learning rate of the generator (and of the discriminator unless `d_lr` is set).
    pub lr: f32,
    /// Adam learning rate of the discriminator, if it differs from `lr` (two time-scale update
    /// rule, Heusel et al. 2017).
    pub d_lr: Option<f32>,
    /// Adam β₁, β₂.
    pub betas: [f32; 2],
    /// Write a metrics row every this many iterations.
    pub log_every: u64,
    /// Draw an extra sample grid every this many iterations (0: only the paper's).
    pub snapshot_every: u64,
    /// Write a checkpoint every this many iterations (0: only at the end and on Ctrl-C).
    pub checkpoint_every: u64,
    /// Both learning rates fall linearly from their value at this fraction of `iterations` to
    /// zero at the end (1: constant).
    pub lr_decay_from: f32,
    /// Decay of the exponential moving average of the generator's tensors (Yazici et al. 2019),
    /// which grids, scores and the export then use (0: no average; the raw generator is used).
    pub ema: f32,
    /// The discriminator's target for real images: 1, or less for one-sided label smoothing
    /// (Salimans et al. 2016).
    pub real_label: f32,
    /// DiffAugment (Zhao et al. 2020): every image the discriminator sees, real or generated, is
    /// shifted by up to this many pixels in x and y (0: no augmentation).
    pub augment_shift: u8,
    /// Training images held out at the end of the training file as the validation set, which the
    /// scores during training compare with (0: none; the scores then use the test set).
    pub holdout: usize,
    /// Minibatch standard deviation (Karras et al. 2018): the discriminator sees the batch's mean
    /// per-feature spread beside its last features (`mcu` and `cmcu`; the generator is unchanged).
    pub minibatch_std: bool,
}

/// [`TrainConfig`] as checkpoints of format versions 1 and 2 stored it (before the options of
/// this round); they load with every new option off and nothing held out.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct TrainConfigV1 {
    model: ModelKind,
    seed: u64,
    iterations: u64,
    batch_size: usize,
    lr: f32,
    betas: [f32; 2],
    log_every: u64,
    snapshot_every: u64,
    checkpoint_every: u64,
}

/// [`TrainConfig`] as checkpoints of format version 3 stored it (before `minibatch_std`); they
/// load with it off.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct TrainConfigV3 {
    model: ModelKind,
    seed: u64,
    iterations: u64,
    batch_size: usize,
    lr: f32,
    d_lr: Option<f32>,
    betas: [f32; 2],
    log_every: u64,
    snapshot_every: u64,
    checkpoint_every: u64,
    lr_decay_from: f32,
    ema: f32,
    real_label: f32,
    augment_shift: u8,
    holdout: usize,
}

impl From<TrainConfigV3> for TrainConfig {
    fn from(v3: TrainConfigV3) -> Self {
        TrainConfig {
            model: v3.model,
            seed: v3.seed,
            iterations: v3.iterations,
            batch_size: v3.batch_size,
            lr: v3.lr,
            d_lr: v3.d_lr,
            betas: v3.betas,
            log_every: v3.log_every,
            snapshot_every: v3.snapshot_every,
            checkpoint_every: v3.checkpoint_every,
            lr_decay_from: v3.lr_decay_from,
            ema: v3.ema,
            real_label: v3.real_label,
            augment_shift: v3.augment_shift,
            holdout: v3.holdout,
            minibatch_std: false,
        }
    }
}

impl From<TrainConfigV1> for TrainConfig {
    fn from(v1: TrainConfigV1) -> Self {
        TrainConfig {
            model: v1.model,
            seed: v1.seed,
            iterations: v1.iterations,
            batch_size: v1.batch_size,
            lr: v1.lr,
            betas: v1.betas,
            log_every: v1.log_every,
            snapshot_every: v1.snapshot_every,
            checkpoint_every: v1.checkpoint_every,
            ..TrainConfig::OPTIONS_OFF
        }
    }
}

/// Where a new run's settings start, before the options given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Recipe {
    /// The original paper's loop: both networks at the same Adam rate, no average, no
    /// smoothing, no augmentation (the default of every preset but `cmcu`).
    Paper,
    /// The paper's loop (the same cross-entropy losses) plus a moving average of the
    /// generator's weights (`--ema 0.999`), minibatch standard deviation in the discriminator
    /// (`--minibatch-std`) and the discriminator at half the generator's rate (`--d-lr 1e-4`):
    /// the best of docs/quality.md's three-seed comparisons, and the default of `cmcu` (`mcu` and
    /// `cmcu` only).
    Tuned,
}

impl Recipe {
    /// The recipe a new run of `model` starts from unless `--recipe` says otherwise.
    pub fn default_for(model: ModelKind) -> Recipe {
        match model {
            ModelKind::Cmcu => Recipe::Tuned,
            ModelKind::Mcu | ModelKind::Mlp | ModelKind::Dcgan | ModelKind::Cdcgan => Recipe::Paper,
        }
    }
}

impl Default for TrainConfig {
    /// What the default command trains, and what made the shipped blob
    /// (`firmware-core/blobs/default.postcard`): `cmcu` with its default recipe on all 60,000
    /// training images.
    fn default() -> Self {
        TrainConfig::new(ModelKind::Cmcu, Recipe::default_for(ModelKind::Cmcu))
    }
}

impl TrainConfig {
    /// The paper's training loop without this project's additions (no learning-rate schedule,
    /// no average, no smoothing, no augmentation), on the whole training file.
    pub const OPTIONS_OFF: TrainConfig = TrainConfig {
        model: ModelKind::Cmcu,
        seed: 1,
        iterations: 20_000,
        batch_size: 64,
        lr: 2e-4,
        d_lr: None,
        betas: [0.5, 0.999],
        log_every: 50,
        snapshot_every: 0,
        checkpoint_every: 1_000,
        lr_decay_from: 1.0,
        ema: 0.0,
        real_label: 1.0,
        augment_shift: 0,
        holdout: 0,
        minibatch_std: false,
    };

    /// A new run of `model` with `recipe`'s settings (seed 1, 20,000 iterations, batch 64).
    pub const fn new(model: ModelKind, recipe: Recipe) -> TrainConfig {
        let paper = TrainConfig {
            model,
            ..TrainConfig::OPTIONS_OFF
        };
        match recipe {
            Recipe::Paper => paper,
            Recipe::Tuned => TrainConfig {
                ema: 0.999,
                d_lr: Some(1e-4),
                minibatch_std: true,
                ..paper
            },
        }
    }

    /// The discriminator's base learning rate.
    pub fn discriminator_lr(&self) -> f32 {
        self.d_lr.unwrap_or(self.lr)
    }

    /// The factor on both learning rates during iteration `step` (0-based): 1 until
    /// `lr_decay_from × iterations`, then falling linearly to reach 0 after the last iteration.
    pub fn lr_factor(&self, step: u64) -> f32 {
        let total = self.iterations as f64;
        let start = (f64::from(self.lr_decay_from) * total).floor();
        let step = step as f64;
        if self.lr_decay_from >= 1.0 || step < start || total <= start {
            return 1.0;
        }
        ((total - step) / (total - start)).clamp(0.0, 1.0) as f32
    }

    /// Whether a sample grid is drawn after `iteration` iterations.
    pub fn is_snapshot(&self, iteration: u64) -> bool {
        PAPER_SNAPSHOTS.contains(&iteration)
            || iteration == self.iterations
            || (self.snapshot_every > 0 && iteration.is_multiple_of(self.snapshot_every))
    }

    /// Whether a metrics row is written after `iteration` iterations.
    pub fn is_log(&self, iteration: u64) -> bool {
        iteration == self.iterations
            || (self.log_every > 0 && iteration.is_multiple_of(self.log_every))
    }

    /// Whether a checkpoint is written after `iteration` iterations.
    pub fn is_checkpoint(&self, iteration: u64) -> bool {
        iteration == self.iterations
            || (self.checkpoint_every > 0 && iteration.is_multiple_of(self.checkpoint_every))
    }

    /// Rejects settings that cannot train (the hold-out is checked against the data in
    /// [`train`](super::train)).
    pub fn validate(&self) -> Result<(), String> {
        if self.batch_size == 0 {
            return Err("--batch must be at least 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(format!("--lr must be positive, got {}", self.lr));
        }
        if let Some(d_lr) = self.d_lr {
            if !(d_lr > 0.0 && d_lr.is_finite()) {
                return Err(format!("--d-lr must be positive, got {d_lr}"));
            }
        }
        if !(self.lr_decay_from > 0.0 && self.lr_decay_from <= 1.0) {
            return Err(format!(
                "--lr-decay-from must be in (0, 1], got {}",
                self.lr_decay_from
            ));
        }
        if !(0.0..1.0).contains(&self.ema) {
            return Err(format!("--ema must be in [0, 1), got {}", self.ema));
        }
        if !(self.real_label > 0.5 && self.real_label <= 1.0) {
            return Err(format!(
                "--real-label must be in (0.5, 1], got {}",
                self.real_label
            ));
        }
        if self.augment_shift > 8 {
            return Err(format!(
                "--augment-shift must be at most 8 pixels, got {}",
                self.augment_shift
            ));
        }
        if self.minibatch_std && !matches!(self.model, ModelKind::Mcu | ModelKind::Cmcu) {
            return Err(format!(
                "--minibatch-std is available for the mcu and cmcu models, not {}",
                self.model
            ));
        }
        if self.betas.iter().any(|b| !(0.0..1.0).contains(b)) {
            return Err(format!(
                "Adam betas must be in [0, 1), got {:?}",
                self.betas
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default command must keep making the shipped blob: `cmcu` with the tuned recipe on
    /// all 60,000 training images, the paper's losses and Adam settings.
    #[test]
    fn the_default_is_cmcu_with_the_tuned_recipe() {
        let d = TrainConfig::default();
        assert_eq!(
            (d.model, d.seed, d.iterations),
            (ModelKind::Cmcu, 1, 20_000)
        );
        assert_eq!((d.batch_size, d.lr, d.betas), (64, 2e-4, [0.5, 0.999]));
        assert_eq!(
            (d.log_every, d.snapshot_every, d.checkpoint_every),
            (50, 0, 1_000)
        );
        assert_eq!((d.d_lr, d.discriminator_lr()), (Some(1e-4), 1e-4));
        assert_eq!(d.ema, 0.999);
        assert!(d.minibatch_std);
        assert_eq!(d.real_label, 1.0);
        assert_eq!(d.augment_shift, 0);
        assert_eq!(
            d.holdout, 0,
            "the default run trains on every training image"
        );
        assert!((0..d.iterations).all(|i| d.lr_factor(i) == 1.0));
        assert_eq!(d.validate(), Ok(()));
    }

    /// Every other preset starts from the paper's loop with every option off; the tuned
    /// recipe changes exactly its three settings and is valid where minibatch std exists.
    #[test]
    fn recipes_per_preset() {
        for model in [
            ModelKind::Mcu,
            ModelKind::Mlp,
            ModelKind::Dcgan,
            ModelKind::Cdcgan,
        ] {
            assert_eq!(Recipe::default_for(model), Recipe::Paper);
            let paper = TrainConfig::new(model, Recipe::Paper);
            assert_eq!(
                paper,
                TrainConfig {
                    model,
                    ..TrainConfig::OPTIONS_OFF
                }
            );
            assert_eq!(paper.validate(), Ok(()));
            let tuned = TrainConfig::new(model, Recipe::Tuned);
            assert_eq!(
                tuned,
                TrainConfig {
                    ema: 0.999,
                    d_lr: Some(1e-4),
                    minibatch_std: true,
                    ..paper
                }
            );
            assert_eq!(tuned.validate().is_ok(), model.runs_on_firmware());
        }
        assert_eq!(Recipe::default_for(ModelKind::Cmcu), Recipe::Tuned);
    }

    #[test]
    fn the_learning_rate_falls_linearly_to_zero_after_the_decay_start() {
        let c = TrainConfig {
            iterations: 100,
            lr_decay_from: 0.5,
            ..TrainConfig::default()
        };
        assert_eq!(c.lr_factor(0), 1.0);
        assert_eq!(c.lr_factor(49), 1.0);
        assert_eq!(c.lr_factor(50), 1.0);
        assert_eq!(c.lr_factor(75), 0.5);
        assert_eq!(c.lr_factor(99), 0.02);
        let constant = TrainConfig {
            iterations: 100,
            ..TrainConfig::default()
        };
        assert!((0..100).all(|i| constant.lr_factor(i) == 1.0));
    }

    #[test]
    fn out_of_range_options_are_refused_by_name() {
        let bad = [
            (
                TrainConfig {
                    d_lr: Some(0.0),
                    ..TrainConfig::default()
                },
                "--d-lr",
            ),
            (
                TrainConfig {
                    lr_decay_from: 0.0,
                    ..TrainConfig::default()
                },
                "--lr-decay-from",
            ),
            (
                TrainConfig {
                    ema: 1.0,
                    ..TrainConfig::default()
                },
                "--ema",
            ),
            (
                TrainConfig {
                    real_label: 0.4,
                    ..TrainConfig::default()
                },
                "--real-label",
            ),
            (
                TrainConfig {
                    augment_shift: 9,
                    ..TrainConfig::default()
                },
                "--augment-shift",
            ),
            (
                TrainConfig {
                    model: ModelKind::Dcgan,
                    minibatch_std: true,
                    ..TrainConfig::default()
                },
                "--minibatch-std",
            ),
        ];
        for (config, flag) in bad {
            let err = config.validate().unwrap_err();
            assert!(err.contains(flag), "{err}");
        }
        assert_eq!(TrainConfig::default().validate(), Ok(()));
    }
}
