//! Faults from outside, each with a clear error and nothing lost: SIGKILL while a checkpoint or
//! the firmware blob is being written, a full disk (a file-size limit), corrupt or foreign
//! checkpoints on the command line, and Ctrl-C. Faults of the process run the real `trainer`
//! binary; runs are a few iterations of small models. Downloads cut off half-way are in
//! `mnist_download.rs`.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use trainer::fsutil::PAUSE_WRITE_ENV;
use trainer::train::{train, Checkpoint, Progress, RunDir};

/// Long enough for a debug build on a busy machine; a healthy run needs a few seconds.
const PATIENCE: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------------------------
// The trainer binary

/// `trainer [args] --data $MNIST --no-download --no-eval --progress quiet`, hook unset.
fn trainer(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trainer"));
    cmd.args(args)
        .arg("--data")
        .arg(common::mnist_dir())
        .args(["--no-download", "--no-eval", "--progress", "quiet"])
        .env_remove(PAUSE_WRITE_ENV);
    cmd
}

/// A new `mlp` run (batch 16, seed 7) named `run` in `runs`.
fn new_run(runs: &Path, model: &str, iterations: u64, checkpoint_every: u64) -> Command {
    let (iterations, every) = (iterations.to_string(), checkpoint_every.to_string());
    let runs = runs.to_str().unwrap();
    trainer(&[
        "--model",
        model,
        "--iterations",
        &iterations,
        "--checkpoint-every",
        &every,
        "--log-every",
        "5",
        "--batch",
        "16",
        "--seed",
        "7",
        "--runs-dir",
        runs,
        "--name",
        "run",
    ])
}

fn resume(run: &Path, extra: &[&str]) -> Command {
    let mut args = vec!["--resume", run.to_str().unwrap()];
    args.extend_from_slice(extra);
    trainer(&args)
}

/// Runs to completion; panics with the output unless it succeeds.
fn succeed(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{stderr}",
        out.status
    );
    stderr
}

/// A running trainer whose stderr is read line by line as it arrives.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: JoinHandle<String>,
}

impl Running {
    fn start(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pipe = child.stderr.take().unwrap();
        let (send, lines) = mpsc::channel();
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                all.push_str(&line);
                all.push('\n');
                let _ = send.send(line);
            }
            all
        });
        Running {
            child,
            lines,
            stderr,
        }
    }

    /// Waits for a stderr line containing `needle` and returns it.
    fn line_with(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = String::new();
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen += &(line + "\n"),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("no line with {needle:?} on stderr; saw:\n{seen}");
    }

    /// Waits until `path` exists (the trainer is still running).
    fn wait_for_file(&mut self, path: &Path) {
        let deadline = Instant::now() + PATIENCE;
        while !path.exists() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "trainer exited ({status}) before writing {}",
                    path.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} never appeared",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) takes plain integers and touches no memory of this process.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    /// Waits for the exit; returns the status, stdout and stderr.
    fn finish(self) -> (ExitStatus, String, String) {
        let out = self.child.wait_with_output().unwrap();
        let stderr = self.stderr.join().unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        )
    }
}

/// The `.tmp-*` files a write left in `dir`.
fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".tmp-"))
        .collect()
}

/// The run in `run`, trained in this process from scratch with the same settings, must equal
/// `resumed` bit for bit: an interrupted and resumed run lost nothing.
fn assert_same_as_uninterrupted(resumed: &Checkpoint, scratch: &Path) {
    let straight = RunDir::new(scratch);
    train(
        &resumed.config,
        common::train_set(),
        &straight,
        None,
        &AtomicBool::new(false),
        Progress::Quiet,
        None,
    )
    .unwrap();
    let straight = Checkpoint::load(&straight.checkpoint()).unwrap();
    assert_eq!(straight.iteration, resumed.iteration);
    assert!(straight.generator == resumed.generator);
    assert!(straight.discriminator == resumed.discriminator);
    assert!(straight.generator_opt == resumed.generator_opt);
}

// ---------------------------------------------------------------------------------------------
// SIGKILL, disk full, Ctrl-C, bad checkpoints

