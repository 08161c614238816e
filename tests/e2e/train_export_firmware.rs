//! Train a little on the real MNIST set, export, load the blob in firmware-core as a device
//! would, and compare the firmware's digits with the trainer's float generator.

use firmware_core::export::{latent_f32_from_seed, pixels_from_tanh, psnr};
use firmware_core::{Digit, Generator, Scratch, OUT_PIXELS};
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;
use trainer::data::{load_split, locate, parse_images, Dataset, Locator, Split};
use trainer::export::{export_run, ExportError};
use trainer::models::ModelKind;
use trainer::sample::generate_latents;
use trainer::train::{train, Checkpoint, Progress, Recipe, RunDir, TrainConfig};

/// The real MNIST training set, obtained exactly as the trainer obtains it for a user:
/// `$MNIST_DIR`, else the cache, else a download into the cache.
fn train_set() -> &'static Dataset {
    static SET: OnceLock<Dataset> = OnceLock::new();
    SET.get_or_init(|| {
        let source = locate(&Locator::from_env(None))
            .unwrap_or_else(|e| panic!("the tests need the real MNIST set: {e}"));
        load_split(source.dir(), Split::Train).expect("real MNIST training set")
    })
}

fn trained_run(model: ModelKind, iterations: u64) -> (tempfile::TempDir, RunDir) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path().join("run"));
    let config = TrainConfig {
        model,
        iterations,
        batch_size: 32,
        seed: 3,
        ..TrainConfig::new(model, Recipe::default_for(model))
    };
    let stop = AtomicBool::new(false);
    train(
        &config,
        train_set(),
        &dir,
        None,
        &stop,
        Progress::Quiet,
        None,
    )
    .unwrap();
    (tmp, dir)
}

#[test]
fn conditional_export_draws_each_asked_class_like_the_float_generator() {
    let (_tmp, dir) = trained_run(ModelKind::Cmcu, 40);
    let report = export_run(&dir).expect("export");
    assert!(report.worst_digit_psnr_db >= 30.0, "{report:?}");
    let blob = std::fs::read(dir.blob()).unwrap();
    let generator = Generator::new(&blob).expect("firmware-core accepts the export");
    assert!(generator.is_conditional());

    // The trainer's float model asked for class c on the firmware's latent of seed s, against
    // the firmware's `generate(Some(c), s)`.
    let ck = Checkpoint::load(&dir.checkpoint()).unwrap();
    let latent = ck.config.model.latent_dim();
    let pairs: Vec<(u32, u8)> = (0..100).map(|s| (s, (s % 10) as u8)).collect();
    let latents: Vec<f32> = pairs
        .iter()
        .flat_map(|&(s, _)| latent_f32_from_seed(s)[..latent].to_vec())
        .collect();
    let classes: Vec<u8> = pairs.iter().map(|&(_, c)| c).collect();
    let float = generate_latents(&ck, latents, &classes).unwrap();
    let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
    for (&(seed, class), float_digit) in pairs.iter().zip(float.chunks_exact(OUT_PIXELS)) {
        generator
            .generate(Some(class), seed, &mut scratch, &mut digit)
            .unwrap();
        let reference = pixels_from_tanh(float_digit.try_into().unwrap());
        let p = psnr(digit.pixels(), &reference);
        assert!(p >= 30.0, "seed {seed} class {class}: {p:.1} dB");
    }
}

#[test]
fn exported_blob_runs_in_firmware_and_matches_the_float_generator() {
    let (_tmp, dir) = trained_run(ModelKind::Mcu, 40);
    let report = export_run(&dir).expect("export");

    // The blob on disk loads exactly as a device loads it.
    let blob = std::fs::read(dir.blob()).unwrap();
    assert_eq!(blob.len(), report.blob_bytes);
    let generator = Generator::new(&blob).expect("firmware-core accepts the export");

    // Recompute the comparison independently: trainer's float model (dfdx, eval mode) on the
    // firmware's own latents vs the firmware's integer output.
    let ck = Checkpoint::load(&dir.checkpoint()).unwrap();
    let seeds: Vec<u32> = (0..200).collect();
    let latents = seeds
        .iter()
        .flat_map(|&s| latent_f32_from_seed(s))
        .collect();
    let float = generate_latents(&ck, latents, &[]).unwrap();
    let (mut scratch, mut digit) = (Scratch::new(), Digit::new());
    let mut worst = f64::INFINITY;
    let mut spread = 0u32;
    for (&seed, float_digit) in seeds.iter().zip(float.chunks_exact(OUT_PIXELS)) {
        generator
            .generate(None, seed, &mut scratch, &mut digit)
            .unwrap();
        let reference = pixels_from_tanh(float_digit.try_into().unwrap());
        worst = worst.min(psnr(digit.pixels(), &reference));
        let (lo, hi) = digit
            .pixels()
            .iter()
            .fold((255u8, 0u8), |(l, h), &p| (l.min(p), h.max(p)));
        spread += u32::from(hi - lo);
    }
    // Honest bounds: int8 with per-channel weights measured ~40 dB worst digit on short runs;
    // 30 dB still means errors of a few grey levels, and a broken layout gives < 15 dB.
    assert!(worst >= 30.0, "worst digit PSNR {worst:.1} dB");
    assert!(
        report.psnr_db >= 30.0 && report.worst_digit_psnr_db >= 30.0,
        "{report:?}"
    );
    assert!(report.float_reference_max_diff < 1e-4, "{report:?}");
    // The digits are images, not flat fields (a flat image would match a flat float trivially).
    assert!(
        spread / seeds.len() as u32 > 100,
        "mean pixel range {}",
        spread / 200
    );

    let json = std::fs::read_to_string(dir.export_report()).unwrap();
    assert!(json.contains("psnr_db"), "{json}");
}

#[test]
fn export_refuses_presets_the_firmware_cannot_run() {
    let (_tmp, dir) = trained_run(ModelKind::Mlp, 3);
    let err = export_run(&dir).unwrap_err();
    assert!(matches!(err, ExportError::WrongPreset { .. }), "{err}");
    assert!(err.to_string().contains("mcu"), "{err}");
    assert!(!dir.blob().exists());
}

#[test]
fn sample_writes_idx_that_parses_back() {
    let (_tmp, dir) = trained_run(ModelKind::Mcu, 2);
    let ck = Checkpoint::load(&dir.checkpoint()).unwrap();
    let out = dir.path().join("digits.idx3-ubyte");
    let png = trainer::sample::write_samples(&ck, 300, 9, &out).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    let images = parse_images(&bytes, &out).unwrap();
    assert_eq!(images.count, 300);
    assert_eq!(images.pixels.len(), 300 * OUT_PIXELS);
    assert!(png.is_file());
    // Same seed, same digits.
    let again = trainer::sample::sample_pixels(&ck, 300, 9).unwrap();
    assert_eq!(again, images.pixels);
}
