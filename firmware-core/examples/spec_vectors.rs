//! Writes fixed blobs and what firmware-core makes of them, for `tests/spec_reference.py` (the
//! Python transcription of the documented format and arithmetic) to check independently:
//!
//! ```text
//! cargo run -p firmware-core --example spec_vectors -- OUT_DIR
//! python3 firmware-core/tests/spec_reference.py OUT_DIR
//! ```
//!
//! `OUT_DIR/vectors.txt` lists, one per line:
//!
//! * `draw BLOB seed=S class=C|- PIXELS`: `Generator::generate(class, S)` drew the 784 `PIXELS`
//!   (hex, row-major);
//! * `latent BLOB latent=HEX PIXELS`: `Generator::generate_from_latent` of that int8 input;
//! * `reject BLOB ERROR`: `Generator::new` refused the blob with `ERROR` (its `Debug` form).
//!
//! The blobs (fixed, so the run is reproducible): the shipped `DEFAULT_BLOB` (class-conditional),
//! the synthetic model of the golden test, the same as a conditional blob, one at the limits that
//! validation admits (biases at ±`BIAS_LIMIT`, extreme weights, the largest and smallest
//! requantiser gains), and damaged copies that each check must refuse.

#[path = "../tests/common/mod.rs"]
mod common;

use firmware_core::arch::{ModelDescriptor, LATENT_DIM};
use firmware_core::blob::{BlobRepr, BIAS_LIMIT};
use firmware_core::{Digit, Generator, Scratch, DEFAULT_BLOB};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Seeds drawn from every accepted blob (0 and 2³²−1 are the edges of the seed space).
const SEEDS: [u32; 4] = [0, 1, 2, u32::MAX];

fn hex<T: Copy>(values: &[T], byte: impl Fn(T) -> u8) -> String {
    values.iter().fold(String::new(), |mut s, &v| {
        let _ = write!(s, "{:02x}", byte(v));
        s
    })
}

struct Vectors {
    dir: PathBuf,
    lines: String,
}

impl Vectors {
    fn blob(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.dir.join(name), bytes).expect("write blob");
    }

    /// Every seed with no class; for a conditional blob also every class (and one class too
    /// many, which must be refused), plus two fixed latents.
    fn draws(&mut self, name: &str, bytes: &[u8]) {
        self.blob(name, bytes);
        let generator = Generator::new(bytes).expect("a valid blob");
        let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
        let mut draw = |class: Option<u8>, seed: u32, lines: &mut String| {
            generator
                .generate(class, seed, &mut scratch, &mut digit)
                .expect("a class the blob can draw");
            let class = class.map_or("-".to_string(), |c| c.to_string());
            let pixels = hex(digit.pixels(), |p| p);
            let _ = writeln!(lines, "draw {name} seed={seed} class={class} {pixels}");
        };
        for seed in SEEDS {
            draw(None, seed, &mut self.lines);
        }
        if generator.is_conditional() {
            for class in 0..10u8 {
                draw(Some(class), 1000 + u32::from(class), &mut self.lines);
            }
        }
        let ramp: [i8; LATENT_DIM] = std::array::from_fn(|i| (i as i8).wrapping_mul(37));
        for latent in [[-128i8; LATENT_DIM], ramp] {
            generator.generate_from_latent(&latent, &mut scratch, &mut digit);
            let _ = writeln!(
                self.lines,
                "latent {name} latent={} {}",
                hex(&latent, |v| v as u8),
                hex(digit.pixels(), |p| p)
            );
        }
    }

    fn reject(&mut self, name: &str, bytes: &[u8]) {
        self.blob(name, bytes);
        let error = Generator::new(bytes).expect_err("a damaged blob");
        let _ = writeln!(self.lines, "reject {name} {error:?}");
    }
}

/// `model` with one change, as a blob.
fn edited<'a>(model: &'a common::Model, change: impl FnOnce(&mut BlobRepr<'a>)) -> Vec<u8> {
    let mut r = model.repr();
    change(&mut r);
    common::emit(&r)
}

