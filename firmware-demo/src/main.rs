//! Draws digits from `firmware_core::DEFAULT_BLOB` for the seeds in [`firmware_demo::SEEDS`] and
//! prints one report line per digit.
//!
//! * On a microcontroller (`--target thumbv7em-none-eabihf --features mps2-an386`,
//!   `--target thumbv7m-none-eabi --features mps2-an385`,
//!   `--target thumbv6m-none-eabi --features microbit` or
//!   `--target riscv32imc-unknown-none-elf --features riscv-virt`), under QEMU with semihosting and
//!   `-icount shift=6,align=off,sleep=off`: also instruction counts, `Generator::new` cost and peak
//!   stack, then exits through semihosting (status 0, or 1 if the blob is rejected or on panic).
//! * On the host (`cargo run --release`): the reference lines the device output must match.
//!
//! `run-qemu.sh` runs both and compares them.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(all(target_os = "none", target_arch = "arm"))]
mod device;
#[cfg(all(target_os = "none", target_arch = "arm"))]
mod icount;
#[cfg(all(target_os = "none", target_arch = "riscv32"))]
mod riscv;
#[cfg(all(target_os = "none", target_arch = "arm"))]
mod stack;

/// Host: the expected report, computed by the same firmware-core code compiled for the host.
#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    use firmware_core::{Digit, Generator, Scratch, DEFAULT_BLOB};
    use firmware_demo::{DigitLine, ModelLine, SEEDS};

    let generator = match Generator::new(DEFAULT_BLOB) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: DEFAULT_BLOB rejected: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("host target={}", std::env::consts::ARCH);
    println!(
        "{}",
        ModelLine {
            blob_bytes: DEFAULT_BLOB.len()
        }
    );
    let mut scratch = Scratch::new();
    let mut digit = Digit::new();
    for seed in SEEDS {
        if let Err(e) = generator.generate(None, seed, &mut scratch, &mut digit) {
            eprintln!("error: seed {seed}: {e}");
            return std::process::ExitCode::FAILURE;
        }
        println!("{}", DigitLine::new(seed, &digit, None));
    }
    std::process::ExitCode::SUCCESS
}
