//! softmax, log_softmax, sigmoid and log_sigmoid.
//!
//! Every normalisation subtracts the slice maximum first, so no `exp` overflows.
//! The non-finite behaviour is PyTorch's and falls out of that formula: an all `-inf` slice
//! has `m = -inf` and `x - m = NaN`; a `+inf` makes `m = +inf` and `inf - inf = NaN`; a NaN
//! makes `Σ exp(x - m)` NaN.

use ndarray::{ArrayD, IxDyn};
use num_traits::One;

use super::real::{Real, narrow, widen};
use super::reduce::{sum, sum_chunked};
use super::rows::Rows;
use super::shape::{check_size, normalize_dim};
use crate::error::LossError;

/// Maximum of a slice, `-inf` if empty; NaN elements are skipped, since a NaN already makes
/// `Σ exp(x - m)`, and with it every result of its slice, NaN whatever the shift `m`.
///
/// Eight running maxima and no branch, so the compiler vectorises it: a fold that tests for
/// NaN at every step does not, and this pass reads every logit.
pub(crate) fn row_max<T: Real>(row: &[T]) -> T {
    let bigger = |m: T, v: T| if v > m { v } else { m };
    let mut m = [T::neg_infinity(); 8];
    let chunks = row.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        m.iter_mut()
            .zip(chunk)
            .for_each(|(m, &v)| *m = bigger(*m, v));
    }
    tail.iter()
        .chain(&m)
        .fold(T::neg_infinity(), |a, &v| bigger(a, v))
}

/// The shift `m = max x` and `log Σ exp(x - m)` of one slice, so that
/// `logsumexp(x) = m + log_norm` and `log_softmax(x)_i = (x_i - m) - log_norm`.
///
/// One maximum's term is `exp(0) = 1`, so the sum is `1 + s`, `s` the sum of the other terms.
/// For `s < 1` the log-norm is `log1p(s)`: `ln(1 + s)` rounds `1 + s` first, an absolute error
/// that `ln` turns into `1/ln(1 + s)` times the relative error of a log-norm near 0 (a dominant
/// class, whose `log p = -log_norm` is then all the loss), where `log1p(s)` passes on at most
/// the relative error of `s`. From `s = 1` up, `ln(1 + s)` costs at most `1/ln 2` of a rounding
/// and `ln` is the better rounded of the two. Another maximum equal to the first stays in `s`.
/// A non-finite maximum takes the plain sum, whose NaN is PyTorch's.
pub(crate) fn shift_and_log_norm<T: Real>(x: &[T]) -> (T, T) {
    let m = row_max(x);
    let log_norm = match m.is_finite() {
        true => match sum_exp(x, m, x.iter().position(|&v| v == m)) {
            s if s < T::one() => s.ln_1p(),
            s => (T::one() + s).ln(),
        },
        false => sum_exp(x, m, None).ln(),
    };
    (m, log_norm)
}

/// `Σ exp(x_i - m)` in [`sum`]'s tree, without the term at `skip` (its argument is made
/// `-inf`, whose `exp` is the `+0` that stands in for it). The exponentials are made a chunk at
/// a time with [`Real::exp_of`].
fn sum_exp<T: Real>(x: &[T], m: T, skip: Option<usize>) -> T {
    sum_chunked(x.len(), &|lo, terms: &mut [T]| {
        let xs = &x[lo..lo + terms.len()];
        match skip {
            None => T::exp_of(terms, |j| xs[j] - m),
            Some(k) => T::exp_of(terms, |j| match lo + j == k {
                true => T::neg_infinity(),
                false => xs[j] - m,
            }),
        }
    })
}

/// The tensor whose slices along `dim` (negative wraps) are `f(slice of x, slice of out)`;
/// a 0-d tensor is one slice of length 1. Slices are computed in parallel.
pub(crate) fn along<T: Real>(
    x: &ArrayD<T>,
    dim: isize,
    f: impl Fn(&[T], &mut [T]) + Sync,
) -> Result<ArrayD<T>, LossError> {
    let d = normalize_dim(dim, x.ndim())?;
    check_size(x.shape())?;
    // An empty tensor has no element to compute; it may still have any number of empty slices.
    if x.is_empty() {
        return Ok(x.clone());
    }
    if let Some(&v) = x.first().filter(|_| x.ndim() == 0) {
        let mut out = [T::zero()];
        f(&[v], &mut out);
        return Ok(ArrayD::from_elem(IxDyn(&[]), out[0]));
    }
    Rows::blocks(x, d).fill(x.shape(), |_, row, out| f(row, out))
}

/// `softmax(x)_i = exp(x_i - m) / Σ_j exp(x_j - m)` along `dim` (negative wraps).
///
/// `004_8a619d584319f9a0.txt`'s `[1, 1, 2, 2]`, which it prints cut to three decimals as
/// `[0.134, 0.134, 0.365, 0.365]`:
///
/// ```
/// use cross_entropy_spec::reference::softmax;
/// use ndarray::arr1;
///
/// let p = softmax(&arr1(&[1.0_f64, 1.0, 2.0, 2.0]).into_dyn(), 0).unwrap();
/// let cut: Vec<f64> = p.iter().map(|v| (v * 1000.0).floor() / 1000.0).collect();
/// assert_eq!(cut, [0.134, 0.134, 0.365, 0.365]);
/// assert!((p.sum() - 1.0).abs() < 1e-15);
/// ```
pub fn softmax<T: Real>(x: &ArrayD<T>, dim: isize) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        return softmax(&widen(x), dim).map(narrow);
    }
    along(x, dim, softmax_row)
}

