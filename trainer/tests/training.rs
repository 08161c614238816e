//! Training on the real MNIST set: a smoke run per preset, determinism, and exact resume.

mod common;

use std::sync::atomic::AtomicBool;
use trainer::models::ModelKind;
use trainer::train::{train, Checkpoint, Progress, Recipe, RunDir, TrainConfig, TrainError};

fn config(model: ModelKind, iterations: u64) -> TrainConfig {
    TrainConfig {
        model,
        iterations,
        seed: 7,
        batch_size: 16,
        log_every: 5,
        checkpoint_every: 10,
        ..TrainConfig::new(model, Recipe::default_for(model))
    }
}

fn run(cfg: &TrainConfig, dir: &RunDir, resume: Option<Checkpoint>) -> trainer::train::Outcome {
    let stop = AtomicBool::new(false);
    train(
        cfg,
        common::train_set(),
        dir,
        resume,
        &stop,
        Progress::Quiet,
        None,
    )
    .expect("training runs")
}

fn smoke(model: ModelKind) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path().join("run"));
    let cfg = config(model, 30);
    let outcome = run(&cfg, &dir, None);
    assert_eq!(outcome.iteration, 30);
    let ck = Checkpoint::load(&dir.checkpoint()).unwrap();
    assert_eq!(ck.iteration, 30);
    assert_eq!(ck.metrics.len(), 6);
    for row in &ck.metrics {
        assert!(row.d_loss.is_finite() && row.g_loss.is_finite(), "{row:?}");
        assert!((0.0..=1.0).contains(&row.d_real) && (0.0..=1.0).contains(&row.d_fake));
    }
    for path in [
        dir.grid(0),
        dir.grid(30),
        dir.metrics(),
        dir.generator_weights(),
    ] {
        assert!(path.is_file(), "{} missing", path.display());
    }
    let grid = image::open(dir.grid(30)).unwrap().to_luma8();
    assert_eq!(grid.dimensions(), (242, 242));
    let csv = std::fs::read_to_string(dir.metrics()).unwrap();
    assert_eq!(csv.lines().count(), 7, "{csv}");
}

#[test]
fn smoke_mlp() {
    smoke(ModelKind::Mlp);
}

#[test]
fn smoke_mcu() {
    smoke(ModelKind::Mcu);
}

#[test]
fn smoke_dcgan() {
    smoke(ModelKind::Dcgan);
}

#[test]
fn smoke_cdcgan() {
    smoke(ModelKind::Cdcgan);
}

#[test]
fn smoke_cmcu() {
    smoke(ModelKind::Cmcu);
}

#[test]
fn same_seed_same_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(ModelKind::Mlp, 12);
    let (a, b) = (
        RunDir::new(tmp.path().join("a")),
        RunDir::new(tmp.path().join("b")),
    );
    run(&cfg, &a, None);
    run(&cfg, &b, None);
    let (a, b) = (
        Checkpoint::load(&a.checkpoint()).unwrap(),
        Checkpoint::load(&b.checkpoint()).unwrap(),
    );
    assert_eq!(a.generator, b.generator);
    assert_eq!(a.discriminator, b.discriminator);
    let losses = |c: &Checkpoint| {
        c.metrics
            .iter()
            .map(|r| (r.d_loss, r.g_loss))
            .collect::<Vec<_>>()
    };
    assert_eq!(losses(&a), losses(&b));
    // A different seed really changes the run.
    let c_dir = RunDir::new(tmp.path().join("c"));
    run(&TrainConfig { seed: 8, ..cfg }, &c_dir, None);
    assert_ne!(
        Checkpoint::load(&c_dir.checkpoint()).unwrap().generator,
        a.generator
    );
}

#[test]
fn concurrent_runs_equal_a_lone_run() {
    // Runs share the process's thread pool; one run's step can be executed by a worker that is
    // waiting inside another run's step. Layer guards (frozen parameters, data inputs) set by
    // the waiting step must not leak into it.
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(ModelKind::Mcu, 20);
    let lone = RunDir::new(tmp.path().join("lone"));
    run(&cfg, &lone, None);
    let dirs: Vec<RunDir> = (0..4)
        .map(|i| RunDir::new(tmp.path().join(format!("together{i}"))))
        .collect();
    std::thread::scope(|s| {
        for dir in &dirs {
            s.spawn(|| run(&cfg, dir, None));
        }
    });
    for dir in &dirs {
        assert_same_weights(&lone, dir);
    }
}

/// The two runs' last checkpoints hold the same generator and discriminator.
fn assert_same_weights(expected: &RunDir, got: &RunDir) {
    let (a, b) = (
        Checkpoint::load(&expected.checkpoint()).unwrap(),
        Checkpoint::load(&got.checkpoint()).unwrap(),
    );
    let which = got.path().display();
    assert_eq!(a.generator, b.generator, "{which}");
    assert_eq!(a.discriminator, b.discriminator, "{which}");
}

