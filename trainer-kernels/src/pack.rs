//! Packing: blocks of the operands copied into the contiguous, zero-padded panels the register
//! tile reads, `A` as `MR`-row panels stored column by column, `B` as `NR`-column panels stored
//! row by row. Each source layout has its own copy loop (the packing is about a sixth of the
//! product's time). All reads are bounds-checked slice accesses inside the checked views.

use crate::view::{MatRef, Rhs};

/// Packs rows `pc..pc+kc`, columns `jc..jc+nc` of `b` as `NR`-column panels, each `kc × NR`
/// row-major, zero-padded to a whole panel, into the front of `out` (grown as needed; never
/// cleared: every element of the panels is written). Returns the panels.
///
/// # Panics
/// If the block is not inside `b`.
pub(crate) fn pack_b<'o, const NR: usize>(
    b: Rhs<'_, f32>,
    (pc, kc): (usize, usize),
    (jc, nc): (usize, usize),
    out: &'o mut Vec<f32>,
) -> &'o [f32] {
    assert!(
        pc.checked_add(kc).is_some_and(|end| end <= b.rows())
            && jc.checked_add(nc).is_some_and(|end| end <= b.cols()),
        "pack_b: block outside the matrix"
    );
    let len = nc.div_ceil(NR) * kc * NR;
    if out.len() < len {
        out.resize(len, 0.0);
    }
    if kc == 0 {
        return &out[..0];
    }
    for (pi, panel) in out[..len].chunks_exact_mut(kc * NR).enumerate() {
        let j0 = jc + pi * NR;
        let w = NR.min(jc + nc - j0);
        if w < NR {
            for row in panel.chunks_exact_mut(NR) {
                row[w..].fill(0.0);
            }
        }
        let b = match b {
            Rhs::Strided(b) => b,
            Rhs::Gathered(g) => {
                // im2col on the fly: each row of the panel reads its `w` elements through the
                // column offsets from where the row offset points.
                // (Bounds-checked loads: unchecked ones and AVX-512 gathers were no faster here.)
                let cols = &g.col_offsets()[j0..j0 + w];
                let rows = &g.row_offsets()[pc..pc + kc];
                // A transposed column matrix has runs of `k` adjacent offsets (one kernel row);
                // runs of 4 (k = 4) are copied 4 floats at a time.
                let runs_of_4 = cols.len() % 4 == 0
                    && cols
                        .chunks_exact(4)
                        .all(|q| q[1] == q[0] + 1 && q[2] == q[0] + 2 && q[3] == q[0] + 3);
                for (row, &r) in panel.chunks_exact_mut(NR).zip(rows) {
                    let src = &g.data()[r as usize..];
                    if runs_of_4 {
                        for (dst, q) in row.chunks_exact_mut(4).zip(cols.chunks_exact(4)) {
                            let from: &[f32; 4] =
                                src[q[0] as usize..][..4].try_into().expect("4 floats");
                            let to: &mut [f32; 4] = dst.try_into().expect("4 floats");
                            *to = *from;
                        }
                    } else {
                        for (dst, &c) in row.iter_mut().zip(cols) {
                            *dst = src[c as usize];
                        }
                    }
                }
                continue;
            }
        };
        let (data, rs, cs) = (b.data(), b.row_stride(), b.col_stride());
        if cs == 1 && w == NR {
            // Whole panels: a copy of a fixed `NR` floats compiles to vector moves, where the
            // `w`-sized copy below is a `memmove` call per row.
            for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
                let base = (pc + p) * rs + j0;
                let src: &[f32; NR] = data[base..base + NR].try_into().expect("NR floats");
                let dst: &mut [f32; NR] = row.try_into().expect("NR floats");
                *dst = *src;
            }
        } else if cs == 1 {
            for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
                let base = (pc + p) * rs + j0;
                row[..w].copy_from_slice(&data[base..base + w]);
            }
        } else if rs == 1 {
            // Column-major source (a transposed matrix, e.g. a Linear weight): read each column
            // front to back and scatter it down the panel.
            for j in 0..w {
                let col = &data[(j0 + j) * cs + pc..][..kc];
                for (dst, &v) in panel[j..].iter_mut().step_by(NR).zip(col) {
                    *dst = v;
                }
            }
        } else {
            for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
                let base = (pc + p) * rs + j0 * cs;
                for (j, v) in row[..w].iter_mut().enumerate() {
                    *v = data[base + j * cs];
                }
            }
        }
    }
    &out[..len]
}

