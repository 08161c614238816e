//! The IDX file format (big-endian header, then u8 data), as MNIST uses it.
//!
//! Images: magic 0x0000_0803 (u8, 3 dimensions), count, rows, cols, pixels.
//! Labels: magic 0x0000_0801 (u8, 1 dimension), count, labels.

use super::DataError;
use std::path::Path;

/// Side of an MNIST image in pixels.
pub const IMAGE_SIDE: usize = 28;
/// Pixels per MNIST image.
pub const PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Parsed IDX3 images.
#[derive(Debug, Clone)]
pub struct Images {
    /// Number of images.
    pub count: usize,
    /// `count * PIXELS` bytes, row-major.
    pub pixels: Vec<u8>,
}

/// Parsed IDX1 labels (each 0–9).
#[derive(Debug, Clone)]
pub struct Labels {
    /// One label per item.
    pub labels: Vec<u8>,
}

fn be_u32(bytes: &[u8], word: usize) -> u32 {
    let at = word * 4;
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Checks the magic and that `bytes` holds exactly `header_words` words plus `payload` bytes.
fn check_layout(
    bytes: &[u8],
    path: &Path,
    magic: u32,
    what: &'static str,
    header_words: usize,
) -> Result<(), DataError> {
    let header_len = header_words * 4;
    if bytes.len() < 4 {
        return Err(DataError::Truncated {
            path: path.to_owned(),
            expected: header_len as u64,
            found: bytes.len() as u64,
        });
    }
    let found = be_u32(bytes, 0);
    if found != magic {
        return Err(DataError::BadMagic {
            path: path.to_owned(),
            found,
            expected: magic,
            what,
        });
    }
    if bytes.len() < header_len {
        return Err(DataError::Truncated {
            path: path.to_owned(),
            expected: header_len as u64,
            found: bytes.len() as u64,
        });
    }
    Ok(())
}

fn check_payload(bytes: &[u8], path: &Path, expected_total: u64) -> Result<(), DataError> {
    let found = bytes.len() as u64;
    if found < expected_total {
        return Err(DataError::Truncated {
            path: path.to_owned(),
            expected: expected_total,
            found,
        });
    }
    if found > expected_total {
        return Err(DataError::TrailingBytes {
            path: path.to_owned(),
            extra: found - expected_total,
        });
    }
    Ok(())
}

/// Parses an IDX3 u8 image file of 28×28 images.
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<Images, DataError> {
    check_layout(bytes, path, IMAGES_MAGIC, "IDX3 u8 images", 4)?;
    let count = be_u32(bytes, 1);
    let (rows, cols) = (be_u32(bytes, 2), be_u32(bytes, 3));
    if rows as usize != IMAGE_SIDE || cols as usize != IMAGE_SIDE {
        return Err(DataError::WrongImageSize {
            path: path.to_owned(),
            rows,
            cols,
        });
    }
    check_payload(bytes, path, 16 + u64::from(count) * PIXELS as u64)?;
    Ok(Images {
        count: count as usize,
        pixels: bytes[16..].to_vec(),
    })
}

/// Parses an IDX1 u8 label file, rejecting labels outside 0–9.
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Labels, DataError> {
    check_layout(bytes, path, LABELS_MAGIC, "IDX1 u8 labels", 2)?;
    let count = be_u32(bytes, 1);
    check_payload(bytes, path, 8 + u64::from(count))?;
    let labels = bytes[8..].to_vec();
    if let Some((index, &value)) = labels.iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(DataError::LabelOutOfRange {
            path: path.to_owned(),
            index,
            value,
        });
    }
    Ok(Labels { labels })
}

/// Encodes images as an IDX3 u8 file (the exact inverse of [`parse_images`]).
pub fn encode_images(pixels: &[u8]) -> Vec<u8> {
    debug_assert_eq!(pixels.len() % PIXELS, 0);
    let count = (pixels.len() / PIXELS) as u32;
    let mut out = Vec::with_capacity(16 + pixels.len());
    for word in [IMAGES_MAGIC, count, IMAGE_SIDE as u32, IMAGE_SIDE as u32] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Encodes labels as an IDX1 u8 file (the exact inverse of [`parse_labels`]).
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    for word in [LABELS_MAGIC, labels.len() as u32] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(labels);
    out
}
