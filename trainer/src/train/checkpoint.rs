//! Checkpoints: everything needed to continue a run bit-exactly, in one file written atomically.
//!
//! Layout: the 8-byte magic `GANCKPT\0`, a little-endian u32 format version, the postcard encoding
//! of [`Checkpoint`], and a CRC-32 (ISO-HDLC) of all preceding bytes.

use super::{
    adam::Adam,
    config::TrainConfig,
    metrics::{MetricRow, QualityRow},
    params::TensorList,
};
use crate::fsutil::write_atomic;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"GANCKPT\0";
/// Bumped whenever [`Checkpoint`] or a model's tensor order changes.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest version still read (version 1 had no quality scores; it loads with none).
pub const OLDEST_READABLE_VERSION: u32 = 1;
const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// The state of a run after `iteration` iterations. Random numbers are drawn from counter-based
/// streams keyed by (seed, iteration), so the seed and the iteration are the whole RNG state.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// The run's settings.
    pub config: TrainConfig,
    /// Iterations completed.
    pub iteration: u64,
    /// Generator tensors (parameters and BatchNorm statistics).
    pub generator: TensorList,
    /// Discriminator tensors.
    pub discriminator: TensorList,
    /// Generator optimiser state.
    pub generator_opt: Adam,
    /// Discriminator optimiser state.
    pub discriminator_opt: Adam,
    /// Metrics rows logged so far.
    pub metrics: Vec<MetricRow>,
    /// Training seconds spent before this checkpoint (excludes time between a crash and resume).
    pub train_seconds: f64,
    /// Quality scores measured so far (empty when training ran without the evaluator).
    pub quality: Vec<QualityRow>,
}

/// Format version 1: [`Checkpoint`] without `quality`.
#[derive(serde::Deserialize)]
struct CheckpointV1 {
    config: TrainConfig,
    iteration: u64,
    generator: TensorList,
    discriminator: TensorList,
    generator_opt: Adam,
    discriminator_opt: Adam,
    metrics: Vec<MetricRow>,
    train_seconds: f64,
}

impl From<CheckpointV1> for Checkpoint {
    fn from(v1: CheckpointV1) -> Self {
        Checkpoint {
            config: v1.config,
            iteration: v1.iteration,
            generator: v1.generator,
            discriminator: v1.discriminator,
            generator_opt: v1.generator_opt,
            discriminator_opt: v1.discriminator_opt,
            metrics: v1.metrics,
            train_seconds: v1.train_seconds,
            quality: Vec::new(),
        }
    }
}

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Writing failed (disk full, file too large, permissions…); the file at `path` is unchanged.
    #[error("{path}: cannot write the checkpoint: {source} (the previous checkpoint there, if any, is unchanged)")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not a checkpoint of this program.
    #[error("{path}: not a checkpoint (bad magic bytes)")]
    BadMagic { path: PathBuf },
    /// Written by another format version.
    #[error(
        "{path}: checkpoint format version {found}, this trainer reads versions {OLDEST_READABLE_VERSION} to {FORMAT_VERSION}"
    )]
    Version { path: PathBuf, found: u32 },
    /// Damaged on disk.
    #[error("{path}: checkpoint is corrupt (CRC mismatch: stored {stored:08x}, computed {computed:08x})")]
    Corrupt {
        path: PathBuf,
        stored: u32,
        computed: u32,
    },
    /// Too short to hold a header and checksum.
    #[error("{path}: checkpoint is truncated ({len} bytes)")]
    Truncated { path: PathBuf, len: usize },
    /// Intact bytes that do not decode (a bug, or a file from an incompatible build).
    #[error("{path}: checkpoint does not decode: {message}")]
    Decode { path: PathBuf, message: String },
}

impl Checkpoint {
    /// Encodes the checkpoint with its header and checksum.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let body = postcard::to_stdvec(self).expect("in-memory serialisation cannot fail");
        bytes.extend_from_slice(&body);
        let crc = CRC.checksum(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// Decodes and checks a checkpoint; `path` is only used in error messages.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, CheckpointError> {
        let path = path.to_owned();
        if bytes.len() < MAGIC.len() + 8 {
            return Err(CheckpointError::Truncated {
                path,
                len: bytes.len(),
            });
        }
        if &bytes[..MAGIC.len()] != MAGIC {
            return Err(CheckpointError::BadMagic { path });
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(CheckpointError::Version {
                path,
                found: version,
            });
        }
        let (content, trailer) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes(trailer.try_into().expect("4 bytes"));
        let computed = CRC.checksum(content);
        if stored != computed {
            return Err(CheckpointError::Corrupt {
                path,
                stored,
                computed,
            });
        }
        let decoded = if version == 1 {
            postcard::from_bytes::<CheckpointV1>(&content[12..]).map(Checkpoint::from)
        } else {
            postcard::from_bytes(&content[12..])
        };
        decoded.map_err(|e| CheckpointError::Decode {
            path,
            message: e.to_string(),
        })
    }

    /// Writes atomically: the previous checkpoint survives any failure.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        write_atomic(path, &self.to_bytes()).map_err(|source| CheckpointError::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// Reads and checks a checkpoint file.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }
}
