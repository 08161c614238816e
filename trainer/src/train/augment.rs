//! Differentiable augmentation of the discriminator's inputs (DiffAugment, Zhao et al., NeurIPS
//! 2020): real and generated images alike are shifted by a few pixels before the discriminator
//! sees them, and the generator's gradient flows back through the shift. The discriminator then
//! cannot memorise exact pixel positions of the training images, and the generator is not pushed
//! towards them.

use super::batches::{stream, Purpose};
use crate::models::{Rows, PIXELS};
use dfdx::prelude::*;
use rand::Rng;

const SIDE: usize = 28;
const _: () = assert!(SIDE * SIDE == PIXELS);

/// Pixel value of the background (black) in the networks' [-1, 1] scale: what moves in at the
/// edges.
const BACKGROUND: f32 = -1.0;

/// Which of the batches of an iteration a shift is drawn for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Batch {
    /// The real batch of the discriminator step.
    Real = 0,
    /// The generated batch of the discriminator step.
    DiscriminatorFake = 1,
    /// The generated batch of the generator step.
    GeneratorFake = 2,
}

/// `count` shifts `(dx, dy)`, each in `-max..=max`, for `batch` of iteration `step`.
pub fn random_shifts(seed: u64, step: u64, batch: Batch, count: usize, max: u8) -> Vec<(i8, i8)> {
    // One stream per iteration; the three batches take disjoint stretches of it.
    let mut rng = stream(seed, Purpose::Augment, step * 4 + batch as u64);
    let max = max as i8;
    (0..count)
        .map(|_| (rng.gen_range(-max..=max), rng.gen_range(-max..=max)))
        .collect()
}

/// Where each output pixel of a shifted image reads from: the source pixel, or `PIXELS` (the
/// appended background column) where the shift brings in space from outside the image.
fn gather_indices(shifts: &[(i8, i8)]) -> Vec<usize> {
    let mut indices = Vec::with_capacity(shifts.len() * PIXELS);
    for &(dx, dy) in shifts {
        for y in 0..SIDE as isize {
            for x in 0..SIDE as isize {
                let (sx, sy) = (x - dx as isize, y - dy as isize);
                let inside = (0..SIDE as isize).contains(&sx) && (0..SIDE as isize).contains(&sy);
                indices.push(if inside {
                    sy as usize * SIDE + sx as usize
                } else {
                    PIXELS
                });
            }
        }
    }
    indices
}

/// Shifts image `i` of `images` by `shifts[i]` (`dx` right, `dy` down), filling with background.
/// Recorded on the images' tape, so gradients reach the pixels they came from.
pub fn translate<T: Tape<f32, Cpu> + std::fmt::Debug>(
    images: Rows<Const<PIXELS>, T>,
    shifts: &[(i8, i8)],
) -> Rows<Const<PIXELS>, T> {
    let rows = images.shape().0;
    assert_eq!(shifts.len(), rows, "one shift per image");
    let dev = images.device().clone();
    let padded =
        crate::nn::try_append_columns(images, &vec![BACKGROUND; rows]).expect("CPU allocation");
    let indices: Tensor<(usize, Const<PIXELS>), usize, Cpu> =
        dev.tensor_from_vec(gather_indices(shifts), (rows, Const));
    padded.gather(indices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shift_moves_pixels_and_fills_with_background() {
        let dev = Cpu::default();
        let mut image = vec![BACKGROUND; PIXELS];
        image[3 * SIDE + 5] = 0.5; // (x 5, y 3)
        image[27 * SIDE + 27] = 1.0; // the corner: shifted out
        let mut two = image.clone();
        two.extend((0..PIXELS).map(|i| i as f32));
        let images: Rows<Const<PIXELS>> = dev.tensor_from_vec(two, (2, Const));
        let out = translate(images, &[(2, -1), (0, 0)]).as_vec();
        let mut expected = vec![BACKGROUND; PIXELS];
        expected[2 * SIDE + 7] = 0.5;
        assert_eq!(&out[..PIXELS], &expected[..]);
        // No shift: unchanged.
        assert!(out[PIXELS..]
            .iter()
            .enumerate()
            .all(|(i, &v)| v == i as f32));
    }

    #[test]
    fn gradients_flow_back_to_the_source_pixels() {
        let dev = Cpu::default();
        let images: Rows<Const<PIXELS>> = dev.tensor_from_vec(vec![0.0; PIXELS], (1, Const));
        let weights: Vec<f32> = (0..PIXELS).map(|i| i as f32).collect();
        let w: Rows<Const<PIXELS>> = dev.tensor_from_vec(weights.clone(), (1, Const));
        let shifted = translate(images.leaky_trace(), &[(1, 0)]);
        let grads = (shifted * w).sum::<Rank0, _>().backward();
        let g = grads.get(&images).as_vec();
        // Source pixel (x, y) lands on (x + 1, y): its gradient is that pixel's weight; the last
        // column leaves the image and gets none.
        for y in 0..SIDE {
            for x in 0..SIDE {
                let expected = if x + 1 < SIDE {
                    weights[y * SIDE + x + 1]
                } else {
                    0.0
                };
                assert_eq!(g[y * SIDE + x], expected, "({x}, {y})");
            }
        }
    }

    #[test]
    fn shifts_are_bounded_reproducible_and_differ_between_batches() {
        let a = random_shifts(1, 5, Batch::Real, 1000, 2);
        assert!(a
            .iter()
            .all(|&(x, y)| (-2..=2).contains(&x) && (-2..=2).contains(&y)));
        assert!(a.contains(&(-2, 2)) && a.contains(&(2, -2)));
        assert_eq!(a, random_shifts(1, 5, Batch::Real, 1000, 2));
        assert_ne!(a, random_shifts(1, 5, Batch::GeneratorFake, 1000, 2));
        assert_ne!(a, random_shifts(1, 6, Batch::Real, 1000, 2));
    }
}
