//! Shared by the trainer's integration tests: the real MNIST training set, loaded once.
// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use trainer::data::{load_split, Dataset, Split};

/// The real MNIST set: `$MNIST_DIR`, else the copy beside the repository (CI), else the
/// trainer's own lookup (cache, then download), as on a user's machine.
pub fn mnist_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MNIST_DIR") {
        return PathBuf::from(dir);
    }
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mnist");
    if shared.is_dir() {
        return shared;
    }
    trainer::data::locate(&trainer::data::Locator::from_env(None))
        .expect("MNIST: set MNIST_DIR or allow the download")
        .dir()
        .to_owned()
}

/// The real training set (60,000 images), verified against its digests.
pub fn train_set() -> &'static Dataset {
    static SET: OnceLock<Dataset> = OnceLock::new();
    SET.get_or_init(|| load_split(&mnist_dir(), Split::Train).expect("real MNIST training set"))
}

/// The real test set (10,000 images), verified against its digests.
pub fn test_set() -> &'static Dataset {
    static SET: OnceLock<Dataset> = OnceLock::new();
    SET.get_or_init(|| load_split(&mnist_dir(), Split::Test).expect("real MNIST test set"))
}
