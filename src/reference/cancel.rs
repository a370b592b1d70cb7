//! Gradients rearranged where PyTorch's formula subtracts two nearly equal numbers.
//!
//! A difference `a - b` of rounded `a` and `b` has the absolute error of its operands: when
//! `a ≈ b` the relative error of the result is theirs times `(|a| + |b|) / |a - b|`. BCE's target
//! gradient `log(1 - x) - log x` near `x = 1/2` is rearranged with `log1p` ([`neg_logit`]). Two such
//! differences are not inherent to the function being computed and disappear when the
//! formula is rearranged (`spec/10-gradients.md`, "Accuracy where a gradient cancels"):
//!
//! - log_softmax's backward at a class whose probability exceeds 1/2: `g_d - p_d·Σ g` holds
//!   `g_d·(1 - p_d)`, and `1 - p_d` is exactly the sum of the other classes' probabilities;
//! - BCE-with-logits' `σ(x)·(1 + (pw - 1)·y) - pw·y`, which is `(1 - y)·σ(x) - pw·y·σ(-x)`:
//!   for a large `x`, `σ(x)` rounds to 1 and `σ(x) - 1` keeps none of `σ(-x)`'s digits.
//!
//! Each is used only where PyTorch's subtraction magnifies errors more than 16-fold. Both are
//! evaluated in [`Real::Wide`] (f64 for f32 and f64; the oracle's double-double for the oracle,
//! which so keeps its own precision) and rounded once. BCE-with-logits' whole gradient is, so in
//! float32 the subtraction that remains there (a true zero of the gradient) costs nothing either.
//!
//! log_softmax's backward (and with it cross-entropy's) is evaluated in [`Real::Wide`] as a whole
//! too, from probabilities made without a logarithm ([`probs_wide`]): PyTorch's `exp(lp_c)` turns
//! the absolute rounding of the log-probability into a relative error of about `|lp_c|·ε`.

use num_traits::{Float, One, Zero};

use super::real::Real;
use super::reduce::{sum, sum_by};
use super::softmax::{row_max, sigmoid_scalar};
use super::wider;

/// The probabilities of one row of logits in [`Real::Wide`], `p_c = e_c / Σ_j e_j` with
/// `e_c = exp(x_c - m)`, `m` the row's maximum, and that sum (at least 1; below 2 exactly when
/// a class has a probability above 1/2). `scratch` (the row's length) is overwritten.
///
/// PyTorch's backward takes `p_c = exp(lp_c)` from the rounded log-probability
/// `lp_c = (x_c - m) - log Σ e_j`, whose absolute rounding (`|lp_c|·ε/2`, twice) `exp` turns
/// into a relative error: 8 to 16 float32 ulps at `lp_c ≈ -20`. Here the difference `x_c - m` is
/// split exactly into its rounded value `h_c` and the remainder `r_c` (Knuth's two-sum), so
/// `e_c = exp(h_c)·(1 + r_c)` is good to `exp`'s own rounding and `r_c²/2`, and no logarithm is
/// taken: `p_c` carries the errors of `exp`, of the sum and of one division, all in
/// [`Real::Wide`] (f64 for both dtypes, so about an ulp in float64, a fraction of one in float32).
pub(super) fn probs_wide<T: Real>(row: &[T], scratch: &mut [T]) -> (Vec<T::Wide>, T::Wide) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has just been found to support AVX-512F.
            return unsafe { probs_wide_avx512(row, scratch) };
        }
        if is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has just been found to support AVX2.
            return unsafe { probs_wide_avx2(row, scratch) };
        }
    }
    probs_wide_loops(row, scratch)
}

/// [`probs_wide_loops`] compiled with AVX-512 (the bits are the same: no fused operations).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn probs_wide_avx512<T: Real>(row: &[T], scratch: &mut [T]) -> (Vec<T::Wide>, T::Wide) {
    probs_wide_loops(row, scratch)
}

/// [`probs_wide_loops`] compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn probs_wide_avx2<T: Real>(row: &[T], scratch: &mut [T]) -> (Vec<T::Wide>, T::Wide) {
    probs_wide_loops(row, scratch)
}

