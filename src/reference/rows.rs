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
}

impl<'a, T: Real> Rows<'a, T> {
    /// The rows of `x` along `axis` (`axis < x.ndim()`); `x` must have passed `check_size`.
    pub(crate) fn new(x: &'a ArrayD<T>, axis: usize) -> Self {
        let len = x.len_of(Axis(axis));
        let others = x.shape().iter().enumerate().filter(|&(a, _)| a != axis);
        let count = others.map(|(_, &l)| l).product();
        let inner = x.shape()[axis + 1..].iter().product();
        let data = match x.as_slice() {
            Some(s) if inner == 1 => Cow::Borrowed(s),
            Some(s) => Cow::Owned(swap_inner(s, len, inner)),
            None => {
                let moved = x.view().permuted_axes(last(x.ndim(), axis));
                Cow::Owned(moved.iter().copied().collect())
            }
        };
        Rows {
            data,
            len,
            count,
            inner,
        }
    }

    /// Row `r` (`r < count`).
    pub(crate) fn row(&self, r: usize) -> &[T] {
        &self.data[r * self.len..(r + 1) * self.len]
    }

    /// `f(r, row r)` for every row, in row order.
    pub(crate) fn map<U: Send>(&self, f: impl Fn(usize, &[T]) -> U + Sync) -> Vec<U> {
        (0..self.count)
            .into_par_iter()
            .map(|r| f(r, self.row(r)))
            .collect()
    }

    /// A tensor of `shape` (the shape these rows came from) whose row `r` is written by
    /// `f(r, row r, out row r)`.
    pub(crate) fn fill(
        &self,
        shape: &[usize],
        f: impl Fn(usize, &[T], &mut [T]) + Sync,
    ) -> Result<ArrayD<T>, LossError> {
        let mut out = vec![T::zero(); self.data.len()];
        if self.len > 0 {
            let chunks = out.par_chunks_mut(self.len).enumerate();
            chunks.for_each(|(r, o)| f(r, self.row(r), o));
        }
        let inner = self.inner;
        let data = if inner == 1 {
            out
        } else {
            swap_inner(&out, inner, self.len)
        };
        ArrayD::from_shape_vec(IxDyn(shape), data)
            .map_err(|e| LossError::new(ErrorKind::TooLarge, e.to_string()))
    }
}

/// A row-major `(outer, a, b)` buffer as `(outer, b, a)`: with `a` the class dimension and `b`
/// the product of the dimensions after it, this moves the classes last (and back, swapped).
/// Transposed in 32×32 tiles, so reads and writes both stay in cache lines already loaded; the
/// `outer` blocks in parallel (each is a plain copy, so the bits do not depend on the order).
fn swap_inner<T: Real>(s: &[T], a: usize, b: usize) -> Vec<T> {
    const TILE: usize = 32;
    let block = a * b;
    let mut out = vec![T::zero(); s.len()];
    if block == 0 {
        return out;
    }
    let blocks = s
        .par_chunks_exact(block)
        .zip(out.par_chunks_exact_mut(block));
    blocks.for_each(|(src, dst)| {
        for i0 in (0..a).step_by(TILE) {
            for j0 in (0..b).step_by(TILE) {
                for i in i0..(i0 + TILE).min(a) {
                    for j in j0..(j0 + TILE).min(b) {
                        dst[j * a + i] = src[i * b + j];
                    }
                }
            }
        }
    });
    out
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

    /// Rows along a middle or last axis come in lane order, and `fill` puts them back in place.
    #[test]
    fn rows_follow_lanes_and_fill_restores_the_layout() {
        for (shape, axis) in [
            (&[2, 3, 4][..], 1),
            (&[2, 3, 1], 1),
            (&[2, 3, 4], 2),
            (&[5], 0),
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
