//! A lock file beside a cached artefact, so processes that fill the same cache at once (test
//! binaries in parallel, two trainers) take turns: the second waits, then finds the work done.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// An exclusive lock on `<target>.lock`, held until dropped (the operating system releases it
/// when the process ends, however it ends, so a crash never leaves the cache locked).
#[derive(Debug)]
pub struct CacheLock {
    _file: File,
}

impl CacheLock {
    /// The lock file guarding `target` (a file or a folder): `<target>.lock` beside it, outside
    /// the folder itself so that it never shows up among the cached files.
    pub fn path_for(target: &Path) -> PathBuf {
        let mut name = target.file_name().unwrap_or_default().to_owned();
        name.push(".lock");
        target.with_file_name(name)
    }

    /// Takes the lock guarding `target`, waiting (and saying so on stderr, naming `what` is
    /// going on) while another process holds it.
    ///
    /// # Errors
    ///
    /// The lock file cannot be created or locked; [`CacheLock::path_for`] names it.
    pub fn acquire(target: &Path, what: &str) -> std::io::Result<Self> {
        let path = Self::path_for(target);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                eprintln!(
                    "waiting for another process ({what}; lock {})",
                    path.display()
                );
                file.lock()?;
            }
            Err(TryLockError::Error(e)) => return Err(e),
        }
        Ok(CacheLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn lock_file_sits_beside_the_target() {
        assert_eq!(
            CacheLock::path_for(Path::new("/c/gan-digits/mnist")),
            Path::new("/c/gan-digits/mnist.lock")
        );
        assert_eq!(
            CacheLock::path_for(Path::new("x/classifier-v1.bin")),
            Path::new("x/classifier-v1.bin.lock")
        );
    }

    #[test]
    fn a_second_holder_waits_for_the_first() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("cache");
        let first = CacheLock::acquire(&target, "test").unwrap();
        let (tx, rx) = mpsc::channel();
        let waiter = std::thread::spawn(move || {
            // A separate open file description: flock excludes it like another process.
            let _second = CacheLock::acquire(&target, "test").unwrap();
            tx.send(()).unwrap();
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "not exclusive"
        );
        drop(first);
        rx.recv_timeout(Duration::from_secs(10))
            .expect("released on drop");
        waiter.join().unwrap();
    }
}
