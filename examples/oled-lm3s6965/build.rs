//! Puts `memory.x` on the linker search path, passes cortex-m-rt's linker script, and picks the
//! generator blob to embed.
//!
//! `OLED_BLOB=FILE` embeds that file instead of `firmware_core::DEFAULT_BLOB` (best given as an
//! absolute path: build scripts run in this folder). The firmware validates whatever it gets at
//! run time, so a damaged file shows the error screen; `oled.sh --blob` tests that path.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy("memory.x", out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");

    println!("cargo::rustc-check-cfg=cfg(custom_blob)");
    println!("cargo:rerun-if-env-changed=OLED_BLOB");
    if let Some(path) = env::var_os("OLED_BLOB").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        let path = fs::canonicalize(&path).unwrap_or_else(|e| {
            panic!("OLED_BLOB={}: {e}", path.display());
        });
        println!("cargo:rerun-if-changed={}", path.display());
        println!("cargo:rustc-env=OLED_BLOB_PATH={}", path.display());
        println!("cargo:rustc-cfg=custom_blob");
    }
}
