//! The training loop of the original GAN paper (Goodfellow et al., 2014, Algorithm 1 with k = 1):
//! each iteration takes one discriminator step on a real and a fake batch, then one generator
//! step with the non-saturating loss, both with Adam.

pub mod adam;
pub mod augment;
pub mod batches;
pub mod checkpoint;
pub mod config;
pub mod ema;
pub mod metrics;
pub mod params;
mod run;
mod run_dir;
pub mod speed;
pub mod step;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use config::{Recipe, TrainConfig, PAPER_SNAPSHOTS, VALIDATION_IMAGES};
pub use metrics::{MetricRow, QualityRow};
pub use run::{
    balanced_classes, evaluation_latents, fixed_noise, generate_with, train, validation_split,
    Outcome, Progress, TrainError,
};
pub use run_dir::RunDir;
