//! softmax, log_softmax, sigmoid and log_sigmoid.
//!
//! Every normalisation subtracts the slice maximum first, so no `exp` overflows.
//! The non-finite behaviour is PyTorch's and falls out of that formula once the
//! maximum propagates NaN: an all `-inf` slice has `m = -inf` and `x - m = NaN`;
//! a `+inf` makes `m = +inf` and `inf - inf = NaN`; a NaN makes `m = NaN`.

use ndarray::{ArrayD, ArrayView1, ArrayViewMut1, Axis};

use super::real::Real;
use super::reduce::sum_iter;
use super::shape::{check_size, normalize_dim};
use crate::error::LossError;

/// Maximum of a slice that, unlike `Float::max`, propagates NaN (`-inf` if empty).
pub(crate) fn nan_max<T: Real>(values: impl Iterator<Item = T>) -> T {
    values.fold(T::neg_infinity(), |m, v| {
        if m.is_nan() || v.is_nan() {
            T::nan()
        } else {
            m.max(v)
        }
    })
}

/// The shift `m = max x` and `log Σ exp(x - m)` of one slice, so that
/// `logsumexp(x) = m + log_norm` and `log_softmax(x)_i = (x_i - m) - log_norm`.
pub(crate) fn shift_and_log_norm<T: Real>(x: ArrayView1<'_, T>) -> (T, T) {
    let m = nan_max(x.iter().copied());
    let log_norm = sum_iter(x.iter().map(|&v| (v - m).exp())).ln();
    (m, log_norm)
}

/// Apply `f` to every 1-D slice of `x` along `dim`; a 0-d tensor is one slice of length 1.
pub(crate) fn along<T: Real>(
    x: &ArrayD<T>,
    dim: isize,
    f: impl Fn(ArrayViewMut1<'_, T>),
) -> Result<ArrayD<T>, LossError> {
    let d = normalize_dim(dim, x.ndim())?;
    check_size(x.shape())?;
    // An empty tensor has no element to compute; it may still have any number of empty slices.
    if x.is_empty() {
        return Ok(x.clone());
    }
    let scalar = x.ndim() == 0;
    let mut out = if scalar {
        x.clone().insert_axis(Axis(0))
    } else {
        x.clone()
    };
    out.lanes_mut(Axis(d)).into_iter().for_each(f);
    Ok(if scalar {
        out.remove_axis(Axis(0))
    } else {
        out
    })
}

/// `softmax(x)_i = exp(x_i - m) / Σ_j exp(x_j - m)` along `dim` (negative wraps).
pub fn softmax<T: Real>(x: &ArrayD<T>, dim: isize) -> Result<ArrayD<T>, LossError> {
    along(x, dim, |mut lane| {
        let m = nan_max(lane.iter().copied());
        lane.mapv_inplace(|v| (v - m).exp());
        let total = sum_iter(lane.iter().copied());
        lane.mapv_inplace(|e| e / total);
    })
}

/// `log_softmax(x)_i = (x_i - m) - log Σ_j exp(x_j - m)` along `dim` (negative wraps).
pub fn log_softmax<T: Real>(x: &ArrayD<T>, dim: isize) -> Result<ArrayD<T>, LossError> {
    along(x, dim, |mut lane| {
        let (m, log_norm) = shift_and_log_norm(lane.view());
        lane.mapv_inplace(|v| (v - m) - log_norm);
    })
}

/// `σ(x) = 1 / (1 + exp(-x))`, evaluated so that `exp` never overflows:
/// for `x < 0` as `exp(x) / (1 + exp(x))`.
pub(crate) fn sigmoid_scalar<T: Real>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp(); // also the NaN branch
        e / (T::one() + e)
    }
}

/// `log σ(x) = min(x, 0) - log1p(exp(-|x|))`: exact for large |x| on both sides
/// (`-x` far left, `-exp(-x)` far right), and `-inf` at `x = -inf`.
pub(crate) fn log_sigmoid_scalar<T: Real>(x: T) -> T {
    if x.is_nan() {
        return x;
    }
    x.min(T::zero()) - (-x.abs()).exp().ln_1p()
}

/// Element-wise logistic sigmoid; `σ(±inf) = 1 / 0`, `σ(NaN) = NaN`.
pub fn sigmoid<T: Real>(x: &ArrayD<T>) -> ArrayD<T> {
    x.mapv(sigmoid_scalar)
}

/// Element-wise `log σ(x)`, stable for large |x|.
pub fn log_sigmoid<T: Real>(x: &ArrayD<T>) -> ArrayD<T> {
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
