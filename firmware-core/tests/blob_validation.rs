//! Every `BlobError` variant is reachable, and no byte string makes loading or inference panic.
//! Public API only; runs with and without the `std` feature. Under Miri only the tests without a
//! synthetic model run (building one takes minutes there); `tests/shipped_blob.rs` covers
//! loading and inference under Miri with the shipped blob.

mod common;

use common::{emit, fix_crc, Model};
use firmware_core::blob::{BlobRepr, BIAS_LIMIT, FORMAT_VERSION, MAGIC};
use firmware_core::latent::SplitMix32;
use firmware_core::{BlobError, Digit, Generator, Scratch};

#[test]
#[cfg_attr(miri, ignore = "builds a 147 KB synthetic model: minutes in Miri")]
fn valid_blob_loads() {
    let blob = Model::new(1).blob();
    assert_eq!(&blob[..6], b"MGEN\x01\x00");
    let generator = Generator::new(&blob).unwrap();
    assert_eq!(generator.activation_scales().up1, 0.05);
    assert_eq!(generator.tanh_lut()[0], 255);
}

#[test]
fn truncated() {
    for len in [0, 1, 4, 9] {
        assert_eq!(
            Generator::new(&vec![0; len]).unwrap_err(),
            BlobError::Truncated { len, min: 10 }
        );
    }
}

#[test]
#[cfg_attr(miri, ignore = "builds a 147 KB synthetic model: minutes in Miri")]
fn bad_crc() {
    let mut blob = Model::new(1).blob();
    let n = blob.len();
    let stored = u32::from_le_bytes(blob[n - 4..].try_into().unwrap());
    blob[n / 2] ^= 0x10;
    match Generator::new(&blob).unwrap_err() {
        BlobError::BadCrc {
            stored: s,
            computed,
        } => {
            assert_eq!(s, stored);
            assert_ne!(computed, stored);
        }
        e => panic!("{e:?}"),
    }
    // A blob cut short loses its real trailer: also a CRC error.
    assert!(matches!(
        Generator::new(&Model::new(1).blob()[..n - 1]),
        Err(BlobError::BadCrc { .. })
    ));
}

#[test]
#[cfg_attr(miri, ignore = "builds a 147 KB synthetic model: minutes in Miri")]
fn bad_magic() {
    let mut blob = Model::new(1).blob();
    blob[0] = b'X';
    fix_crc(&mut blob);
    assert_eq!(
        Generator::new(&blob).unwrap_err(),
        BlobError::BadMagic { found: *b"XGEN" }
    );
    assert_eq!(MAGIC, *b"MGEN");
}

#[test]
#[cfg_attr(miri, ignore = "builds a 147 KB synthetic model: minutes in Miri")]
fn unsupported_version() {
    let mut blob = Model::new(1).blob();
    blob[4..6].copy_from_slice(&2u16.to_le_bytes());
    fix_crc(&mut blob);
    assert_eq!(
        Generator::new(&blob).unwrap_err(),
        BlobError::UnsupportedVersion {
            found: 2,
            supported: FORMAT_VERSION
        }
    );
}

#[test]
#[cfg_attr(miri, ignore = "builds a 147 KB synthetic model: minutes in Miri")]
fn decode_error() {
    // Valid header, then a payload postcard cannot decode (an unterminated varint).
    let mut blob = b"MGEN\x01\x00".to_vec();
    blob.extend_from_slice(&[0xFF; 12]);
    blob.extend_from_slice(&[0; 4]);
    fix_crc(&mut blob);
    assert_eq!(Generator::new(&blob).unwrap_err(), BlobError::Decode);
    // A payload cut in the middle of the weights.
    let full = Model::new(1).blob();
    let mut cut = full[..full.len() / 2].to_vec();
    cut.extend_from_slice(&[0; 4]);
    fix_crc(&mut cut);
    assert_eq!(Generator::new(&cut).unwrap_err(), BlobError::Decode);
}

#[test]
#[cfg_attr(miri, ignore = "builds a 147 KB synthetic model: minutes in Miri")]
fn trailing_bytes() {
    let mut blob = Model::new(1).blob();
    let n = blob.len() - 4;
    blob.splice(n..n, [1, 2, 3]);
    fix_crc(&mut blob);
    assert_eq!(
        Generator::new(&blob).unwrap_err(),
        BlobError::TrailingBytes { count: 3 }
    );
}

#[test]
#[cfg_attr(miri, ignore = "builds a 147 KB synthetic model: minutes in Miri")]
fn architecture_mismatch() {
    let model = Model::new(1);
    let mut repr = model.repr();
    repr.descriptor.up1.out_channels = 16;
    assert_eq!(
        Generator::new(&emit(&repr)).unwrap_err(),
        BlobError::ArchitectureMismatch {
            field: "up1.out_channels",
            expected: 32,
            found: 16
        }
    );
    // Conditional blobs split the same input into 22 latent values and the class: a blob that
    // claims to be conditional with the unconditional latent size is caught there.
    let mut repr = model.repr();
    repr.descriptor.conditional = true;
    assert!(matches!(
        Generator::new(&emit(&repr)),
        Err(BlobError::ArchitectureMismatch {
            field: "latent_dim",
            expected: 22,
            found: 32
        })
    ));
}

