//! The matrix views the products take, each checked once when it is made, so that no kernel has to
//! trust its caller:
//!
//! * [`MatRef`]: a read-only strided matrix over a slice; every element lies in the slice.
//! * [`Gathered`]: a read-only matrix addressed through row and column offset tables (an im2col
//!   column matrix read in place); every element lies in its slice.
//! * [`MatMut`]: a mutable row-strided matrix; its rows do not overlap, it holds the only access
//!   to its elements, and [`MatMut::split_at_col`] hands threads disjoint column ranges of it.
//!
//! Constructors either return a [`ViewError`] (`try_new`) or panic with it (`new`, `row_major`),
//! before any element is touched.

use std::marker::PhantomData;
use std::ptr::NonNull;

/// Why a slice cannot be viewed as the matrix asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// Some element lies past the end of the slice (or its index overflows `usize`).
    #[error("a {rows}×{cols} matrix with strides {rs}/{cs} does not fit in {len} elements")]
    DoesNotFit {
        /// Rows of the matrix.
        rows: usize,
        /// Columns of the matrix.
        cols: usize,
        /// Its row stride.
        rs: usize,
        /// Its column stride.
        cs: usize,
        /// Elements in the slice.
        len: usize,
    },
    /// A stride larger than `isize::MAX` elements (pointer offsets are `isize`).
    #[error("stride {0} exceeds isize::MAX")]
    StrideTooLarge(usize),
    /// The rows of a mutable view would share elements.
    #[error("mutable rows of {cols} elements only {rs} apart would overlap")]
    RowsOverlap {
        /// Columns of the matrix.
        cols: usize,
        /// Its row stride.
        rs: usize,
    },
}

/// Whether every element `(i, j)`, `i < rows`, `j < cols`, at `i·rs + j·cs` lies below `len`
/// (checked arithmetic: an index that overflows does not fit).
fn check_fits(
    (rows, cols): (usize, usize),
    (rs, cs): (usize, usize),
    len: usize,
) -> Result<(), ViewError> {
    for stride in [rs, cs] {
        if stride > isize::MAX as usize {
            return Err(ViewError::StrideTooLarge(stride));
        }
    }
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let last = (rows - 1)
        .checked_mul(rs)
        .and_then(|r| (cols - 1).checked_mul(cs).and_then(|c| r.checked_add(c)));
    match last {
        Some(last) if last < len => Ok(()),
        _ => Err(ViewError::DoesNotFit {
            rows,
            cols,
            rs,
            cs,
            len,
        }),
    }
}

/// A read-only strided matrix: element `(i, j)` is `data[i·rs + j·cs]`.
///
/// Invariant (checked by every constructor): each element of the `rows × cols` matrix lies inside
/// `data`, and both strides are at most `isize::MAX`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, E> {
    data: &'a [E],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a, E> MatRef<'a, E> {
    /// The `rows × cols` matrix with row stride `rs` and column stride `cs` in `data`.
    ///
    /// # Errors
    /// If an element lies outside `data` or a stride exceeds `isize::MAX`.
    pub fn try_new(
        data: &'a [E],
        (rows, cols): (usize, usize),
        (rs, cs): (usize, usize),
    ) -> Result<Self, ViewError> {
        check_fits((rows, cols), (rs, cs), data.len())?;
        Ok(Self {
            data,
            rows,
            cols,
            rs,
            cs,
        })
    }

    /// [`MatRef::try_new`] for shapes the caller knows to fit.
    ///
    /// # Panics
    /// With the [`ViewError`] if they do not.
    #[track_caller]
    pub fn new(data: &'a [E], shape: (usize, usize), strides: (usize, usize)) -> Self {
        Self::try_new(data, shape, strides).unwrap_or_else(|e| panic!("matrix view: {e}"))
    }

    /// The row-major `rows × cols` matrix at the start of `data`.
    ///
    /// # Panics
    /// If `data` is shorter than `rows·cols`.
    #[track_caller]
    pub fn row_major(data: &'a [E], rows: usize, cols: usize) -> Self {
        Self::new(data, (rows, cols), (cols, 1))
    }

    /// The transpose: the same elements, rows for columns.
    pub fn transposed(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Distance between vertically adjacent elements.
    pub fn row_stride(&self) -> usize {
        self.rs
    }

    /// Distance between horizontally adjacent elements.
    pub fn col_stride(&self) -> usize {
        self.cs
    }

    /// The slice the elements lie in.
    pub fn data(&self) -> &'a [E] {
        self.data
    }
}

