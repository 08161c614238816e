//! Crash-safe file writing: a reader sees either the old file or the complete new one.

use std::io::Write;
use std::path::Path;

/// Test hook (fault injection), read by [`write_atomic`]: `NAME` or `NAME@N` makes the `N`-th
/// (default first) atomic write of a file called `NAME` stop after half its bytes are in the temp
/// file, print `fault hook: paused writing PATH` to stderr and sleep, so a test can SIGKILL the
/// process at exactly that point. Unset in normal use.
pub const PAUSE_WRITE_ENV: &str = "TRAINER_TEST_PAUSE_WRITE";

/// Writes `bytes` to `path` atomically: temp file in the same folder, fsync, rename, fsync folder.
/// A crash, a full disk or Ctrl-C at any point leaves the previous `path` untouched; a crash can
/// leave a `.tmp-*` file beside it, which nothing reads.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-");
    // Temp files are private (0600) by default; results are ordinary files (0644 before umask).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut tmp = builder.tempfile_in(dir)?;
    if pause_requested(path) {
        let (half, _) = bytes.split_at(bytes.len() / 2);
        tmp.write_all(half)?;
        tmp.as_file().sync_all()?;
        eprintln!("fault hook: paused writing {}", tmp.path().display());
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Makes the rename itself durable; not all filesystems support fsync on folders.
        let _ = d.sync_all();
    }
    Ok(())
}

/// Whether [`PAUSE_WRITE_ENV`] asks to pause this write (counting writes of the named file).
fn pause_requested(path: &Path) -> bool {
    use std::sync::atomic::{AtomicU64, Ordering};
    static MATCHING_WRITES: AtomicU64 = AtomicU64::new(0);
    let Some(spec) = std::env::var_os(PAUSE_WRITE_ENV) else {
        return false;
    };
    let spec = spec.to_string_lossy();
    let (name, nth) = match spec.rsplit_once('@') {
        Some((name, n)) => (name, n.parse().unwrap_or(1)),
        None => (&*spec, 1),
    };
    if path.file_name().is_none_or(|f| f != name) {
        return false;
    }
    MATCHING_WRITES.fetch_add(1, Ordering::SeqCst) + 1 == nth
}
