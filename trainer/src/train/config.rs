//! A training run's settings: everything that decides its numbers, stored in every checkpoint.

use crate::models::ModelKind;

/// Iterations at which the original paper's progress grids are drawn (Fig. 3 and Fig. 4).
pub const PAPER_SNAPSHOTS: [u64; 4] = [0, 100, 3_000, 20_000];

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
    /// Adam learning rate (both networks).
    pub lr: f32,
    /// Adam β₁, β₂.
    pub betas: [f32; 2],
    /// Write a metrics row every this many iterations.
    pub log_every: u64,
    /// Draw an extra sample grid every this many iterations (0: only the paper's).
    pub snapshot_every: u64,
    /// Write a checkpoint every this many iterations (0: only at the end and on Ctrl-C).
    pub checkpoint_every: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: ModelKind::Cmcu,
            seed: 1,
            iterations: 20_000,
            batch_size: 64,
            lr: 2e-4,
            betas: [0.5, 0.999],
            log_every: 50,
            snapshot_every: 0,
            checkpoint_every: 1_000,
        }
    }
}

impl TrainConfig {
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

    /// Rejects settings that cannot train.
    pub fn validate(&self) -> Result<(), String> {
        if self.batch_size == 0 {
            return Err("--batch must be at least 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(format!("--lr must be positive, got {}", self.lr));
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
