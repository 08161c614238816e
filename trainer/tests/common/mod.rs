//! Shared by the trainer's integration tests: the real MNIST training set, loaded once.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use trainer::data::{load_split, Dataset, Split};

/// The real MNIST folder beside the repository (CI sets `MNIST_DIR` to it too).
pub fn mnist_dir() -> PathBuf {
    std::env::var_os("MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mnist"))
}

/// The real training set (60,000 images), verified against its digests.
pub fn train_set() -> &'static Dataset {
    static SET: OnceLock<Dataset> = OnceLock::new();
    SET.get_or_init(|| load_split(&mnist_dir(), Split::Train).expect("real MNIST training set"))
}
