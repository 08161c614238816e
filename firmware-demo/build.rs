//! Picks the board's `memory.x` and passes cortex-m-rt's linker script, for bare-metal builds only.
//!
//! Link arguments come from here rather than `.cargo/config.toml`, which cargo only reads when run
//! from this folder or below.

use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=memory");
    // Host builds (the reference-hash run) link normally.
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let boards = ["mps2-an386", "mps2-an385", "microbit", "riscv-virt"];
    let enabled: Vec<&str> = boards
        .into_iter()
        .filter(|b| {
            env::var_os(format!(
                "CARGO_FEATURE_{}",
                b.to_uppercase().replace('-', "_")
            ))
            .is_some()
        })
        .collect();
    let [board] = enabled[..] else {
        panic!("enable exactly one board feature (one of {boards:?}) for a bare-metal build, got {enabled:?}");
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy(format!("memory/{board}.x"), out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    // cortex-m-rt's link.x includes `memory.x` from the linker search path; riscv-rt 0.18's
    // needs the regions defined before it, so it gets memory.x first.
    if env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("riscv32") {
        println!("cargo:rustc-link-arg-bins=-Tmemory.x");
    }
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
}
