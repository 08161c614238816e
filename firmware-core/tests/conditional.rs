//! Class-conditional blobs: the class reaches the network, the float and int8 models agree on
//! every class, and classes are refused by value, never by panic. Needs the `std` feature.
#![cfg(feature = "std")]

use firmware_core::arch::{ModelDescriptor, CLASSES, CONDITIONAL_LATENT_DIM};
use firmware_core::blob::{checksum, BlobRepr};
use firmware_core::export::{
    input_f32_from_seed, latent_to_f32, pixels_from_tanh, psnr, quantize, quantize_model,
    FloatGenerator,
};
use firmware_core::latent::{class_from_seed, generator_input};
use firmware_core::{BlobError, ClassError, Digit, Generator, Scratch};

fn conditional_blob() -> (FloatGenerator, Vec<u8>) {
    let float = FloatGenerator::random(21);
    let blob = quantize_model(&float, 0..256, true).unwrap().to_blob();
    (float, blob)
}

#[test]
fn a_conditional_blob_draws_the_class_asked_for_like_its_float_model() {
    let (float, blob) = conditional_blob();
    let generator = Generator::new(&blob).unwrap();
    assert!(generator.is_conditional());
    assert_eq!(generator.descriptor(), &ModelDescriptor::MCU_CONDITIONAL);
    let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
    let mut per_class = Vec::new();
    for class in 0..CLASSES as u8 {
        generator
            .generate(Some(class), 77, &mut scratch, &mut digit)
            .unwrap();
        let input = latent_to_f32(&generator_input(77, Some(class)));
        let reference = pixels_from_tanh(&float.forward(&input));
        assert!(psnr(digit.pixels(), &reference) > 25.0, "class {class}");
        per_class.push(*digit.pixels());
    }
    // Same seed, different class: the class input changes the digit.
    per_class.sort_unstable();
    per_class.dedup();
    assert_eq!(per_class.len(), CLASSES);
}

#[test]
fn no_class_on_a_conditional_blob_means_a_class_drawn_from_the_seed() {
    let (float, blob) = conditional_blob();
    let generator = Generator::new(&blob).unwrap();
    let (mut scratch, mut a, mut b) = (Scratch::new(), Digit::new(), Digit::new());
    for seed in 0..20 {
        generator
            .generate(None, seed, &mut scratch, &mut a)
            .unwrap();
        let class = class_from_seed(seed);
        generator
            .generate(Some(class), seed, &mut scratch, &mut b)
            .unwrap();
        assert_eq!(a, b, "seed {seed}");
        // What the exporter compares against is exactly this input.
        let reference = pixels_from_tanh(&float.forward(&input_f32_from_seed(seed, true)));
        assert!(psnr(a.pixels(), &reference) > 25.0);
    }
}

#[test]
fn classes_are_refused_by_value() {
    let (_, blob) = conditional_blob();
    let conditional = Generator::new(&blob).unwrap();
    let unconditional_blob = quantize(&FloatGenerator::random(22), 0..64)
        .unwrap()
        .to_blob();
    let unconditional = Generator::new(&unconditional_blob).unwrap();
    assert!(!unconditional.is_conditional());
    let mut scratch = Scratch::new();
    let untouched = Digit::from_pixels([7; 784]);
    let mut digit = untouched.clone();
    assert_eq!(
        unconditional.generate(Some(3), 1, &mut scratch, &mut digit),
        Err(ClassError::NotConditional)
    );
    for class in [10, 11, 200, 255] {
        assert_eq!(
            conditional.generate(Some(class), 1, &mut scratch, &mut digit),
            Err(ClassError::OutOfRange { class })
        );
    }
    assert_eq!(digit, untouched, "a refused request leaves the digit alone");
    assert_eq!(
        ClassError::NotConditional.to_string(),
        "this generator is not class-conditional"
    );
}

#[test]
fn the_conditional_flag_must_match_the_latent_split() {
    // A blob that claims to be conditional but keeps the unconditional latent size (or the other
    // way round) is rejected with the field that disagrees.
    let (_, blob) = conditional_blob();
    let repr = BlobRepr::parse(&blob).unwrap();
    for (conditional, latent_dim, expected) in [
        (true, 32, CONDITIONAL_LATENT_DIM as u32),
        (false, CONDITIONAL_LATENT_DIM as u32, 32),
    ] {
        let mut bad = repr;
        bad.descriptor.conditional = conditional;
        bad.descriptor.latent_dim = latent_dim;
        let mut buffer = vec![0u8; blob.len() + 16];
        let len = bad.emit(&mut buffer).unwrap();
        let bytes = &buffer[..len];
        // emit writes a valid CRC, so the descriptor check is what rejects it.
        assert_eq!(checksum(&bytes[..len - 4]).to_le_bytes(), bytes[len - 4..]);
        assert_eq!(
            Generator::new(bytes).unwrap_err(),
            BlobError::ArchitectureMismatch {
                field: "latent_dim",
                expected,
                found: latent_dim
            }
        );
    }
}
