//! Timing of training iterations, for the speed benchmark (`bench/train-speed.sh`): the real
//! [`Stepper`] on the real data, so the numbers are those of a training run without its logging,
//! grids and checkpoints.

use super::config::TrainConfig;
use super::step::{scaled_images, Models, Stepper};
use crate::data::Dataset;
use crate::models::Preset;
use crate::with_training_preset;
use dfdx::prelude::*;
use std::time::Instant;

/// What [`time_iterations`] measured.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Wall seconds of each timed iteration.
    pub seconds: Vec<f64>,
    /// CPU seconds (all threads) of the timed iterations together, where the system reports it.
    pub cpu_seconds: Option<f64>,
}

/// Times iterations of `config`'s preset: `warmup` untimed iterations, then `timed` ones, each
/// timed alone (batch assembly, noise, both steps and both Adam updates included).
pub fn time_iterations(config: &TrainConfig, data: &Dataset, warmup: u64, timed: u64) -> Timing {
    with_training_preset!(config, P => time_preset::<P>(config, data, warmup, timed))
}

fn time_preset<P: Preset>(config: &TrainConfig, data: &Dataset, warmup: u64, timed: u64) -> Timing {
    let dev = Cpu::seed_from_u64(config.seed);
    let mut models = Models::<P>::new(&dev, config);
    let images = scaled_images(data);
    let mut stepper = Stepper::new(&dev, &models, &images, &data.labels, config);
    for i in 0..warmup {
        stepper.step(&mut models, i);
    }
    let cpu_before = process_cpu_seconds();
    let seconds = (warmup..warmup + timed)
        .map(|i| {
            let start = Instant::now();
            stepper.step(&mut models, i);
            start.elapsed().as_secs_f64()
        })
        .collect();
    let cpu_seconds = process_cpu_seconds().zip(cpu_before).map(|(b, a)| b - a);
    Timing {
        seconds,
        cpu_seconds,
    }
}

/// The median of `values` (the mean of the middle two for an even count; NaN when empty).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// CPU seconds (user + system, all threads) this process has used so far, if the system reports
/// it (Linux `/proc/self/stat`, in clock ticks of 10 ms).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// This process's peak resident set size in bytes (Linux `VmHWM`), if the system reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn peak_rss_and_cpu_time_are_reported_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_bytes().is_some_and(|b| b > 0));
            assert!(process_cpu_seconds().is_some_and(|s| s >= 0.0));
        }
    }
}
