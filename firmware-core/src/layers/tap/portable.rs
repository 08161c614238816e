//! The portable tap kernel (RISC-V, Cortex-M3, the host…): the row is kept as int8 bytes and the
//! run of pixels is register-blocked in plain Rust, so each weight is loaded once per run and
//! each MAC is a load, a multiply and an add.

use super::ROW_VALUES;

/// Two input-row slots (the rows `iy − 1` and `iy` a pair of output rows reads), as int8 HWC.
pub(crate) struct Rows {
    slots: [[i8; ROW_VALUES]; 2],
}

impl Rows {
    pub const fn new() -> Self {
        Self {
            slots: [[0; ROW_VALUES]; 2],
        }
    }

    /// Copies one HWC input row (`PX` pixels × `CIN` channels) into slot `slot % 2`.
    #[inline]
    pub fn load<const CIN: usize, const PX: usize>(&mut self, slot: usize, row: &[i8]) {
        let len = const {
            assert!(CIN * PX <= ROW_VALUES);
            CIN * PX
        };
        let dst = self.slots.get_mut(slot % 2).and_then(|s| s.get_mut(..len));
        if let (Some(dst), Some(src)) = (dst, row.get(..len)) {
            dst.copy_from_slice(src);
        }
    }

    /// `acc[j] += Σ_ci w[ci] · x[first + j][ci]` (wrapping) for the row in slot `slot % 2`; does
    /// nothing if the run does not fit in the row.
    #[inline]
    pub fn tap<const CIN: usize, const PX: usize, const P: usize>(
        &self,
        slot: usize,
        acc: &mut [i32; P],
        w: &[u8; CIN],
        first: usize,
    ) {
        let run = self.slots.get(slot % 2).and_then(|s| {
            // The run must lie inside the row's `PX` pixels, not just inside the slot.
            (first.checked_add(P)? <= PX).then_some(())?;
            s.get(first.checked_mul(CIN)?..)?.get(..P.checked_mul(CIN)?)
        });
        let Some(first_px) = run.and_then(|r| r.first_chunk::<CIN>()) else {
            return;
        };
        let mut pixels = [first_px; P];
        for (p, chunk) in pixels
            .iter_mut()
            .zip(run.into_iter().flat_map(|r| r.chunks_exact(CIN)))
        {
            if let Ok(chunk) = chunk.try_into() {
                *p = chunk;
            }
        }
        // Channel-outer loop: the `P` accumulators stay in registers and each weight is read
        // once for the whole run.
        let mut sums = *acc;
        for (ci, &w) in w.iter().enumerate() {
            let w = i32::from(w as i8);
            for (sum, px) in sums.iter_mut().zip(&pixels) {
                // `ci < CIN`: it indexes `w`, an array of the same length.
                let x = px.get(ci).copied().unwrap_or(0);
                *sum = sum.wrapping_add(w.wrapping_mul(i32::from(x)));
            }
        }
        *acc = sums;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;

    struct Portable;
    impl TapImpl for Portable {
        fn run<const CIN: usize, const PX: usize, const P: usize>(
            case: &Case<CIN, PX, P>,
        ) -> [i32; P] {
            let mut rows = Rows::new();
            rows.load::<CIN, PX>(1, &case.row);
            let mut acc = case.acc;
            rows.tap::<CIN, PX, P>(1, &mut acc, &case.w, case.first);
            acc
        }
    }

    #[test]
    fn matches_reference() {
        check_layer_shapes::<Portable>(true);
    }

    #[test]
    fn a_run_past_the_row_does_nothing() {
        let mut rows = Rows::new();
        rows.load::<4, 3>(0, &[1; 12]);
        let mut acc = [5; 2];
        rows.tap::<4, 3, 2>(0, &mut acc, &[1; 4], 2);
        assert_eq!(acc, [5; 2]);
    }
}