/// The loops of [`probs_wide`], inlined into each of its instruction-set versions (in float32
/// the float64 `exp` is a vector loop only so: compiled for the baseline, the gradient took 1.7
/// times as long).
#[inline(always)]
fn probs_wide_loops<T: Real>(row: &[T], scratch: &mut [T]) -> (Vec<T::Wide>, T::Wide) {
    let m = row_max(row);
    (scratch.iter_mut().zip(row)).for_each(|(h, &a)| *h = a - m);
    let mut e = vec![T::Wide::zero(); row.len()];
    T::exp_wide_of(&mut e, scratch);
    (e.iter_mut().zip(row).zip(&*scratch)).for_each(|((e, &a), &h)| {
        // Two-sum of a and -m: a - m = h + r exactly, for any finite a, m and h.
        let b = h - a;
        let r = (a - (h - b)) - (m + b);
        let r = if r.is_finite() { r } else { T::zero() };
        *e = *e + *e * r.to_wide();
    });
    let total = sum(&e);
    e.iter_mut().for_each(|e| *e = *e / total);
    (e, total)
}

/// The class whose probability exceeds 1/2, if there is one (there is at most one).
fn dominant<T: Real>(p: &[T]) -> Option<usize> {
    // The vectorised maximum first: most rows have no such class, and a search that stops at
    // the first one compares one element at a time.
    let half = T::from_f64(0.5);
    (row_max(p) > half).then(|| p.iter().position(|&v| v > half))?
}

/// How much a subtraction may magnify its operands' errors (four bits) before it counts as
/// cancelling: below that PyTorch's formula is kept, rounding for rounding.
const CANCELS: f64 = 16.0;

/// The most the rearranged subtraction may magnify its operands' errors (one bit) for it to
/// replace PyTorch's: its operands carry their own roundings (of `g`, of `s`), so it pays only
/// where it removes the cancellation, not where it merely shrinks it.
const CLEAN: f64 = 2.0;

/// `(|a| + |b|) / |a - b|`: how much the subtraction `a - b` magnifies its operands' errors.
fn magnification(a: f64, b: f64) -> f64 {
    (a.abs() + b.abs()) / (a - b).abs()
}

/// The dominant class's value of log_softmax's backward on one row of logits `x`, where
/// PyTorch's `out_c = g_c - p_c·Σ g` cancels, as `(d, value)` in [`Real::Wide`]; given `g`, the
/// probabilities `p` and `Σ g`, all in [`Real::Wide`] ([`probs_wide`]), `one_hot` saying `g` is zero but at one class and `total` is that class's `g`
/// (so `Σ_{c≠d} g_c = total - g_d` exactly). The caller computes every other value itself.
///
/// At the dominant class `d`, where PyTorch's value is finite and cancels, it is
/// `g_d·(1 - p_d) - p_d·Σ_{c≠d} g_c = (g_d·s - Σ_{c≠d} g_c) / (1 + s)` with
/// `s = Σ_{c≠d} exp(x_c - x_d)` (`1 - p_d` is the sum of the other probabilities, `s/(1 + s)`),
/// if that subtraction does not cancel itself (a one-hot or nearly one-hot `g`).
pub(super) fn dominant_fix<T: Real>(
    x: &[T],
    g: &(impl Fn(usize) -> T::Wide + Sync),
    total: T::Wide,
    one_hot: bool,
    p: &[T::Wide],
) -> Option<(usize, T::Wide)> {
    let d = dominant(p)?;
    let (g_d, p_d) = (g(d), p[d]);
    let plain = g_d - p_d * total;
    let m_plain = magnification(Real::to_f64(g_d), Real::to_f64(p_d * total));
    if !(plain.is_finite() && m_plain > CANCELS) {
        return None;
    }
    let (value, m) = dominant_value(x, d, g, total, one_hot);
    (m <= CLEAN).then_some((d, value))
}