/// [`softmax`] of one slice, into `out`.
pub(crate) fn softmax_row<T: Real>(row: &[T], out: &mut [T]) {
    let m = row_max(row);
    T::exp_of(out, |i| row[i] - m);
    let total = sum(out);
    out.iter_mut().for_each(|e| *e = *e / total);
}

/// `log_softmax(x)_i = (x_i - m) - log Σ_j exp(x_j - m)` along `dim` (negative wraps).
///
/// Scores 1000 apart: `log(softmax(x))` underflows to `-inf` where this stays exact.
///
/// ```
/// use cross_entropy_spec::reference::{log_softmax, softmax};
/// use ndarray::arr2;
///
/// let x = arr2(&[[1000.0_f32, 0.0, -1000.0]]).into_dyn();
/// let direct = log_softmax(&x, 1).unwrap();
/// assert_eq!(direct.iter().copied().collect::<Vec<_>>(), [0.0, -1000.0, -2000.0]);
/// let naive = softmax(&x, 1).unwrap().mapv(f32::ln);
/// assert_eq!(naive[[0, 2]], f32::NEG_INFINITY);
/// ```
pub fn log_softmax<T: Real>(x: &ArrayD<T>, dim: isize) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        return log_softmax(&widen(x), dim).map(narrow);
    }
    along(x, dim, |row, out| {
        let (m, log_norm) = shift_and_log_norm(row);
        out.iter_mut()
            .zip(row)
            .for_each(|(o, &v)| *o = (v - m) - log_norm);
    })
}

/// `σ(x) = 1 / (1 + exp(-x))`, evaluated so that `exp` never overflows:
/// for `x < 0` as `exp(x) / (1 + exp(x))`.
///
/// Both sides share `e = exp(-|x|)`, so the choice is of the numerator only, with no branch on
/// the data (a NaN makes `e` NaN).
pub(crate) fn sigmoid_scalar<T: Real>(x: T) -> T {
    let e = (-x.abs()).exp();
    let numerator = if x >= T::zero() { T::one() } else { e };
    numerator / (T::one() + e)
}

/// `σ(x)` and `σ'(x) = σ(x)·σ(-x)` with `e = exp(-|x|)` made in `T` and the rest (`1 + e`, the
/// divisions) in [`Real::Wider`], each rounded once: they carry the rounding of `exp` (damped
/// by `1/(1 + e)` in `σ` for `x ≥ 0`) and their own, where PyTorch's `1/(1 + exp(-x))` rounds
/// three times and its `σ·(1 - σ)` loses `1 - σ`'s digits at `σ` near 1.
pub(crate) fn sigmoid_and_slope<T: Real>(x: T) -> (T, T) {
    let e = (-x.abs()).exp().to_wider();
    let one = T::Wider::one();
    let d = one + e;
    let numerator = if x >= T::zero() { one } else { e };
    (T::from_wider(numerator / d), T::from_wider(e / (d * d)))
}

/// `log σ(x) = min(x, 0) - log1p(exp(-|x|))`: exact for large |x| on both sides
/// (`-x` far left, `-exp(-x)` far right), and `-inf` at `x = -inf`.
pub(crate) fn log_sigmoid_scalar<T: Real>(x: T) -> T {
    if x.is_nan() {
        return x;
    }
    log_sigmoid_with(x, (-x.abs()).log1p_exp())
}

/// `log σ(x) = min(x, 0) - softplus`, given `softplus = log(1 + exp(-|x|))` (BCE-with-logits
/// makes a chunk of those at once); NaN for a NaN `x`.
pub(crate) fn log_sigmoid_with<T: Real>(x: T, softplus: T) -> T {
    x.min(T::zero()) - softplus
}

/// Element-wise logistic sigmoid; `σ(±inf) = 1 / 0`, `σ(NaN) = NaN`.
///
/// `sigmoid(20)` rounds to exactly 1 in float32 but not in float64:
///
/// ```
/// use cross_entropy_spec::reference::sigmoid;
/// use ndarray::arr1;
///
/// assert_eq!(sigmoid(&arr1(&[20.0_f32]).into_dyn())[[0]], 1.0);
/// let wide = sigmoid(&arr1(&[20.0_f64]).into_dyn())[[0]];
/// assert!(wide < 1.0 && (wide - 0.9999999979388464).abs() < 1e-16); // correctly rounded
/// ```
pub fn sigmoid<T: Real>(x: &ArrayD<T>) -> ArrayD<T> {
    if T::ROUNDED_ONCE {
        return narrow(sigmoid(&widen(x)));
    }
    x.mapv(|v| sigmoid_and_slope(v).0)
}

