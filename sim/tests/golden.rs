//! Golden images of the headless path: `sim --png` with the shipped default blob and a fixed
//! seed must reproduce `tests/golden/*.png` pixel for pixel.
//!
//! The default blob will be retrained, which changes every digit. Regenerate the goldens with
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p sim --test golden
//! ```
//!
//! and look at the new PNGs before committing them. That run writes every golden and then fails
//! ("goldens updated — rerun without UPDATE_GOLDEN"), so a run that rewrote the goldens can never
//! pass for one that checked them.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

const SEED: &str = "42";

/// Golden name and the display options; `--scale 1` keeps the files small unless a case
/// checks the simulator's scaling and pixel gaps.
const CASES: &[(&str, &[&str])] = &[
    ("oled", &["--display", "oled", "--scale", "1"]),
    (
        "oled-threshold",
        &[
            "--display",
            "oled",
            "--shading",
            "threshold",
            "--threshold",
            "96",
            "--scale",
            "1",
        ],
    ),
    ("oled-scaled", &["--display", "oled"]),
    ("tft", &["--display", "tft", "--scale", "1"]),
    ("gray", &["--display", "gray", "--scale", "1"]),
    (
        "gray-dithered",
        &["--display", "gray", "--shading", "dithered", "--scale", "1"],
    ),
];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn render(name: &str, options: &[&str]) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("golden-actual-{name}.png"));
    let status = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["--png".as_ref(), out.as_os_str()])
        .args(["--seed", SEED])
        .args(options)
        .status()
        .expect("run sim");
    assert!(status.success(), "{name}: sim failed with {status}");
    out
}

#[test]
fn headless_frames_match_the_goldens() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v != "0");
    let mut failures = Vec::new();
    let mut updated = Vec::new();
    for (name, options) in CASES {
        let actual = render(name, options);
        let golden = golden_dir().join(format!("{name}.png"));
        if update {
            std::fs::copy(&actual, &golden).expect("write golden");
            updated.push(golden.display().to_string());
            continue;
        }
        let got = image::open(&actual).expect("read output").to_rgb8();
        let Ok(want) = image::open(&golden) else {
            failures.push(format!(
                "{name}: no golden at {} (run with UPDATE_GOLDEN=1)",
                golden.display()
            ));
            continue;
        };
        let want = want.to_rgb8();
        if got.dimensions() != want.dimensions() {
            failures.push(format!(
                "{name}: size {:?}, golden {:?}",
                got.dimensions(),
                want.dimensions()
            ));
            continue;
        }
        let differing = got
            .pixels()
            .zip(want.pixels())
            .filter(|(a, b)| a != b)
            .count();
        if differing > 0 {
            failures.push(format!(
                "{name}: {differing} pixels differ; actual output kept at {}",
                actual.display()
            ));
        }
    }
    assert!(
        updated.is_empty(),
        "goldens updated — rerun without UPDATE_GOLDEN to check them:\n{}",
        updated.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{}\nIf the change is intended (e.g. a retrained default blob): \
         UPDATE_GOLDEN=1 cargo test -p sim --test golden",
        failures.join("\n")
    );
}