/// The golden test's synthetic model at the limits validation admits.
fn extremes() -> common::Model {
    let mut m = common::Model::new(7);
    let mut sign = 1i32;
    for (l, layer) in [&mut m.fc, &mut m.up1, &mut m.up2].into_iter().enumerate() {
        for (i, w) in layer.weights.iter_mut().enumerate() {
            // Mostly the int8 extremes, both signs, in an irregular pattern.
            *w = match (i * 7 + l) % 5 {
                0 | 1 => 0x7f,
                2 | 3 => 0x80,
                _ => *w,
            };
        }
        for b in layer.bias.chunks_exact_mut(4) {
            b.copy_from_slice(&(sign * BIAS_LIMIT).to_le_bytes());
            sign = -sign;
        }
        // fc and up1: the largest gain (M = i32::MAX, n = 1) saturates the ReLUs; up2: the
        // smallest non-zero one (M = 1, n = 62) puts every pixel at the table's middle.
        let (multiplier, shift) = if l < 2 { (i32::MAX, 1) } else { (1, 62) };
        for c in layer.multiplier.chunks_exact_mut(4) {
            c.copy_from_slice(&multiplier.to_le_bytes());
        }
        layer.shift.fill(shift);
    }
    m
}

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            eprintln!("usage: spec_vectors OUT_DIR");
            std::process::exit(2);
        });
    std::fs::create_dir_all(&dir).expect("create the output directory");
    let mut v = Vectors {
        dir,
        lines: String::new(),
    };

    v.draws("default.postcard", DEFAULT_BLOB);
    let synthetic = common::Model::new(2024);
    v.draws("synthetic.postcard", &synthetic.blob());
    let mut conditional = synthetic.repr();
    conditional.descriptor = ModelDescriptor::MCU_CONDITIONAL;
    v.draws(
        "synthetic-conditional.postcard",
        &common::emit(&conditional),
    );
    v.draws("extremes.postcard", &extremes().blob());

    // One damaged copy per check, in the documented order of the checks.
    let base = synthetic.blob();
    let n = base.len();
    let fixed = |mut b: Vec<u8>| {
        common::fix_crc(&mut b);
        b
    };
    let repr = BlobRepr::parse(&base).expect("valid");
    let offset = |field: &[u8]| field.as_ptr() as usize - base.as_ptr() as usize;
    let at_offset = |field: &[u8], skip: usize, bytes: &[u8]| {
        let mut b = base.clone();
        let at = offset(field) + skip;
        b[at..at + bytes.len()].copy_from_slice(bytes);
        fixed(b)
    };
    let short = &synthetic.up1.bias[..124];
    let damaged: [(&str, Vec<u8>); 12] = [
        ("truncated", base[..9].to_vec()),
        ("bad-crc", {
            let mut b = base.clone();
            b[n / 2] ^= 0x10;
            b
        }),
        ("bad-magic", fixed([b"MGEM", &base[4..]].concat())),
        (
            "bad-version",
            fixed([&base[..4], &[2, 0], &base[6..]].concat()),
        ),
        // The descriptor's `conditional` byte (after the 1-byte preset) = 2: not a bool.
        ("decode", fixed([&base[..7], &[2], &base[8..]].concat())),
        (
            "trailing",
            fixed([&base[..n - 4], &[0, 0, 0], &base[n - 4..]].concat()),
        ),
        (
            "architecture",
            edited(&synthetic, |r| r.descriptor.up1.stride = 3),
        ),
        ("scale", edited(&synthetic, |r| r.scales.up1 = -0.5)),
        ("length", edited(&synthetic, |r| r.up1.bias = short)),
        ("shift", at_offset(repr.up1.shift, 5, &[63])),
        (
            "multiplier",
            at_offset(repr.fc.multiplier, 4 * 9, &(-1i32).to_le_bytes()),
        ),
        (
            "bias",
            at_offset(repr.up2.bias, 0, &(-BIAS_LIMIT - 1).to_le_bytes()),
        ),
    ];
    for (name, bytes) in &damaged {
        v.reject(&format!("reject-{name}.postcard"), bytes);
    }

    let path = v.dir.join("vectors.txt");
    std::fs::write(&path, &v.lines).expect("write vectors.txt");
    println!(
        "{} vectors in {}",
        v.lines.lines().count(),
        Path::new(&path).display()
    );
}
