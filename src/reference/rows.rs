//! A tensor seen as rows along one axis, and the row-parallel loops over them.
//!
//! Every normalisation works on whole slices along one axis. Moving that axis last and
//! laying the tensor out row-major gives contiguous rows, which the row kernels read as plain
//! slices (no strided walk, no per-row allocation). The common `(N, C)` input already is that
//! buffer and is borrowed, not copied.
//!
//! Rows run in parallel on the current rayon pool, but each row's result depends on that row
//! alone and results are stored in row order, so the values do not depend on the number of
//! threads; reductions over rows then use [`super::reduce::sum`], whose order is fixed.

use std::borrow::Cow;

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};
use rayon::prelude::*;

use super::real::Real;
use crate::error::{ErrorKind, LossError};

/// `count` rows of `len` elements, row-major, in the order of `x.lanes(Axis(axis))`.
pub(crate) struct Rows<'a, T: Clone> {
    data: Cow<'a, [T]>,
    pub len: usize,
    pub count: usize,
    /// The product of the dimensions after the rows' axis (1: rows are contiguous in `x`).
    inner: usize,
    /// `data` is `x`'s own buffer, `(outer, len, inner)` with `inner > 1`: the rows are strided,
    /// and [`Rows::map`] and [`Rows::fill`] move one outer block at a time to contiguous rows.
    strided: bool,
}

impl<'a, T: Real> Rows<'a, T> {
    /// The rows of `x` along `axis` (`axis < x.ndim()`), each a slice ([`Rows::row`]);
    /// `x` must have passed `check_size`.
    pub(crate) fn new(x: &'a ArrayD<T>, axis: usize) -> Self {
        let (len, count, inner) = Self::shape(x, axis);
        let data = match x.as_slice() {
            Some(s) if inner == 1 => Cow::Borrowed(s),
            Some(s) => Cow::Owned(swap_inner(s, len, inner)),
            None => {
                let moved = x.view().permuted_axes(last(x.ndim(), axis));
                Cow::Owned(moved.iter().copied().collect())
            }
        };
        let strided = false;
        Rows {
            data,
            len,
            count,
            inner,
            strided,
        }
    }

    /// The rows of `x` along `axis` for [`Rows::map`] and [`Rows::fill`] only: a row-major `x`
    /// whose rows are strided (a K-dim input) is not copied whole, but a block at a time.
    pub(crate) fn blocks(x: &'a ArrayD<T>, axis: usize) -> Self {
        let (len, count, inner) = Self::shape(x, axis);
        match x.as_slice() {
            Some(s) if !s.is_empty() && inner > 1 => {
                let data = Cow::Borrowed(s);
                Rows {
                    data,
                    len,
                    count,
                    inner,
                    strided: true,
                }
            }
            _ => Self::new(x, axis),
        }
    }

    /// `(len, count, inner)` of the rows of `x` along `axis`.
    fn shape(x: &ArrayD<T>, axis: usize) -> (usize, usize, usize) {
        let len = x.len_of(Axis(axis));
        let others = x.shape().iter().enumerate().filter(|&(a, _)| a != axis);
        let count = others.map(|(_, &l)| l).product();
        (len, count, x.shape()[axis + 1..].iter().product())
    }

    /// Row `r` (`r < count`) of rows made by [`Rows::new`].
    pub(crate) fn row(&self, r: usize) -> &[T] {
        debug_assert!(!self.strided, "Rows::row on rows made by Rows::blocks");
        &self.data[r * self.len..(r + 1) * self.len]
    }

    /// `f(r, row r)` for every row, in row order.
    pub(crate) fn map<U: Send>(&self, f: impl Fn(usize, &[T]) -> U + Sync) -> Vec<U> {
        if !self.strided {
            return (0..self.count)
                .into_par_iter()
                .map(|r| f(r, self.row(r)))
                .collect();
        }
        let (len, inner) = (self.len, self.inner);
        let blocks = self.data.par_chunks_exact(len * inner).enumerate();
        let per_block: Vec<Vec<U>> = blocks
            .map(|(b, block)| {
                let rows = transposed(block, len, inner);
                let rows = rows.par_chunks_exact(len).enumerate();
                rows.map(|(k, row)| f(b * inner + k, row)).collect()
            })
            .collect();
        per_block.into_iter().flatten().collect()
    }

    /// A tensor of `shape` (the shape these rows came from) whose row `r` is written by
    /// `f(r, row r, out row r)`.
    pub(crate) fn fill(
        &self,
        shape: &[usize],
        f: impl Fn(usize, &[T], &mut [T]) + Sync,
    ) -> Result<ArrayD<T>, LossError> {
        let mut out = vec![T::zero(); self.data.len()];
        let (len, inner) = (self.len, self.inner);
        if len > 0 && self.strided {
            let blocks = out.par_chunks_exact_mut(len * inner).enumerate();
            blocks.for_each(|(b, out)| {
                let start = b * len * inner;
                let rows = transposed(&self.data[start..start + len * inner], len, inner);
                let mut done = vec![T::zero(); len * inner];
                let pairs = done
                    .par_chunks_exact_mut(len)
                    .zip(rows.par_chunks_exact(len));
                pairs
                    .enumerate()
                    .for_each(|(k, (o, row))| f(b * inner + k, row, o));
                transpose(&done, inner, len, out);
            });
        } else if len > 0 {
            let chunks = out.par_chunks_mut(len).enumerate();
            chunks.for_each(|(r, o)| f(r, self.row(r), o));
            if inner > 1 {
                out = swap_inner(&out, inner, len);
            }
        }
        ArrayD::from_shape_vec(IxDyn(shape), out)
            .map_err(|e| LossError::new(ErrorKind::TooLarge, e.to_string()))
    }
}