/// `(g_d·s - Σ_{c≠d} g_c) / (1 + s)` in [`Real::Wide`] (f64 for f32 and f64), `s = Σ_{c≠d}
/// exp(x_c - x_d)`, and the [`magnification`] of its subtraction.
fn dominant_value<T: Real>(
    x: &[T],
    d: usize,
    g: &(impl Fn(usize) -> T::Wide + Sync),
    total: T::Wide,
    one_hot: bool,
) -> (T::Wide, f64) {
    let x_d = x[d].to_wide();
    let zero = T::Wide::zero();
    let others = |f: &(dyn Fn(usize) -> T::Wide + Sync)| {
        sum_by(x.len(), &|c| if c == d { zero } else { f(c) })
    };
    let s = others(&|c| (x[c].to_wide() - x_d).exp());
    let others_g = match one_hot {
        true => total - g(d),
        false => others(&|c| g(c)),
    };
    let g_s = g(d) * s;
    let value = (g_s - others_g) / (T::Wide::one() + s);
    let m = magnification(Real::to_f64(g_s), Real::to_f64(others_g));
    (value, m)
}

/// `-logit(x) = log(1 - x) - log x`, BCE's derivative with respect to its target. Near `x = 1/2`
/// the two logarithms cancel, magnifying their roundings `(|log(1 - x)| + |log x|) / |logit x|`
/// times. On `[1/4, 3/4]` it is `log1p((1 - 2x)/x)` (`x ≤ 1/2`) or `-log1p((2x - 1)/(1 - x))`:
/// `1 - 2x`, `2x - 1` and `1 - x` are exact there (Sterbenz), and `log1p` of an argument in
/// `[0, 2]` passes on at most the relative error of its argument, so the result carries the
/// division's and `log1p`'s roundings, not a magnified difference. Outside that interval the
/// plain difference magnifies at most 1.52-fold.
pub(super) fn neg_logit<T: Real>(x: T) -> T {
    let (one, two, half) = (T::one(), T::from_f64(2.0), T::from_f64(0.5));
    if x >= T::from_f64(0.25) && x <= half {
        ((one - two * x) / x).ln_1p()
    } else if x > half && x <= T::from_f64(0.75) {
        -((two * x - one) / (one - x)).ln_1p()
    } else {
        (-x).ln_1p() - x.ln()
    }
}

/// BCE-with-logits' gradient on one chunk of elements, `out = w·∂l/∂x / n` (`w` 1 without a
/// weight, `n` 1 unless 'mean'), in [`Real::Wide`] in PyTorch's order and rounded once; see
/// [`from_sigmoid`]. The exponentials are made first, a block at a time, so that the rest is a
/// loop without calls or branches, which the compiler vectorises.
pub(super) fn logits_grad_chunk<T: Real>(
    xy: (&[T], &[T]),
    pw: Option<&[T]>,
    w: Option<&[T]>,
    n: f64,
    out: &mut [T],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has just been found to support AVX-512F.
            return unsafe { logits_grad_avx512(xy, pw, w, n, out) };
        }
        if is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has just been found to support AVX2.
            return unsafe { logits_grad_avx2(xy, pw, w, n, out) };
        }
    }
    logits_grad_loops(xy, pw, w, n, out)
}

/// [`logits_grad_loops`] compiled with AVX-512 (the bits are the same: no fused operations).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn logits_grad_avx512<T: Real>(
    xy: (&[T], &[T]),
    pw: Option<&[T]>,
    w: Option<&[T]>,
    n: f64,
    out: &mut [T],
) {
    logits_grad_loops(xy, pw, w, n, out)
}

/// [`logits_grad_loops`] compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn logits_grad_avx2<T: Real>(
    xy: (&[T], &[T]),
    pw: Option<&[T]>,
    w: Option<&[T]>,
    n: f64,
    out: &mut [T],
) {
    logits_grad_loops(xy, pw, w, n, out)
}

