//! The generator blob: a byte format written on the host, read in place from flash.
//!
//! # Format, version 1
//!
//! ```text
//! ┌──────────┬──────────────┬───────────────────────────────┬────────────┐
//! │ magic    │ version      │ payload (postcard, BlobRepr)  │ CRC-32     │
//! │ "MGEN"   │ u16 LE = 1   │                               │ u32 LE     │
//! └──────────┴──────────────┴───────────────────────────────┴────────────┘
//!   4 bytes    2 bytes        variable                        4 bytes
//! ```
//!
//! * **magic**: the bytes `M G E N`.
//! * **version**: [`FORMAT_VERSION`], little-endian, fixed width (postcard `fixint::le`).
//! * **payload**: [`BlobRepr`] in [postcard](https://postcard.jamesmunns.com/wire-format) encoding,
//!   fields in declaration order. Integers in the descriptor are varints, `bool` is one byte
//!   (0/1), `f32` is 4 bytes LE, and every `&[u8]` is a varint length followed by the raw bytes —
//!   which is what lets [`Generator`](crate::Generator) borrow weights straight from flash.
//! * **CRC-32**: CRC-32/ISO-HDLC (the zlib/PNG CRC, [`crc::CRC_32_ISO_HDLC`]) of every byte before
//!   it, little-endian.
//!
//! Payload fields, in order:
//!
//! | field | contents |
//! |---|---|
//! | `descriptor` | [`ModelDescriptor`]: preset, conditional flag, every layer's shape. Must equal [`ModelDescriptor::MCU`]. |
//! | `scales` | [`ActivationScales`]: real value of one int8 step of the latent, `fc` output, `up1` output and the pre-tanh value (4 × `f32`). For host tools; the device never computes with them. |
//! | `fc`, `up1`, `up2` | one [`LayerRepr`] each (below). |
//! | `tanh_lut` | 256 bytes: entry `q + 128` is the pixel for pre-tanh int8 `q`. |
//!
//! Each [`LayerRepr`] holds four byte arrays. `C` is the layer's number of requantisation channels
//! (64, 32, 1):
//!
//! | array | `fc` | `up1` | `up2` |
//! |---|---|---|---|
//! | `weights` (i8) | `[y][x][c][i]`: 3136 rows of 32, row `(y·7 + x)·64 + c` | `[ky][kx][co][ci]`, 4·4·32·64 | `[ky][kx][co][ci]`, 4·4·1·32 |
//! | `bias` (i32 LE) | 3136, same order as the rows | 32 | 1 |
//! | `multiplier` (i32 LE) | `C` = 64 (one per BN channel `c`) | 32 | 1 |
//! | `shift` (u8) | 64 | 32 | 1 |
//!
//! The PyTorch layouts map as: `fc` row `(y·7 + x)·64 + c` ← `Linear.weight` row `c·49 + y·7 + x`;
//! `[ky][kx][co][ci]` ← `ConvTranspose2d.weight[ci][co][ky][kx]`. BatchNorm is folded into the
//! weights and biases. Activations between layers are int8 in HWC order (`fc`: 7×7×64,
//! `up1`: 14×14×32), so each kernel reads contiguous channel vectors.
//!
//! # Semantics
//!
//! With `x` the int8 input of a layer (the latent from
//! [`latent_from_seed`](crate::latent_from_seed), then the previous layer's output):
//!
//! ```text
//! acc = bias[j] + Σ w·x                     (exact, i32)
//! q   = clamp((acc·M[c] + 2^(n[c]−1)) >> n[c], lo, hi)   (i64, round half up)
//! ```
//!
//! with `[lo, hi] = [0, 127]` (ReLU) for `fc` and `up1`, `[−128, 127]` for `up2`, whose `q` then
//! becomes the pixel `tanh_lut[q + 128]`. A weight's real value is `q_w · s_w[c]`, a bias's is
//! `q_b · s_w[c] · s_in`, and `M / 2ⁿ ≈ s_w[c] · s_in / s_out`.
//!
//! # Validation
//!
//! [`Generator::new`](crate::Generator::new) checks, in this order and reporting the first
//! failure as a [`BlobError`]: length ≥ header + trailer, CRC, magic, version, postcard decode, no
//! trailing bytes, descriptor, scales (positive finite), every array length, every requantiser
//! (`M ≥ 0`, `1 ≤ n ≤ 62`) and every bias (`|b| ≤` [`BIAS_LIMIT`]). After that, inference can
//! neither fail nor panic.
//!
//! # Stability
//!
//! The magic, the version field and the CRC trailer keep their position and meaning in every
//! future version, so any reader can tell what it holds. Version 1 is frozen: adding, removing,
//! reordering or reinterpreting any payload field, or changing any layout above, takes a new
//! version number, and a firmware rejects versions it was not built for with
//! [`BlobError::UnsupportedVersion`] rather than misreading them.

use crate::arch::ModelDescriptor;
pub use crate::error::{BlobError, EmitError};
use serde::{Deserialize, Serialize};