impl<'a, E: Copy> MatRef<'a, E> {
    /// The `rows × cols` matrix stored at the start of `data`, row-major or (`column_major`) as
    /// the transpose of a row-major `cols × rows` one.
    ///
    /// # Panics
    /// If `data` is shorter than `rows·cols`.
    #[track_caller]
    pub fn stored(data: &'a [E], (rows, cols): (usize, usize), column_major: bool) -> Self {
        if column_major {
            Self::row_major(data, cols, rows).transposed()
        } else {
            Self::row_major(data, rows, cols)
        }
    }

    /// Element `(i, j)`.
    ///
    /// # Panics
    /// Unless `i < rows` and `j < cols`.
    pub fn get(&self, i: usize, j: usize) -> E {
        assert!(
            i < self.rows && j < self.cols,
            "({i}, {j}) out of the matrix"
        );
        self.data[i * self.rs + j * self.cs]
    }
}

/// A read-only matrix addressed through two offset tables: element `(i, j)` is
/// `data[rows[i] + cols[j]]`. An im2col column matrix, or (swapping the tables) its transpose,
/// read in place.
///
/// Invariant (checked by [`Gathered::new`], the only way to make one): every `rows[i] + cols[j]`
/// lies inside `data`.
#[derive(Clone, Copy, Debug)]
pub struct Gathered<'a, E> {
    data: &'a [E],
    rows: &'a [u32],
    cols: &'a [u32],
}

impl<'a, E: Copy> Gathered<'a, E> {
    /// # Panics
    /// Unless every element lies inside `data` (the largest row offset plus the largest column
    /// offset is below its length).
    #[track_caller]
    pub fn new(data: &'a [E], rows: &'a [u32], cols: &'a [u32]) -> Self {
        let max = |t: &[u32]| t.iter().copied().max().map(|v| v as usize);
        if let (Some(r), Some(c)) = (max(rows), max(cols)) {
            assert!(
                r.checked_add(c).is_some_and(|last| last < data.len()),
                "gathered matrix: offsets {r} + {c} out of {} elements",
                data.len()
            );
        }
        Self { data, rows, cols }
    }

    /// The elements the offsets point into.
    pub fn data(&self) -> &'a [E] {
        self.data
    }

    /// The row offsets (one per row).
    pub fn row_offsets(&self) -> &'a [u32] {
        self.rows
    }

    /// The column offsets (one per column).
    pub fn col_offsets(&self) -> &'a [u32] {
        self.cols
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols.len()
    }

    /// The transposed matrix (the same elements, the tables swapped).
    pub fn transposed(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
        }
    }

    /// Writes the matrix out row-major into `out`.
    ///
    /// # Panics
    /// Unless `out` holds exactly `rows·cols` elements.
    pub fn write_row_major(self, out: &mut [E]) {
        assert_eq!(
            Some(out.len()),
            self.rows.len().checked_mul(self.cols.len()),
            "gathered matrix: {}×{} written into {} elements",
            self.rows.len(),
            self.cols.len(),
            out.len()
        );
        if self.cols.is_empty() {
            return;
        }
        for (dst, &r) in out.chunks_exact_mut(self.cols.len()).zip(self.rows) {
            let src = &self.data[r as usize..];
            for (d, &c) in dst.iter_mut().zip(self.cols) {
                *d = src[c as usize];
            }
        }
    }
}

/// The right-hand operand of a product: a strided matrix, or one gathered through offsets.
#[derive(Clone, Copy, Debug)]
pub enum Rhs<'a, E> {
    /// A strided matrix.
    Strided(MatRef<'a, E>),
    /// A matrix read through offset tables.
    Gathered(Gathered<'a, E>),
}

impl<E: Copy> Rhs<'_, E> {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        match self {
            Rhs::Strided(m) => m.rows(),
            Rhs::Gathered(g) => g.rows(),
        }
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        match self {
            Rhs::Strided(m) => m.cols(),
            Rhs::Gathered(g) => g.cols(),
        }
    }
}

impl<'a, E> From<MatRef<'a, E>> for Rhs<'a, E> {
    fn from(m: MatRef<'a, E>) -> Self {
        Self::Strided(m)
    }
}

impl<'a, E> From<Gathered<'a, E>> for Rhs<'a, E> {
    fn from(m: Gathered<'a, E>) -> Self {
        Self::Gathered(m)
    }
}

