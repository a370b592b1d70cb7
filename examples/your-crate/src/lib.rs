//! A tiny softmax crate, standing in for yours: it checks itself against cross-entropy-spec in
//! its own `cargo test` (`tests/conformance.rs`).
//!
//! It has one deliberate divergence from PyTorch, so that the example shows how a known one is
//! listed: where every score of a slice is −∞ it returns the uniform distribution, where PyTorch
//! returns NaN (`tests/expectations.toml`).

use ndarray::{ArrayD, ArrayViewD, Axis, Zip};
use num_traits::Float;

/// Softmax along `axis`, shifted by each slice's maximum so that large scores do not overflow.
pub fn softmax<T: Float>(x: ArrayViewD<'_, T>, axis: usize) -> ArrayD<T> {
    let mut out = x.to_owned();
    for mut slice in out.lanes_mut(Axis(axis)) {
        let max = slice.fold(T::neg_infinity(), |m, &v| if v > m { v } else { m });
        if max == T::neg_infinity() && slice.iter().all(|&v| v == max) {
            let n = T::from(slice.len()).unwrap_or_else(T::one);
            slice.fill(T::one() / n);
            continue;
        }
        slice.mapv_inplace(|v| (v - max).exp());
        let sum = pairwise(&slice.to_vec());
        slice.mapv_inplace(|v| v / sum);
    }
    out
}

/// The backward of [`softmax`]: the gradient with respect to `x` of `Σ upstream · softmax(x)`,
/// `y ⊙ (g − Σ g ⊙ y)` per slice, from the forward's output `y`.
pub fn softmax_backward<T: Float>(
    y: ArrayViewD<'_, T>,
    upstream: ArrayViewD<'_, T>,
    axis: usize,
) -> ArrayD<T> {
    let mut grad = upstream.to_owned();
    let slices = grad.lanes_mut(Axis(axis)).into_iter();
    for (mut g, y) in slices.zip(y.lanes(Axis(axis))) {
        let products: Vec<T> = g.iter().zip(&y).map(|(&g, &y)| g * y).collect();
        let dot = pairwise(&products);
        Zip::from(&mut g)
            .and(&y)
            .for_each(|g, &y| *g = y * (*g - dot));
    }
    grad
}

/// The sum of `v`, in halves: its rounding error grows with log2 of the length, not with the
/// length, as the spec's allowance for rows of 128,256 classes requires (a sum from left to
/// right fails it by 37 allowances in float32).
fn pairwise<T: Float>(v: &[T]) -> T {
    match v {
        [] => T::zero(),
        [x] => *x,
        _ => {
            let (a, b) = v.split_at(v.len() / 2);
            pairwise(a) + pairwise(b)
        }
    }
}
