//! Times training iterations of a preset on the real MNIST set, for `bench/train-speed.sh`:
//! warm-up iterations, then the median of timed ones, and the peak memory of the process.
//!
//! ```sh
//! cargo run -p trainer --release --example train_speed -- --model dcgan --warmup 5 --iterations 30
//! ```
//!
//! Prints one line of `key=value` pairs (times in milliseconds per iteration).

use anyhow::Result;
use clap::Parser;
use std::path::PathBuf;
use trainer::data::{load_split, locate, Locator, Split};
use trainer::models::ModelKind;
use trainer::train::speed::{median, peak_rss_bytes, time_iterations};
use trainer::train::{Recipe, TrainConfig};

#[derive(Debug, Parser)]
struct Args {
    /// Preset to time.
    #[arg(long, value_enum, default_value = "mcu")]
    model: ModelKind,
    /// Untimed iterations first.
    #[arg(long, default_value_t = 10)]
    warmup: u64,
    /// Timed iterations.
    #[arg(long, default_value_t = 50)]
    iterations: u64,
    /// Batch size.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Folder holding the MNIST IDX files; else $MNIST_DIR, the cache, a download.
    #[arg(long)]
    data: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let data = load_split(locate(&Locator::from_env(args.data))?.dir(), Split::Train)?;
    let config = TrainConfig {
        model: args.model,
        batch_size: args.batch,
        ..TrainConfig::new(args.model, Recipe::Paper)
    };
    let timing = time_iterations(&config, &data, args.warmup, args.iterations);
    let times = timing.seconds;
    // CPU time per iteration (all threads): less sensitive to other processes than wall time.
    let cpu_ms = timing
        .cpu_seconds
        .map_or(f64::NAN, |s| s * 1e3 / args.iterations as f64);
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let ms = |s: Option<&f64>| s.map_or(f64::NAN, |s| s * 1e3);
    println!(
        "framework=trainer model={} simd={} batch={} threads={} warmup={} iterations={} median_ms={:.3} min_ms={:.3} max_ms={:.3} cpu_ms={:.3} peak_rss_mib={:.1}",
        args.model,
        trainer_kernels::Simd::detect(),
        args.batch,
        rayon_threads(),
        args.warmup,
        args.iterations,
        median(&times) * 1e3,
        ms(sorted.first()),
        ms(sorted.last()),
        cpu_ms,
        peak_rss_bytes().map_or(f64::NAN, |b| b as f64 / (1024.0 * 1024.0)),
    );
    Ok(())
}

/// Threads the kernels may use: `RAYON_NUM_THREADS`, else the cores.
fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
