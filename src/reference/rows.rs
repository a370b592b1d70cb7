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
    axis: usize,
}

impl<'a, T: Real> Rows<'a, T> {
    /// The rows of `x` along `axis` (`axis < x.ndim()`); `x` must have passed `check_size`.
    pub(crate) fn new(x: &'a ArrayD<T>, axis: usize) -> Self {
        let len = x.len_of(Axis(axis));
        let others = x.shape().iter().enumerate().filter(|&(a, _)| a != axis);
        let count = others.map(|(_, &l)| l).product();
        let data = match x.as_slice() {
            Some(s) if axis + 1 == x.ndim() => Cow::Borrowed(s),
            _ => Cow::Owned(
                x.view()
                    .permuted_axes(last(x.ndim(), axis))
                    .iter()
                    .copied()
                    .collect(),
            ),
        };
        Rows {
            data,
            len,
            count,
            axis,
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
        let moved: Vec<usize> = last(shape.len(), self.axis)
            .iter()
            .map(|&a| shape[a])
            .collect();
        let array = ArrayD::from_shape_vec(IxDyn(&moved), out)
            .map_err(|e| LossError::new(ErrorKind::TooLarge, e.to_string()))?;
        if self.axis + 1 == shape.len() {
            return Ok(array);
        }
        let back = inverse(&last(shape.len(), self.axis));
        Ok(array.permuted_axes(back).as_standard_layout().into_owned())
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

/// `f(i)` for `i` in `0..len`, computed in parallel, in order.
pub(crate) fn collect_by<T: Real>(len: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    (0..len).into_par_iter().map(&f).collect()
}

/// The axis order that moves `axis` last and keeps the others in order.
fn last(ndim: usize, axis: usize) -> Vec<usize> {
    (0..ndim).filter(|&a| a != axis).chain([axis]).collect()
}

fn inverse(order: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; order.len()];
    order.iter().enumerate().for_each(|(i, &a)| inv[a] = i);
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows along a middle axis come in lane order, and `fill` puts them back in place.
    #[test]
    fn rows_follow_lanes_and_fill_restores_the_layout() {
        let x = ArrayD::from_shape_fn(IxDyn(&[2, 3, 4]), |i| {
            (i[0] * 100 + i[1] * 10 + i[2]) as f64
        });
        let rows = Rows::new(&x, 1);
        assert_eq!((rows.len, rows.count), (3, 8));
        let lanes: Vec<Vec<f64>> = x.lanes(Axis(1)).into_iter().map(|l| l.to_vec()).collect();
        let ours: Vec<Vec<f64>> = (0..rows.count).map(|r| rows.row(r).to_vec()).collect();
        assert_eq!(lanes, ours);
        let same = rows
            .fill(x.shape(), |_, row, out| out.copy_from_slice(row))
            .unwrap();
        assert_eq!(same, x);
        assert!(same.is_standard_layout());
    }
}
