//! The float64 gradient elements that still cancel in float64, recomputed in double-double.
//!
//! `cancel.rs` evaluates the gradients whose formula cancels in [`Real::Wide`]: for float32 that
//! is float64, 29 bits to spare, and every float32 gradient lands within an ulp of exact. For
//! float64 it is float64 itself, so a subtraction `a - b` that is the gradient's own (it changes
//! sign there; no rearrangement removes it) turns the few roundings of `a` and `b` into
//! `(|a| + |b|) / |a - b|` times as many ulps of the result: `p_c·Σ w q - w_c q_c` with soft
//! targets, `(1 - y)·σ(x) - pw·y·σ(-x)` with soft labels, `g_d - p_d·Σ g` at a dominant class
//! (chapter 10, "Accuracy where a gradient cancels").
//!
//! Those elements, and only in float64 ([`Real::REFINES`]), are recomputed from the inputs
//! read exactly in [`Real::Wider`] (the oracle's double-double, about 106 bits) and rounded
//! once, so they are correctly rounded but for a tie. Which elements: [`refines`]. Every other
//! value is float64's, bit for bit.

use num_traits::{Float, One, Zero};

use super::real::Real;
use super::reduce::{sum, sum_by};
use super::softmax::row_max;

/// How much an element's subtraction may magnify its operands' roundings before the element is
/// recomputed: float64's `a` and `b` carry up to about five roundings between them
/// ([`super::cancel::probs_wide`]), so past a magnification of 2 the result may be more than a
/// couple of ulps off. An element alone costs one double-double evaluation.
const ELEMENT_LIMIT: f64 = 2.0;

/// The same for a log_softmax backward row, which is recomputed whole (every class's `exp` in
/// double-double): [`ELEMENT_LIMIT`] for a row of up to [`SHORT_ROW`] classes; past that, where
/// it costs ten to twenty times float64's time, only past 64. With an upstream of ones,
/// `1 - C·p_c` magnifies up to 33-fold where it is at least 1/16, and every row of thousands of
/// random logits has such classes; what a long row needs it for — soft targets against large
/// class weights, a dominant class — magnifies hundreds to millions of times.
const LONG_ROW_LIMIT: f64 = 64.0;

/// The longest row recomputed at [`ELEMENT_LIMIT`].
const SHORT_ROW: usize = 4096;

/// The smallest result recomputed alone or in a long row: the accuracy bound's domain
/// (`|exact| ≥ 1/16`, README's "Accuracy"). Below it such a value keeps float64's formula: a
/// BCE-with-logits element's is no worse than PyTorch's there, and a long row is not made again
/// for it. A row of up to [`SHORT_ROW`] classes has no such floor: its cost is bounded by its
/// length, and below 1/16 a cancelling float64 value can be further off than PyTorch's
/// (chapter 10, "Accuracy where a gradient cancels").
const DOMAIN: f64 = 1.0 / 16.0;

/// The limit on the magnification and the smallest magnitude recomputed, for an element alone
/// (`row` 0) or in a log_softmax row of `row` classes.
#[inline(always)]
fn rule(row: usize) -> (f64, f64) {
    match row {
        0 => (ELEMENT_LIMIT, DOMAIN),
        1..=SHORT_ROW => (ELEMENT_LIMIT, 0.0),
        _ => (LONG_ROW_LIMIT, DOMAIN),
    }
}

/// Whether a float64 result `value`, made as a difference of terms whose magnitudes sum to
/// `size` (both already scaled as the result is), is recomputed in [`Real::Wider`]: alone
/// (`row` 0), or with its whole row of `row` classes.
#[inline(always)]
pub(super) fn refines<T: Real>(value: f64, size: f64, row: usize) -> bool {
    let (limit, floor) = rule(row);
    T::REFINES && value.abs() >= floor && size > limit * value.abs()
}

/// Whether a result is large enough for [`refines`] to look at, in a row of `row` classes (0:
/// alone): a cheap first test.
#[inline(always)]
pub(super) fn in_domain<T: Real>(value: T, row: usize) -> bool {
    value.abs() >= T::from_f64(rule(row).1)
}

