//! Errors of blob loading and writing.

use core::fmt;

/// Why [`Generator::new`](crate::Generator::new) (or [`BlobRepr::parse`](crate::blob::BlobRepr::parse))
/// rejected a blob. Checks run in the order of the variants, so each variant also says that every
/// earlier check passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlobError {
    /// Shorter than the fixed header (magic + version) plus the CRC trailer.
    Truncated {
        /// Length of the blob.
        len: usize,
        /// Minimum length of any blob.
        min: usize,
    },
    /// The CRC-32 trailer does not match the bytes before it (corrupted or cut-off file).
    BadCrc {
        /// CRC stored in the trailer.
        stored: u32,
        /// CRC computed over the payload.
        computed: u32,
    },
    /// The first four bytes are not [`MAGIC`](crate::blob::MAGIC): not a generator blob.
    BadMagic {
        /// The bytes found instead.
        found: [u8; 4],
    },
    /// A format version this firmware does not understand.
    UnsupportedVersion {
        /// Version stored in the blob.
        found: u16,
        /// The only version this firmware reads.
        supported: u16,
    },
    /// postcard could not decode the payload (bad varint, a length past the end, a bad bool…).
    Decode,
    /// Bytes left over between the decoded payload and the CRC trailer.
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// The model descriptor describes a different network than this firmware runs.
    ArchitectureMismatch {
        /// Which descriptor field differs, e.g. `"up1.out_channels"`.
        field: &'static str,
        /// Value compiled into the firmware.
        expected: u32,
        /// Value in the blob.
        found: u32,
    },
    /// An activation scale is not a positive, finite `f32`.
    BadScale {
        /// Which scale, e.g. `"scales.fc"`.
        field: &'static str,
    },
    /// A parameter array has the wrong number of bytes for the compiled-in shapes.
    BadLength {
        /// Which array, e.g. `"fc.weights"`.
        field: &'static str,
        /// Bytes required.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// A requantisation multiplier or shift is out of range (see [`Requant::try_new`](crate::requant::Requant::try_new)).
    BadRequant {
        /// Which layer: `"fc"`, `"up1"` or `"up2"`.
        layer: &'static str,
        /// Output channel of the offending entry.
        channel: usize,
    },
    /// A bias exceeds [`BIAS_LIMIT`](crate::blob::BIAS_LIMIT) in magnitude, which could overflow
    /// the `i32` accumulator.
    BiasOutOfRange {
        /// Which layer: `"fc"`, `"up1"` or `"up2"`.
        layer: &'static str,
        /// Index of the offending bias.
        index: usize,
    },
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { len, min } => {
                write!(f, "blob truncated: {len} bytes, need at least {min}")
            }
            Self::BadCrc { stored, computed } => write!(
                f,
                "blob CRC mismatch: trailer says {stored:#010x}, contents give {computed:#010x}"
            ),
            Self::BadMagic { found } => write!(f, "not a generator blob (magic {found:02x?})"),
            Self::UnsupportedVersion { found, supported } => write!(
                f,
                "blob format version {found} is not supported (this firmware reads version {supported})"
            ),
            Self::Decode => f.write_str("blob payload could not be decoded"),
            Self::TrailingBytes { count } => {
                write!(f, "{count} unexpected bytes after the blob payload")
            }
            Self::ArchitectureMismatch {
                field,
                expected,
                found,
            } => write!(
                f,
                "blob is for another architecture: {field} is {found}, firmware expects {expected}"
            ),
            Self::BadScale { field } => {
                write!(f, "{field} is not a positive finite scale")
            }
            Self::BadLength {
                field,
                expected,
                found,
            } => write!(f, "{field} has {found} bytes, expected {expected}"),
            Self::BadRequant { layer, channel } => write!(
                f,
                "{layer} channel {channel}: requantisation multiplier or shift out of range"
            ),
            Self::BiasOutOfRange { layer, index } => {
                write!(f, "{layer} bias {index} is out of range")
            }
        }
    }
}

/// `core::error::Error` is `std::error::Error`: available with and without the `std` feature.
impl core::error::Error for BlobError {}

/// Why [`Generator::generate`](crate::Generator::generate) refused a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClassError {
    /// A class was asked of an unconditional generator, which draws whatever digit its seed
    /// gives.
    NotConditional,
    /// Classes are 0–9.
    OutOfRange {
        /// The class asked for.
        class: u8,
    },
}

impl fmt::Display for ClassError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotConditional => f.write_str("this generator is not class-conditional"),
            Self::OutOfRange { class } => write!(f, "class {class} is not a digit (0-9)"),
        }
    }
}

impl core::error::Error for ClassError {}

/// Why [`BlobRepr::emit`](crate::blob::BlobRepr::emit) could not write a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmitError {
    /// The output buffer is smaller than [`BlobRepr::buffer_len`](crate::blob::BlobRepr::buffer_len).
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// postcard failed to encode the payload.
    Encode,
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BufferTooSmall { needed, available } => {
                write!(f, "blob needs {needed} bytes, buffer has {available}")
            }
            Self::Encode => f.write_str("blob payload could not be encoded"),
        }
    }
}

impl core::error::Error for EmitError {}