/// A row-major `(outer, a, b)` buffer as `(outer, b, a)`: with `a` the class dimension and `b`
/// the product of the dimensions after it, this moves the classes last (and back, swapped).
/// The `outer` blocks are transposed in parallel (a copy, so the bits do not depend on the
/// order).
fn swap_inner<T: Real>(s: &[T], a: usize, b: usize) -> Vec<T> {
    let block = a * b;
    let mut out = vec![T::zero(); s.len()];
    if block == 0 {
        return out;
    }
    let blocks = s
        .par_chunks_exact(block)
        .zip(out.par_chunks_exact_mut(block));
    blocks.for_each(|(src, dst)| transpose(src, a, b, dst));
    out
}

/// A row-major `(a, b)` block as a new `(b, a)` one.
fn transposed<T: Real>(src: &[T], a: usize, b: usize) -> Vec<T> {
    let mut dst = vec![T::zero(); src.len()];
    transpose(src, a, b, &mut dst);
    dst
}

/// `dst = srcᵀ` for a row-major `(a, b)` `src`, in 32×32 tiles, so that reads and writes both
/// stay in cache lines already loaded.
fn transpose<T: Real>(src: &[T], a: usize, b: usize, dst: &mut [T]) {
    const TILE: usize = 32;
    for i0 in (0..a).step_by(TILE) {
        for j0 in (0..b).step_by(TILE) {
            for i in i0..(i0 + TILE).min(a) {
                for j in j0..(j0 + TILE).min(b) {
                    dst[j * a + i] = src[i * b + j];
                }
            }
        }
    }
}

/// The elements of `x` in row-major order as one slice: borrowed when `x` is laid out that way,
/// copied otherwise (e.g. a broadcast weight).
pub(crate) fn flat<'a, T: Real>(x: ArrayViewD<'a, T>) -> Cow<'a, [T]> {
    match x.to_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(x.iter().copied().collect()),
    }
}

/// `len` values made a chunk at a time, chunks in parallel: `fill(lo, chunk)` writes values
/// `lo..lo + chunk.len()`, as [`super::reduce::sum_chunked`]'s `fill` does.
pub(crate) fn collect_chunked<T: Real>(
    len: usize,
    fill: impl Fn(usize, &mut [T]) + Sync,
) -> Vec<T> {
    const CHUNK: usize = 2048;
    let mut out = vec![T::zero(); len];
    let chunks = out.par_chunks_mut(CHUNK).enumerate();
    chunks.for_each(|(i, chunk)| fill(i * CHUNK, chunk));
    out
}

/// The axis order that moves `axis` last and keeps the others in order.
fn last(ndim: usize, axis: usize) -> Vec<usize> {
    (0..ndim).filter(|&a| a != axis).chain([axis]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Dimension;

    /// Each chunk is told where it starts, across more than one chunk and a short last one.
    #[test]
    fn chunks_are_filled_from_their_own_start() {
        let values: Vec<f64> = collect_chunked(5000, |lo, out| {
            out.iter_mut()
                .enumerate()
                .for_each(|(j, o)| *o = (lo + j) as f64)
        });
        assert!(values.iter().enumerate().all(|(i, &v)| v == i as f64));
        assert!(collect_chunked::<f32>(0, |_, _| unreachable!()).is_empty());
    }

    /// Rows along a middle or last axis come in lane order, and `fill` puts them back in place.
    #[test]
    fn rows_follow_lanes_and_fill_restores_the_layout() {
        for (shape, axis) in [
            (&[2, 3, 4][..], 1),
            (&[2, 3, 1], 1),
            (&[2, 3, 4], 2),
            (&[5], 0),
            (&[3, 40, 37], 1),
            (&[2, 0, 3], 1),
        ] {
            let x = ArrayD::from_shape_fn(IxDyn(shape), |i| {
                i.as_array_view()
                    .iter()
                    .fold(0.0, |a, &k| a * 10.0 + k as f64)
            });
            let rows = Rows::new(&x, axis);
            assert_eq!(rows.len * rows.count, x.len());
            let lanes: Vec<Vec<f64>> = x
                .lanes(Axis(axis))
                .into_iter()
                .map(|l| l.to_vec())
                .collect();
            let ours: Vec<Vec<f64>> = (0..rows.count).map(|r| rows.row(r).to_vec()).collect();
            assert_eq!(lanes, ours, "{shape:?} along {axis}");
            let same = rows
                .fill(x.shape(), |_, row, out| out.copy_from_slice(row))
                .unwrap();
            assert_eq!(same, x, "{shape:?} along {axis}");
            // A block at a time: the same rows, in the same order, put back in place.
            let blocks = Rows::blocks(&x, axis);
            assert_eq!(
                blocks.map(|r, row| (r, row.to_vec())),
                rows.map(|r, row| (r, row.to_vec()))
            );
            let doubled = |_, row: &[f64], out: &mut [f64]| {
                out.iter_mut().zip(row).for_each(|(o, v)| *o = 2.0 * v)
            };
            let by_blocks = blocks.fill(x.shape(), doubled).unwrap();
            assert_eq!(by_blocks, rows.fill(x.shape(), doubled).unwrap());
            assert_eq!(by_blocks, &x * 2.0);
            let transposed = x.view().reversed_axes().to_owned();
            let t = Rows::new(&transposed, 0);
            let lanes: Vec<Vec<f64>> = transposed
                .lanes(Axis(0))
                .into_iter()
                .map(|l| l.to_vec())
                .collect();
            assert_eq!(
                lanes,
                (0..t.count).map(|r| t.row(r).to_vec()).collect::<Vec<_>>()
            );
        }
    }
}