#[test]
fn sigkill_while_writing_a_checkpoint_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    // Checkpoints at 5, 10, 15, 20; the second one is cut off half-way and the process killed.
    let mut cmd = new_run(tmp.path(), "mlp", 20, 5);
    cmd.env(PAUSE_WRITE_ENV, "checkpoint.bin@2");
    let mut trainer = Running::start(cmd);
    let line = trainer.line_with("fault hook: paused writing");
    let partial = PathBuf::from(line.rsplit_once("paused writing ").unwrap().1);
    assert!(partial.metadata().unwrap().len() > 0, "{line}");
    trainer.child.kill().unwrap(); // SIGKILL
    let (status, _, _) = trainer.finish();
    assert_eq!(status.signal(), Some(libc::SIGKILL));

    let previous = Checkpoint::load(&run.join("checkpoint.bin")).expect("previous checkpoint");
    assert_eq!(previous.iteration, 5);
    succeed(resume(&run, &[]));
    let resumed = Checkpoint::load(&run.join("checkpoint.bin")).unwrap();
    assert_eq!(resumed.iteration, 20);
    assert!(run.join("generator.safetensors").is_file());
    assert_same_as_uninterrupted(&resumed, &tmp.path().join("straight"));
}

#[test]
fn sigkill_while_exporting_keeps_the_previous_blob_and_resume_redoes_the_export() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let blob_path = run.join("generator.postcard");
    succeed(new_run(tmp.path(), "mcu", 3, 0));
    let first_blob = std::fs::read(&blob_path).unwrap();

    // Three more iterations; the new checkpoint and weights are written, then the process is
    // killed half-way through writing the new blob.
    let mut cmd = resume(&run, &["--iterations", "6"]);
    cmd.env(PAUSE_WRITE_ENV, "generator.postcard");
    let mut trainer = Running::start(cmd);
    trainer.line_with("fault hook: paused writing");
    trainer.child.kill().unwrap();
    let (status, _, _) = trainer.finish();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(
        std::fs::read(&blob_path).unwrap(),
        first_blob,
        "old blob intact"
    );
    firmware_core::Generator::new(&first_blob).expect("old blob still loads");
    assert_eq!(
        Checkpoint::load(&run.join("checkpoint.bin"))
            .unwrap()
            .iteration,
        6
    );

    // The checkpoint is complete but its blob is older: --resume writes the missing files.
    let stderr = succeed(resume(&run, &[]));
    assert!(stderr.contains("lacks its final files"), "{stderr}");
    let second_blob = std::fs::read(&blob_path).unwrap();
    assert_ne!(second_blob, first_blob);
    firmware_core::Generator::new(&second_blob).expect("new blob loads");
    // Now everything is there: nothing left to do.
    let out = resume(&run, &[]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("is complete"));
}

#[test]
fn disk_full_while_checkpointing_is_a_clear_error_and_keeps_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let checkpoint = run.join("checkpoint.bin");
    succeed(new_run(tmp.path(), "mlp", 5, 5));
    let before = std::fs::read(&checkpoint).unwrap();
    assert!(before.len() > 1 << 20, "the limit below must be smaller");

    // No file may grow past 1 MiB: the metrics, grid and config fit, the checkpoint does not.
    // SIGXFSZ ignored, so the write fails with EFBIG as on a full disk (ENOSPC) instead of
    // killing the process.
    let mut cmd = resume(&run, &["--iterations", "10"]);
    // SAFETY: the closure runs between fork and exec and calls only setrlimit(2) and
    // signal(2), both async-signal-safe, on values it owns.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 1 << 20,
                rlim_max: 1 << 20,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains(&checkpoint.display().to_string())
            && stderr.contains("cannot write the checkpoint")
            && stderr.contains("File too large")
            && stderr.contains("previous checkpoint there, if any, is unchanged"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&checkpoint).unwrap(),
        before,
        "old checkpoint intact"
    );
    assert_eq!(temp_files(&run), Vec::<String>::new(), "temp file removed");

    // With space again, the run continues from the intact checkpoint.
    succeed(resume(&run, &["--iterations", "10"]));
    assert_eq!(Checkpoint::load(&checkpoint).unwrap().iteration, 10);
}

#[test]
fn ctrl_c_writes_a_checkpoint_and_resume_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let checkpoint = run.join("checkpoint.bin");
    let mut trainer = Running::start(new_run(tmp.path(), "mlp", 1_000_000, 7));
    // Training is under way (the handler is installed before the first iteration).
    trainer.wait_for_file(&checkpoint);
    trainer.signal(libc::SIGINT);
    let (status, stdout, stderr) = trainer.finish();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("Ctrl-C: finishing this iteration"),
        "{stderr}"
    );
    let stopped: u64 = stdout
        .split_once("stopped at iteration ")
        .and_then(|(_, rest)| rest.split(';').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    let ck = Checkpoint::load(&checkpoint).unwrap();
    assert_eq!(
        ck.iteration, stopped,
        "the checkpoint is the moment of Ctrl-C"
    );
    assert!((7..1_000_000).contains(&stopped));

    let target = (stopped + 3).to_string();
    succeed(resume(&run, &["--iterations", &target]));
    let resumed = Checkpoint::load(&checkpoint).unwrap();
    assert_eq!(resumed.iteration, stopped + 3);
    assert_same_as_uninterrupted(&resumed, &tmp.path().join("straight"));
}

