//! Compares an output with expected values under a tolerance, element by element, and keeps the
//! numbers a report needs: how many elements fail, which one fails worst, and by how much, in
//! absolute terms, in units in the last place of the run's dtype, and in units of the allowance.

use super::run::Claim;
use crate::spec::Bounds;
use crate::tensor::Tensor;
use crate::vocab::Dtype;

/// Why one element does not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// Both are numbers, further apart than the tolerance allows.
    OutsideTolerance,
    /// A NaN where a number is expected, or a number where NaN is.
    Nan,
    /// An infinity that is not exactly the expected one.
    Infinity,
    /// Zeros of opposite signs where the case counts the sign.
    ZeroSign,
}

/// One element compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Element {
    /// Row-major offset in the output.
    pub index: usize,
    pub got: f64,
    pub want: f64,
    /// `|got - want|`; infinite when either is not finite and they differ.
    pub abs_error: f64,
    /// The error in units in the last place of `want` in the run's dtype.
    pub ulps: f64,
    /// What the tolerance allows for `want`.
    pub allowance: f64,
    /// `abs_error / allowance`; infinite for a structural mismatch (NaN, infinity, zero sign).
    pub ratio: f64,
    pub mismatch: Option<Mismatch>,
}

/// The result of comparing one output with one expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub bounds: Bounds,
    /// Set when the shapes differ or `select` lies outside the output: nothing else was compared.
    pub shape_mismatch: Option<String>,
    /// How many elements were compared, and the offsets of those that fail.
    pub compared: usize,
    pub failing: Vec<usize>,
    /// The failing element furthest outside its allowance; when none fails, the element closest
    /// to its allowance.
    pub worst: Option<Element>,
    /// Over the elements where both values are finite.
    pub max_abs: f64,
    pub max_ulps: f64,
}

impl Comparison {
    pub fn passed(&self) -> bool {
        self.shape_mismatch.is_none() && self.failing.is_empty()
    }

    /// How many times its allowance the worst element is off; infinite for a structural
    /// mismatch.
    pub fn worst_ratio(&self) -> f64 {
        match (&self.shape_mismatch, &self.worst) {
            (Some(_), _) => f64::INFINITY,
            (None, Some(w)) => w.ratio,
            (None, None) => 0.0,
        }
    }
}

/// Compares `got` with a claim (optionally only its element at `select`) in the run's `dtype`.
pub fn compare(got: &Tensor, claim: &Claim, dtype: Dtype) -> Comparison {
    compare_yielding(got, claim, None, dtype)
}

/// [`compare`], where a claim that yields to the exact result ([`Claim::yields_to_exact`])
/// gives way to `exact`, the run's exact claim, element by element.
pub fn compare_yielding(
    got: &Tensor,
    claim: &Claim,
    exact: Option<&Claim>,
    dtype: Dtype,
) -> Comparison {
    let exact = exact.filter(|_| claim.yields_to_exact);
    let bounds = claim.tol.bounds(dtype);
    let mut c = Comparison {
        bounds,
        shape_mismatch: None,
        compared: 0,
        failing: Vec::new(),
        worst: None,
        max_abs: 0.0,
        max_ulps: 0.0,
    };
    let values = got.to_f64_vec();
    let want = &claim.want;
    let pairs: Vec<(usize, f64, f64)> = match &claim.select {
        Some(index) => match flat_index(got.shape(), index) {
            Some(i) => want
                .data
                .first()
                .map(|&w| (i, values[i], w))
                .into_iter()
                .collect(),
            None => {
                let m = format!(
                    "`select` {index:?} is outside the output of shape {:?}",
                    got.shape()
                );
                c.shape_mismatch = Some(m);
                return c;
            }
        },
        None if got.shape() != want.shape.as_slice() => {
            c.shape_mismatch = Some(format!(
                "shape {:?}, expected {:?}",
                got.shape(),
                want.shape
            ));
            return c;
        }
        // A recorded sample: its elements at their offsets (which a shape that agrees holds).
        None if claim.at.is_some() => (claim.at.iter().flatten().zip(&want.data))
            .filter(|&(&i, _)| i < values.len())
            .map(|(&i, &w)| (i, values[i], w))
            .collect(),
        None if values.len() != want.data.len() => {
            c.shape_mismatch = Some(format!(
                "shape {:?}, expected {:?}",
                got.shape(),
                want.shape
            ));
            return c;
        }
        None => (values.iter().zip(&want.data).enumerate())
            .map(|(i, (&g, &w))| (i, g, w))
            .collect(),
    };
    for (index, g, w) in pairs {
        let mut e = element(
            index,
            g,
            w,
            bounds.allowance_for(w, g, roundoff_at(claim, index)),
            claim.signed_zeros,
            got.dtype(),
        );
        let yielded = exact.is_some_and(|x| yields(x, index, g, w, dtype));
        if e.mismatch == Some(Mismatch::OutsideTolerance) && yielded {
            // The claim gives way: the element's allowance is then what it is off by.
            e.mismatch = None;
            e.allowance = e.abs_error;
            e.ratio = 1.0;
        }
        c.compared += 1;
        if e.abs_error.is_finite() {
            c.max_abs = c.max_abs.max(e.abs_error);
            c.max_ulps = c.max_ulps.max(e.ulps);
        }
        if e.mismatch.is_some() {
            c.failing.push(index);
        }
        if worse(&e, c.worst.as_ref()) {
            c.worst = Some(e);
        }
    }
    c
}

