//! Picks the kernels (`src/layers/tap/`, `src/layers/rows/`): `cfg(firmware_core_dsp)` selects the
//! SXTB16/SMLAD assembly on Arm cores with the DSP extension (ARMv7E-M: Cortex-M4/M7),
//! `cfg(firmware_core_armv7m)` the MLA assembly on ARMv7-M without it (Cortex-M3; with
//! `cfg(firmware_core_packed_taps)`, which selects the same layout in Rust on RISC-V),
//! `cfg(firmware_core_armv6m)` the MULS assembly on ARMv6-M (Cortex-M0/M0+).
//!
//! Stable Rust does not expose `target_feature = "dsp"` to `cfg`, so the target name decides
//! (`thumbv7em-*`), or the feature list where the toolchain reports it (nightly, or an ARMv8-M
//! Mainline target built with `-C target-feature=+dsp`). `FIRMWARE_CORE_PORTABLE=1` forces the
//! portable kernels everywhere (for comparisons).

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(firmware_core_dsp)");
    println!("cargo::rustc-check-cfg=cfg(firmware_core_strict_align)");
    println!("cargo::rustc-check-cfg=cfg(firmware_core_armv6m)");
    println!("cargo::rustc-check-cfg=cfg(firmware_core_armv7m)");
    println!("cargo::rustc-check-cfg=cfg(firmware_core_packed_taps)");
    println!("cargo::rustc-check-cfg=cfg(firmware_core_no_long_mul)");
    println!("cargo::rerun-if-env-changed=FIRMWARE_CORE_PORTABLE");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let target = env::var("TARGET").unwrap_or_default();
    let features = env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let dsp = arch == "arm"
        && (target.starts_with("thumbv7em-") || features.split(',').any(|f| f == "dsp"));
    let portable = env::var_os("FIRMWARE_CORE_PORTABLE").is_some_and(|v| v == "1");
    // ARMv6-M and ARMv8-M Baseline fault on unaligned word loads, so the compiler assembles
    // words from bytes there; code that reads words from unaligned bytes picks another way.
    // …and have no 32 × 32 → 64-bit multiply: requantisation assembles one from `MULS`es.
    if target.starts_with("thumbv6m-") || target.starts_with("thumbv8m.base-") {
        println!("cargo::rustc-cfg=firmware_core_strict_align");
        println!("cargo::rustc-cfg=firmware_core_no_long_mul");
    }
    if target.starts_with("thumbv6m-") && !portable {
        println!("cargo::rustc-cfg=firmware_core_armv6m");
    }
    // ARMv7-M without the DSP extension (Cortex-M3): `MLA`-based tap kernels in assembly; the
    // same packed layout in Rust on RISC-V (`MUL` for two MACs).
    if target.starts_with("thumbv7m-") && !portable {
        println!("cargo::rustc-cfg=firmware_core_armv7m");
        println!("cargo::rustc-cfg=firmware_core_packed_taps");
    }
    if arch == "riscv32" && !portable {
        println!("cargo::rustc-cfg=firmware_core_packed_taps");
    }
    if dsp && !portable {
        println!("cargo::rustc-cfg=firmware_core_dsp");
    }
}
