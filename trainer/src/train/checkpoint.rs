//! Checkpoints: everything needed to continue a run bit-exactly, in one file written atomically.
//!
//! Layout: the 8-byte magic `GANCKPT\0`, a little-endian u32 format version, the postcard encoding
//! of [`Checkpoint`], and a CRC-32 (ISO-HDLC) of all preceding bytes.

use super::{
    adam::Adam,
    config::{TrainConfig, TrainConfigV1, TrainConfigV3},
    ema::Ema,
    metrics::{MetricRow, QualityRow, QualityRowV1},
    params::TensorList,
};
use crate::fsutil::write_atomic;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"GANCKPT\0";
/// Bumped whenever [`Checkpoint`] or a model's tensor order changes.
pub const FORMAT_VERSION: u32 = 4;
/// The oldest version still read (version 1 had no quality scores; version 2 no precision and
/// recall, no generator average and none of the training options of version 3: they load with
/// none, the options off; version 3 had no `minibatch_std`: it loads off).
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
    /// The moving average of the generator's tensors, when the run keeps one.
    pub ema: Option<Ema>,
}

impl Checkpoint {
    /// The generator tensors that inference uses: the average when there is one, else the
    /// trained tensors.
    pub fn inference_generator(&self) -> &TensorList {
        self.ema.as_ref().map_or(&self.generator, |e| &e.tensors)
    }
}

/// Format version 1: [`Checkpoint`] without `quality`.
#[derive(serde::Deserialize)]
struct CheckpointV1 {
    config: TrainConfigV1,
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
            config: v1.config.into(),
            iteration: v1.iteration,
            generator: v1.generator,
            discriminator: v1.discriminator,
            generator_opt: v1.generator_opt,
            discriminator_opt: v1.discriminator_opt,
            metrics: v1.metrics,
            train_seconds: v1.train_seconds,
            quality: Vec::new(),
            ema: None,
        }
    }
}

/// Format version 2: quality rows without precision and recall.
#[derive(serde::Deserialize)]
struct CheckpointV2 {
    config: TrainConfigV1,
    iteration: u64,
    generator: TensorList,
    discriminator: TensorList,
    generator_opt: Adam,
    discriminator_opt: Adam,
    metrics: Vec<MetricRow>,
    train_seconds: f64,
    quality: Vec<QualityRowV1>,
}

impl From<CheckpointV2> for Checkpoint {
    fn from(v2: CheckpointV2) -> Self {
        Checkpoint {
            config: v2.config.into(),
            iteration: v2.iteration,
            generator: v2.generator,
            discriminator: v2.discriminator,
            generator_opt: v2.generator_opt,
            discriminator_opt: v2.discriminator_opt,
            metrics: v2.metrics,
            train_seconds: v2.train_seconds,
            quality: v2.quality.into_iter().map(QualityRow::from).collect(),
            ema: None,
        }
    }
}

/// Format version 3: [`Checkpoint`] with a configuration before `minibatch_std`.
#[derive(serde::Deserialize)]
struct CheckpointV3 {
    config: TrainConfigV3,
    iteration: u64,
    generator: TensorList,
    discriminator: TensorList,
    generator_opt: Adam,
    discriminator_opt: Adam,
    metrics: Vec<MetricRow>,
    train_seconds: f64,
    quality: Vec<QualityRow>,
    ema: Option<Ema>,
}

