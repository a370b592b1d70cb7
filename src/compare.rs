//! Compares an output with a case's expected values under the case's tolerance, and says how far
//! off it is: the worst element, the largest absolute and relative errors.

use crate::spec::{Bounds, Literal};
use crate::tensor::Tensor;

/// The result of comparing one output with one expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub passed: bool,
    /// Why it failed, when the failure is not a matter of size (shape, NaN, sign of zero).
    pub reason: Option<String>,
    pub max_abs: f64,
    pub max_rel: f64,
    /// Row-major index of the element that is furthest outside its bound.
    pub worst: Option<usize>,
    pub bounds: Bounds,
    /// How many times its allowance the worst element is off: `|got - want| / (abs + rel·|want|)`,
    /// infinite for a NaN, infinity or zero sign that does not match, or a shape that does not.
    pub worst_ratio: f64,
}

/// Whether `got` matches `want` for one element: NaN only matches NaN, infinities only the same
/// infinity, zeros' signs only when `signed_zeros`; otherwise the tolerance.
pub fn element_matches(got: f64, want: f64, bounds: Bounds, signed_zeros: bool) -> bool {
    if want.is_nan() || got.is_nan() {
        return want.is_nan() && got.is_nan();
    }
    if want.is_infinite() || got.is_infinite() {
        return want == got;
    }
    if signed_zeros && want == 0.0 && got == 0.0 {
        return want.is_sign_negative() == got.is_sign_negative();
    }
    (got - want).abs() <= bounds.abs + bounds.rel * want.abs()
}

/// Compares `got` with `want` (optionally only the element at `select`).
pub fn compare(
    got: &Tensor,
    want: &Literal,
    select: Option<&[usize]>,
    bounds: Bounds,
    signed_zeros: bool,
) -> Comparison {
    let mut result = Comparison {
        passed: true,
        reason: None,
        max_abs: 0.0,
        max_rel: 0.0,
        worst: None,
        bounds,
        worst_ratio: 0.0,
    };
    let values = got.to_f64_vec();
    let (got_values, offset): (Vec<f64>, usize) = match select {
        Some(index) => match flat_index(got.shape(), index) {
            Some(i) => (vec![values[i]], i),
            None => {
                result.passed = false;
                result.worst_ratio = f64::INFINITY;
                result.reason = Some(format!(
                    "`select` {index:?} is outside the output of shape {:?}",
                    got.shape()
                ));
                return result;
            }
        },
        None => {
            if got.shape() != want.shape.as_slice() {
                result.passed = false;
                result.worst_ratio = f64::INFINITY;
                result.reason = Some(format!(
                    "shape {:?}, expected {:?}",
                    got.shape(),
                    want.shape
                ));
                return result;
            }
            (values, 0)
        }
    };
    let mut worst_excess = f64::NEG_INFINITY;
    for (i, (&g, &w)) in got_values.iter().zip(&want.data).enumerate() {
        let ok = element_matches(g, w, bounds, signed_zeros);
        let abs = if g.is_nan() && w.is_nan() || g == w {
            0.0
        } else {
            (g - w).abs()
        };
        let abs = if abs.is_nan() { f64::INFINITY } else { abs };
        let rel = if w != 0.0 {
            abs / w.abs()
        } else if abs == 0.0 {
            0.0
        } else {
            f64::INFINITY
        };
        result.max_abs = result.max_abs.max(abs);
        result.max_rel = result.max_rel.max(rel);
        let allowance = bounds.abs + bounds.rel * w.abs();
        let ratio = if ok && abs == 0.0 {
            0.0
        } else if !ok
            && (g.is_nan() || w.is_nan() || g.is_infinite() || w.is_infinite() || abs == 0.0)
        {
            f64::INFINITY
        } else if allowance > 0.0 {
            abs / allowance
        } else {
            f64::INFINITY
        };
        result.worst_ratio = result.worst_ratio.max(ratio);
        let excess = if ok {
            abs - (bounds.abs + bounds.rel * w.abs())
        } else {
            f64::INFINITY
        };
        if !ok && result.passed {
            result.passed = false;
            if g == 0.0 && w == 0.0 {
                result.reason = Some("the sign of a zero differs".into());
            } else if g.is_nan() != w.is_nan() {
                result.reason = Some("NaN where a number is expected, or the reverse".into());
            }
        }
        if excess > worst_excess || result.worst.is_none() {
            worst_excess = excess;
            result.worst = Some(offset + i);
        }
    }
    result
}

/// The row-major offset of a multi-index, if it lies inside `shape`.
pub fn flat_index(shape: &[usize], index: &[usize]) -> Option<usize> {
    if shape.len() != index.len() {
        return None;
    }
    let mut flat = 0;
    for (&i, &n) in index.iter().zip(shape) {
        if i >= n {
            return None;
        }
        flat = flat * n + i;
    }
    Some(flat)
}

/// The multi-index of a row-major offset.
pub fn unflatten(shape: &[usize], mut flat: usize) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (slot, &n) in index.iter_mut().zip(shape).rev() {
        if n > 0 {
            *slot = flat % n;
            flat /= n;
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(shape: &[usize], data: &[f64]) -> Literal {
        Literal {
            dtype: None,
            shape: shape.to_vec(),
            data: data.to_vec(),
            integral: false,
        }
    }

    const B: Bounds = Bounds {
        abs: 1e-3,
        rel: 0.0,
    };

    #[test]
    fn special_values_are_matched_exactly() {
        assert!(element_matches(f64::NAN, f64::NAN, B, false));
        assert!(!element_matches(0.0, f64::NAN, B, false));
        assert!(!element_matches(f64::INFINITY, f64::NEG_INFINITY, B, false));
        assert!(element_matches(-0.0, 0.0, B, false));
        assert!(!element_matches(-0.0, 0.0, B, true));
        assert!(element_matches(1.0005, 1.0, B, false));
        assert!(!element_matches(1.002, 1.0, B, false));
    }

    #[test]
    fn reports_the_worst_element_and_shape_errors() {
        let got = Tensor::from_f64(crate::vocab::Dtype::Float64, &[3], &[1.0, 2.5, 3.0]).unwrap();
        let c = compare(&got, &lit(&[3], &[1.0, 2.0, 3.0]), None, B, false);
        assert!(!c.passed);
        assert_eq!(c.worst, Some(1));
        assert_eq!(c.max_abs, 0.5);
        assert_eq!(c.worst_ratio, 500.0);
        let c = compare(&got, &lit(&[1, 3], &[1.0, 2.0, 3.0]), None, B, false);
        assert!(c.reason.unwrap().contains("shape"));
        let c = compare(&got, &lit(&[], &[2.5]), Some(&[1]), B, false);
        assert!(c.passed);
        assert_eq!(unflatten(&[2, 3], 4), vec![1, 1]);
    }
}
