//! Every way MNIST data can be wrong, each naming the file and the problem.

use std::path::PathBuf;

/// An error reading, validating or obtaining MNIST.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The cache (a downloaded file, its folder or its lock file) could not be written.
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file starts like gzip but does not decompress.
    #[error("{path}: corrupt gzip data: {source}")]
    Gzip {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The IDX magic number is not the one for this kind of file.
    #[error("{path}: wrong IDX magic number 0x{found:08x} (expected 0x{expected:08x}, {what})")]
    BadMagic {
        path: PathBuf,
        found: u32,
        expected: u32,
        what: &'static str,
    },
    /// The file is shorter than its header says (or shorter than a header).
    #[error("{path}: truncated: header promises {expected} bytes, file has {found}")]
    Truncated {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    /// The file is longer than its header says.
    #[error("{path}: {extra} unexpected trailing bytes after the data the header describes")]
    TrailingBytes { path: PathBuf, extra: u64 },
    /// Images that are not 28×28.
    #[error("{path}: images are {rows}×{cols}, expected 28×28")]
    WrongImageSize { path: PathBuf, rows: u32, cols: u32 },
    /// A split with the wrong number of items.
    #[error("{path}: holds {found} items, expected {expected}")]
    WrongCount {
        path: PathBuf,
        expected: usize,
        found: usize,
    },
    /// A label outside 0–9.
    #[error("{path}: label #{index} is {value}, expected 0-9")]
    LabelOutOfRange {
        path: PathBuf,
        index: usize,
        value: u8,
    },
    /// The images and labels files disagree on how many items there are.
    #[error("{images_path} holds {images} images but {labels_path} holds {labels} labels")]
    CountMismatch {
        images_path: PathBuf,
        labels_path: PathBuf,
        images: usize,
        labels: usize,
    },
    /// The content is not the real MNIST file.
    #[error("{path}: SHA-256 of the decompressed content is {found}, expected {expected} (not the original MNIST file)")]
    DigestMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },
    /// A required file is absent.
    #[error("{dir}: missing {name} (or {name}.gz)")]
    Missing { dir: PathBuf, name: &'static str },
    /// No source could provide the data.
    #[error("could not obtain MNIST:\n{attempts}")]
    Unavailable { attempts: String },
}
