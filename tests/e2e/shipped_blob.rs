//! The shipped default blob: it loads, and its digits are real images, identical on every run.

use firmware_core::{Digit, Generator, Scratch, DEFAULT_BLOB};

#[test]
fn default_blob_loads_and_draws_deterministic_digits() {
    let generator = Generator::new(DEFAULT_BLOB).expect("shipped blob is valid");
    let (mut scratch, mut a, mut b) = (Scratch::new(), Digit::new(), Digit::new());
    for seed in 0..20 {
        generator
            .generate(None, seed, &mut scratch, &mut a)
            .unwrap();
        generator
            .generate(None, seed, &mut scratch, &mut b)
            .unwrap();
        assert_eq!(a.pixels(), b.pixels(), "seed {seed}");
        let bright = a.pixels().iter().filter(|&&p| p > 128).count();
        // MNIST digits cover roughly 10-25 % of the image with ink.
        assert!(
            (20..400).contains(&bright),
            "seed {seed}: {bright} bright pixels"
        );
    }
}
