//! The loss plot (D and G losses, mean D(x) and D(G(z))) and the quality plot (FID and
//! classifier score) against iterations.

use crate::fsutil::write_atomic;
use crate::train::{MetricRow, QualityRow};
use image::ImageEncoder;
use plotters::prelude::*;
use std::path::Path;

/// Width and height of both plots in pixels.
const SIZE: (u32, u32) = (900, 600);

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Draws into an RGB buffer of [`SIZE`] and encodes it as PNG (with the `image` version the
/// workspace already uses; plotters' own encoder would pull in a second one).
fn render_png(
    draw: impl FnOnce(&mut [u8]) -> DrawResult,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut rgb = vec![0u8; SIZE.0 as usize * SIZE.1 as usize * 3];
    draw(&mut rgb)?;
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png).write_image(
        &rgb,
        SIZE.0,
        SIZE.1,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(png)
}

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

/// Draws `losses.png` (written atomically).
pub fn save_loss_plot(path: &Path, rows: &[MetricRow]) -> Result<(), String> {
    if rows.is_empty() {
        return Ok(());
    }
    register_font()?;
    let png =
        render_png(|rgb| draw(rgb, rows)).map_err(|e| format!("cannot draw the loss plot: {e}"))?;
    write_atomic(path, &png).map_err(|e| e.to_string())
}

/// Draws `quality.png`: FID (log scale) and classifier score at each evaluation.
pub fn save_quality_plot(path: &Path, rows: &[QualityRow]) -> Result<(), String> {
    if rows.is_empty() {
        return Ok(());
    }
    register_font()?;
    let png = render_png(|rgb| draw_quality(rgb, rows))
        .map_err(|e| format!("cannot draw the quality plot: {e}"))?;
    write_atomic(path, &png).map_err(|e| e.to_string())
}

fn draw_quality(rgb: &mut [u8], rows: &[QualityRow]) -> DrawResult {
    let root = BitMapBackend::with_buffer(rgb, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(330);
    let last = rows.last().map_or(1, |r| r.iteration).max(1);
    let fids = || rows.iter().map(|r| r.quality.fid.max(1e-3));
    let (low, high) = fids().fold((f64::INFINITY, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let mut fid = ChartBuilder::on(&upper)
        .caption("Quality (built-in MNIST classifier)", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0u64..last, ((low * 0.8)..(high * 1.25)).log_scale())?;
    fid.configure_mesh().y_desc("FID (log)").draw()?;
    fid.draw_series(LineSeries::new(
        rows.iter().zip(fids()).map(|(r, v)| (r.iteration, v)),
        RED,
    ))?;
    fid.draw_series(
        rows.iter()
            .zip(fids())
            .map(|(r, v)| Circle::new((r.iteration, v), 3, RED.filled())),
    )?;
    let mut score = ChartBuilder::on(&lower)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0u64..last, 0f64..10.5)?;
    score
        .configure_mesh()
        .y_desc("classifier score")
        .x_desc("iteration")
        .draw()?;
    score.draw_series(LineSeries::new(
        rows.iter()
            .map(|r| (r.iteration, r.quality.classifier_score)),
        BLUE,
    ))?;
    root.present()?;
    Ok(())
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// One curve: its legend, colour and the value it plots.
type Series = (&'static str, RGBColor, fn(&MetricRow) -> f32);

fn draw(rgb: &mut [u8], rows: &[MetricRow]) -> DrawResult {
    let root = BitMapBackend::with_buffer(rgb, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(360);
    let max_loss = rows
        .iter()
        .flat_map(|r| [r.d_loss, r.g_loss])
        .filter(|v| v.is_finite())
        .fold(0.5f32, f32::max)
        .min(20.0);
    let losses: [Series; 2] = [
        ("D loss", RED, |r| r.d_loss),
        ("G loss", BLUE, |r| r.g_loss),
    ];
    let outputs: [Series; 2] = [
        ("D(x)", GREEN, |r| r.d_real),
        ("D(G(z))", MAGENTA, |r| r.d_fake),
    ];
    panel(
        &upper,
        rows,
        Some("GAN losses"),
        "BCE loss",
        None,
        max_loss * 1.05,
        &losses,
    )?;
    panel(
        &lower,
        rows,
        None,
        "mean D",
        Some("iteration"),
        1.0,
        &outputs,
    )?;
    root.present()?;
    Ok(())
}

/// One chart of `series` against the iteration, y from 0 to `y_max`, with a legend.
fn panel(
    area: &Area<'_>,
    rows: &[MetricRow],
    caption: Option<&str>,
    y_desc: &str,
    x_desc: Option<&str>,
    y_max: f32,
    series: &[Series],
) -> Result<(), Box<dyn std::error::Error>> {
    let last = rows.last().map_or(1, |r| r.iteration).max(1);
    let mut builder = ChartBuilder::on(area);
    if let Some(caption) = caption {
        builder.caption(caption, ("sans-serif", 20));
    }
    let mut chart = builder
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0u64..last, 0f32..y_max)?;
    let mut mesh = chart.configure_mesh();
    mesh.y_desc(y_desc);
    if let Some(x_desc) = x_desc {
        mesh.x_desc(x_desc);
    }
    mesh.draw()?;
    for &(name, color, pick) in series {
        chart
            .draw_series(LineSeries::new(
                rows.iter().map(|r| (r.iteration, pick(r))),
                color,
            ))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
