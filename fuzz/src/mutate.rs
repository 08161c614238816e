//! Structure-aware mutations of the shipped blob: the fuzzer chooses a list of [`Edit`]s, which
//! change the decoded model (descriptor fields, scales, array lengths, single values, whole
//! arrays, the values at and just past every validation limit) and then the encoded bytes (bit
//! flips, overwrites, cuts, insertions). The CRC is always recomputed, so each mutant reaches the
//! checks behind it instead of stopping at `BadCrc`.
//!
//! Cost per input: the shipped blob is decoded once per process, and a mutant is encoded with the
//! same postcard encoding `BlobRepr::emit` uses but without emit's CRC; its CRC is computed once,
//! after the byte edits, with `crc32fast` (checked against firmware-core's CRC once, on the base).
//! The only CRC firmware-core computes per input is then `Generator::new`'s own.

use crate::Draw;
use firmware_core::arch::ModelDescriptor;
use firmware_core::arch::CONDITIONAL_LATENT_DIM;
use firmware_core::blob::{
    checksum, ActivationScales, BlobRepr, LayerRepr, BIAS_LIMIT, FORMAT_VERSION, HEADER_LEN, MAGIC,
    TRAILER_LEN,
};
use firmware_core::{DEFAULT_BLOB, LATENT_DIM};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use std::sync::OnceLock;

/// One layer's arrays, owned so they can change length.
#[derive(Clone)]
struct Layer {
    arrays: [Vec<u8>; 4], // weights, bias, multiplier, shift
}

impl Layer {
    fn from_repr(r: &LayerRepr<'_>) -> Self {
        Layer {
            arrays: [r.weights, r.bias, r.multiplier, r.shift].map(<[u8]>::to_vec),
        }
    }

    fn repr(&self) -> LayerRepr<'_> {
        let [weights, bias, multiplier, shift] = &self.arrays;
        LayerRepr {
            weights,
            bias,
            multiplier,
            shift,
        }
    }

    /// Writes `value` as the `index`-th little-endian `i32` of `array` (modulo its length).
    fn set_i32(&mut self, array: usize, index: u32, value: i32) {
        let a = &mut self.arrays[array];
        let slots = a.len() / 4;
        if slots > 0 {
            let at = 4 * (index as usize % slots);
            a[at..at + 4].copy_from_slice(&value.to_le_bytes());
        }
    }
}

/// The decoded model, owned and editable.
#[derive(Clone)]
struct Model {
    descriptor: ModelDescriptor,
    scales: ActivationScales,
    layers: [Layer; 3], // fc, up1, up2
    tanh_lut: Vec<u8>,
}

impl Model {
    fn from_blob(blob: &[u8]) -> Self {
        let r = BlobRepr::parse(blob).expect("the shipped blob is valid");
        Model {
            descriptor: r.descriptor,
            scales: r.scales,
            layers: [&r.fc, &r.up1, &r.up2].map(Layer::from_repr),
            tanh_lut: r.tanh_lut.to_vec(),
        }
    }

    /// The complete blob minus its CRC trailer: the header, then the payload in the postcard
    /// encoding `BlobRepr::emit` writes.
    fn encode_without_crc(&self) -> Vec<u8> {
        let [fc, up1, up2] = &self.layers;
        let repr = BlobRepr {
            descriptor: self.descriptor,
            scales: self.scales,
            fc: fc.repr(),
            up1: up1.repr(),
            up2: up2.repr(),
            tanh_lut: &self.tanh_lut,
        };
        let arrays: usize = self
            .layers
            .iter()
            .flat_map(|l| &l.arrays)
            .map(Vec::len)
            .sum();
        // Besides the arrays: the descriptor (≤ 94 bytes), the scales (16) and 13 length
        // prefixes (≤ 10 bytes each) fit in 256 bytes.
        let mut buf = vec![0; HEADER_LEN + arrays + self.tanh_lut.len() + 256];
        let [v0, v1] = FORMAT_VERSION.to_le_bytes();
        let [m0, m1, m2, m3] = MAGIC;
        buf[..HEADER_LEN].copy_from_slice(&[m0, m1, m2, m3, v0, v1]);
        let len = postcard::to_slice(&repr, &mut buf[HEADER_LEN..])
            .expect("the buffer holds the payload")
            .len();
        buf.truncate(HEADER_LEN + len);
        buf
    }
}

/// The shipped blob, decoded once; checks on first use that re-encoding it gives back its bytes
/// and that `crc32fast` computes firmware-core's CRC.
fn base() -> &'static Model {
    static BASE: OnceLock<Model> = OnceLock::new();
    BASE.get_or_init(|| {
        let model = Model::from_blob(DEFAULT_BLOB);
        let bytes = model.encode_without_crc();
        assert_eq!(bytes, DEFAULT_BLOB[..DEFAULT_BLOB.len() - TRAILER_LEN]);
        assert_eq!(crc32fast::hash(&bytes), checksum(&bytes));
        model
    })
}

