//! Layout changes and per-channel sums of NCHW tensors, for the convolutions, whose matrix
//! products work on channel-major data `(chan, batch·plane)`.

use dfdx::prelude::Dtype;
use rayon::prelude::*;

use super::float::NnFloat;
use super::scratch::scratch;

/// `(batch, chan, plane)` → `(chan, batch·plane)`: writes `dst[c][b·plane + i] = src[b][c][i]`.
/// The result comes from [`scratch`] (every element is overwritten); [`recycle`] it when done.
pub(crate) fn batch_to_channel_major<E: NnFloat>(
    src: &[E],
    batch: usize,
    chan: usize,
    plane: usize,
) -> Vec<E> {
    assert_eq!(src.len(), batch * chan * plane);
    if batch == 1 || plane == 0 {
        return src.to_vec();
    }
    let mut dst = scratch(src.len());
    dst.par_chunks_mut(batch * plane)
        .enumerate()
        .for_each(|(c, out)| {
            for (b, d) in out.chunks_exact_mut(plane).enumerate() {
                d.copy_from_slice(&src[(b * chan + c) * plane..][..plane]);
            }
        });
    dst
}

/// `(chan, batch·plane)` added into `(batch, chan, plane)`: `dst[b][c][i] += src[c][b·plane + i]`.
pub(crate) fn add_channel_major_to_batch<E: Dtype>(
    src: &[E],
    batch: usize,
    chan: usize,
    plane: usize,
    dst: &mut [E],
) {
    assert_eq!(src.len(), batch * chan * plane);
    assert_eq!(dst.len(), src.len());
    if plane == 0 {
        return;
    }
    dst.par_chunks_mut(plane).enumerate().for_each(|(bc, d)| {
        let (b, c) = (bc / chan, bc % chan);
        let s = &src[(c * batch + b) * plane..][..plane];
        for (dv, sv) in d.iter_mut().zip(s) {
            *dv += *sv;
        }
    });
}

/// `grad_bias[c] += Σ_b Σ_i grad_out[b][c][i]` for an NCHW gradient with `plane = H·W`: per
/// channel, image by image (channels in parallel; each channel's sum keeps that order).
pub(crate) fn add_bias_grad<E: Dtype>(grad_out: &[E], chan: usize, plane: usize, gb: &mut [E]) {
    assert_eq!(gb.len(), chan);
    if chan * plane == 0 {
        return;
    }
    assert_eq!(grad_out.len() % (chan * plane), 0);
    gb.par_iter_mut().enumerate().for_each(|(c, g)| {
        for img in grad_out.chunks_exact(chan * plane) {
            let mut acc = E::default();
            for v in &img[c * plane..][..plane] {
                acc += *v;
            }
            *g += acc;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::scratch::{poison_pool, recycle};

    #[test]
    fn layout_changes_round_trip_over_stale_temporaries() {
        // A stale NaN-filled buffer of exactly the size asked for must be overwritten completely.
        let (batch, chan, plane) = (4, 16, 256);
        let img: Vec<f64> = (0..batch * chan * plane).map(|i| i as f64).collect();
        poison_pool::<f64>(img.len());
        let cm = batch_to_channel_major(&img, batch, chan, plane);
        for b in 0..batch {
            for c in 0..chan {
                assert_eq!(
                    cm[(c * batch + b) * plane..][..plane],
                    img[(b * chan + c) * plane..][..plane]
                );
            }
        }
        let mut back = vec![1.0; img.len()];
        add_channel_major_to_batch(&cm, batch, chan, plane, &mut back);
        assert!(back.iter().zip(&img).all(|(b, i)| *b == i + 1.0));
        recycle(cm);
    }

    #[test]
    fn bias_gradient_sums_each_channel_over_batch_and_plane() {
        // 2 images, 3 channels, planes of 2: channel c of image b holds 10·b + c + 0.5·i.
        let grad: Vec<f64> = (0..2)
            .flat_map(|b| {
                (0..3).flat_map(move |c| {
                    (0..2).map(move |i| f64::from(10 * b + c) + 0.5 * f64::from(i))
                })
            })
            .collect();
        let mut gb = vec![100.0; 3];
        add_bias_grad(&grad, 3, 2, &mut gb);
        // Σ over b, i ∈ {0, 1} of 10·b + c + 0.5·i = 4·c + 21, added to what was there.
        let want: Vec<f64> = (0..3).map(|c| 100.0 + 4.0 * f64::from(c) + 21.0).collect();
        assert_eq!(gb, want);
    }
}