/// Panics (naming `what`) unless `dst (+)= a · b` chains: `a` is `dst.rows() × k` and `b` is
/// `k × dst.cols()`.
#[track_caller]
pub fn assert_chain<E: Copy>(what: &str, dst: &MatMut<'_, E>, a: &MatRef<'_, E>, b: &Rhs<'_, E>) {
    assert!(
        a.rows() == dst.rows() && b.rows() == a.cols() && b.cols() == dst.cols(),
        "{what}: {}×{} · {}×{} into {}×{}",
        a.rows(),
        a.cols(),
        b.rows(),
        b.cols(),
        dst.rows(),
        dst.cols()
    );
}

/// A mutable matrix with rows `rs` apart: element `(i, j)` is at `ptr + i·rs + j`.
///
/// Invariant (set up by [`MatMut::try_new`] from a `&'a mut [E]`, kept by every method that makes
/// a view from a view):
/// 1. every element `(i, j)`, `i < rows`, `j < cols`, lies inside that slice;
/// 2. no other view or reference reaches these elements while this one lives (views made from
///    one view either borrow it, or — [`split_at_col`](Self::split_at_col) — divide its elements
///    between them);
/// 3. rows do not overlap: `rows ≤ 1` or `rs ≥ cols`;
/// 4. `rs ≤ isize::MAX`.
///
/// So each row is a `&mut [E]` of its own ([`row_mut`](Self::row_mut)), and views of disjoint
/// column ranges may be written from different threads.
#[derive(Debug)]
pub struct MatMut<'a, E> {
    ptr: NonNull<E>,
    rows: usize,
    cols: usize,
    rs: usize,
    _borrow: PhantomData<&'a mut [E]>,
}

#[allow(unsafe_code)]
// SAFETY: a `MatMut` is exclusive access to its elements (invariant 2), as a `&mut [E]` is, which
// may move to another thread when `E` may.
unsafe impl<E: Send> Send for MatMut<'_, E> {}

impl<'a, E> MatMut<'a, E> {
    /// The `rows × cols` matrix with row stride `rs` in `data`.
    ///
    /// # Errors
    /// If an element lies outside `data`, rows would overlap (`rs < cols` with several rows), or
    /// `rs` exceeds `isize::MAX`.
    pub fn try_new(
        data: &'a mut [E],
        (rows, cols): (usize, usize),
        rs: usize,
    ) -> Result<Self, ViewError> {
        if rows > 1 && rs < cols {
            return Err(ViewError::RowsOverlap { cols, rs });
        }
        check_fits((rows, cols), (rs, 1), data.len())?;
        Ok(Self {
            ptr: NonNull::from(data).cast(),
            rows,
            cols,
            rs,
            _borrow: PhantomData,
        })
    }

    /// [`MatMut::try_new`] for shapes the caller knows to fit.
    ///
    /// # Panics
    /// With the [`ViewError`] if they do not.
    #[track_caller]
    pub fn new(data: &'a mut [E], shape: (usize, usize), rs: usize) -> Self {
        Self::try_new(data, shape, rs).unwrap_or_else(|e| panic!("mutable matrix view: {e}"))
    }

    /// The row-major `rows × cols` matrix at the start of `data`.
    ///
    /// # Panics
    /// If `data` is shorter than `rows·cols`.
    #[track_caller]
    pub fn row_major(data: &'a mut [E], rows: usize, cols: usize) -> Self {
        Self::new(data, (rows, cols), cols)
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Distance between vertically adjacent elements.
    pub fn row_stride(&self) -> usize {
        self.rs
    }

    /// The address of element `(0, 0)`, for foreign kernels (`gemm`) that take raw pointers.
    pub fn as_mut_ptr(&mut self) -> *mut E {
        self.ptr.as_ptr()
    }

    /// Row `i`: its `cols` elements.
    ///
    /// # Panics
    /// Unless `i < rows`.
    #[allow(unsafe_code)]
    pub fn row_mut(&mut self, i: usize) -> &mut [E] {
        assert!(i < self.rows, "row {i} of {}", self.rows);
        if self.cols == 0 {
            // No element was checked to fit, so `i·rs` may point anywhere: offset nothing.
            return &mut [];
        }
        // SAFETY: elements (i, 0..cols) lie inside the borrowed slice (invariant 1, with
        // `cols > 0`; `i·rs` does not overflow because `(rows − 1)·rs` did not when it was
        // checked) and are reachable only through this view (invariant 2), which `&mut self`
        // borrows for the result's life.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(i * self.rs), self.cols) }
    }

    /// Sets every element to `value`.
    pub fn fill(&mut self, value: E)
    where
        E: Copy,
    {
        for i in 0..self.rows {
            self.row_mut(i).fill(value);
        }
    }

    /// The view of rows `i0..i0 + rows`, columns `j0..j0 + cols`, borrowing this one.
    ///
    /// # Panics
    /// If that block is not inside this matrix.
    #[allow(unsafe_code)]
    pub fn submatrix(
        &mut self,
        (i0, j0): (usize, usize),
        (rows, cols): (usize, usize),
    ) -> MatMut<'_, E> {
        assert!(
            i0.checked_add(rows).is_some_and(|end| end <= self.rows)
                && j0.checked_add(cols).is_some_and(|end| end <= self.cols),
            "block {rows}×{cols} at ({i0}, {j0}) outside a {}×{} matrix",
            self.rows,
            self.cols
        );
        let ptr = if rows == 0 || cols == 0 {
            self.ptr
        } else {
            // SAFETY: (i0, j0) is an element of this matrix (checked above), so its offset lies
            // inside the borrowed slice (invariant 1).
            unsafe { self.ptr.add(i0 * self.rs + j0) }
        };
        // Invariants: the block's elements are this view's (1); `&mut self` is borrowed while the
        // block lives (2); same stride, and a narrower row (3, 4).
        MatMut {
            ptr,
            rows,
            cols,
            rs: self.rs,
            _borrow: PhantomData,
        }
    }