/// The loops of [`logits_grad_chunk`], inlined into each of its instruction-set versions.
#[inline(always)]
fn logits_grad_loops<T: Real>(
    (x, y): (&[T], &[T]),
    pw: Option<&[T]>,
    w: Option<&[T]>,
    n: f64,
    out: &mut [T],
) {
    const BLOCK: usize = 512;
    let (mut arg, mut v) = ([T::zero(); BLOCK], [T::Wide::zero(); BLOCK]);
    for lo in (0..out.len()).step_by(BLOCK) {
        let hi = (lo + BLOCK).min(out.len());
        let (arg, v) = (&mut arg[..hi - lo], &mut v[..hi - lo]);
        let (x, y) = (&x[lo..hi], &y[lo..hi]);
        arg.iter_mut().zip(x).for_each(|(a, &x)| *a = -x.abs());
        T::exp_wide_of(v, arg); // e = exp(-|x|), then the gradient in its place
        match pw.map(|p| &p[lo..hi]) {
            Some(p) => (v.iter_mut().zip(x).zip(y).zip(p)).for_each(|(((v, &x), &y), &p)| {
                *v = from_sigmoid(x.to_wide(), y.to_wide(), Some(p.to_wide()), *v);
            }),
            None => (v.iter_mut().zip(x).zip(y)).for_each(|((v, &x), &y)| {
                *v = from_sigmoid(x.to_wide(), y.to_wide(), None, *v);
            }),
        }
        let out = &mut out[lo..hi];
        let n = T::Wide::from_f64(n);
        match w.map(|w| &w[lo..hi]) {
            Some(w) => (out.iter_mut().zip(&*v).zip(w))
                .for_each(|((o, &v), &w)| *o = T::from_wide(v * w.to_wide() / n)),
            None => (out.iter_mut().zip(&*v)).for_each(|(o, &v)| *o = T::from_wide(v / n)),
        }
        if T::REFINES {
            let at = |s: Option<&[T]>, j| s.map(|s| s[lo + j]);
            for (j, o) in out.iter_mut().enumerate() {
                let args = (x[j], y[j], at(pw, j), at(w, j));
                if refine_logits(*o, args, n) {
                    *o = wider::logits_grad(args.0, args.1, args.2, args.3, Real::to_f64(n));
                }
            }
        }
    }
    // A non-finite argument: PyTorch's formula in `T`, whose NaNs and infinities it keeps.
    let finite = |s: &[T]| s.iter().fold(true, |ok, v| ok & v.is_finite()); // no early exit
    if finite(x) && finite(y) && pw.is_none_or(finite) {
        return;
    }
    for j in 0..out.len() {
        let p = pw.map(|p| p[j]);
        if !(x[j].is_finite() && y[j].is_finite() && p.is_none_or(|p| p.is_finite())) {
            let v = logits_grad_in_t(x[j], y[j], p);
            let v = w.map_or(v, |w| v * w[j]);
            out[j] = if n == 1.0 { v } else { v / T::from_f64(n) };
        }
    }
}

/// `∂l/∂x` of BCE-with-logits' element loss before weighing, given `e = exp(-|x|)`: PyTorch's
/// `σ(x)·(1 + (pw - 1)·y) - pw·y`, or `σ(x) - y` without `pos_weight`; where that cancels for
/// `x ≥ 0` (`σ(x)` near 1), `(1 - y)·σ(x) - pw·y·σ(-x)` instead, whose terms are each
/// accurate.
#[inline(always)]
fn from_sigmoid<W: Real>(x: W, y: W, pw: Option<W>, e: W) -> W {
    let (zero, one) = (W::zero(), W::one());
    let s = if x >= zero { one } else { e } / (one + e); // σ(x), as `sigmoid_scalar`
    let (k, py) = match pw {
        // `1 + (pw - 1)·y` as `(1 - y) + pw·y`: `1 - y` is exact for y in [1/2, 2] (Sterbenz), so
        // a target near 1 with a small pos_weight does not cancel here.
        Some(p) => ((one - y) + p * y, p * y),
        None => (one, y),
    };
    let plain = s * k - py;
    // For x ≥ 0, σ(-x) = e·σ(x). Both values are made and one selected, without a branch on
    // the data (which would mispredict on every other element of random logits).
    let rearranged = (one - y) * s - py * (e * s);
    let cancels = (s * k).abs() + py.abs() > W::from_f64(CANCELS) * plain.abs(); // magnification > CANCELS
    if x >= zero && cancels {
        rearranged
    } else {
        plain
    }
}