/// Element-wise `log σ(x)`, stable for large |x|.
///
/// Far left, `log σ(x)` is `x` itself; through `sigmoid`, float32 rounds `σ(-200)` to 0 first:
///
/// ```
/// use cross_entropy_spec::reference::{log_sigmoid, sigmoid};
/// use ndarray::arr1;
///
/// let x = arr1(&[-200.0_f32]).into_dyn();
/// assert_eq!(log_sigmoid(&x)[[0]], -200.0);
/// assert_eq!(sigmoid(&x)[[0]].ln(), f32::NEG_INFINITY);
/// ```
pub fn log_sigmoid<T: Real>(x: &ArrayD<T>) -> ArrayD<T> {
    if T::ROUNDED_ONCE {
        return narrow(log_sigmoid(&widen(x)));
    }
    x.mapv(log_sigmoid_scalar)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty tensor's slices are not walked one by one, and one whose non-zero dimensions
    /// are too large to allocate a result over is refused.
    #[test]
    fn empty_tensors_cost_nothing_and_huge_ones_are_refused() {
        let empty = ArrayD::<f32>::zeros(ndarray::IxDyn(&[1 << 20, 0]));
        assert_eq!(softmax(&empty, 1).unwrap().shape(), &[1 << 20, 0]);
        let huge = ArrayD::<f32>::zeros(ndarray::IxDyn(&[1 << 40, 0]));
        let e = log_softmax(&huge, 1).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::TooLarge);
    }
    use ndarray::{IxDyn, array};

    fn close(a: &ArrayD<f64>, b: &[f64]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                x == y || (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-7 * y.abs().max(1e-300)
            })
    }

    #[test]
    fn tv01_tv02_tv03() {
        let s = softmax(&array![1.0, 2.0, 3.0].into_dyn(), 0).unwrap();
        assert!(close(&s, &[0.090030573, 0.24472847, 0.66524096]));
        let x = array![[1.0, 2.0, 3.0], [-1.0, 0.0, 1000.0]].into_dyn();
        let l = log_softmax(&x, 1).unwrap();
        assert!(close(
            &l,
            &[-2.407606, -1.407606, -0.40760596, -1001.0, -1000.0, 0.0]
        ));
        let s = softmax(&array![[1.0, 2.0], [3.0, 5.0]].into_dyn(), -2).unwrap();
        assert!(close(
            &s,
            &[0.11920292, 0.047425873, 0.88079708, 0.95257413]
        ));
    }

    #[test]
    fn non_finite_table() {
        let (inf, nan) = (f64::INFINITY, f64::NAN);
        let x = array![
            [-inf, 0.0, 0.0],
            [-inf, -inf, -inf],
            [inf, -inf, 0.0],
            [nan, 0.0, 0.0]
        ]
        .into_dyn();
        let s = softmax(&x, 1).unwrap();
        assert!(close(
            &s,
            &[0.0, 0.5, 0.5, nan, nan, nan, nan, nan, nan, nan, nan, nan]
        ));
        let l = log_softmax(&x, 1).unwrap();
        assert_eq!(l[[0, 0]], -inf);
        assert!(l.iter().skip(3).all(|v| v.is_nan()));
        let big = array![3.4e38f32, -3.4e38].into_dyn();
        assert_eq!(
            log_softmax(&big, 0).unwrap().as_slice(),
            Some(&[0.0, -f32::INFINITY][..])
        );
    }

    #[test]
    fn zero_d_and_empty() {
        let z = ArrayD::from_elem(IxDyn(&[]), 7.0f32);
        assert_eq!(softmax(&z, -1).unwrap().shape(), &[] as &[usize]);
        assert_eq!(softmax(&z, 0).unwrap().first(), Some(&1.0));
        assert_eq!(log_softmax(&z, 0).unwrap().first(), Some(&0.0));
        assert!(softmax(&z, 1).is_err());
        let e = ArrayD::<f64>::zeros(IxDyn(&[2, 0]));
        assert_eq!(softmax(&e, 1).unwrap().shape(), &[2, 0]);
        assert_eq!(log_softmax(&e, 0).unwrap().shape(), &[2, 0]);
    }

    #[test]
    fn sigmoid_tv04_and_limits() {
        let x = array![-20.0, -2.0, -0.5, 0.0, 0.5, 2.0, 20.0].into_dyn();
        let s = sigmoid(&x);
        assert!(close(
            &s,
            &[
                2.0611536e-09,
                0.11920292,
                0.37754067,
                0.5,
                0.62245933,
                0.88079708,
                1.0
            ]
        ));
        let x = array![f64::INFINITY, f64::NEG_INFINITY, f64::NAN].into_dyn();
        assert!(close(&sigmoid(&x), &[1.0, 0.0, f64::NAN]));
        // torch: logsigmoid(-20, 40, 100) in f64
        let x = array![-20.0, 40.0, 100.0, f64::NEG_INFINITY, f64::INFINITY].into_dyn();
        let l = log_sigmoid(&x);
        assert!(close(
            &l,
            &[
                -20.000000002061153,
                -4.248354255291589e-18,
                -3.720075976020836e-44,
                f64::NEG_INFINITY,
                0.0
            ]
        ));
    }
}
