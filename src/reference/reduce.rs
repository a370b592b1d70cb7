//! The `reduction` option and the summation every reduction uses.

use std::str::FromStr;

use ndarray::{ArrayD, IxDyn};

use super::real::{Real, from_count};
use crate::error::{ErrorKind, LossError};

/// How per-element losses are combined; PyTorch's default is `Mean`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// Return the per-element losses.
    None,
    /// Divide the sum by the loss's own normaliser (count, total class weight, ...).
    #[default]
    Mean,
    /// Sum of the per-element losses.
    Sum,
}

impl FromStr for Reduction {
    type Err = LossError;

    /// `"none" | "mean" | "sum"`; `"elementwise_mean"` is PyTorch's deprecated alias of `"mean"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Reduction::None),
            "mean" | "elementwise_mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            _ => Err(LossError::new(
                ErrorKind::InvalidReduction,
                format!("{s} is not a valid value for reduction"),
            )),
        }
    }
}

/// Pairwise (cascade) sum: error grows like O(log n) instead of O(n), close to
/// PyTorch's own cascade sum. The accumulator starts at +0, so a sum of `-0.0`s is `+0.0`
/// as in PyTorch.
pub(crate) fn sum<T: Real>(values: &[T]) -> T {
    const BLOCK: usize = 8;
    if values.len() <= BLOCK {
        values.iter().fold(T::zero(), |acc, &v| acc + v)
    } else {
        let (left, right) = values.split_at(values.len() / 2);
        sum(left) + sum(right)
    }
}

/// [`sum`] of any iterator (collects first; the reference favours clarity over speed).
pub(crate) fn sum_iter<T: Real>(values: impl Iterator<Item = T>) -> T {
    sum(&values.collect::<Vec<T>>())
}

/// A 0-d array holding one value (what 'mean' and 'sum' return).
pub(crate) fn scalar<T: Real>(v: T) -> ArrayD<T> {
    ArrayD::from_elem(IxDyn(&[]), v)
}

/// An array of `shape` filled in row-major order from `values` (any missing tail stays 0;
/// callers pass exactly `shape`'s element count).
pub(crate) fn array_from<T: Real>(shape: &[usize], values: Vec<T>) -> ArrayD<T> {
    let mut out = ArrayD::from_elem(IxDyn(shape), T::zero());
    out.iter_mut().zip(values).for_each(|(o, v)| *o = v);
    out
}

/// The element-wise reduction shared by BCE and BCE-with-logits: 'mean' divides by the
/// element count, so an empty input gives 0/0 = NaN.
pub(crate) fn reduce_elementwise<T: Real>(
    shape: &[usize],
    losses: Vec<T>,
    reduction: Reduction,
) -> ArrayD<T> {
    match reduction {
        Reduction::None => array_from(shape, losses),
        Reduction::Sum => scalar(sum(&losses)),
        Reduction::Mean => scalar(sum(&losses) / from_count::<T>(losses.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pytorch_strings() {
        assert_eq!("none".parse::<Reduction>(), Ok(Reduction::None));
        assert_eq!("mean".parse::<Reduction>(), Ok(Reduction::Mean));
        assert_eq!("elementwise_mean".parse::<Reduction>(), Ok(Reduction::Mean));
        assert_eq!("sum".parse::<Reduction>(), Ok(Reduction::Sum));
        assert_eq!(Reduction::default(), Reduction::Mean);
        let e = "avg".parse::<Reduction>().unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidReduction);
        assert_eq!(e.message, "avg is not a valid value for reduction");
    }

    #[test]
    fn pairwise_sum_is_accurate_and_signed_zero_like_torch() {
        let v = vec![0.1f32; 1_000_000];
        assert!((sum(&v) - 100_000.0).abs() < 0.05);
        assert!(sum::<f64>(&[-0.0, -0.0]).is_sign_positive());
        assert_eq!(sum::<f64>(&[]), 0.0);
    }
}
