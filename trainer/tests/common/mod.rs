//! Shared by the trainer's integration tests: the real MNIST training set, loaded once.
// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;
use trainer::data::{load_split, locate, Dataset, Locator, Split};

/// The real MNIST set, found exactly as the trainer finds it for a user: `$MNIST_DIR`, else the
/// cache, else a download into the cache (safe while other test binaries do the same).
pub fn mnist_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| match locate(&Locator::from_env(None)) {
        Ok(source) => source.dir().to_owned(),
        Err(e) => panic!("the tests need the real MNIST set: {e}"),
    })
    .clone()
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