/// Whether a float64 element of BCE-with-logits' gradient, `value`, is recomputed in
/// double-double (`wider`): its subtraction, the one [`from_sigmoid`] evaluates, weighed and
/// divided as the value is, still cancels. The exponential is made again only for a value in
/// the bound's domain.
fn refine_logits<T: Real>(
    value: T,
    (x, y, pw, w): (T, T, Option<T>, Option<T>),
    n: T::Wide,
) -> bool {
    let value = Real::to_f64(value);
    if !wider::refines::<T>(value, f64::INFINITY, 0) {
        return false;
    }
    let (x, y, one) = (x.to_wide(), y.to_wide(), T::Wide::one());
    let e = (-x.abs()).exp();
    let s = if x >= T::Wide::zero() { one } else { e } / (one + e);
    let (k, py) = match pw.map(T::to_wide) {
        Some(p) => ((one - y) + p * y, p * y),
        None => (one, y),
    };
    let plain = (s * k, py);
    let rearranged = ((one - y) * s, py * (e * s));
    let cancels = (s * k).abs() + py.abs() > T::Wide::from_f64(CANCELS) * (s * k - py).abs();
    let (a, b) = if x >= T::Wide::zero() && cancels {
        rearranged
    } else {
        plain
    };
    let scale = Real::to_f64(w.map_or(one, T::to_wide) / n).abs();
    wider::refines::<T>(
        value,
        (Real::to_f64(a).abs() + Real::to_f64(b).abs()) * scale,
        0,
    )
}