#[test]
fn a_run_ignores_the_layer_guards_of_its_thread() {
    // What a pool thread is in when it runs a step while waiting inside another run's step with
    // the discriminator's parameters frozen: here on purpose, so the outcome is certain.
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(ModelKind::Mcu, 10);
    let clean = RunDir::new(tmp.path().join("clean"));
    run(&cfg, &clean, None);
    let guarded = RunDir::new(tmp.path().join("guarded"));
    rayon::scope(|_| {
        let _frozen = trainer::nn::freeze_parameters();
        let _data = trainer::nn::data_input();
        run(&cfg, &guarded, None);
    });
    assert_same_weights(&clean, &guarded);
}

#[test]
fn resumed_run_equals_uninterrupted_run() {
    resume_equivalence(ModelKind::Mlp);
    // Convolutions, BatchNorm running statistics and both optimisers' moments.
    resume_equivalence(ModelKind::Mcu);
}

fn resume_equivalence(model: ModelKind) {
    let tmp = tempfile::tempdir().unwrap();
    let straight = RunDir::new(tmp.path().join("straight"));
    run(&config(model, 20), &straight, None);

    let split = RunDir::new(tmp.path().join("split"));
    run(&config(model, 10), &split, None);
    let halfway = Checkpoint::load(&split.checkpoint()).unwrap();
    assert_eq!(halfway.iteration, 10);
    run(&config(model, 20), &split, Some(halfway));

    let (a, b) = (
        Checkpoint::load(&straight.checkpoint()).unwrap(),
        Checkpoint::load(&split.checkpoint()).unwrap(),
    );
    assert_eq!(b.iteration, 20);
    assert_eq!(a.generator, b.generator);
    assert_eq!(a.discriminator, b.discriminator);
    assert_eq!(a.generator_opt, b.generator_opt);
    assert_eq!(a.discriminator_opt, b.discriminator_opt);
    let losses = |c: &Checkpoint| {
        c.metrics
            .iter()
            .map(|r| (r.iteration, r.d_loss, r.g_loss))
            .collect::<Vec<_>>()
    };
    assert_eq!(losses(&a), losses(&b));
}

/// The options of this round (no learning-rate decay: its schedule depends on `--iterations`,
/// which this test changes on resume).
fn with_options(model: ModelKind, iterations: u64) -> TrainConfig {
    TrainConfig {
        d_lr: Some(4e-4),
        ema: 0.99,
        real_label: 0.9,
        augment_shift: 2,
        minibatch_std: true,
        ..config(model, iterations)
    }
}

#[test]
fn options_train_resume_exactly_and_the_average_is_what_inference_uses() {
    let tmp = tempfile::tempdir().unwrap();
    let straight = RunDir::new(tmp.path().join("straight"));
    run(&with_options(ModelKind::Cmcu, 20), &straight, None);
    let split = RunDir::new(tmp.path().join("split"));
    run(&with_options(ModelKind::Cmcu, 10), &split, None);
    let halfway = Checkpoint::load(&split.checkpoint()).unwrap();
    run(&with_options(ModelKind::Cmcu, 20), &split, Some(halfway));
    let (a, b) = (
        Checkpoint::load(&straight.checkpoint()).unwrap(),
        Checkpoint::load(&split.checkpoint()).unwrap(),
    );
    assert_eq!(a.generator, b.generator);
    assert_eq!(a.discriminator, b.discriminator);
    assert_eq!(a.discriminator_opt, b.discriminator_opt);
    let ema = a.ema.as_ref().expect("the run keeps an average");
    assert_eq!(Some(ema), b.ema.as_ref());
    assert_eq!(ema.updates, 20);
    assert_ne!(ema.tensors, a.generator, "the average lags the weights");
    assert_eq!(a.inference_generator(), &ema.tensors);
    assert_eq!(a.discriminator_opt.lr, 4e-4);
    assert_eq!(a.generator_opt.lr, 2e-4);

    // Each option changes the run (so each is really applied).
    let base = Checkpoint::load(&straight.checkpoint()).unwrap();
    for (name, cfg) in [
        (
            "d_lr",
            TrainConfig {
                d_lr: None,
                ..with_options(ModelKind::Cmcu, 20)
            },
        ),
        (
            "real_label",
            TrainConfig {
                real_label: 1.0,
                ..with_options(ModelKind::Cmcu, 20)
            },
        ),
        (
            "augment_shift",
            TrainConfig {
                augment_shift: 0,
                ..with_options(ModelKind::Cmcu, 20)
            },
        ),
        (
            "minibatch_std",
            TrainConfig {
                minibatch_std: false,
                ..with_options(ModelKind::Cmcu, 20)
            },
        ),
        (
            "lr_decay_from",
            TrainConfig {
                lr_decay_from: 0.5,
                ..with_options(ModelKind::Cmcu, 20)
            },
        ),
    ] {
        let dir = RunDir::new(tmp.path().join(name));
        run(&cfg, &dir, None);
        let other = Checkpoint::load(&dir.checkpoint()).unwrap();
        assert_ne!(other.generator, base.generator, "{name} changed nothing");
    }
}