/// log_softmax's backward `g_c - p_c·Σ g` on one row of logits, every class, in
/// [`Real::Wider`] and rounded once into `out`: `g` is `∂L/∂lp` in that type, `total` its sum
/// if the caller knows it. The probabilities are `exp(x_c - m) / Σ_j exp(x_j - m)`, where the
/// difference is exact and the `exp` [`Real::exp_refine`] (about 2^-89).
pub(super) fn log_softmax_backward<T: Real>(
    row: &[T],
    g: impl Fn(usize) -> T::Wider + Sync,
    total: Option<T::Wider>,
    out: &mut [T],
) {
    let x: Vec<T::Wider> = row.iter().map(|&v| v.to_wider()).collect();
    let m = row_max(&x);
    let e: Vec<T::Wider> = x.iter().map(|&v| (v - m).exp_refine()).collect();
    let norm = sum(&e);
    let total = total.unwrap_or_else(|| sum_by(row.len(), &g));
    for (c, o) in out.iter_mut().enumerate() {
        *o = T::from_wider(g(c) - e[c] / norm * total);
    }
}

/// BCE-with-logits' `w·((1 - y)·σ(x) - pw·y·σ(-x)) / n` for one element in [`Real::Wider`],
/// rounded once (`pw` and `w` 1 where absent; finite arguments).
pub(super) fn logits_grad<T: Real>(x: T, y: T, pw: Option<T>, w: Option<T>, n: f64) -> T {
    let one = T::Wider::one();
    let (x, y) = (x.to_wider(), y.to_wider());
    let e = (-x.abs()).exp_refine();
    let (s, s_neg) = match x >= T::Wider::zero() {
        true => (one / (one + e), e / (one + e)),
        false => (e / (one + e), one / (one + e)),
    };
    let pw = pw.map_or(one, T::to_wider);
    let v = (one - y) * s - pw * y * s_neg;
    let w = w.map_or(one, T::to_wider);
    T::from_wider(w * v / T::Wider::from_f64(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::dd::Dd;

    #[test]
    fn only_float64_results_in_the_domain_that_cancel() {
        assert!(refines::<f64>(0.1, 0.21, 0));
        assert!(!refines::<f64>(0.1, 0.19, 1000));
        assert!(refines::<f64>(0.1, 6.41, 32000) && !refines::<f64>(0.1, 6.39, 32000));
        assert!(!refines::<f64>(0.05, 10.0, 0) && !refines::<f64>(0.05, 10.0, 32000));
        // A short row has no floor: a small value, or a zero, that cancels is made again.
        assert!(refines::<f64>(0.005, 0.925, 4096) && !refines::<f64>(0.005, 0.0099, 4096));
        assert!(refines::<f64>(0.0, 1e-3, 10) && !refines::<f64>(0.0, 0.0, 10));
        assert!(!refines::<f32>(0.1, 10.0, 0));
        assert!(!refines::<f64>(f64::NAN, 10.0, 0));
    }

    #[test]
    fn a_soft_target_at_its_probability_keeps_the_products_digits() {
        // p = (1/2, 1/2); g_c = -w_c·q_c, so the first value is (w_1 q_1 - w_0 q_0)/2. With
        // w_0 q_0 = 3·0.1 and w_1 q_1 = 0.3 (float64 decimals) that is exactly -2^-56; float64's
        // products round both to 0.30000000000000004 and leave 0.
        let x = [0.0f64, 0.0];
        let (w, q) = ([3.0, 1.0], [0.1, 0.3]);
        let g = |c: usize| -(Dd::new(w[c]) * Dd::new(q[c]));
        let mut out = [0.0; 2];
        log_softmax_backward(&x, g, None, &mut out);
        assert_eq!(out, [-(2f64.powi(-56)), 2f64.powi(-56)]);
        // Σ g given by the caller is used as given.
        log_softmax_backward(&x, g, Some(Dd::new(0.0)), &mut out);
        assert_eq!(out, [-(0.1 * 3.0), -0.3]);
    }

    #[test]
    fn sigma_minus_label_keeps_its_digits() {
        // x = 0, σ = 1/2: (1 - y)/2 - pw·y/2 at y = 0.1, pw = 9 is (1 - 10·0.1)/2 = -2^-55 for
        // the float64 0.1; float64's 1 - y and 9·y both round to 0.9.
        assert_eq!(
            logits_grad(0.0f64, 0.1, Some(9.0), None, 1.0),
            -(2f64.powi(-55))
        );
        // Weighed and divided: 2·(1 - 1)·… - … at y = 1 is -2·σ(-x)/4.
        assert_eq!(logits_grad(0.0f64, 1.0, None, Some(2.0), 4.0), -0.25);
    }
}