/// Packs all rows, columns `pc..pc+kc` of `a` into `out` as `MR`-row panels, each `kc × MR`
/// (column by column), the last zero-padded to a whole panel. `out` must hold exactly
/// `rows.div_ceil(MR)·MR·kc` floats; it may hold anything (every element is written).
///
/// # Panics
/// If the columns are not inside `a`, or `out` has another length.
pub(crate) fn pack_a<const MR: usize>(
    a: MatRef<'_, f32>,
    (pc, kc): (usize, usize),
    out: &mut [f32],
) {
    let m = a.rows();
    assert!(
        pc.checked_add(kc).is_some_and(|end| end <= a.cols())
            && Some(out.len()) == m.div_ceil(MR).checked_mul(MR * kc),
        "pack_a: block outside the matrix, or {} floats for a {m}-row panel set",
        out.len()
    );
    if kc == 0 {
        return;
    }
    let (data, rs, cs) = (a.data(), a.row_stride(), a.col_stride());
    for (pi, panel) in out.chunks_exact_mut(kc * MR).enumerate() {
        let i0 = pi * MR;
        let h = MR.min(m - i0);
        if h < MR {
            for col in panel.chunks_exact_mut(MR) {
                col[h..].fill(0.0);
            }
        }
        if rs == 1 && h == MR {
            // As in `pack_b`: fixed-size copies instead of a `memmove` call per column.
            for (p, col) in panel.chunks_exact_mut(MR).enumerate() {
                let base = i0 + (pc + p) * cs;
                let src: &[f32; MR] = data[base..base + MR].try_into().expect("MR floats");
                let dst: &mut [f32; MR] = col.try_into().expect("MR floats");
                *dst = *src;
            }
        } else if rs == 1 {
            // Column-major source (a transposed matrix): each column of the panel is contiguous.
            for (p, col) in panel.chunks_exact_mut(MR).enumerate() {
                let base = i0 + (pc + p) * cs;
                col[..h].copy_from_slice(&data[base..base + h]);
            }
        } else if cs == 1 && h == MR {
            // Row-major source: the panel's `MR` rows side by side, one column at a time (the
            // `MR` streams are read front to back; each column is one contiguous write).
            let rows: [&[f32]; MR] = std::array::from_fn(|i| &data[(i0 + i) * rs + pc..][..kc]);
            for (p, col) in panel.chunks_exact_mut(MR).enumerate() {
                for (dst, row) in col.iter_mut().zip(&rows) {
                    *dst = row[p];
                }
            }
        } else {
            for i in 0..h {
                let base = (i0 + i) * rs;
                for (p, dst) in panel[i..].iter_mut().step_by(MR).take(kc).enumerate() {
                    *dst = data[base + (pc + p) * cs];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::Gathered;

    /// Element `(i, j)` of any right-hand operand, the slow way.
    fn rhs_at(b: Rhs<'_, f32>, i: usize, j: usize) -> f32 {
        match b {
            Rhs::Strided(m) => m.get(i, j),
            Rhs::Gathered(g) => g.data()[(g.row_offsets()[i] + g.col_offsets()[j]) as usize],
        }
    }

    fn check_pack_b(b: Rhs<'_, f32>, (pc, kc): (usize, usize), (jc, nc): (usize, usize)) {
        const NR: usize = 8;
        // Stale contents, and a buffer larger than needed: both must not matter.
        let mut out = vec![f32::NAN; 1000];
        let panels = pack_b::<NR>(b, (pc, kc), (jc, nc), &mut out);
        assert_eq!(panels.len(), nc.div_ceil(NR) * kc * NR);
        for (pi, panel) in panels.chunks_exact(kc * NR).enumerate() {
            for p in 0..kc {
                for j in 0..NR {
                    let col = jc + pi * NR + j;
                    let want = if col < jc + nc {
                        rhs_at(b, pc + p, col)
                    } else {
                        0.0
                    };
                    assert_eq!(panel[p * NR + j], want, "panel {pi} ({p}, {j})");
                }
            }
        }
    }

    #[test]
    fn pack_b_copies_every_layout_and_pads_with_zeros() {
        let data: Vec<f32> = (0..400).map(|i| i as f32).collect();
        // Row-major (whole and ragged panels), column-major, general strides.
        for b in [
            MatRef::row_major(&data, 10, 20),
            MatRef::row_major(&data, 20, 10).transposed(),
            MatRef::new(&data, (10, 20), (30, 2)),
            // Strides of 0.
            MatRef::new(&data, (10, 20), (1, 0)),
            MatRef::new(&data, (10, 20), (0, 0)),
        ] {
            check_pack_b(b.into(), (0, 10), (0, 20));
            check_pack_b(b.into(), (3, 5), (4, 16));
            check_pack_b(b.into(), (9, 1), (19, 1));
        }
        // Gathered, with and without runs of 4 adjacent column offsets.
        let rows = [0, 50, 100, 7, 3];
        let runs: Vec<u32> = (0..12).map(|j| 200 + 20 * (j / 4) + j % 4).collect();
        let scattered: Vec<u32> = (0..12).map(|j| (j * 37) % 290).collect();
        for cols in [&runs, &scattered] {
            let g = Gathered::new(&data, &rows, cols);
            check_pack_b(g.into(), (0, 5), (0, 12));
            check_pack_b(g.into(), (1, 3), (4, 8));
            check_pack_b(g.into(), (2, 2), (1, 7));
        }
    }

    fn check_pack_a(a: MatRef<'_, f32>, (pc, kc): (usize, usize)) {
        const MR: usize = 4;
        let mut out = vec![f32::NAN; a.rows().div_ceil(MR) * MR * kc];
        pack_a::<MR>(a, (pc, kc), &mut out);
        for (pi, panel) in out.chunks_exact(kc * MR).enumerate() {
            for p in 0..kc {
                for i in 0..MR {
                    let row = pi * MR + i;
                    let want = if row < a.rows() {
                        a.get(row, pc + p)
                    } else {
                        0.0
                    };
                    assert_eq!(panel[p * MR + i], want, "panel {pi} ({p}, {i})");
                }
            }
        }
    }

    #[test]
    fn pack_a_copies_every_layout_and_pads_with_zeros() {
        let data: Vec<f32> = (0..400).map(|i| i as f32).collect();
        for a in [
            MatRef::row_major(&data, 9, 11),
            MatRef::row_major(&data, 8, 12),
            MatRef::row_major(&data, 11, 9).transposed(),
            MatRef::row_major(&data, 12, 8).transposed(),
            MatRef::new(&data, (9, 11), (25, 2)),
            // Strides of 0: every row (column) the same.
            MatRef::new(&data, (6, 11), (0, 3)),
            MatRef::new(&data, (9, 5), (7, 0)),
        ] {
            check_pack_a(a, (0, a.cols()));
            check_pack_a(a, (1, a.cols() - 2));
            check_pack_a(a, (a.cols() - 1, 1));
        }
    }

    #[test]
    #[should_panic(expected = "pack_a")]
    fn pack_a_refuses_a_short_buffer() {
        let data = [0.0f32; 16];
        pack_a::<4>(MatRef::row_major(&data, 4, 4), (0, 4), &mut [0.0; 15]);
    }

    #[test]
    #[should_panic(expected = "pack_b")]
    fn pack_b_refuses_a_block_outside_the_matrix() {
        let data = [0.0f32; 16];
        let _ = pack_b::<4>(
            MatRef::row_major(&data, 4, 4).into(),
            (2, 3),
            (0, 4),
            &mut Vec::new(),
        );
    }
}