/// A claim's roundoff scale at a flat offset of the result (none: 0).
fn roundoff_at(claim: &Claim, index: usize) -> f64 {
    (claim.roundoff.as_ref())
        .and_then(|r| r.get(index))
        .copied()
        .unwrap_or(0.0)
}

/// Whether a claim that yields to the run's `exact` claim (PyTorch's recorded gradient) gives
/// way at `index`: where the exact claim admits `got`, or `got` is no further from exact than
/// the claimed `want` (one rounding of the exact value does not outrank a closer one).
fn yields(exact: &Claim, index: usize, got: f64, want: f64, dtype: Dtype) -> bool {
    let Some(&x) = exact.want.data.get(index) else {
        return false;
    };
    let admitted = (exact.tol.bounds(dtype)).allowance_for(x, got, roundoff_at(exact, index));
    x.is_finite() && (got - x).abs() <= (want - x).abs().max(admitted)
}

/// Whether `e` should replace `worst`: a failing element beats a passing one, then the larger
/// ratio wins.
fn worse(e: &Element, worst: Option<&Element>) -> bool {
    match worst {
        None => true,
        Some(w) => match (e.mismatch.is_some(), w.mismatch.is_some()) {
            (true, false) => true,
            (false, true) => false,
            _ => e.ratio > w.ratio,
        },
    }
}

/// Compares one element: NaN only matches NaN, an infinity only the same infinity, zeros'
/// signs only when `signed_zeros`; otherwise the tolerance.
fn element(
    index: usize,
    got: f64,
    want: f64,
    allowance: f64,
    signed_zeros: bool,
    dtype: Dtype,
) -> Element {
    let same = got == want || (got.is_nan() && want.is_nan());
    let abs_error = if same { 0.0 } else { (got - want).abs() };
    let abs_error = if abs_error.is_nan() {
        f64::INFINITY
    } else {
        abs_error
    };
    let mismatch = if got.is_nan() || want.is_nan() {
        (!same).then_some(Mismatch::Nan)
    } else if got.is_infinite() || want.is_infinite() {
        (!same).then_some(Mismatch::Infinity)
    } else if signed_zeros
        && got == 0.0
        && want == 0.0
        && got.is_sign_negative() != want.is_sign_negative()
    {
        Some(Mismatch::ZeroSign)
    } else {
        (abs_error > allowance).then_some(Mismatch::OutsideTolerance)
    };
    let ratio = match mismatch {
        Some(Mismatch::OutsideTolerance) | None if abs_error == 0.0 => 0.0,
        Some(Mismatch::OutsideTolerance) | None if allowance > 0.0 => abs_error / allowance,
        _ => f64::INFINITY,
    };
    Element {
        index,
        got,
        want,
        abs_error,
        ulps: match abs_error {
            0.0 => 0.0,
            e if want.is_finite() => e / ulp(want, dtype),
            _ => f64::INFINITY,
        },
        allowance,
        ratio,
        mismatch,
    }
}

