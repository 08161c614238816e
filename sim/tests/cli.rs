//! The `sim` binary's behaviour at its edges: bad blobs, reproducibility, no display.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .output()
        .expect("run sim")
}

#[test]
fn bad_blob_names_file_and_problem_and_writes_nothing() {
    let blob = tmp("not-a-blob.postcard");
    // Long enough to get past the length check, so the CRC check speaks.
    std::fs::write(&blob, [0x5a_u8; 256]).unwrap();
    let png = tmp("never-written.png");
    let _ = std::fs::remove_file(&png);
    let out = sim(&[
        "--blob",
        blob.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("not-a-blob.postcard"), "{stderr}");
    assert!(stderr.contains("CRC mismatch"), "{stderr}");
    assert!(!png.exists());
}

#[test]
fn missing_blob_file_is_named() {
    let out = sim(&["--blob", "/no/such/model.postcard", "--png", "/dev/null"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot read blob file `/no/such/model.postcard`"),
        "{stderr}"
    );
}

#[test]
fn same_seed_same_png_and_seed_is_reported() {
    let (a, b) = (tmp("repro-a.png"), tmp("repro-b.png"));
    for path in [&a, &b] {
        let out = sim(&[
            "--png",
            path.to_str().unwrap(),
            "--display",
            "tft",
            "--seed",
            "9",
        ]);
        assert!(out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("seed 9"), "{stderr}");
        assert!(stderr.contains("ms per digit"), "{stderr}");
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[cfg(feature = "window")]
#[test]
fn window_without_a_display_fails_in_one_line_pointing_to_png() {
    // No display at all, then one that cannot be reached.
    for display in [None, Some(":9999")] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sim"));
        cmd.args(["--exit-after-ms", "100"])
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        if let Some(display) = display {
            cmd.env("DISPLAY", display);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{display:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{display:?}: {stderr}");
        assert!(stderr.contains("--png"), "{display:?}: {stderr}");
        let expected = match display {
            None => "no X11 display",
            Some(d) => d,
        };
        assert!(stderr.contains(expected), "{display:?}: {stderr}");
    }
}

#[cfg(not(feature = "window"))]
#[test]
fn without_the_window_feature_png_is_required() {
    let out = sim(&["--seed", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("--png"), "{stderr}");
}

/// A class-conditional blob of a random float model, written to a file.
fn conditional_blob() -> PathBuf {
    use firmware_core::export::{quantize_model, FloatGenerator};
    let path = tmp("conditional.postcard");
    let blob = quantize_model(&FloatGenerator::random(3), 0..32, true)
        .unwrap()
        .to_blob();
    std::fs::write(&path, blob).unwrap();
    path
}

#[test]
fn text_is_handwritten_with_a_conditional_blob_and_refused_without() {
    let blob = conditional_blob();
    let png = |text: &str| {
        let path = tmp(&format!("text-{}.png", text.replace(':', "_")));
        let out = sim(&[
            "--blob",
            blob.to_str().unwrap(),
            "--display",
            "gray",
            "--seed",
            "5",
            "--text",
            text,
            "--png",
            path.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        image::open(&path).unwrap().to_luma8()
    };
    let (a, again, other) = (png("12:34"), png("12:34"), png("12:35"));
    assert_eq!(a, again, "reproducible");
    assert_ne!(a, other, "the last digit changes");

    // An unconditional blob cannot be asked for digits (the shipped one is conditional).
    assert_refused_with_an_unconditional_blob(&["--text", "2026"]);
}

#[test]
fn class_draws_the_asked_digit_and_is_refused_without_a_conditional_blob() {
    let png = |extra: &[&str]| {
        let path = tmp(&format!("class{}.png", extra.join("")));
        let mut args = vec!["--display", "gray", "--seed", "3", "--png"];
        args.push(path.to_str().unwrap());
        args.extend_from_slice(extra);
        let out = sim(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        image::open(&path).unwrap().to_luma8()
    };
    // The shipped blob is conditional: a chosen class changes every digit, another class again.
    let (any, seven, one) = (png(&[]), png(&["--class", "7"]), png(&["--class", "1"]));
    assert_ne!(any, seven);
    assert_ne!(seven, one);
    assert_eq!(seven, png(&["--class", "7"]), "reproducible");

    assert_refused_with_an_unconditional_blob(&["--class", "7"]);
}

/// `args` with an unconditional blob: refused, naming what is needed, and no PNG written.
fn assert_refused_with_an_unconditional_blob(args: &[&str]) {
    use firmware_core::export::{quantize, FloatGenerator};
    let name = args.join("").replace(':', "_");
    let unconditional = tmp(&format!("unconditional{name}.postcard"));
    let blob = quantize(&FloatGenerator::random(4), 0..32)
        .unwrap()
        .to_blob();
    std::fs::write(&unconditional, blob).unwrap();
    let png = tmp(&format!("refused{name}.png"));
    let _ = std::fs::remove_file(&png);
    let mut all = vec!["--blob", unconditional.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--png", png.to_str().unwrap()]);
    let out = sim(&all);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("class-conditional"), "{stderr}");
    assert!(!png.exists());
}

/// RGB pixels of a PNG the sim wrote.
fn pixels(path: &Path) -> image::RgbImage {
    image::open(path).unwrap().to_rgb8()
}

#[test]
fn ssd0323_png_is_qemus_size_and_greys_and_keys_change_it() {
    let (start, moved) = (tmp("ssd0323-start.png"), tmp("ssd0323-moved.png"));
    let out = sim(&["--display", "ssd0323", "--png", start.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let image = pixels(&start);
    // QEMU's screendump: 4 × 4 blocks, grey v shown as v·17.
    assert_eq!(image.dimensions(), (512, 256));
    assert!(image
        .pixels()
        .all(|p| p[0] % 17 == 0 && p[0] == p[1] && p[1] == p[2]));
    assert!(image.pixels().any(|p| p[0] == 255), "full-white ink");

    let out = sim(&[
        "--display",
        "ssd0323",
        "--keys",
        "right,nonsense,select",
        "--png",
        moved.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("`nonsense` is no gamepad button"),
        "{stderr}"
    );
    assert!(stderr.contains("seed 9)"), "{stderr}");
    assert_ne!(pixels(&moved), image);
}

#[test]
fn ssd0323_shows_the_boards_error_screen_for_a_bad_blob() {
    let blob = tmp("ssd0323-bad.postcard");
    std::fs::write(&blob, [0x5a_u8; 256]).unwrap();
    let png = tmp("ssd0323-error.png");
    let _ = std::fs::remove_file(&png);
    let out = sim(&[
        "--display",
        "ssd0323",
        "--blob",
        blob.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the blob is still refused");
    assert!(stderr.contains("CRC mismatch"), "{stderr}");
    assert!(stderr.contains("error screen"), "{stderr}");
    let image = pixels(&png);
    assert_eq!(image.dimensions(), (512, 256));
    // Title and reason: lit rows at the top, several text lines.
    let lit_rows = (0..256)
        .filter(|&y| (0..512).any(|x| image.get_pixel(x, y)[0] > 0))
        .count();
    assert!(lit_rows > 4 * 20, "{lit_rows} lit rows");
}
