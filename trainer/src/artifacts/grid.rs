//! Sample grids: 8×8 generated digits, white on black, as in the original paper's figures.

use crate::data::IMAGE_SIDE;
use image::GrayImage;
use std::path::Path;

/// Digits per grid side.
pub const GRID_SIDE: usize = 8;
/// Digits per grid.
pub const GRID_COUNT: usize = GRID_SIDE * GRID_SIDE;
/// Black pixels between digits.
const GAP: usize = 2;

/// Maps a tanh output in [-1, 1] to a u8 pixel, white digit on black (MNIST's convention).
pub fn to_pixel(v: f32) -> u8 {
    ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8
}

/// Lays out `pixels` (row-major 28×28 u8 images) in a grid `columns` wide.
pub fn grid_image(pixels: &[u8], columns: usize) -> GrayImage {
    let per = IMAGE_SIDE * IMAGE_SIDE;
    let count = pixels.len() / per;
    let rows = count.div_ceil(columns).max(1);
    let cell = IMAGE_SIDE + GAP;
    let mut img = GrayImage::new((columns * cell + GAP) as u32, (rows * cell + GAP) as u32);
    for (n, digit) in pixels.chunks_exact(per).enumerate() {
        let (ox, oy) = (GAP + (n % columns) * cell, GAP + (n / columns) * cell);
        for (i, &p) in digit.iter().enumerate() {
            let (x, y) = (ox + i % IMAGE_SIDE, oy + i / IMAGE_SIDE);
            img.put_pixel(x as u32, y as u32, image::Luma([p]));
        }
    }
    img
}

/// Saves generator outputs (tanh values, 784 per digit) as an 8-wide grid PNG, atomically.
pub fn save_grid(path: &Path, tanh_values: &[f32]) -> Result<(), String> {
    let pixels: Vec<u8> = tanh_values.iter().map(|&v| to_pixel(v)).collect();
    save_png(path, &grid_image(&pixels, GRID_SIDE))
}

/// Encodes a PNG in memory and writes it atomically.
pub fn save_png(path: &Path, img: &GrayImage) -> Result<(), String> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    crate::fsutil::write_atomic(path, bytes.get_ref()).map_err(|e| e.to_string())
}