impl From<CheckpointV3> for Checkpoint {
    fn from(v3: CheckpointV3) -> Self {
        Checkpoint {
            config: v3.config.into(),
            iteration: v3.iteration,
            generator: v3.generator,
            discriminator: v3.discriminator,
            generator_opt: v3.generator_opt,
            discriminator_opt: v3.discriminator_opt,
            metrics: v3.metrics,
            train_seconds: v3.train_seconds,
            quality: v3.quality,
            ema: v3.ema,
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
        let body = &content[12..];
        let decoded = match version {
            1 => postcard::from_bytes::<CheckpointV1>(body).map(Checkpoint::from),
            2 => postcard::from_bytes::<CheckpointV2>(body).map(Checkpoint::from),
            3 => postcard::from_bytes::<CheckpointV3>(body).map(Checkpoint::from),
            _ => postcard::from_bytes(body),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::Quality;

    /// A quality row as format version 2 wrote it: `Quality` without precision and recall.
    #[derive(serde::Serialize)]
    struct QualityRowV1Out {
        iteration: u64,
        samples: u32,
        fid: f64,
        classifier_score: f64,
        class_histogram: [u32; 10],
        class_entropy_bits: f64,
        min_class_share: f64,
        max_class_share: f64,
        mean_confidence: f64,
        conditional_accuracy: Option<f64>,
    }

    /// [`TrainConfig`] before version 3.
    #[derive(serde::Serialize)]
    struct ConfigV1Out {
        model: crate::models::ModelKind,
        seed: u64,
        iterations: u64,
        batch_size: usize,
        lr: f32,
        betas: [f32; 2],
        log_every: u64,
        snapshot_every: u64,
        checkpoint_every: u64,
    }

    /// Format version 2's layout.
    #[derive(serde::Serialize)]
    struct CheckpointV2Out {
        config: ConfigV1Out,
        iteration: u64,
        generator: TensorList,
        discriminator: TensorList,
        generator_opt: Adam,
        discriminator_opt: Adam,
        metrics: Vec<MetricRow>,
        train_seconds: f64,
        quality: Vec<QualityRowV1Out>,
    }

    fn framed(version: u32, body: &[u8]) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&version.to_le_bytes());
        bytes.extend_from_slice(body);
        let crc = CRC.checksum(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes
    }

    #[test]
    fn version_2_checkpoints_load_without_precision_recall_average_or_options() {
        let tensors = TensorList {
            tensors: vec![vec![1.0, 2.0], vec![3.0]],
        };
        let old = CheckpointV2Out {
            config: ConfigV1Out {
                model: crate::models::ModelKind::Mcu,
                seed: 4,
                iterations: 300,
                batch_size: 16,
                lr: 1e-3,
                betas: [0.5, 0.9],
                log_every: 10,
                snapshot_every: 0,
                checkpoint_every: 100,
            },
            iteration: 7,
            generator: tensors.clone(),
            discriminator: tensors.clone(),
            generator_opt: Adam::new(1e-3, [0.5, 0.9], 1e-8),
            discriminator_opt: Adam::new(2e-3, [0.5, 0.9], 1e-8),
            metrics: Vec::new(),
            train_seconds: 1.5,
            quality: vec![QualityRowV1Out {
                iteration: 7,
                samples: 100,
                fid: 12.5,
                classifier_score: 9.0,
                class_histogram: [10; 10],
                class_entropy_bits: 3.3,
                min_class_share: 0.1,
                max_class_share: 0.1,
                mean_confidence: 0.9,
                conditional_accuracy: Some(0.99),
            }],
        };
        let body = postcard::to_stdvec(&old).unwrap();
        let ck = Checkpoint::from_bytes(&framed(2, &body), Path::new("old.bin")).unwrap();
        assert_eq!((ck.iteration, ck.train_seconds), (7, 1.5));
        let expected_config = TrainConfig {
            model: crate::models::ModelKind::Mcu,
            seed: 4,
            iterations: 300,
            batch_size: 16,
            lr: 1e-3,
            betas: [0.5, 0.9],
            log_every: 10,
            snapshot_every: 0,
            checkpoint_every: 100,
            ..TrainConfig::OPTIONS_OFF
        };
        assert_eq!(ck.config, expected_config);
        assert_eq!(
            ck.config.holdout, 0,
            "old runs trained on all 60,000 images"
        );
        assert!(ck.ema.is_none());
        assert_eq!(ck.inference_generator(), &tensors);
        assert_eq!(ck.generator, tensors);
        assert_eq!(ck.discriminator_opt.lr, 2e-3);
        let expected = Quality {
            samples: 100,
            fid: 12.5,
            classifier_score: 9.0,
            class_histogram: [10; 10],
            class_entropy_bits: 3.3,
            min_class_share: 0.1,
            max_class_share: 0.1,
            mean_confidence: 0.9,
            conditional_accuracy: Some(0.99),
            precision: None,
            recall: None,
        };
        assert_eq!(ck.quality.len(), 1);
        assert_eq!(
            (ck.quality[0].iteration, &ck.quality[0].quality),
            (7, &expected)
        );

        // The same state written now round-trips, precision, recall and average included.
        let mut now = ck.clone();
        now.quality[0].quality.precision = Some(0.5);
        now.quality[0].quality.recall = Some(0.25);
        let average = TensorList {
            tensors: vec![vec![5.0, 6.0], vec![7.0]],
        };
        now.ema = Some(Ema {
            tensors: average.clone(),
            updates: 7,
        });
        now.config.ema = 0.999;
        now.config.minibatch_std = true;
        let again = Checkpoint::from_bytes(&now.to_bytes(), Path::new("new.bin")).unwrap();
        assert_eq!(again.quality, now.quality);
        assert_eq!(again.config, now.config);
        assert_eq!(again.ema, now.ema);
        assert_eq!(again.inference_generator(), &average);
    }

    /// [`TrainConfig`] as version 3 wrote it: every option but `minibatch_std`.
    #[derive(serde::Serialize)]
    struct ConfigV3Out {
        model: crate::models::ModelKind,
        seed: u64,
        iterations: u64,
        batch_size: usize,
        lr: f32,
        d_lr: Option<f32>,
        betas: [f32; 2],
        log_every: u64,
        snapshot_every: u64,
        checkpoint_every: u64,
        lr_decay_from: f32,
        ema: f32,
        real_label: f32,
        augment_shift: u8,
        holdout: usize,
    }

    /// Format version 3's layout.
    #[derive(serde::Serialize)]
    struct CheckpointV3Out {
        config: ConfigV3Out,
        iteration: u64,
        generator: TensorList,
        discriminator: TensorList,
        generator_opt: Adam,
        discriminator_opt: Adam,
        metrics: Vec<MetricRow>,
        train_seconds: f64,
        quality: Vec<QualityRow>,
        ema: Option<Ema>,
    }

    #[test]
    fn version_3_checkpoints_load_with_their_options_and_no_minibatch_std() {
        let tensors = TensorList {
            tensors: vec![vec![1.0, 2.0], vec![3.0]],
        };
        let average = Ema {
            tensors: TensorList {
                tensors: vec![vec![4.0, 5.0], vec![6.0]],
            },
            updates: 9,
        };
        let old = CheckpointV3Out {
            config: ConfigV3Out {
                model: crate::models::ModelKind::Cmcu,
                seed: 3,
                iterations: 20_000,
                batch_size: 64,
                lr: 2e-4,
                d_lr: Some(4e-4),
                betas: [0.5, 0.999],
                log_every: 50,
                snapshot_every: 0,
                checkpoint_every: 2_000,
                lr_decay_from: 0.5,
                ema: 0.999,
                real_label: 0.9,
                augment_shift: 2,
                holdout: 10_000,
            },
            iteration: 9,
            generator: tensors.clone(),
            discriminator: tensors.clone(),
            generator_opt: Adam::new(2e-4, [0.5, 0.999], 1e-8),
            discriminator_opt: Adam::new(4e-4, [0.5, 0.999], 1e-8),
            metrics: Vec::new(),
            train_seconds: 2.5,
            quality: Vec::new(),
            ema: Some(average.clone()),
        };
        let body = postcard::to_stdvec(&old).unwrap();
        let ck = Checkpoint::from_bytes(&framed(3, &body), Path::new("v3.bin")).unwrap();
        let expected_config = TrainConfig {
            model: crate::models::ModelKind::Cmcu,
            seed: 3,
            d_lr: Some(4e-4),
            checkpoint_every: 2_000,
            lr_decay_from: 0.5,
            ema: 0.999,
            real_label: 0.9,
            augment_shift: 2,
            holdout: 10_000,
            ..TrainConfig::OPTIONS_OFF
        };
        assert_eq!(ck.config, expected_config);
        assert!(!ck.config.minibatch_std);
        assert_eq!((ck.iteration, ck.train_seconds), (9, 2.5));
        assert_eq!(ck.ema, Some(average));
        assert_eq!(ck.generator, tensors);
    }
}
