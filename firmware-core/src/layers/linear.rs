//! Fully connected layer (`Linear`, with BatchNorm folded in), int8 × int8 → int32.
//!
//! Weights are one row of `IN` int8 per output neuron, rows in the order the layer's outputs are
//! stored. For `fc` that order is HWC — neuron `(c, y, x)` at index `(y·7 + x)·64 + c` — so that
//! the next layer reads every pixel's channel vector contiguously; each group of `CH` consecutive
//! neurons cycles through the `CH` requantisation channels.

use super::rows::Prepared;
use super::{read_i32, QuantLayer};
use crate::requant::ChannelRequant;

/// Computes `out[j] = epilogue(bias[j] + Σᵢ w[j][i]·input[i], requant[j mod CH])` for every output.
///
/// `out.len()` outputs are produced, grouped into positions of `CH` channels.
// Not inlined: its frame (accumulators, prepared requantisers) is gone before the next layer
// runs, so it does not add to the peak stack.
#[inline(never)]
pub(crate) fn forward<T, const IN: usize, const CH: usize>(
    input: &[i8; IN],
    layer: &QuantLayer<'_>,
    out: &mut [T],
    mut epilogue: impl FnMut(i32, ChannelRequant) -> T,
) {
    let x = Prepared::new(input);
    let requants = layer.requant.prepare::<CH>();
    let positions = out
        .chunks_exact_mut(CH)
        .zip(layer.weights.chunks_exact(const { CH * IN }))
        .zip(layer.bias.chunks_exact(const { CH * 4 }));
    for ((out_px, w_px), b_px) in positions {
        let mut acc = [0i32; CH];
        x.dots(&mut acc, w_px);
        // The bias goes in last: the same sum modulo 2³², and the kernels need no start values.
        let outputs = out_px.iter_mut().zip(&acc).zip(b_px.chunks_exact(4));
        for (((o, &a), bias), &requant) in outputs.zip(&requants) {
            *o = epilogue(a.wrapping_add(read_i32(bias)), requant);
        }
    }
}

/// Plain scalar reference: the textbook `y = W·x + b` with explicit indices.
#[cfg(test)]
pub(crate) fn reference(input: &[i8], weights: &[u8], bias: &[u8]) -> Vec<i32> {
    let outputs = bias.len() / 4;
    let mut acc = vec![0i32; outputs];
    for (j, a) in acc.iter_mut().enumerate() {
        let b = &bias[4 * j..4 * j + 4];
        *a = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        for i in 0..input.len() {
            *a += i32::from(weights[j * input.len() + i] as i8) * i32::from(input[i]);
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::RequantTable;
    use super::*;
    use crate::latent::SplitMix32;

    fn layer<'a>(w: &'a [u8], b: &'a [u8], m: &'a [u8], s: &'a [u8]) -> QuantLayer<'a> {
        QuantLayer {
            weights: w,
            bias: b,
            requant: RequantTable {
                multipliers: m,
                shifts: s,
            },
        }
    }

    #[test]
    fn hand_computed() {
        // Two positions × two channels, three inputs.
        let x = [1i8, -2, 3];
        let w: Vec<u8> = [[1i8, 0, 0], [0, 1, 0], [1, 1, 1], [-1, -1, -128]]
            .iter()
            .flatten()
            .map(|&v| v as u8)
            .collect();
        let b: Vec<u8> = [10i32, 20, 30, -40]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let (m, s) = ([0u8; 8], [1u8; 2]);
        let mut out = [0i32; 4];
        forward::<_, 3, 2>(&x, &layer(&w, &b, &m, &s), &mut out, |acc, _| acc);
        assert_eq!(out, [11, 18, 32, -40 + 1 - 384]);
        assert_eq!(reference(&x, &w, &b), out);
    }

    #[test]
    fn requant_channel_cycles_with_position() {
        let x = [1i8];
        let w = [1u8; 6];
        let b = [0u8; 24];
        // Channel c's multiplier is c+1 (shift 1 → factor (c+1)/2); the epilogue reports it.
        let m: Vec<u8> = (1..=3i32).flat_map(|v| v.to_le_bytes()).collect();
        let s = [1u8; 3];
        let mut out = [0i32; 6];
        forward::<_, 1, 3>(&x, &layer(&w, &b, &m, &s), &mut out, |_, r| {
            r.requant().multiplier()
        });
        assert_eq!(out, [1, 2, 3, 1, 2, 3]);
    }

    #[test]
    fn matches_reference_on_random_data() {
        let mut rng = SplitMix32::new(3);
        for _ in 0..20 {
            const IN: usize = 32;
            const CH: usize = 8;
            let outputs = CH * 5;
            let x: [i8; IN] = random_i8(&mut rng, IN, -128, 127).try_into().unwrap();
            let w = random_bytes(&mut rng, outputs * IN);
            let b = random_bias(&mut rng, outputs, 1 << 30);
            let (m, s) = (vec![0u8; CH * 4], vec![1u8; CH]);
            let mut out = vec![0i32; outputs];
            forward::<_, IN, CH>(&x, &layer(&w, &b, &m, &s), &mut out, |acc, _| acc);
            assert_eq!(out, reference(&x, &w, &b));
        }
    }

    #[test]
    fn short_slices_truncate_instead_of_panicking() {
        let x = [1i8; 4];
        let mut out = [7i32; 4];
        forward::<_, 4, 2>(
            &x,
            &layer(&[1; 9], &[0; 4], &[], &[]),
            &mut out,
            |acc, _| acc,
        );
        assert_eq!(out, [7; 4]);
    }
}
