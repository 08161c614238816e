//! Where the MNIST files come from: `--data DIR`, then `$MNIST_DIR`, then the local cache, then a
//! download into the cache.

use super::{dir_has_all_files, download_into, DataError};
use std::path::{Path, PathBuf};

/// Environment variable naming a folder that holds the four MNIST files.
pub const MNIST_DIR_ENV: &str = "MNIST_DIR";

/// How the data folder was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// Given with `--data`.
    Flag(PathBuf),
    /// Given with `$MNIST_DIR`.
    Env(PathBuf),
    /// Already in the cache folder.
    Cache(PathBuf),
    /// Downloaded into the cache folder just now.
    Downloaded(PathBuf),
}

impl DataSource {
    /// The folder holding the files.
    pub fn dir(&self) -> &Path {
        match self {
            DataSource::Flag(p)
            | DataSource::Env(p)
            | DataSource::Cache(p)
            | DataSource::Downloaded(p) => p,
        }
    }
}

impl std::fmt::Display for DataSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataSource::Flag(p) => write!(f, "{} (--data)", p.display()),
            DataSource::Env(p) => write!(f, "{} (${MNIST_DIR_ENV})", p.display()),
            DataSource::Cache(p) => write!(f, "{} (cache)", p.display()),
            DataSource::Downloaded(p) => write!(f, "{} (downloaded)", p.display()),
        }
    }
}

/// The cache folder: `$XDG_CACHE_HOME/gan-digits/mnist`, else `~/.cache/gan-digits/mnist`.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("gan-digits").join("mnist")
}

/// The lookup order, made explicit so tests can drive it without touching the process environment.
#[derive(Debug, Clone)]
pub struct Locator {
    /// `--data DIR`.
    pub flag: Option<PathBuf>,
    /// `$MNIST_DIR`.
    pub env: Option<PathBuf>,
    /// The cache folder.
    pub cache: PathBuf,
    /// Whether to download into the cache when nothing else has the files.
    pub allow_download: bool,
}

impl Locator {
    /// The lookup a user gets: `--data`, `$MNIST_DIR`, the default cache, download allowed.
    pub fn from_env(flag: Option<PathBuf>) -> Self {
        Locator {
            flag,
            env: std::env::var_os(MNIST_DIR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            cache: default_cache_dir(),
            allow_download: true,
        }
    }
}

/// Finds (or obtains) a folder with all four MNIST files. A folder named explicitly (flag or
/// environment) must hold them: silently looking elsewhere would hide a typo.
pub fn locate(locator: &Locator) -> Result<DataSource, DataError> {
    if let Some(dir) = &locator.flag {
        return require_all(dir).map(|()| DataSource::Flag(dir.clone()));
    }
    if let Some(dir) = &locator.env {
        return require_all(dir).map(|()| DataSource::Env(dir.clone()));
    }
    if dir_has_all_files(&locator.cache) {
        return Ok(DataSource::Cache(locator.cache.clone()));
    }
    if !locator.allow_download {
        return require_all(&locator.cache).map(|()| DataSource::Cache(locator.cache.clone()));
    }
    download_into(&locator.cache)?;
    Ok(DataSource::Downloaded(locator.cache.clone()))
}

fn require_all(dir: &Path) -> Result<(), DataError> {
    for file in super::FILES {
        if super::find_file(dir, file.name).is_none() {
            return Err(DataError::Missing {
                dir: dir.to_owned(),
                name: file.name,
            });
        }
    }
    Ok(())
}