/// PyTorch's formula in `T`, for non-finite arguments (its `1 + (pw - 1)·y` as `(1 - y) + pw·y`,
/// as everywhere).
fn logits_grad_in_t<T: Real>(x: T, y: T, pw: Option<T>) -> T {
    match pw {
        Some(p) => ((T::one() - y) + p * y) * sigmoid_scalar(x) - p * y,
        None => sigmoid_scalar(x) - y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::dd::Dd;
    use crate::reference::softmax::softmax_row;

    /// The probabilities of `x`, as the backward receives them.
    fn probs(x: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; x.len()];
        softmax_row(x, &mut out);
        out
    }

    /// log_softmax's backward as `grad.rs` makes it, with the dominant class's fix.
    fn log_softmax_backward_row(
        x: &[f64],
        g: impl Fn(usize) -> f64 + Sync,
        total: f64,
        one_hot: bool,
        out: &mut [f64],
    ) {
        let fix = dominant_fix(x, &g, total, one_hot, out);
        for (c, o) in out.iter_mut().enumerate() {
            *o = g(c) - *o * total;
        }
        if let Some((d, value)) = fix {
            out[d] = value;
        }
    }

    #[test]
    fn probabilities_far_behind_the_maximum_keep_their_digits() {
        // In float32, 3 - 20.123 rounds to a multiple of 2^-19, so exp(lp) of the rounded
        // difference is off by up to ~8 ulps; the float64 values below are exact differences.
        let x = [3.0f32, 3.0 - 20.123, -17.0001, 1.0, f32::NEG_INFINITY];
        let mut scratch = [0.0f32; 5];
        let (p, total) = probs_wide(&x, &mut scratch);
        let e: Vec<f64> = x.iter().map(|&v| (f64::from(v) - 3.0).exp()).collect();
        let sum: f64 = e.iter().sum();
        assert!((total - sum).abs() <= 2e-16 * sum);
        for (p, e) in p.iter().zip(&e) {
            assert!((p - e / sum).abs() <= 4e-16 * e / sum, "{p} vs {}", e / sum);
        }
        assert_eq!(p[4], 0.0);
        // In float64 the difference 0.1 - 30 rounds; its remainder keeps the digits: within
        // two ulps of the double-double probabilities.
        let x = [30.0f64, 0.1, 7.3e-3, 29.9];
        let (p, _) = probs_wide(&x, &mut [0.0; 4]);
        let xd: Vec<Dd> = x.iter().map(|&v| Dd::from_f64(v)).collect();
        let (pd, _) = probs_wide(&xd, &mut [Dd::from_f64(0.0); 4]);
        for (p, pd) in p.iter().zip(&pd) {
            let ulp = f64::EPSILON * Real::to_f64(*pd);
            assert!((p - Real::to_f64(*pd)).abs() <= 2.0 * ulp, "{p} vs {pd:?}");
        }
        // Non-finite rows are all NaN, as PyTorch's: a +inf maximum, or every logit -inf.
        for x in [[1.0, f64::INFINITY], [f64::NEG_INFINITY; 2]] {
            assert!(probs_wide(&x, &mut [0.0; 2]).0.iter().all(|p| p.is_nan()));
        }
    }

    #[test]
    fn a_dominant_target_keeps_the_digits_of_one_minus_p() {
        // p_0 = 1/(1 + s), s = 2·e^-20: PyTorch's -(1 - p_0) rounds 1 - p_0 to a multiple of
        // 2^-53 (5e-8 of it); -s/(1 + s) is good to an ulp or two.
        let x = [0.0, -20.0, -20.0];
        let s = 2.0 * (-20.0f64).exp();
        let exact = -s * (1.0 - s + s * s);
        let target = |c| if c == 0 { -1.0 } else { 0.0 };
        let mut out = probs(&x);
        let total = -1.0; // Σ g
        let plain = target(0) - out[0] * total;
        assert!((plain - exact).abs() > 1e-9 * exact.abs(), "{plain}");
        log_softmax_backward_row(&x, target, total, true, &mut out);
        assert!(
            (out[0] - exact).abs() <= 4e-16 * exact.abs(),
            "{} vs {exact}",
            out[0]
        );
        assert_eq!(out[1..], probs(&x)[1..]);
        // The same row with g given in full (not one-hot) sums the others' g itself.
        let mut again = probs(&x);
        log_softmax_backward_row(&x, target, total, false, &mut again);
        assert_eq!(again, out);
        // Where nothing cancels (g_d far from p_d·Σg), PyTorch's formula, unchanged.
        let mut mild = probs(&x);
        let p = mild.clone();
        log_softmax_backward_row(&x, |_| 1.0, 3.0, false, &mut mild);
        assert_eq!(mild, p.iter().map(|p| 1.0 - p * 3.0).collect::<Vec<_>>());
        // A non-finite result stays PyTorch's: g_d = -inf gives -inf - p_0·(-inf) = NaN.
        let mut inf = probs(&x);
        let g = |c| if c == 0 { f64::NEG_INFINITY } else { 0.0 };
        log_softmax_backward_row(&x, g, f64::NEG_INFINITY, true, &mut inf);
        assert!(inf[0].is_nan());
    }

    /// The gradient of one element through [`logits_grad_chunk`], unweighed, summed.
    fn logits_grad<T: Real>(x: T, y: T, pw: Option<T>) -> T {
        let mut out = [T::zero()];
        let p = pw.map(|p| [p]);
        logits_grad_chunk(
            (&[x], &[y]),
            p.as_ref().map(|p| &p[..]),
            None,
            1.0,
            &mut out,
        );
        out[0]
    }

    #[test]
    fn logits_grad_keeps_sigma_minus_one() {
        // x = 30, y = 1: σ(30) - 1 is 0 in float32 and -2^-52·… in float64; -σ(-30) is 9.4e-14.
        let exact = -(-30.0f64).exp() / (1.0 + (-30.0f64).exp());
        let g = logits_grad(30.0f64, 1.0, None);
        assert!((g - exact).abs() <= exact.abs() * 4e-16, "{g} vs {exact}");
        assert_eq!(logits_grad(30.0f32, 1.0, None), exact as f32);
        // pos_weight scales the positive part only: y = 1, pw = 3 at x = 0 is -3/2.
        assert_eq!(logits_grad(0.0f64, 1.0, Some(3.0)), -1.5);
        assert_eq!(logits_grad(0.0f64, 0.0, Some(3.0)), 0.5);
        // Non-finite arguments keep PyTorch's formula: pw = inf at y = 1 is inf - inf = NaN.
        assert!(logits_grad(0.0f64, 1.0, Some(f64::INFINITY)).is_nan());
        assert_eq!(logits_grad(f64::INFINITY, 0.25, None), 0.75);
        // A chunk longer than a block, weighed and divided: w·(σ(x) - y)/n, element by element
        // (in float32: in float64 a weighed value and the unweighed one may fall either side of
        // the 1/16 above which `wider` recomputes a cancelling element).
        let x: Vec<f32> = (0..1200).map(|i| (i as f32 - 600.0) / 50.0).collect();
        let (y, w) = (vec![0.25; 1200], vec![2.0; 1200]);
        let mut out = vec![0.0; 1200];
        logits_grad_chunk((&x, &y), None, Some(&w), 4.0, &mut out);
        for (o, x) in out.iter().zip(&x) {
            let want = logits_grad(*x, 0.25, None) * 2.0 / 4.0;
            assert_eq!(*o, want);
        }
    }
}