#[test]
fn bad_checkpoints_on_the_command_line_are_clear_errors_not_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path().join("good"));
    let cfg = trainer::train::TrainConfig {
        model: trainer::models::ModelKind::Mcu,
        iterations: 1,
        batch_size: 4,
        ..trainer::train::TrainConfig::new(
            trainer::models::ModelKind::Mcu,
            trainer::train::Recipe::Paper,
        )
    };
    train(
        &cfg,
        common::train_set(),
        &dir,
        None,
        &AtomicBool::new(false),
        Progress::Quiet,
        None,
    )
    .unwrap();
    let good = std::fs::read(dir.checkpoint()).unwrap();
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x10;
    let mut future = good.clone();
    future[8..12].copy_from_slice(&99u32.to_le_bytes());
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("flipped", flipped, "checkpoint is corrupt"),
        (
            "cut",
            good[..good.len() / 2].to_vec(),
            "checkpoint is corrupt",
        ),
        ("tiny", good[..5].to_vec(), "checkpoint is truncated"),
        (
            "foreign",
            b"\x89PNG\r\n\x1a\n0000000000".to_vec(),
            "not a checkpoint",
        ),
        ("future", future, "checkpoint format version 99"),
    ];
    for (name, bytes, problem) in cases {
        let run = tmp.path().join(name);
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("checkpoint.bin"), bytes).unwrap();
        let run_arg = run.to_str().unwrap();
        let commands = [
            resume(&run, &[]),
            plain(&["export", "--run", run_arg]),
            plain(&[
                "sample",
                "--run",
                run_arg,
                "--out",
                "/dev/null",
                "--count",
                "1",
            ]),
        ];
        for mut cmd in commands {
            let out = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            // 1 is an error returned from main; a panic would exit with 101.
            assert_eq!(out.status.code(), Some(1), "{name}: {cmd:?}\n{stderr}");
            assert!(
                stderr.contains(problem) && stderr.contains(&run.display().to_string()),
                "{name}: {cmd:?}\n{stderr}"
            );
        }
    }
}

/// `--recipe` where it cannot apply is an error before anything is trained or written: `tuned`
/// for a preset without minibatch std, any recipe for a resumed run (which keeps its settings).
#[test]
fn recipes_that_cannot_apply_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let out = trainer(&["--model", "mlp", "--recipe", "tuned"])
        .arg("--runs-dir")
        .arg(&runs)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--recipe tuned is for the mcu and cmcu models") && !runs.exists(),
        "{stderr}"
    );

    succeed(new_run(&runs, "mcu", 1, 1));
    let run = runs.join("run");
    let before = std::fs::read(run.join("checkpoint.bin")).unwrap();
    let out = resume(&run, &["--recipe", "paper", "--iterations", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--recipe applies to new runs"), "{stderr}");
    assert_eq!(std::fs::read(run.join("checkpoint.bin")).unwrap(), before);
}

#[test]
fn bad_blobs_on_the_command_line_are_clear_errors_not_panics() {
    use firmware_core::blob::checksum;
    let tmp = tempfile::tempdir().unwrap();
    let good = firmware_core::DEFAULT_BLOB;
    let n = good.len();
    let mut flipped = good.to_vec();
    flipped[n / 2] ^= 0x01;
    let mut future = good.to_vec();
    future[4..6].copy_from_slice(&2u16.to_le_bytes());
    let crc = checksum(&future[..n - 4]);
    future[n - 4..].copy_from_slice(&crc.to_le_bytes());
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("flipped", flipped, "CRC mismatch"),
        ("cut", good[..n / 2].to_vec(), "CRC mismatch"),
        ("empty", Vec::new(), "blob truncated: 0 bytes"),
        ("future", future, "blob format version 2 is not supported"),
    ];
    for (name, bytes, problem) in cases {
        let path = tmp.path().join(format!("{name}.postcard"));
        std::fs::write(&path, bytes).unwrap();
        let out_file = tmp.path().join("digits.idx3-ubyte");
        let mut cmd = plain(&[
            "sample",
            "--blob",
            path.to_str().unwrap(),
            "--out",
            out_file.to_str().unwrap(),
        ]);
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}\n{stderr}");
        assert!(
            stderr.contains(&path.display().to_string())
                && stderr.contains("not a usable generator blob")
                && stderr.contains(problem),
            "{name}\n{stderr}"
        );
        assert!(!out_file.exists(), "{name}: nothing written");
    }
}

fn plain(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trainer"));
    cmd.args(args).env_remove(PAUSE_WRITE_ENV);
    cmd
}
