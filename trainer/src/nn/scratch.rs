//! A pool of large temporaries: buffers a layer fills completely before reading (column matrices,
//! outputs of non-accumulating products), reused so that each iteration neither zeroes nor faults
//! in tens of megabytes afresh.

use super::float::NnFloat;

/// Buffers of at least this many elements go back to the pool ([`recycle`]); smaller ones are
/// cheap to allocate.
const POOL_MIN_LEN: usize = 1 << 14;
/// Buffers the pool of each element type keeps at most (a D forward pass keeps its column
/// matrices until its backward pass, so several are in use at once).
const POOL_KEEP: usize = 12;

/// A buffer of `len` elements whose contents are unspecified (stale values of an earlier use, or
/// zeros): for temporaries that the caller overwrites completely before reading, such as the
/// column matrices and the outputs of non-accumulating matrix products.
///
/// Taken from the pool that [`recycle`] fills (the smallest buffer that is large enough), so
/// that the 13 MB column matrices of the DCGAN layers are neither zeroed (`calloc`'s `memset`)
/// nor faulted in afresh on every use. Which buffer is reused can depend on timing, but no value
/// in it is ever read before being written, so results cannot.
pub(crate) fn scratch<E: NnFloat>(len: usize) -> Vec<E> {
    let mut v = if len >= POOL_MIN_LEN {
        let mut pool = E::pool().lock().unwrap_or_else(|e| e.into_inner());
        // At most twice the size asked for: a buffer that ends up in a tensor is not given back,
        // and should not hold on to much more memory than it uses.
        // Among those, one already `len` long if there is one: lengthening a buffer zero-fills
        // the new part (safe Rust cannot hand out uninitialised elements), which was ~3 % of a
        // DCGAN iteration when buffers were picked by capacity alone.
        let best = (0..pool.len())
            .filter(|&i| (len..=2 * len).contains(&pool[i].capacity()))
            .min_by_key(|&i| (pool[i].len() < len, pool[i].capacity()));
        best.map(|i| pool.swap_remove(i)).unwrap_or_default()
    } else {
        Vec::new()
    };
    if v.len() >= len {
        v.truncate(len);
    } else {
        v.resize(len, E::default());
    }
    v
}

/// Hands a temporary back for [`scratch`] to reuse (dropped if small, or if the pool is full).
pub(crate) fn recycle<E: NnFloat>(v: Vec<E>) {
    if v.len() < POOL_MIN_LEN {
        return;
    }
    let mut pool = E::pool().lock().unwrap_or_else(|e| e.into_inner());
    if pool.len() < POOL_KEEP {
        pool.push(v);
    }
}

/// Fills the pool of `E` with NaN buffers of `len` elements, so that a test can show that what
/// [`scratch`] hands out next is overwritten before it is read.
#[cfg(test)]
pub(crate) fn poison_pool<E: NnFloat>(len: usize) {
    assert!(len >= POOL_MIN_LEN, "{len} elements would not be pooled");
    for _ in 0..POOL_KEEP {
        recycle(vec![E::from_f64(f64::NAN).expect("a float type"); len]);
    }
}