/// First four bytes of every blob.
pub const MAGIC: [u8; 4] = *b"MGEN";
/// The format version this crate reads and writes.
pub const FORMAT_VERSION: u16 = 1;
/// Bytes of magic plus version.
pub const HEADER_LEN: usize = 6;
/// Bytes of the CRC trailer.
pub const TRAILER_LEN: usize = 4;
/// Largest bias magnitude accepted: with at most
/// [`MAX_ACCUMULATED_PRODUCTS`](crate::arch::MAX_ACCUMULATED_PRODUCTS) products of magnitude
/// ≤ 2¹⁴ added, an accumulator stays below 2³⁰ + 2²² < 2³¹.
pub const BIAS_LIMIT: i32 = 1 << 30;

const _: () = assert!(
    (BIAS_LIMIT as i64) + (crate::arch::MAX_ACCUMULATED_PRODUCTS as i64) * 128 * 128
        < i32::MAX as i64
);

/// CRC-32/ISO-HDLC of `bytes`, as used by the trailer (four bytes per step; see `crc32.rs`).
pub fn checksum(bytes: &[u8]) -> u32 {
    crate::crc32::checksum(bytes)
}

/// Real value of one int8 step of each activation tensor.
///
/// Stored in the blob for host tools (dequantising intermediate activations, reports). The
/// device only checks that they are positive and finite, which it does on the bit pattern.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ActivationScales {
    /// Latent scale, always [`LATENT_SCALE`](crate::latent::LATENT_SCALE).
    pub latent: f32,
    /// Output of `fc` (after BatchNorm and ReLU).
    pub fc: f32,
    /// Output of `up1` (after BatchNorm and ReLU).
    pub up1: f32,
    /// Output of `up2` before tanh (the table's input).
    pub pre_tanh: f32,
}

impl ActivationScales {
    /// The first scale that is not a positive finite `f32`, as a field name.
    pub fn first_invalid(&self) -> Option<&'static str> {
        // Positive finite ⇔ sign bit clear, not zero, exponent not all ones: integer checks only.
        let ok = |v: f32| (1..0x7F80_0000).contains(&v.to_bits());
        [
            ("scales.latent", self.latent),
            ("scales.fc", self.fc),
            ("scales.up1", self.up1),
            ("scales.pre_tanh", self.pre_tanh),
        ]
        .into_iter()
        .find(|&(_, v)| !ok(v))
        .map(|(name, _)| name)
    }
}

/// One layer's parameters as stored in the blob; see the [module docs](self) for the layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRepr<'a> {
    /// int8 weights (two's complement bytes).
    pub weights: &'a [u8],
    /// int32 biases, little-endian.
    pub bias: &'a [u8],
    /// int32 requantisation multipliers, little-endian, one per output channel.
    pub multiplier: &'a [u8],
    /// Requantisation right shifts, one per output channel.
    pub shift: &'a [u8],
}

/// The decoded payload of a blob, borrowing every array from the blob bytes.
///
/// [`parse`](Self::parse) checks only the framing (length, CRC, magic, version, postcard);
/// [`Generator::new`](crate::Generator::new) checks the contents. [`emit`](Self::emit) writes
/// the complete blob, so host and device share one definition of the format.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BlobRepr<'a> {
    /// The network the blob was exported for.
    pub descriptor: ModelDescriptor,
    /// Activation scales (informational).
    pub scales: ActivationScales,
    /// Fully connected layer.
    #[serde(borrow)]
    pub fc: LayerRepr<'a>,
    /// First transposed convolution.
    #[serde(borrow)]
    pub up1: LayerRepr<'a>,
    /// Output transposed convolution.
    #[serde(borrow)]
    pub up2: LayerRepr<'a>,
    /// Pre-tanh int8 → pixel table.
    pub tanh_lut: &'a [u8],
}