/// The unit in the last place of `v` in `dtype` (the spacing of that dtype's numbers at `|v|`;
/// the smallest subnormal's for zero).
pub fn ulp(v: f64, dtype: Dtype) -> f64 {
    match dtype {
        Dtype::Float32 => {
            let x = (v.abs() as f32).min(f32::MAX);
            let next = f32::from_bits(x.to_bits() + 1);
            let gap = if next.is_finite() {
                next - x
            } else {
                x - f32::from_bits(x.to_bits() - 1)
            };
            f64::from(gap)
        }
        Dtype::Float16 | Dtype::BFloat16 => {
            // Precision p, smallest normal exponent, largest finite value.
            let (p, emin, max) = match dtype {
                Dtype::Float16 => (11, -14, 65504.0),
                _ => (8, -126, half::bf16::MAX.to_f64()),
            };
            let x = v.abs().min(max);
            let e = match x {
                0.0 => emin,
                x => (((x.to_bits() >> 52) & 0x7ff) as i32 - 1023).max(emin),
            };
            2f64.powi(e - (p - 1))
        }
        _ => {
            let x = v.abs().min(f64::MAX);
            let next = f64::from_bits(x.to_bits() + 1);
            if next.is_finite() {
                next - x
            } else {
                x - f64::from_bits(x.to_bits() - 1)
            }
        }
    }
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

    fn claim(shape: &[usize], data: &[f64], select: Option<&[usize]>, signed_zeros: bool) -> Claim {
        let bounds = Bounds {
            abs: 1e-3,
            rel: 0.0,
            k: 0.0,
            cut: 0.0,
        };
        Claim {
            source: crate::conformance::run::Source::Stated,
            want: crate::spec::Literal {
                dtype: None,
                shape: shape.to_vec(),
                data: data.to_vec(),
                integral: false,
            },
            select: select.map(<[usize]>::to_vec),
            at: None,
            tol: crate::spec::Tolerance {
                name: "test".into(),
                float32: bounds,
                float64: bounds,
                float16: bounds,
                bfloat16: bounds,
                why: "a test".into(),
                at: Default::default(),
            },
            signed_zeros,
            roundoff: None,
            yields_to_exact: false,
        }
    }

    fn tensor(data: &[f64]) -> Tensor {
        Tensor::from_f64(Dtype::Float64, &[data.len()], data).unwrap()
    }

    #[test]
    fn special_values_are_matched_exactly() {
        let got = tensor(&[f64::NAN, 0.0, f64::INFINITY, -0.0, 1.0005, 1.002]);
        let want = [f64::NAN, f64::NAN, f64::NEG_INFINITY, 0.0, 1.0, 1.0];
        let c = compare(&got, &claim(&[6], &want, None, false), Dtype::Float64);
        assert_eq!(c.failing, vec![1, 2, 5]);
        let c = compare(&got, &claim(&[6], &want, None, true), Dtype::Float64);
        assert_eq!(c.failing, vec![1, 2, 3, 5]);
        assert!(!c.passed());
    }

    #[test]
    fn the_worst_element_is_a_failing_one() {
        // A matching NaN first, a real mismatch later: the report must point at the mismatch.
        let got = tensor(&[f64::NAN, 1.0, 2.5, 3.0]);
        let c = compare(
            &got,
            &claim(&[4], &[f64::NAN, 1.0, 2.0, 3.0], None, false),
            Dtype::Float64,
        );
        let worst = c.worst.unwrap();
        assert_eq!(
            (worst.index, worst.mismatch),
            (2, Some(Mismatch::OutsideTolerance))
        );
        assert_eq!(worst.ratio, 500.0);
        assert_eq!((c.max_abs, c.failing.clone()), (0.5, vec![2]));
        assert_eq!(worst.ulps, 0.5 / f64::EPSILON / 2.0);
    }

    #[test]
    fn shapes_select_and_passing_worst() {
        let got = tensor(&[1.0, 2.0005, 3.0]);
        let c = compare(
            &got,
            &claim(&[1, 3], &[1.0, 2.0, 3.0], None, false),
            Dtype::Float64,
        );
        assert!(c.shape_mismatch.unwrap().contains("shape"));
        let c = compare(&got, &claim(&[], &[2.0], Some(&[1]), false), Dtype::Float64);
        assert!(c.passed());
        assert_eq!(c.worst.unwrap().index, 1);
        assert!((c.worst_ratio() - 0.5).abs() < 1e-9);
        let c = compare(&got, &claim(&[], &[2.0], Some(&[3]), false), Dtype::Float64);
        assert_eq!(c.worst_ratio(), f64::INFINITY);
        assert_eq!(unflatten(&[2, 3], 4), vec![1, 1]);
    }

    /// A recorded sample compares the elements at its offsets only, and its shape still has to
    /// be the output's.
    #[test]
    fn a_sample_compares_its_offsets_only() {
        let got = tensor(&[1.0, 9.0, 3.0]);
        let mut c = claim(&[3], &[1.0, 3.0], None, false);
        c.at = Some(vec![0, 2]);
        let r = compare(&got, &c, Dtype::Float64);
        assert!(r.passed() && r.compared == 2);
        c.want.data = vec![1.0, 9.0];
        let r = compare(&got, &c, Dtype::Float64);
        assert_eq!(r.failing, vec![2]);
        c.want.shape = vec![1, 3];
        assert!(compare(&got, &c, Dtype::Float64).shape_mismatch.is_some());
    }

    /// An expectation with fewer values than its shape says is a shape mismatch, not a pass on
    /// the values it has.
    #[test]
    fn a_short_expectation_never_passes() {
        let got = tensor(&[1.0, 2.0, 3.0]);
        let c = compare(&got, &claim(&[3], &[1.0], None, false), Dtype::Float64);
        assert!(!c.passed() && c.shape_mismatch.is_some());
    }

    /// A claim with a roundoff scale allows `k` times it on top of `abs + rel·|want|`.
    #[test]
    fn a_roundoff_scale_widens_each_element_by_k_times_its_own() {
        let got = tensor(&[1.0 + 2.5e-3, 2.0 + 3e-3]);
        let mut c = claim(&[2], &[1.0, 2.0], None, false);
        c.tol.float64.k = 2.0;
        c.roundoff = Some(vec![1e-3, 0.0]);
        let result = compare(&got, &c, Dtype::Float64);
        assert_eq!(result.failing, vec![1]);
        assert!((result.worst.unwrap().allowance - 1e-3).abs() < 1e-15);
    }

    /// A cut figure passes a value up to one `cut` beyond it, away from zero, and none short of
    /// it by more than `abs`: the worst element is measured against its own side's allowance.
    #[test]
    fn a_cut_figure_is_checked_on_one_side() {
        let got = tensor(&[0.1349, -0.1349, 0.1320]);
        let mut c = claim(&[3], &[0.134, -0.134, 0.134], None, false);
        c.tol.float64.abs = 1e-6;
        c.tol.float64.cut = 1e-3;
        let result = compare(&got, &c, Dtype::Float64);
        assert_eq!(result.failing, vec![2]);
        let worst = result.worst.unwrap();
        assert!((worst.allowance - 1e-6).abs() < 1e-18);
        assert!((worst.ratio - 2000.0).abs() < 1e-6);
    }

    /// A claim that yields to the exact result passes an element outside its tolerance that is
    /// no further from exact than the claimed value, or that the exact claim admits, and still
    /// fails one further from exact than both.
    #[test]
    fn a_claim_yields_to_an_answer_at_least_as_close_to_exact() {
        // Claimed 1.0 and 2.0 with abs 1e-3; exact 1.004 and 2.0, admitted within 5e-4.
        let mut c = claim(&[3], &[1.0, 2.0, 1.0], None, false);
        let mut exact = claim(&[3], &[1.004, 2.0, 1.004], None, false);
        exact.tol.float64.abs = 5e-4;
        c.yields_to_exact = true;
        let got = tensor(&[1.005, 2.002, 0.997]);
        let result = compare_yielding(&got, &c, Some(&exact), Dtype::Float64);
        // [0] is 1e-3 from exact where the claim is 4e-3: it passes at its allowance's edge;
        // [1] is further from exact than the claim (which is exact) and than 5e-4; [2] is on
        // the far side.
        assert_eq!(result.failing, vec![1, 2]);
        let got = tensor(&[1.005, 2.0004, 1.0]);
        let result = compare_yielding(&got, &c, Some(&exact), Dtype::Float64);
        assert!(result.passed());
        assert_eq!(result.worst.unwrap().ratio, 1.0);
        // Without the exact claim, or for a claim that does not yield, the tolerance alone.
        assert_eq!(compare(&got, &c, Dtype::Float64).failing, vec![0]);
        c.yields_to_exact = false;
        let result = compare_yielding(&got, &c, Some(&exact), Dtype::Float64);
        assert_eq!(result.failing, vec![0]);
    }

    #[test]
    fn ulps_follow_the_dtype() {
        assert_eq!(ulp(1.0, Dtype::Float32), f64::from(f32::EPSILON));
        assert_eq!(ulp(1.0, Dtype::Float64), f64::EPSILON);
        assert_eq!(ulp(0.0, Dtype::Float64), f64::from_bits(1));
        assert!(ulp(f64::MAX, Dtype::Float64).is_finite());
    }
}
