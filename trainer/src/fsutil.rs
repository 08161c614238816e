//! Crash-safe file writing: a reader sees either the old file or the complete new one.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: temp file in the same folder, fsync, rename, fsync folder.
/// A crash, a full disk or Ctrl-C at any point leaves the previous `path` untouched.
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
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Makes the rename itself durable; not all filesystems support fsync on folders.
        let _ = d.sync_all();
    }
    Ok(())
}
