//! The per-iteration numbers a run logs, and `metrics.csv`.

use crate::eval::Quality;
use crate::fsutil::write_atomic;
use std::collections::BTreeMap;
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

/// The quality of the generator after `iteration` iterations.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QualityRow {
    /// Iterations completed.
    pub iteration: u64,
    /// Its scores.
    pub quality: Quality,
}

/// [`QualityRow`] as checkpoints of format version 2 stored it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct QualityRowV1 {
    iteration: u64,
    quality: crate::eval::quality::QualityV1,
}

impl From<QualityRowV1> for QualityRow {
    fn from(v1: QualityRowV1) -> Self {
        QualityRow {
            iteration: v1.iteration,
            quality: v1.quality.into(),
        }
    }
}

const HEADER: &str = "iteration,d_loss,g_loss,d_real,d_fake,images_per_sec,wall_seconds,\
fid,classifier_score,class_entropy_bits,min_class_share,max_class_share,mean_confidence,\
precision,recall";

/// Writes all rows as CSV, atomically: one line per iteration that has losses, scores or both
/// (the columns of the missing half are left empty).
pub fn write_csv(path: &Path, rows: &[MetricRow], quality: &[QualityRow]) -> std::io::Result<()> {
    // Six empty loss columns, eight empty score columns.
    let empty = || (",,,,,".to_owned(), ",,,,,,,".to_owned());
    let mut lines: BTreeMap<u64, (String, String)> = BTreeMap::new();
    for r in rows {
        lines.entry(r.iteration).or_insert_with(empty).0 = format!(
            "{:.6},{:.6},{:.6},{:.6},{:.1},{:.3}",
            r.d_loss, r.g_loss, r.d_real, r.d_fake, r.images_per_sec, r.wall_seconds
        );
    }
    for q in quality {
        let s = &q.quality;
        let optional = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
        lines.entry(q.iteration).or_insert_with(empty).1 = format!(
            "{:.3},{:.4},{:.4},{:.4},{:.4},{:.4},{},{}",
            s.fid,
            s.classifier_score,
            s.class_entropy_bits,
            s.min_class_share,
            s.max_class_share,
            s.mean_confidence,
            optional(s.precision),
            optional(s.recall)
        );
    }
    let mut out = String::from(HEADER);
    out.push('\n');
    for (iteration, (losses, scores)) in lines {
        out.push_str(&format!("{iteration},{losses},{scores}\n"));
    }
    write_atomic(path, out.as_bytes())
}