impl<'a> BlobRepr<'a> {
    /// Checks the framing of `blob` and decodes its payload without copying any array.
    ///
    /// # Errors
    ///
    /// [`BlobError::Truncated`], [`BadCrc`](BlobError::BadCrc), [`BadMagic`](BlobError::BadMagic),
    /// [`UnsupportedVersion`](BlobError::UnsupportedVersion), [`Decode`](BlobError::Decode) or
    /// [`TrailingBytes`](BlobError::TrailingBytes), checked in that order.
    pub fn parse(blob: &'a [u8]) -> Result<Self, BlobError> {
        let min = HEADER_LEN + TRAILER_LEN;
        let truncated = BlobError::Truncated {
            len: blob.len(),
            min,
        };
        let Some((payload, trailer)) = blob.split_last_chunk::<TRAILER_LEN>() else {
            return Err(truncated);
        };
        let Some((header, body)) = payload.split_first_chunk::<HEADER_LEN>() else {
            return Err(truncated);
        };
        let stored = u32::from_le_bytes(*trailer);
        let computed = checksum(payload);
        if stored != computed {
            return Err(BlobError::BadCrc { stored, computed });
        }
        let [m0, m1, m2, m3, v0, v1] = *header;
        if [m0, m1, m2, m3] != MAGIC {
            return Err(BlobError::BadMagic {
                found: [m0, m1, m2, m3],
            });
        }
        let version = u16::from_le_bytes([v0, v1]);
        if version != FORMAT_VERSION {
            return Err(BlobError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let (repr, rest) =
            postcard::take_from_bytes::<Self>(body).map_err(|_| BlobError::Decode)?;
        if !rest.is_empty() {
            return Err(BlobError::TrailingBytes { count: rest.len() });
        }
        Ok(repr)
    }

    /// Size of the complete blob [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        let payload = postcard::serialize_with_flavor(self, postcard::ser_flavors::Size::default());
        HEADER_LEN + payload.unwrap_or(0) + TRAILER_LEN
    }

    /// Writes the complete blob (header, payload, CRC) to the start of `buf` and returns its
    /// length. Does not check the contents: a blob that [`Generator::new`](crate::Generator::new)
    /// accepts needs the shapes in the [module docs](self).
    ///
    /// # Errors
    ///
    /// [`EmitError::BufferTooSmall`] if `buf` is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let needed = self.buffer_len();
        let available = buf.len();
        let Some(blob) = buf.get_mut(..needed) else {
            return Err(EmitError::BufferTooSmall { needed, available });
        };
        let Some((payload, trailer)) = blob.split_last_chunk_mut::<TRAILER_LEN>() else {
            return Err(EmitError::Encode);
        };
        let Some((header, body)) = payload.split_first_chunk_mut::<HEADER_LEN>() else {
            return Err(EmitError::Encode);
        };
        let [v0, v1] = FORMAT_VERSION.to_le_bytes();
        let [m0, m1, m2, m3] = MAGIC;
        *header = [m0, m1, m2, m3, v0, v1];
        let written = postcard::to_slice(self, body)
            .map_err(|_| EmitError::Encode)?
            .len();
        if written != body.len() {
            return Err(EmitError::Encode);
        }
        *trailer = checksum(payload).to_le_bytes();
        Ok(needed)
    }

    /// [`emit`](Self::emit) into a new vector.
    #[cfg(feature = "std")]
    pub fn to_vec(&self) -> Vec<u8> {
        let mut buf = vec![0; self.buffer_len()];
        // The buffer has exactly the needed size and encoding into a slice cannot fail otherwise.
        let len = self.emit(&mut buf).unwrap_or(0);
        buf.truncate(len);
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> BlobRepr<'static> {
        let layer = LayerRepr {
            weights: &[1, 2],
            bias: &[3],
            multiplier: &[],
            shift: &[4],
        };
        BlobRepr {
            descriptor: ModelDescriptor::MCU,
            scales: ActivationScales {
                latent: 1.0,
                fc: 0.5,
                up1: 2.0,
                pre_tanh: 0.25,
            },
            fc: layer,
            up1: layer,
            up2: layer,
            tanh_lut: &[9],
        }
    }

    #[test]
    fn exact_bytes_value_and_round_trip() {
        let repr = tiny();
        let mut buf = [0u8; 128];
        let len = repr.emit(&mut buf).unwrap();
        assert_eq!(len, repr.buffer_len());
        let blob = &buf[..len];
        #[rustfmt::skip]
        let expected_start: &[u8] = &[
            b'M', b'G', b'E', b'N', 1, 0,   // magic, version 1 LE
            1, 0, 32,                         // preset 1, unconditional, latent_dim 32
            32, 64, 7,                        // fc
            64, 32, 7, 14, 4, 2, 1,           // up1
            32, 1, 14, 28, 4, 2, 1,           // up2
            0, 0, 0x80, 0x3f,                 // scales.latent = 1.0f32
        ];
        assert_eq!(&blob[..expected_start.len()], expected_start);
        #[rustfmt::skip]
        let layer_and_lut: &[u8] = &[
            2, 1, 2, 1, 3, 0, 1, 4,           // one layer: weights, bias, multiplier, shift
        ];
        let tail_start = expected_start.len() + 12; // after the other three scales
        assert_eq!(&blob[tail_start..tail_start + 8], layer_and_lut);
        // up2 (same bytes as fc) then the LUT: length 1, entry 9.
        assert_eq!(
            &blob[len - 14..len - 4],
            &[2, 1, 2, 1, 3, 0, 1, 4, 1, 9][..]
        );
        assert_eq!(&blob[len - 4..], &checksum(&blob[..len - 4]).to_le_bytes());
        assert_eq!(BlobRepr::parse(blob), Ok(repr));
    }

    #[test]
    fn emit_reports_small_buffer() {
        let repr = tiny();
        let mut buf = [0u8; 10];
        assert_eq!(
            repr.emit(&mut buf),
            Err(EmitError::BufferTooSmall {
                needed: repr.buffer_len(),
                available: 10
            })
        );
    }

    #[test]
    fn scales_are_checked_on_bits() {
        let mut s = tiny().scales;
        assert_eq!(s.first_invalid(), None);
        for bad in [0.0, -0.0, -1.0, f32::INFINITY, f32::NAN] {
            s.up1 = bad;
            assert_eq!(s.first_invalid(), Some("scales.up1"));
        }
        s.up1 = f32::from_bits(1); // smallest subnormal is still positive and finite
        assert_eq!(s.first_invalid(), None);
    }
}