#[test]
#[cfg_attr(miri, ignore = "builds a 147 KB synthetic model: minutes in Miri")]
fn bad_scale() {
    let model = Model::new(1);
    let mut repr = model.repr();
    repr.scales.pre_tanh = f32::NAN;
    assert_eq!(
        Generator::new(&emit(&repr)).unwrap_err(),
        BlobError::BadScale {
            field: "scales.pre_tanh"
        }
    );
}

#[test]
#[cfg_attr(miri, ignore = "builds a 147 KB synthetic model: minutes in Miri")]
fn bad_length_names_each_array() {
    let model = Model::new(1);
    type Mutation = fn(&mut BlobRepr<'_>);
    let cases: [(&str, Mutation); 6] = [
        ("fc.weights", |r| r.fc.weights = &r.fc.weights[1..]),
        ("fc.bias", |r| r.fc.bias = &r.fc.bias[4..]),
        ("up1.multiplier", |r| r.up1.multiplier = &[]),
        ("up1.shift", |r| r.up1.shift = &r.up1.shift[..31]),
        ("up2.weights", |r| r.up2.weights = &r.up2.weights[..1]),
        ("tanh_lut", |r| r.tanh_lut = &r.tanh_lut[..255]),
    ];
    for (field, mutate) in cases {
        let mut repr = model.repr();
        mutate(&mut repr);
        match Generator::new(&emit(&repr)).unwrap_err() {
            BlobError::BadLength {
                field: f,
                expected,
                found,
            } => {
                assert_eq!(f, field);
                assert!(found < expected);
            }
            e => panic!("{field}: {e:?}"),
        }
    }
    let mut repr = model.repr();
    repr.fc.bias = &repr.fc.bias[4..];
    assert_eq!(
        Generator::new(&emit(&repr)).unwrap_err(),
        BlobError::BadLength {
            field: "fc.bias",
            expected: 3136 * 4,
            found: 3135 * 4
        }
    );
}

#[test]
#[cfg_attr(miri, ignore = "builds a 147 KB synthetic model: minutes in Miri")]
fn bad_requant() {
    let mut model = Model::new(1);
    model.up1.shift[3] = 0;
    assert_eq!(
        Generator::new(&model.blob()).unwrap_err(),
        BlobError::BadRequant {
            layer: "up1",
            channel: 3
        }
    );
    let mut model = Model::new(1);
    model.fc.shift[7] = 63;
    assert!(matches!(
        Generator::new(&model.blob()),
        Err(BlobError::BadRequant {
            layer: "fc",
            channel: 7
        })
    ));
    let mut model = Model::new(1);
    model.up2.multiplier.copy_from_slice(&(-5i32).to_le_bytes());
    assert_eq!(
        Generator::new(&model.blob()).unwrap_err(),
        BlobError::BadRequant {
            layer: "up2",
            channel: 0
        }
    );
}

#[test]
#[cfg_attr(miri, ignore = "builds a 147 KB synthetic model: minutes in Miri")]
fn bias_out_of_range() {
    let mut model = Model::new(1);
    model.fc.bias[40..44].copy_from_slice(&(BIAS_LIMIT + 1).to_le_bytes());
    assert_eq!(
        Generator::new(&model.blob()).unwrap_err(),
        BlobError::BiasOutOfRange {
            layer: "fc",
            index: 10
        }
    );
    let mut model = Model::new(1);
    model.up2.bias.copy_from_slice(&i32::MIN.to_le_bytes());
    assert_eq!(
        Generator::new(&model.blob()).unwrap_err(),
        BlobError::BiasOutOfRange {
            layer: "up2",
            index: 0
        }
    );
    // The limit itself is fine.
    let mut model = Model::new(1);
    model.up2.bias.copy_from_slice(&(-BIAS_LIMIT).to_le_bytes());
    assert!(Generator::new(&model.blob()).is_ok());
}

#[test]
fn errors_display_the_failing_check() {
    let cases = [
        (BlobError::Truncated { len: 3, min: 10 }, "3 bytes"),
        (
            BlobError::BadCrc {
                stored: 1,
                computed: 2,
            },
            "0x00000001",
        ),
        (BlobError::BadMagic { found: *b"ABCD" }, "magic"),
        (
            BlobError::UnsupportedVersion {
                found: 9,
                supported: 1,
            },
            "version 9",
        ),
        (BlobError::Decode, "decoded"),
        (BlobError::TrailingBytes { count: 3 }, "3 unexpected"),
        (
            BlobError::ArchitectureMismatch {
                field: "up1.kernel",
                expected: 4,
                found: 3,
            },
            "up1.kernel is 3",
        ),
        (BlobError::BadScale { field: "scales.fc" }, "scales.fc"),
        (
            BlobError::BadLength {
                field: "fc.bias",
                expected: 8,
                found: 4,
            },
            "fc.bias has 4 bytes, expected 8",
        ),
        (
            BlobError::BadRequant {
                layer: "up1",
                channel: 2,
            },
            "up1 channel 2",
        ),
        (
            BlobError::BiasOutOfRange {
                layer: "fc",
                index: 5,
            },
            "fc bias 5",
        ),
    ];
    for (error, text) in cases {
        let shown = error.to_string();
        assert!(shown.contains(text), "{shown:?} lacks {text:?}");
    }
}

/// Loads `blob`; if it is accepted, runs one inference. Either way nothing may panic.
fn load_and_run(blob: &[u8], scratch: &mut Scratch, digit: &mut Digit) -> bool {
    match Generator::new(blob) {
        Ok(g) => {
            g.generate(None, 1, scratch, digit).unwrap();
            true
        }
        Err(e) => {
            let _ = e.to_string();
            false
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = SplitMix32::new(0xF00D);
    let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
    // Under Miri, fewer: each costs about as much there as the whole native loop.
    for i in 0..if cfg!(miri) { 200 } else { 3000 } {
        let len = (rng.next_u32() % 600) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
        if i % 2 == 0 && len >= 6 {
            // Half of them get a valid header and CRC so the decoder sees the garbage.
            bytes[..6].copy_from_slice(b"MGEN\x01\x00");
            fix_crc(&mut bytes);
        }
        assert!(!load_and_run(&bytes, &mut scratch, &mut digit));
    }
}

#[test]
#[cfg_attr(miri, ignore = "builds a 147 KB synthetic model: minutes in Miri")]
fn mutated_blobs_never_panic() {
    let original = Model::new(2).blob();
    let mut rng = SplitMix32::new(0xB17F11B);
    let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
    let mut accepted = 0;
    let mut rejected = 0;
    for i in 0..600 {
        let mut blob = original.clone();
        let flips = 1 + rng.next_u32() % 4;
        for _ in 0..flips {
            // Mostly the first 64 bytes (header, descriptor, scales, length prefixes), where a flip
            // changes structure; sometimes anywhere (weights, biases, requantisers, table).
            let span = if rng.next_u32().is_multiple_of(4) {
                blob.len() - 4
            } else {
                64
            };
            let at = (rng.next_u32() as usize) % span;
            blob[at] ^= 1 << (rng.next_u32() % 8);
        }
        match i % 3 {
            0 => {}
            1 => fix_crc(&mut blob),
            _ => {
                // Cut or extend, then fix the CRC.
                let new_len = (rng.next_u32() as usize) % (blob.len() + 16);
                blob.resize(new_len, 0xAA);
                fix_crc(&mut blob);
            }
        }
        if load_and_run(&blob, &mut scratch, &mut digit) {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    println!("accepted {accepted}, rejected {rejected}");
    // Both paths were exercised: flips in weights are legal, structural ones are not.
    assert!(
        accepted > 10 && rejected > 300,
        "accepted {accepted}, rejected {rejected}"
    );
}

#[test]
#[cfg_attr(miri, ignore = "builds a 147 KB synthetic model: minutes in Miri")]
fn every_bias_and_requant_extreme_is_safe() {
    // The worst case the validator admits: ±BIAS_LIMIT biases, -128 weights and inputs, the
    // largest multiplier with the smallest shift.
    let mut model = Model::new(3);
    for layer in [&mut model.fc, &mut model.up1, &mut model.up2] {
        layer.weights.iter_mut().for_each(|w| *w = 0x80);
        for (i, b) in layer.bias.chunks_exact_mut(4).enumerate() {
            let v = if i % 2 == 0 { BIAS_LIMIT } else { -BIAS_LIMIT };
            b.copy_from_slice(&v.to_le_bytes());
        }
        for m in layer.multiplier.chunks_exact_mut(4) {
            m.copy_from_slice(&i32::MAX.to_le_bytes());
        }
        layer.shift.iter_mut().for_each(|s| *s = 1);
    }
    let blob = model.blob();
    let generator = Generator::new(&blob).unwrap();
    let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
    generator.generate_from_latent(&[-128; 32], &mut scratch, &mut digit);
    generator.generate_from_latent(&[127; 32], &mut scratch, &mut digit);
}

#[test]
#[cfg_attr(miri, ignore = "builds a 147 KB synthetic model: minutes in Miri")]
fn checks_run_in_the_documented_order() {
    // A bad requantiser in fc and a bad length in up2: lengths are checked first.
    let mut model = Model::new(1);
    model.fc.shift[0] = 0;
    model.up2.shift.push(1);
    assert!(matches!(
        Generator::new(&model.blob()),
        Err(BlobError::BadLength {
            field: "up2.shift",
            ..
        })
    ));
    // A bad bias in fc and a bad requantiser in up2: requantisers are checked first.
    let mut model = Model::new(1);
    model.fc.bias[..4].copy_from_slice(&i32::MAX.to_le_bytes());
    model.up2.shift[0] = 99;
    assert!(matches!(
        Generator::new(&model.blob()),
        Err(BlobError::BadRequant { layer: "up2", .. })
    ));
}

#[test]
fn errors_are_core_errors() {
    fn is_error<E: core::error::Error + Send + Sync + 'static>() {}
    is_error::<BlobError>();
    is_error::<firmware_core::EmitError>();
}
