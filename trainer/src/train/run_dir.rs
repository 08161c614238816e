//! The files a run leaves in `runs/<name>/`.

use std::path::{Path, PathBuf};

/// Paths inside one run folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The run folder.
    pub root: PathBuf,
}

impl RunDir {
    /// A run folder at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunDir { root: root.into() }
    }

    /// Latest checkpoint.
    pub fn checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint.bin")
    }
    /// The checkpoint with the lowest FID so far.
    pub fn best_checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint-best.bin")
    }
    /// FID and classifier score against iterations.
    pub fn quality_plot(&self) -> PathBuf {
        self.root.join("quality.png")
    }
    /// The scores of `trainer eval --run`.
    pub fn eval_report(&self) -> PathBuf {
        self.root.join("eval.json")
    }
    /// Settings, human-readable.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.json")
    }
    /// Per-iteration metrics.
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.csv")
    }
    /// Loss curves.
    pub fn loss_plot(&self) -> PathBuf {
        self.root.join("losses.png")
    }
    /// Sample grid after `iteration` iterations.
    pub fn grid(&self, iteration: u64) -> PathBuf {
        self.root
            .join("samples")
            .join(format!("iter_{iteration:06}.png"))
    }
    /// The trained generator's float weights.
    pub fn generator_weights(&self) -> PathBuf {
        self.root.join("generator.safetensors")
    }
    /// The quantised generator for firmware-core.
    pub fn blob(&self) -> PathBuf {
        self.root.join("generator.postcard")
    }
    /// How closely the exported int8 generator matches the float one.
    pub fn export_report(&self) -> PathBuf {
        self.root.join("export_report.json")
    }

    /// Creates the folder and its `samples/` subfolder.
    pub fn create(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(self.root.join("samples"))
    }

    /// The run folder.
    pub fn path(&self) -> &Path {
        &self.root
    }
}
