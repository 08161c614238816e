//! The per-iteration numbers a run logs, and `metrics.csv`.

use crate::fsutil::write_atomic;
use std::path::Path;

/// One logged iteration.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricRow {
    /// Iterations completed.
    pub iteration: u64,
    /// Discriminator loss: BCE on real (target 1) plus BCE on fake (target 0). This and the next
    /// three fields are means over the iterations since the previous row.
    pub d_loss: f32,
    /// Non-saturating generator loss: BCE of D(G(z)) against target 1.
    pub g_loss: f32,
    /// Mean D(x) on the real batch.
    pub d_real: f32,
    /// Mean D(G(z)) on the fake batch of the discriminator step.
    pub d_fake: f32,
    /// Training throughput since the previous row (real images per second).
    pub images_per_sec: f64,
    /// Training seconds since the run began (resumed runs included).
    pub wall_seconds: f64,
}

const HEADER: &str = "iteration,d_loss,g_loss,d_real,d_fake,images_per_sec,wall_seconds";

/// Writes all rows as CSV, atomically.
pub fn write_csv(path: &Path, rows: &[MetricRow]) -> std::io::Result<()> {
    let mut out = String::from(HEADER);
    out.push('\n');
    for r in rows {
        out.push_str(&format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.1},{:.3}\n",
            r.iteration, r.d_loss, r.g_loss, r.d_real, r.d_fake, r.images_per_sec, r.wall_seconds
        ));
    }
    write_atomic(path, out.as_bytes())
}
