//! The loss plot: D and G losses and mean D(x), D(G(z)) against iterations.

use crate::train::MetricRow;
use plotters::prelude::*;
use std::path::Path;

/// Registers the compiled-in font under the name the charts use (once per process).
fn register_font() -> Result<(), String> {
    static REGISTERED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(
                "sans-serif",
                FontStyle::Normal,
                epaint_default_fonts::UBUNTU_LIGHT,
            )
            .map_err(|_| "the compiled-in font does not load".to_owned())
        })
        .clone()
}

/// Draws `losses.png` (written to a temp file, then renamed).
pub fn save_loss_plot(path: &Path, rows: &[MetricRow]) -> Result<(), String> {
    if rows.is_empty() {
        return Ok(());
    }
    register_font()?;
    let tmp = path.with_extension("tmp.png");
    draw(&tmp, rows).map_err(|e| format!("cannot draw the loss plot: {e}"))?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}

fn draw(path: &Path, rows: &[MetricRow]) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(360);
    let last = rows.last().map_or(1, |r| r.iteration).max(1);
    let max_loss = rows
        .iter()
        .flat_map(|r| [r.d_loss, r.g_loss])
        .filter(|v| v.is_finite())
        .fold(0.5f32, f32::max)
        .min(20.0);

    let mut losses = ChartBuilder::on(&upper)
        .caption("GAN losses", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0u64..last, 0f32..max_loss * 1.05)?;
    losses.configure_mesh().y_desc("BCE loss").draw()?;
    for (name, color, pick) in [
        (
            "D loss",
            RED,
            (|r: &MetricRow| r.d_loss) as fn(&MetricRow) -> f32,
        ),
        ("G loss", BLUE, |r: &MetricRow| r.g_loss),
    ] {
        losses
            .draw_series(LineSeries::new(
                rows.iter().map(|r| (r.iteration, pick(r))),
                color,
            ))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
    }
    losses
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()?;

    let mut probs = ChartBuilder::on(&lower)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0u64..last, 0f32..1f32)?;
    probs
        .configure_mesh()
        .x_desc("iteration")
        .y_desc("mean D")
        .draw()?;
    for (name, color, pick) in [
        (
            "D(x)",
            GREEN,
            (|r: &MetricRow| r.d_real) as fn(&MetricRow) -> f32,
        ),
        ("D(G(z))", MAGENTA, |r: &MetricRow| r.d_fake),
    ] {
        probs
            .draw_series(LineSeries::new(
                rows.iter().map(|r| (r.iteration, pick(r))),
                color,
            ))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
    }
    probs
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