#[test]
fn the_holdout_is_not_trained_on_and_must_leave_images() {
    let data = common::train_set();
    let (training, validation) = trainer::train::validation_split(data, 10_000);
    assert_eq!((training.len(), validation.len()), (50_000, 10_000));
    assert_eq!(validation.image(0), data.image(50_000));
    assert_eq!(validation.labels[..], data.labels[50_000..]);

    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path().join("run"));
    let cfg = TrainConfig {
        holdout: 60_000,
        ..config(ModelKind::Mlp, 2)
    };
    let stop = AtomicBool::new(false);
    let err = train(&cfg, data, &dir, None, &stop, Progress::Quiet, None).unwrap_err();
    assert!(err.to_string().contains("--holdout"), "{err}");
}

#[test]
fn stop_flag_writes_checkpoint_and_resume_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path().join("run"));
    let cfg = config(ModelKind::Mlp, 20);
    // Already set: the run stops before its first iteration, like Ctrl-C at start-up.
    let stop = AtomicBool::new(true);
    let outcome = train(
        &cfg,
        common::train_set(),
        &dir,
        None,
        &stop,
        Progress::Quiet,
        None,
    )
    .unwrap();
    assert!(outcome.interrupted);
    let ck = Checkpoint::load(&dir.checkpoint()).unwrap();
    assert_eq!(ck.iteration, 0);
    let done = run(&cfg, &dir, Some(ck));
    assert_eq!(done.iteration, 20);
}

#[test]
fn corrupt_or_foreign_checkpoints_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path().join("run"));
    run(&config(ModelKind::Mlp, 5), &dir, None);
    let bytes = std::fs::read(dir.checkpoint()).unwrap();
    let path = dir.checkpoint();

    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x10;
    let err = Checkpoint::from_bytes(&flipped, &path).unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
    assert!(err.to_string().contains("checkpoint.bin"), "{err}");

    let err = Checkpoint::from_bytes(&bytes[..bytes.len() - 100], &path).unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
    let err = Checkpoint::from_bytes(&bytes[..6], &path).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    let err = Checkpoint::from_bytes(b"PNG\0\0\0\0\0\0\0\0\0\0\0\0\0", &path).unwrap_err();
    assert!(err.to_string().contains("not a checkpoint"), "{err}");
    let mut future = bytes.clone();
    future[8] = 99;
    let err = Checkpoint::from_bytes(&future, &path).unwrap_err();
    assert!(err.to_string().contains("version 99"), "{err}");

    // A checkpoint of another preset does not load into this one's networks.
    let mut foreign = Checkpoint::load(&path).unwrap();
    foreign.generator.tensors.pop();
    let other = RunDir::new(tmp.path().join("other"));
    let stop = AtomicBool::new(false);
    let err = train(
        &config(ModelKind::Mlp, 6),
        common::train_set(),
        &other,
        Some(foreign),
        &stop,
        Progress::Quiet,
        None,
    )
    .unwrap_err();
    assert!(matches!(err, TrainError::Incompatible { .. }), "{err}");
}

#[test]
fn divergence_stops_with_an_explanation_and_keeps_the_last_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path().join("run"));
    let healthy = TrainConfig {
        checkpoint_every: 1,
        ..config(ModelKind::Mlp, 5)
    };
    run(&healthy, &dir, None);
    // Resumed with an absurd learning rate (a resumed run takes the new --lr), the weights blow
    // up within a few steps.
    let wild = TrainConfig {
        lr: 1e30,
        iterations: 50,
        ..healthy
    };
    let ck = Checkpoint::load(&dir.checkpoint()).unwrap();
    let stop = AtomicBool::new(false);
    let err = train(
        &wild,
        common::train_set(),
        &dir,
        Some(ck),
        &stop,
        Progress::Quiet,
        None,
    )
    .unwrap_err();
    let TrainError::Diverged { iteration, .. } = err else {
        panic!("expected divergence, got {err}");
    };
    let text = err.to_string();
    assert!(
        text.contains("diverged") && text.contains("checkpoint.bin") && text.contains("--lr"),
        "{text}"
    );
    // The checkpoint on disk is the last iteration whose losses were finite.
    let last = Checkpoint::load(&dir.checkpoint()).expect("last good checkpoint still loads");
    assert!(iteration > 5);
    assert_eq!(last.iteration, iteration - 1);
    for tensor in last
        .generator
        .tensors
        .iter()
        .chain(&last.discriminator.tensors)
    {
        assert!(tensor.iter().all(|v| v.is_finite()));
    }
}