    /// Columns `0..j` and `j..cols` as two views that may be used at the same time (on different
    /// threads): no element belongs to both.
    ///
    /// # Panics
    /// If `j > cols`.
    #[allow(unsafe_code)]
    pub fn split_at_col(self, j: usize) -> (MatMut<'a, E>, MatMut<'a, E>) {
        assert!(j <= self.cols, "split at column {j} of {}", self.cols);
        let right = if self.rows == 0 || j == self.cols {
            self.ptr
        } else {
            // SAFETY: (0, j) is an element of this matrix (j < cols, rows > 0), so the offset lies
            // inside the borrowed slice (invariant 1).
            unsafe { self.ptr.add(j) }
        };
        // Invariants: each part's elements are a subset of this view's (1), which is consumed;
        // the parts' elements are disjoint — row i of the left part is columns 0..j, of the right
        // part j..cols, and rows do not overlap (3) — so neither reaches the other's (2); same
        // stride, narrower rows (3, 4).
        let part = |ptr, cols| MatMut {
            ptr,
            rows: self.rows,
            cols,
            rs: self.rs,
            _borrow: PhantomData,
        };
        (part(self.ptr, j), part(right, self.cols - j))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mat_ref_checks_every_element_once() {
        let data = [0.0f32; 12];
        assert!(MatRef::try_new(&data, (3, 4), (4, 1)).is_ok());
        assert!(MatRef::try_new(&data, (4, 3), (1, 4)).is_ok());
        // Last element (2, 3) at 2·4 + 3·2 = 14.
        assert_eq!(
            MatRef::try_new(&data, (3, 4), (4, 2)).unwrap_err(),
            ViewError::DoesNotFit {
                rows: 3,
                cols: 4,
                rs: 4,
                cs: 2,
                len: 12
            }
        );
        // An index that overflows does not wrap around into the slice.
        assert!(MatRef::try_new(&data, (3, 1), (usize::MAX / 2 + 1, 1)).is_err());
        assert!(MatRef::try_new(&data, (usize::MAX, 1), (2, 1)).is_err());
        assert_eq!(
            MatRef::try_new(&data, (1, 1), (usize::MAX, 1)).unwrap_err(),
            ViewError::StrideTooLarge(usize::MAX)
        );
        // Empty matrices fit anywhere.
        assert!(MatRef::try_new(&data[..0], (0, 5), (5, 1)).is_ok());
        assert!(MatRef::try_new(&data[..0], (7, 0), (5, 1)).is_ok());
    }

    #[test]
    fn mat_ref_reads_and_transposes() {
        let data: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let m = MatRef::new(&data, (3, 3), (4, 1));
        assert_eq!(m.get(2, 1), 9.0);
        let t = m.transposed();
        assert_eq!((t.rows(), t.cols(), t.get(1, 2)), (3, 3, 9.0));
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn row_major_rejects_a_short_slice() {
        let data = [0.0f64; 5];
        let _ = MatRef::row_major(&data, 2, 3);
    }

    #[test]
    fn mat_mut_rejects_overlapping_rows_and_short_slices() {
        let mut data = [0.0f32; 12];
        assert_eq!(
            MatMut::try_new(&mut data, (2, 4), 3).unwrap_err(),
            ViewError::RowsOverlap { cols: 4, rs: 3 }
        );
        // One row cannot overlap itself.
        assert!(MatMut::try_new(&mut data, (1, 4), 0).is_ok());
        assert!(MatMut::try_new(&mut data, (3, 4), 5).is_err());
        assert!(MatMut::try_new(&mut data, (2, 4), usize::MAX).is_err());
        assert!(MatMut::try_new(&mut data, (usize::MAX, 1), 1).is_err());
        assert!(MatMut::try_new(&mut data, (3, 3), 4).is_ok());
        assert!(MatMut::try_new(&mut data[..0], (0, 3), 4).is_ok());
    }

    #[test]
    fn rows_and_blocks_cover_exactly_their_elements() {
        // 3×3 in a stride of 4: the fourth element of each row is a gap nothing may touch.
        let mut data = [0.0f32; 12];
        let mut m = MatMut::new(&mut data, (3, 3), 4);
        m.fill(1.0);
        m.row_mut(1).copy_from_slice(&[2.0, 3.0, 4.0]);
        let mut b = m.submatrix((1, 1), (2, 2));
        b.row_mut(1)[1] = 9.0;
        assert_eq!(b.row_mut(0), [3.0, 4.0]);
        let empty = m.submatrix((3, 3), (0, 0));
        assert_eq!((empty.rows(), empty.cols()), (0, 0));
        assert_eq!(
            data,
            [1.0, 1.0, 1.0, 0.0, 2.0, 3.0, 4.0, 0.0, 1.0, 1.0, 9.0, 0.0]
        );
    }

    #[test]
    fn rows_of_a_zero_width_view_are_empty_whatever_the_stride() {
        // Nothing is checked to fit for zero columns, so no row may compute an address.
        let mut data = [0.0f32; 0];
        let mut m = MatMut::new(&mut data, (5, 0), isize::MAX as usize);
        assert!(m.row_mut(4).is_empty());
        let mut four = [1.0f32; 4];
        let (mut l, _) = MatMut::new(&mut four, (2, 2), 2).split_at_col(0);
        assert!(l.row_mut(1).is_empty());
    }

    #[test]
    #[should_panic(expected = "outside")]
    fn blocks_outside_the_matrix_are_refused() {
        let mut data = [0.0f32; 12];
        let mut m = MatMut::new(&mut data, (3, 3), 4);
        let _ = m.submatrix((2, 1), (2, 1));
    }

    #[test]
    fn split_views_are_written_from_two_threads_at_once() {
        // The two halves of each row interleave in memory; each thread writes only its own.
        let (rows, cols, rs) = (3, 5, 7);
        let mut data = vec![0u32; rows * rs];
        let m = MatMut::new(&mut data, (rows, cols), rs);
        let (left, right) = m.split_at_col(2);
        let write = |mut v: MatMut<'_, u32>, tag: u32| {
            for i in 0..v.rows() {
                for (j, x) in v.row_mut(i).iter_mut().enumerate() {
                    *x = tag + 10 * i as u32 + j as u32;
                }
            }
        };
        std::thread::scope(|s| {
            s.spawn(|| write(left, 100));
            s.spawn(|| write(right, 200));
        });
        for i in 0..rows {
            let row = &data[i * rs..][..rs];
            let want = [0, 1, 0, 1, 2].map(|j| j + 10 * i as u32);
            for j in 0..cols {
                let tag = if j < 2 { 100 } else { 200 };
                assert_eq!(row[j], tag + want[j]);
            }
            assert_eq!(&row[cols..], [0, 0], "gap of row {i}");
        }
    }

    #[test]
    fn splitting_at_the_edges_gives_empty_parts() {
        let mut data = [0.0f32; 6];
        let (l, r) = MatMut::row_major(&mut data, 2, 3).split_at_col(3);
        assert_eq!((l.cols(), r.cols()), (3, 0));
        let (l, r) = l.split_at_col(0);
        assert_eq!((l.cols(), r.cols()), (0, 3));
        let (l, r) = MatMut::row_major(&mut data[..0], 0, 3).split_at_col(2);
        assert_eq!((l.rows(), l.cols(), r.cols()), (0, 2, 1));
    }

    #[test]
    #[should_panic(expected = "gathered matrix")]
    fn gathered_rejects_offsets_past_the_data() {
        let data = [0.0f32; 10];
        let _ = Gathered::new(&data, &[0, 4], &[0, 6]);
    }
}