/// Values at and around the limits that validation enforces.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum BiasValue {
    Limit,
    MinusLimit,
    JustOver,
    JustUnder,
    Max,
    Min,
    Any(i32),
}

impl BiasValue {
    fn get(self) -> i32 {
        match self {
            Self::Limit => BIAS_LIMIT,
            Self::MinusLimit => -BIAS_LIMIT,
            Self::JustOver => BIAS_LIMIT + 1,
            Self::JustUnder => -BIAS_LIMIT - 1,
            Self::Max => i32::MAX,
            Self::Min => i32::MIN,
            Self::Any(v) => v,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum MultiplierValue {
    Zero,
    One,
    Max,
    MinusOne,
    Min,
    Any(i32),
}

impl MultiplierValue {
    fn get(self) -> i32 {
        match self {
            Self::Zero => 0,
            Self::One => 1,
            Self::Max => i32::MAX,
            Self::MinusOne => -1,
            Self::Min => i32::MIN,
            Self::Any(v) => v,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ShiftValue {
    Zero,
    One,
    Max,
    JustOver,
    Any(u8),
}

impl ShiftValue {
    fn get(self) -> u8 {
        match self {
            Self::Zero => 0,
            Self::One => 1,
            Self::Max => 62,
            Self::JustOver => 63,
            Self::Any(v) => v,
        }
    }
}

/// One change to the model or to its encoded bytes.
#[derive(Arbitrary, Debug, Clone)]
pub enum Edit {
    /// Sets descriptor field `field % 20` (in `first_difference` order) to `value`.
    Descriptor { field: u8, value: u32 },
    /// Makes the blob a valid class-conditional (`true`) or unconditional one: the flag and the
    /// noise width; the same weights.
    Conditional(bool),
    /// Sets scale `which % 4` to the `f32` with these bits (zero, negative, NaN, ∞, subnormal…).
    Scale { which: u8, bits: u32 },
    /// Cuts or extends (with `fill`) one array of one layer, or the table (`array % 5 == 4`).
    Resize {
        layer: u8,
        array: u8,
        len: u16,
        fill: u8,
    },
    /// Sets every byte of one array (all weights −128, all shifts 0, …).
    Fill { layer: u8, array: u8, value: u8 },
    /// One weight.
    Weight { layer: u8, index: u32, value: i8 },
    /// One bias.
    Bias {
        layer: u8,
        index: u32,
        value: BiasValue,
    },
    /// Every bias of a layer.
    AllBiases { layer: u8, value: BiasValue },
    /// One channel's requantiser.
    Requant {
        layer: u8,
        channel: u32,
        multiplier: MultiplierValue,
        shift: ShiftValue,
    },
    /// Every requantiser of a layer.
    AllRequants {
        layer: u8,
        multiplier: MultiplierValue,
        shift: ShiftValue,
    },
    /// One table entry.
    Lut { index: u8, value: u8 },
    /// Flips one bit of the encoded blob (header and length prefixes included).
    FlipBit { at: u32, bit: u8 },
    /// Overwrites one encoded byte.
    SetByte { at: u32, value: u8 },
    /// Cuts the encoded blob.
    Truncate { len: u32 },
    /// Inserts bytes into the encoded blob.
    Insert { at: u32, bytes: Vec<u8> },
    /// Removes bytes from the encoded blob.
    Remove { at: u32, len: u16 },
}

/// What the inference runs on if the mutant is accepted.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum DrawChoice {
    /// `generate(class, seed)`: classes ≥ 10, and any class for an unconditional blob, must be
    /// refused.
    Seed {
        class: Option<u8>,
        seed: u32,
    },
    /// Every input element the same (±128 and ±127 are the extremes of the accumulators).
    Fill(i8),
    Raw([i8; LATENT_DIM]),
}

impl DrawChoice {
    pub fn get(self) -> Draw {
        match self {
            Self::Seed { class, seed } => Draw::Seed { class, seed },
            Self::Fill(v) => Draw::Latent([v; LATENT_DIM]),
            Self::Raw(l) => Draw::Latent(l),
        }
    }
}

/// A fuzz input: the edits (model edits are applied before byte edits, each group in order)
/// and what to draw.
#[derive(Arbitrary, Debug, Clone)]
pub struct Mutation {
    pub edits: Vec<Edit>,
    pub draw: DrawChoice,
}

fn set_descriptor_field(d: &mut ModelDescriptor, field: u8, value: u32) {
    let conv = |c: &mut firmware_core::arch::ConvTransposeShape, i: u8| {
        *[
            &mut c.in_channels,
            &mut c.out_channels,
            &mut c.in_side,
            &mut c.out_side,
            &mut c.kernel,
            &mut c.stride,
            &mut c.padding,
        ]
        .into_iter()
        .nth(usize::from(i))
        .expect("7 fields") = value
    };
    match field % 20 {
        0 => d.preset = value as u16,
        1 => d.conditional = value & 1 == 1,
        2 => d.latent_dim = value,
        3 => d.fc.in_features = value,
        4 => d.fc.out_channels = value,
        5 => d.fc.out_side = value,
        i @ 6..=12 => conv(&mut d.up1, i - 6),
        i => conv(&mut d.up2, i - 13),
    }
}

fn set_scale(s: &mut ActivationScales, which: u8, bits: u32) {
    let v = f32::from_bits(bits);
    match which % 4 {
        0 => s.latent = v,
        1 => s.fc = v,
        2 => s.up1 = v,
        _ => s.pre_tanh = v,
    }
}

/// Applies `mutation` to the shipped blob and returns the mutant with a correct CRC.
pub fn apply(mutation: &Mutation) -> Vec<u8> {
    let mut model = base().clone();
    let layer = |l: u8| usize::from(l % 3);
    for edit in &mutation.edits {
        match *edit {
            Edit::Descriptor { field, value } => {
                set_descriptor_field(&mut model.descriptor, field, value)
            }
            Edit::Conditional(on) => {
                model.descriptor.conditional = on;
                let noise = if on {
                    CONDITIONAL_LATENT_DIM
                } else {
                    LATENT_DIM
                };
                model.descriptor.latent_dim = noise as u32;
            }
            Edit::Scale { which, bits } => set_scale(&mut model.scales, which, bits),
            Edit::Resize {
                layer: l,
                array,
                len,
                fill,
            } => {
                let a = match array % 5 {
                    4 => &mut model.tanh_lut,
                    i => &mut model.layers[layer(l)].arrays[usize::from(i)],
                };
                // Lengths near the current one matter most (off by one, by a row, by half).
                let new_len = (len as usize) % (2 * a.len() + 64);
                a.resize(new_len, fill);
            }
            Edit::Fill {
                layer: l,
                array,
                value,
            } => match array % 5 {
                4 => model.tanh_lut.fill(value),
                i => model.layers[layer(l)].arrays[usize::from(i)].fill(value),
            },
            Edit::Weight {
                layer: l,
                index,
                value,
            } => {
                let w = &mut model.layers[layer(l)].arrays[0];
                if !w.is_empty() {
                    let at = index as usize % w.len();
                    w[at] = value as u8;
                }
            }
            Edit::Bias {
                layer: l,
                index,
                value,
            } => model.layers[layer(l)].set_i32(1, index, value.get()),
            Edit::AllBiases { layer: l, value } => {
                let layer = &mut model.layers[layer(l)];
                for i in 0..layer.arrays[1].len() / 4 {
                    layer.set_i32(1, i as u32, value.get());
                }
            }
            Edit::Requant {
                layer: l,
                channel,
                multiplier,
                shift,
            } => {
                let layer = &mut model.layers[layer(l)];
                layer.set_i32(2, channel, multiplier.get());
                let s = &mut layer.arrays[3];
                if !s.is_empty() {
                    let at = channel as usize % s.len();
                    s[at] = shift.get();
                }
            }
            Edit::AllRequants {
                layer: l,
                multiplier,
                shift,
            } => {
                let layer = &mut model.layers[layer(l)];
                for i in 0..layer.arrays[2].len() / 4 {
                    layer.set_i32(2, i as u32, multiplier.get());
                }
                layer.arrays[3].fill(shift.get());
            }
            Edit::Lut { index, value } => {
                if let Some(e) = model.tanh_lut.get_mut(usize::from(index)) {
                    *e = value;
                }
            }
            _ => {}
        }
    }
    let mut bytes = model.encode_without_crc();
    for edit in &mutation.edits {
        match *edit {
            Edit::FlipBit { at, bit } if !bytes.is_empty() => {
                // Mostly the first 64 bytes (header, descriptor, scales, first length prefix),
                // where one bit changes the structure.
                let span = if at & 1 == 0 {
                    bytes.len().min(64)
                } else {
                    bytes.len()
                };
                let i = (at >> 1) as usize % span;
                bytes[i] ^= 1 << (bit % 8);
            }
            Edit::SetByte { at, value } if !bytes.is_empty() => {
                let i = at as usize % bytes.len();
                bytes[i] = value;
            }
            Edit::Truncate { len } => bytes.truncate(len as usize % (bytes.len() + 1)),
            Edit::Insert {
                at,
                bytes: ref extra,
            } => {
                let i = at as usize % (bytes.len() + 1);
                bytes.splice(i..i, extra.iter().copied());
            }
            Edit::Remove { at, len } if !bytes.is_empty() => {
                let i = at as usize % bytes.len();
                let end = (i + usize::from(len)).min(bytes.len());
                bytes.drain(i..end);
            }
            _ => {}
        }
    }
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}
