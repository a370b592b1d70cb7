//! Closed-form vector–Jacobian products of each function with respect to `input`: what
//! `torch.autograd.grad(out, input, grad_outputs=u)` returns for an upstream gradient `u`
//! ([`Upstream`]). Each `*_grad` is its `*_vjp` with all ones, PyTorch's
//! `out.sum().backward()`.
//!
//! Each function takes the forward's arguments, runs the forward's own validation and terms
//! (so it fails exactly where the forward fails), and evaluates the gradient in the order
//! PyTorch's backward kernels do. Cross-entropy in particular goes, as in PyTorch, through
//! the gradient with respect to the log-probabilities and then log_softmax's backward
//! `g - exp(lp)·Σg`: that is why a NaN logit in an ignored row still gives a NaN row
//! (`0 - NaN·0`). The derivations are in `spec/10-gradients.md`.

use ndarray::{ArrayD, Axis};

use super::binary::{BceOptions, BceWithLogitsOptions, LogitsWeights, bce_checked, logits_checked};
use super::cancel::{dominant_fix, logits_grad_chunk, probs_wide};
use super::cross_entropy::{
    CrossEntropyOptions, Target, check_rank, in_wide, index_setup, prob_setup, smoothed_target,
};
use super::nll::{NllOptions, nll_terms, total_weight, weight_of};
use super::real::{Real, from_count, narrow, widen};
use super::reduce::{Reduction, array_from, sum_by};
use super::rows::{Rows, collect_chunked, flat};
use super::softmax::{sigmoid_and_slope, softmax_row};
use super::vjp::{Upstream, along_with, loss_shape, per_loss};
use super::wider;
use crate::error::{ErrorKind, LossError};
use rayon::prelude::*;

/// PyTorch's `EPSILON` of the BCE backward, a C++ `float`: in f64 it is 9.9999999600e-13.
const BCE_EPSILON: f32 = 1e-12;

/// `∂ softmax(x)·1 / ∂x = s ⊙ (1 - Σ s)` along `dim`: zero up to the rounding of `Σ s`.
///
/// A softmax row always sums to one, so the gradient of the summed output vanishes, up to
/// rounding:
///
/// ```
/// use cross_entropy_spec::reference::softmax_grad;
/// use ndarray::arr2;
///
/// let g = softmax_grad(&arr2(&[[1.0_f64, 2.0, 3.0]]).into_dyn(), 1).unwrap();
/// assert!(g.iter().all(|v| v.abs() < 1e-16));
/// ```
pub fn softmax_grad<T: Real>(x: &ArrayD<T>, dim: isize) -> Result<ArrayD<T>, LossError> {
    softmax_vjp(x, dim, &Upstream::ones())
}

/// `s ⊙ (u - Σ u⊙s)` along `dim`: softmax's vector–Jacobian product.
pub fn softmax_vjp<T: Real>(
    x: &ArrayD<T>,
    dim: isize,
    up: &Upstream<T>,
) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        return softmax_vjp(&widen(x), dim, &up.widened()).map(narrow);
    }
    // Row by row, the softmax made in `out` and used there: no softmax tensor is kept.
    along_with(x, dim, up, |row, u, out| {
        softmax_row(row, out);
        let total = match u {
            // Σ s is 1 by definition: the sum of the rounded s would leave a residue of an ulp
            // that turns every exact 0 of the gradient of the sum into a multiple of it.
            None => T::one(),
            Some(u) => sum_by(out.len(), &|i| u[i] * out[i]),
        };
        let u_at = |i: usize| u.map_or(T::one(), |u| u[i]);
        (out.iter_mut().enumerate()).for_each(|(i, s)| *s = *s * (u_at(i) - total));
    })
}

/// `∂ log_softmax(x)·1 / ∂x = 1 - exp(lp)·C` along `dim` (`C` the length of the slice).
///
/// Each of the `C` outputs of a row pulls every input by `-softmax`, so the gradient is
/// `1 - C·softmax(x)`:
///
/// ```
/// use cross_entropy_spec::reference::{log_softmax_grad, softmax};
/// use ndarray::arr2;
///
/// let x = arr2(&[[1.0_f64, 2.0, 3.0]]).into_dyn();
/// let (g, s) = (log_softmax_grad(&x, 1).unwrap(), softmax(&x, 1).unwrap());
/// assert!(g.iter().zip(&s).all(|(g, s)| (g - (1.0 - 3.0 * s)).abs() < 1e-15));
/// ```
pub fn log_softmax_grad<T: Real>(x: &ArrayD<T>, dim: isize) -> Result<ArrayD<T>, LossError> {
    log_softmax_vjp(x, dim, &Upstream::ones())
}

/// `u - softmax(x)·Σ u` along `dim`: log_softmax's vector–Jacobian product (PyTorch's
/// `u - exp(lp)·Σ u`, evaluated as cross-entropy's backward is, below).
pub fn log_softmax_vjp<T: Real>(
    x: &ArrayD<T>,
    dim: isize,
    up: &Upstream<T>,
) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        return log_softmax_vjp(&widen(x), dim, &up.widened()).map(narrow);
    }
    // Row by row: no log_softmax tensor is kept.
    along_with(x, dim, up, |row, u, out| {
        let u_at = |i: usize| u.map_or(T::one(), |u| u[i]).to_wide();
        let u_wider = |i: usize| u.map_or(T::one(), |u| u[i]).to_wider();
        log_softmax_backward(row, (u_at, u_wider), None, out); // Σ u summed there
    })
}

/// `σ'(x) = σ(x)·σ(-x)`.
///
/// `σ'(x) = σ(x)(1 - σ(x))`, largest at zero, where it is 1/4 (the Lipschitz bound of the
/// spec's appendix):
///
/// ```
/// use cross_entropy_spec::reference::sigmoid_grad;
/// use ndarray::arr1;
///
/// let g = sigmoid_grad(&arr1(&[0.0_f64, 2.0]).into_dyn());
/// assert_eq!(g[[0]], 0.25);
/// assert!(g[[1]] < 0.25);
/// ```
///
/// Computed as `σ(x)·σ(-x) = e / (1 + e)²` with `e = exp(-|x|)` (σ' is even): PyTorch's
/// `σ·(1 - σ)` rounds `σ` near 1 first, and `1 - σ` keeps none of `σ(-x)`'s digits (9 float64
/// ulps on PyTorch's own OpInfo samples, README's "Accuracy"); here nothing cancels.
pub fn sigmoid_grad<T: Real>(x: &ArrayD<T>) -> ArrayD<T> {
    if T::ROUNDED_ONCE {
        return narrow(sigmoid_grad(&widen(x)));
    }
    x.mapv(|v| sigmoid_and_slope(v).1)
}

/// `u ⊙ (1 - σ)·σ`: sigmoid's vector–Jacobian product.
pub fn sigmoid_vjp<T: Real>(x: &ArrayD<T>, up: &Upstream<T>) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        return sigmoid_vjp(&widen(x), &up.widened()).map(narrow);
    }
    up.check(x.shape())?;
    let grad = sigmoid_grad(x);
    Ok(match up.array() {
        None => grad,
        Some(u) => grad * u,
    })
}

/// PyTorch's NLL backward (also cross-entropy's, with index targets) rejects the `(1,)` target
/// that its forward accepts for an unbatched `(C)` input, unless `C = 1`: it compares
/// `input.size(0)` with `target.size(0)`.
fn check_unbatched_target(input: &[usize], target: &[usize]) -> Result<(), LossError> {
    match (input, target) {
        ([c], [1]) if *c != 1 => Err(LossError::new(
            ErrorKind::ShapeMismatch,
            format!("size mismatch (got input: {input:?}, target: {target:?})"),
        )),
        _ => Ok(()),
    }
}

/// `-w[t_n]·g/D` at `[n, t_n]` for every valid `n`, 0 elsewhere. With 'mean' and a zero
/// total weight that is `0·inf = NaN` at the valid targets, while ignored rows stay 0.
///
/// The mean of two samples: `-1/2` at each target's entry, zero elsewhere.
///
/// ```
/// use cross_entropy_spec::reference::{NllOptions, nll_loss_grad};
/// use ndarray::{arr1, arr2};
///
/// let lp = arr2(&[[-0.1_f64, -0.2, -0.3], [-1.0, -2.0, -3.0]]).into_dyn();
/// let g = nll_loss_grad(&lp, &arr1(&[2_i64, 0]).into_dyn(), &NllOptions::default()).unwrap();
/// assert_eq!(g.iter().copied().collect::<Vec<_>>(), [0.0, 0.0, -0.5, -0.5, 0.0, 0.0]);
/// ```
pub fn nll_loss_grad<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<i64>,
    opts: &NllOptions<'_, T>,
) -> Result<ArrayD<T>, LossError> {
    nll_loss_vjp(input, target, opts, &Upstream::ones())
}

/// `-w[t_n]·u_n/D` at `[n, t_n]`: nll_loss's vector–Jacobian product.
pub fn nll_loss_vjp<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<i64>,
    opts: &NllOptions<'_, T>,
    up: &Upstream<T>,
) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        let (x, w) = (widen(input), opts.weight.map(widen));
        return nll_loss_vjp(&x, target, &opts.widened(&w), &up.widened()).map(narrow);
    }
    let terms = nll_terms(input, target, opts)?;
    check_unbatched_target(input.shape(), target.shape())?;
    up.check(&loss_shape(opts.reduction, index_loss_shape(input, target)))?;
    let w = terms.weight.as_deref();
    // Where float64 refines, `-w_c·u/D` in [`Real::Wider`] with `D` summed there, rounded once:
    // float64's `w·(-(u/D))` rounds twice after `D`'s own rounding.
    let wide: Option<Vec<T::Wider>> =
        (w.filter(|_| T::REFINES)).map(|w| w.iter().map(|&v| v.to_wider()).collect());
    let wide = wide.as_deref();
    let d = match T::REFINES {
        true => total_weight(&terms.targets, wide),
        false => T::Wider::from_f64(0.0),
    };
    let mut grad = ArrayD::zeros(input.raw_dim());
    let rows = grad.lanes_mut(Axis(terms.layout.class_dim)).into_iter();
    for (r, (mut row, &t)) in rows.zip(&terms.targets).enumerate() {
        if let Some((c, slot)) = t.and_then(|c| Some((c, row.get_mut(c)?))) {
            let plain = weight_of(w, c) * -per_loss(opts.reduction, up.at(r), terms.total_weight);
            *slot = match T::REFINES && plain.is_finite() {
                true => T::from_wider(
                    weight_of(wide, c) * -per_loss(opts.reduction, up.at(r).to_wider(), d),
                ),
                false => plain,
            };
        }
    }
    Ok(grad)
}

/// The 'none' output of an index-target loss: the target's shape, `()` for a `(C)` input.
fn index_loss_shape<'a>(input: &ArrayD<impl Sized>, target: &'a ArrayD<i64>) -> &'a [usize] {
    match input.ndim() {
        1 => &[],
        _ => target.shape(),
    }
}

/// log_softmax's backward on one row of logits: `∂/∂x = g - exp(lp)·Σ g`, given
/// `g_c = ∂L/∂lp_c` as a function of `c` (no per-row vector) and `Σ g` if the caller knows it
/// without summing (see [`one_hot_total`]); rearranged where it cancels (`cancel`). `g` is given
/// in [`Real::Wide`] and, for a float64 row with an element that still cancels there, in
/// [`Real::Wider`], where that row is recomputed (`wider`).
fn log_softmax_backward<T: Real>(
    row: &[T],
    g: Cotangent<impl Fn(usize) -> T::Wide + Sync, impl Fn(usize) -> T::Wider + Sync>,
    total: Option<(T::Wide, T::Wider)>,
    out: &mut [T],
) {
    let one_hot = total.is_some();
    let (g, g_wider) = g;
    let total_wider = total.map(|t| t.1);
    let total = total.map_or_else(|| sum_by(out.len(), &g), |t| t.0);
    let (p, norm) = probs_wide(row, out);
    // A class above 1/2 makes `Σ exp(x - m)` (the maximum's term is 1) less than 2: only then
    // is there one.
    let maybe_dominant = norm < T::Wide::from_f64(2.0);
    let fix = maybe_dominant.then(|| dominant_fix(row, &g, total, one_hot, &p));
    let fix = fix.flatten();
    // `g_c - p_c·Σ g` in [`Real::Wide`], rounded once.
    for (c, o) in out.iter_mut().enumerate() {
        *o = T::from_wide(g(c) - p[c] * total);
    }
    if let Some((d, value)) = fix {
        out[d] = T::from_wide(value);
    }
    // In a long row only a value in the bound's domain is looked at again (one comparison
    // each; most rows of a 'mean' have none).
    let cancels = |c: usize| {
        let (a, b) = (Real::to_f64(g(c)), Real::to_f64(p[c] * total));
        wider::refines::<T>(a - b, a.abs() + b.abs(), row.len())
    };
    if T::REFINES && (0..out.len()).any(|c| wider::in_domain(out[c], row.len()) && cancels(c)) {
        wider::log_softmax_backward(row, g_wider, total_wider, out);
    }
}

/// `∂L/∂lp_c` of one row, in [`Real::Wide`] and in [`Real::Wider`]: the same formula, made by
/// one generic function instantiated at each.
type Cotangent<G, H> = (G, H);

/// `Σ g` when `g` is zero but at the target: the pairwise sum adds the zeros exactly and starts
/// from `+0`, so it is `+0 + g_t` (a `-0` at the target sums to `+0`), without the `C` additions.
fn one_hot_total<W: Real>(g_t: Option<W>) -> W {
    W::zero() + g_t.unwrap_or_else(W::zero)
}

/// Gradient of `cross_entropy(input, target, opts)` summed, for every target kind,
/// weight, `ignore_index`, label smoothing and reduction:
///
/// - index targets, valid row: `[(1-ε)·w_t·(s - e_t) + (ε/C)·(s·Σ_c w_c - w)]·g/D`; ignored
///   rows 0 (NaN if their softmax is NaN); `D = Σ_valid w[t_n]` for 'mean', so an all-ignored
///   'mean' has a zero gradient although its value is NaN;
/// - probability targets: `(s·Σ_c w_c·q'_c - w ⊙ q')·g`, `g = 1/(N·d1·…·dk)` for 'mean'.
///
/// Without options: `(softmax(x) - onehot) / N`, so every row sums to zero.
///
/// ```
/// use cross_entropy_spec::reference::{
///     CrossEntropyOptions, Target, cross_entropy_grad, softmax,
/// };
/// use ndarray::{arr1, arr2};
///
/// let x = arr2(&[[1.0_f64, 2.0, 3.0], [0.0, 0.0, 0.0]]).into_dyn();
/// let t = arr1(&[0_i64, 2]).into_dyn();
/// let g = cross_entropy_grad(&x, Target::Indices(&t), &CrossEntropyOptions::default()).unwrap();
/// let s = softmax(&x, 1).unwrap();
/// assert!((g[[0, 0]] - (s[[0, 0]] - 1.0) / 2.0).abs() < 1e-16);
/// assert!((g[[1, 1]] - s[[1, 1]] / 2.0).abs() < 1e-16);
/// assert!(g.sum().abs() < 1e-15);
/// ```
pub fn cross_entropy_grad<T: Real>(
    input: &ArrayD<T>,
    target: Target<'_, T>,
    opts: &CrossEntropyOptions<'_, T>,
) -> Result<ArrayD<T>, LossError> {
    cross_entropy_vjp(input, target, opts, &Upstream::ones())
}

/// cross_entropy's vector–Jacobian product with respect to `input`: each row's `∂l_n/∂x`
/// as in [`cross_entropy_grad`], times `u_n`.
pub fn cross_entropy_vjp<T: Real>(
    input: &ArrayD<T>,
    target: Target<'_, T>,
    opts: &CrossEntropyOptions<'_, T>,
    up: &Upstream<T>,
) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        let up = up.widened();
        return in_wide(input, target, opts, |x, t, o| {
            cross_entropy_vjp(x, t, o, &up)
        });
    }
    check_rank(input)?;
    match target {
        Target::Indices(t) => index_grad(input, t, opts, up),
        Target::Probabilities(q) => prob_grad(input, q, opts, up),
    }
}

fn index_grad<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<i64>,
    opts: &CrossEntropyOptions<'_, T>,
    up: &Upstream<T>,
) -> Result<ArrayD<T>, LossError> {
    let terms = index_setup(input, target, opts)?;
    check_unbatched_target(input.shape(), target.shape())?;
    up.check(&loss_shape(opts.reduction, index_loss_shape(input, target)))?;
    let (classes, d, eps) = (terms.layout.classes, terms.total_weight, terms.eps);
    let w = terms.weight.as_deref();
    let rows = Rows::blocks(input, terms.layout.class_dim);
    rows.fill(input.shape(), |r, row, out| {
        // ∂L/∂lp in [`Real::Wide`], rounded only in the end (`log_softmax_backward`).
        let row_g = IndexRow {
            reduction: opts.reduction,
            u: up.at(r),
            d,
            eps,
            classes,
            target: terms.targets[r],
            weight: w,
        };
        let (g, total) = row_g.cotangent(T::to_wide);
        let (g_wider, total_wider) = row_g.cotangent(T::to_wider);
        let total = total.zip(total_wider);
        log_softmax_backward(row, (g, g_wider), total, out);
    })
}

/// What `∂L/∂lp` of one index-target row is made from.
struct IndexRow<'a, T> {
    reduction: Reduction,
    /// The row's upstream gradient `u_n`.
    u: T,
    /// `D`, the 'mean' denominator.
    d: T,
    eps: Option<f64>,
    classes: usize,
    target: Option<usize>,
    weight: Option<&'a [T]>,
}

impl<T: Real> IndexRow<'_, T> {
    /// `∂L/∂lp_c` in `W` (the inputs converted exactly by `to`), and `Σ g` when it is one-hot.
    ///
    /// The loss is (1-ε)·nll + (ε/C)·smooth, so ∂L/∂lp is -(1-ε)·w_t·u_n/D at the target and
    /// -(ε/C)·w_c·u_n/D at every class c (the smooth term only exists when smoothing applies).
    fn cotangent<W: Real>(
        &self,
        to: impl Fn(T) -> W + Sync + Copy,
    ) -> (impl Fn(usize) -> W + Sync, Option<W>) {
        let (keep, spread) = W::smoothing_weights(self.eps.unwrap_or(0.0), self.classes);
        let (u, d, zero) = (to(self.u), to(self.d), W::zero());
        let nll_g = -per_loss(self.reduction, keep * u, d);
        let smooth_g = self.eps.map(|_| -per_loss(self.reduction, spread * u, d));
        let (t, w) = (self.target, self.weight);
        let w_at = move |c| to(weight_of(w, c));
        let g = move |c| match t {
            None => zero,
            Some(t) => {
                let smooth = smooth_g.map_or(zero, |s| w_at(c) * s);
                if c == t {
                    smooth + w_at(t) * nll_g
                } else {
                    smooth
                }
            }
        };
        let total = match smooth_g {
            None => Some(one_hot_total(t.map(&g))),
            Some(_) => None,
        };
        (g, total)
    }
}

fn prob_grad<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<T>,
    opts: &CrossEntropyOptions<'_, T>,
    up: &Upstream<T>,
) -> Result<ArrayD<T>, LossError> {
    let terms = prob_setup(input, target, opts)?;
    up.check(&loss_shape(opts.reduction, &terms.out_shape))?;
    let (cd, w) = (terms.class_dim, terms.weight.as_deref());
    let (x, q) = (Rows::blocks(input, cd), Rows::new(target, cd));
    let (rows, eps, classes) = (x.count, terms.eps, terms.classes);
    x.fill(input.shape(), |r, row, out| {
        let q = q.row(r);
        let u = up.at(r);
        // In [`Real::Wide`], rounded only in the end (`log_softmax_backward`).
        let g = prob_cotangent(T::to_wide, (opts.reduction, u, rows), (eps, classes), w, q);
        let g_wider = prob_cotangent(T::to_wider, (opts.reduction, u, rows), (eps, classes), w, q);
        log_softmax_backward(row, (g, g_wider), None, out);
    })
}

/// `∂L/∂lp_c` of one probability-target row in `W` (the inputs converted exactly by `to`):
/// l_n = -Σ_c w_c·q'_c·lp_c, so ∂L/∂lp_c = -g·w_c·q'_c with g = u_n/rows for 'mean'.
fn prob_cotangent<'a, T: Real, W: Real>(
    to: impl Fn(T) -> W + Sync + Copy + 'a,
    (reduction, u, rows): (Reduction, T, usize),
    (eps, classes): (Option<f64>, usize),
    w: Option<&'a [T]>,
    q: &'a [T],
) -> impl Fn(usize) -> W + Sync + 'a {
    let g = -per_loss(reduction, to(u), from_count::<W>(rows));
    let smoothed = smoothed_target::<W>(eps, classes);
    move |c| g * to(weight_of(w, c)) * smoothed(to(q[c]))
}

/// Multiplies by the broadcast weight, then divides by `numel` for 'mean': the tail of
/// PyTorch's BCE backward kernel, on the gradient's row-major values, in `T`.
fn weighted_and_reduced<T: Real>(
    shape: &[usize],
    mut grad: Vec<T>,
    weight: Option<ndarray::ArrayViewD<'_, T>>,
    reduction: Reduction,
    up: &Upstream<T>,
) -> ArrayD<T> {
    if let Some(w) = weight.map(flat) {
        let pairs = grad.par_iter_mut().zip(w.par_iter());
        pairs.for_each(|(g, &w)| *g = *g * w);
    }
    if up.array().is_some() {
        (grad.par_iter_mut().enumerate()).for_each(|(i, g)| *g = *g * up.at(i));
    }
    if reduction == Reduction::Mean {
        let n = from_count::<T>(grad.len());
        grad.par_iter_mut().for_each(|g| *g = *g / n);
    }
    array_from(shape, grad)
}

/// `w·(x - y) / max((1 - x)·x, EPS)`, divided by `numel` for 'mean'.
///
/// `EPS` is PyTorch's float constant 1e-12. The backward does not know about the forward's
/// clamp of each log at -100 (PyTorch issue #171327): at `x = 0, y = 1` the loss is the
/// constant 100 but the gradient is `-1/EPS`, about `-1e12`.
///
/// With label 1 the loss is `-log x`, whose derivative is `-1/x`; the mean divides by `N`:
///
/// ```
/// use cross_entropy_spec::reference::{BceOptions, binary_cross_entropy_grad};
/// use ndarray::arr1;
///
/// let x = arr1(&[0.25_f64, 0.5]).into_dyn();
/// let g = binary_cross_entropy_grad(&x, &arr1(&[1.0, 1.0]).into_dyn(), &BceOptions::default());
/// assert_eq!(g.unwrap().iter().copied().collect::<Vec<_>>(), [-2.0, -1.0]);
/// ```
pub fn binary_cross_entropy_grad<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<T>,
    opts: &BceOptions<'_, T>,
) -> Result<ArrayD<T>, LossError> {
    binary_cross_entropy_vjp(input, target, opts, &Upstream::ones())
}

/// `u ⊙ ∂l/∂x` of [`binary_cross_entropy_grad`]: its vector–Jacobian product.
pub fn binary_cross_entropy_vjp<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<T>,
    opts: &BceOptions<'_, T>,
    up: &Upstream<T>,
) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        let (x, y, w) = (widen(input), widen(target), opts.weight.map(widen));
        let f = binary_cross_entropy_vjp(&x, &y, &opts.widened(&w), &up.widened());
        return f.map(narrow);
    }
    let weight = bce_checked(input, target, opts)?;
    up.check(&loss_shape(opts.reduction, input.shape()))?;
    let eps = T::from_f64(f64::from(BCE_EPSILON));
    let (x, y) = (flat(input.view()), flat(target.view()));
    let grad = collect_chunked(x.len(), |lo, out| {
        let (x, y) = (&x[lo..lo + out.len()], &y[lo..lo + out.len()]);
        out.iter_mut()
            .enumerate()
            .for_each(|(j, g)| *g = (x[j] - y[j]) / ((T::one() - x[j]) * x[j]).max(eps));
    });
    Ok(weighted_and_reduced(
        input.shape(),
        grad,
        weight,
        opts.reduction,
        up,
    ))
}

/// `weight·((pos_weight·y + 1 - y)·σ(x) - pos_weight·y)`, divided by `numel` for 'mean';
/// `σ(x) - y` without either weight, each evaluated without its cancellation (see
/// `cancel::from_sigmoid`). Finite at `x = ±inf` (`σ = 1` or `0`) where the loss
/// may be NaN.
///
/// Without weights, `(σ(x) - y)/N` for the mean:
///
/// ```
/// use cross_entropy_spec::reference::{
///     BceWithLogitsOptions, binary_cross_entropy_with_logits_grad,
/// };
/// use ndarray::arr1;
///
/// let x = arr1(&[0.0_f64, 0.0]).into_dyn();
/// let y = arr1(&[1.0, 0.0]).into_dyn();
/// let g = binary_cross_entropy_with_logits_grad(&x, &y, &BceWithLogitsOptions::default());
/// assert_eq!(g.unwrap().iter().copied().collect::<Vec<_>>(), [-0.25, 0.25]);
/// ```
pub fn binary_cross_entropy_with_logits_grad<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<T>,
    opts: &BceWithLogitsOptions<'_, T>,
) -> Result<ArrayD<T>, LossError> {
    binary_cross_entropy_with_logits_vjp(input, target, opts, &Upstream::ones())
}

/// `u ⊙ ∂l/∂x` of [`binary_cross_entropy_with_logits_grad`]: its vector–Jacobian product.
pub fn binary_cross_entropy_with_logits_vjp<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<T>,
    opts: &BceWithLogitsOptions<'_, T>,
    up: &Upstream<T>,
) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        let (x, y) = (widen(input), widen(target));
        let w = (opts.weight.map(widen), opts.pos_weight.map(widen));
        let f = binary_cross_entropy_with_logits_vjp(&x, &y, &opts.widened(&w), &up.widened());
        return f.map(narrow);
    }
    let LogitsWeights { weight, pos_weight } = logits_checked(input, target, opts)?;
    up.check(&loss_shape(opts.reduction, input.shape()))?;
    let (x, y) = (flat(input.view()), flat(target.view()));
    let (pos_weight, weight) = (pos_weight.map(flat), weight.map(flat));
    let n = match opts.reduction {
        Reduction::Mean => x.len() as f64,
        Reduction::None | Reduction::Sum => 1.0,
    };
    // Chunks in parallel; weighed and divided in f64 (PyTorch's order) and rounded once.
    let grad = collect_chunked(x.len(), |lo, out| {
        let range = lo..lo + out.len();
        let (x, y) = (&x[range.clone()], &y[range.clone()]);
        let p = pos_weight.as_ref().map(|p| &p[range.clone()]);
        let w = weight.as_ref().map(|w| &w[range]);
        logits_grad_chunk((x, y), p, w, n, out);
        if up.array().is_some() {
            (out.iter_mut().enumerate()).for_each(|(j, g)| *g = *g * up.at(lo + j));
        }
    });
    Ok(array_from(input.shape(), grad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{IxDyn, array};

    fn close(got: &ArrayD<f64>, want: &[f64]) {
        let ok = got.len() == want.len()
            && got.iter().zip(want).all(|(&a, &b)| {
                a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-7 * b.abs()
            });
        assert!(ok, "{got:?} vs {want:?}");
    }

    fn x() -> ArrayD<f64> {
        array![[1.0, 2.0, 3.0], [1.0, -1.0, 0.5], [0.0, 0.0, 0.0]].into_dyn()
    }

    #[test]
    fn tv22_tv23_cross_entropy() {
        let w = array![1.0, 2.0, 3.0].into_dyn();
        let t = array![0i64, -100, 1].into_dyn();
        let opts = CrossEntropyOptions {
            weight: Some(&w),
            label_smoothing: 0.2,
            ..Default::default()
        };
        let g = cross_entropy_grad(&x(), Target::Indices(&t), &opts).unwrap();
        let tv22 = [
            -0.25287666,
            0.053446944,
            0.19942972,
            0.0,
            0.0,
            0.0,
            0.2,
            -0.35555556,
            0.15555556,
        ];
        close(&g, &tv22);
        let t = array![0i64, 2, 1].into_dyn();
        let g = cross_entropy_grad(&x(), Target::Indices(&t), &Default::default()).unwrap();
        let tv23 = [
            -0.30332314,
            0.081576157,
            0.22174699,
            0.19136566,
            0.025898526,
            -0.21726419,
            0.11111111,
            -0.22222222,
            0.11111111,
        ];
        close(&g, &tv23);
    }

    #[test]
    fn ignored_rows_all_ignored_and_zero_weight() {
        // An ignored row is 0, unless its softmax is NaN; all ignored: zeros, not NaN.
        let x = array![[f64::NAN, 0.0], [1.0, 2.0]].into_dyn();
        let t = array![-100i64, -100].into_dyn();
        let g = cross_entropy_grad(&x, Target::Indices(&t), &Default::default()).unwrap();
        close(&g, &[f64::NAN, f64::NAN, 0.0, 0.0]);
        // A zero total weight with valid targets: 0·(1/0) = NaN, in NLL and in CE.
        let w = array![0.0, 1.0].into_dyn();
        let t = array![0i64, 0].into_dyn();
        let o = NllOptions {
            weight: Some(&w),
            ..Default::default()
        };
        let g = nll_loss_grad(&array![[0.0, 1.0], [2.0, 3.0]].into_dyn(), &t, &o).unwrap();
        close(&g, &[f64::NAN, 0.0, f64::NAN, 0.0]);
    }

    #[test]
    fn tv24_tv25_binary() {
        let x = array![0.25, 0.5, 0.9, 0.0].into_dyn();
        let y = array![0.0, 1.0, 0.3, 1.0].into_dyn();
        let o = BceOptions {
            reduction: Reduction::Sum,
            ..Default::default()
        };
        let g = binary_cross_entropy_grad(&x, &y, &o).unwrap();
        close(&g, &[1.3333333, -2.0, 6.6666667, -1000000003995.8029]);
        let g32 = binary_cross_entropy_grad(&x.mapv(|v| v as f32), &y.mapv(|v| v as f32), &{
            BceOptions {
                reduction: Reduction::Sum,
                ..Default::default()
            }
        })
        .unwrap();
        assert_eq!(g32[3], -999999995904.0);
        let x = array![[-2.0, 0.0, 3.0], [0.5, -1.0, 1.0]].into_dyn();
        let y = array![[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]].into_dyn();
        let (pw, w) = (
            array![1.0, 3.0, 0.5].into_dyn(),
            array![[2.0], [0.5]].into_dyn(),
        );
        let o = BceWithLogitsOptions {
            weight: Some(&w),
            pos_weight: Some(&pw),
            reduction: Reduction::Mean,
        };
        let g = binary_cross_entropy_with_logits_grad(&x, &y, &o).unwrap();
        let tv25 = [
            0.039734307,
            -0.5,
            -0.0079043122,
            -0.031461722,
            0.022411785,
            0.024857828,
        ];
        close(&g, &tv25);
    }

    #[test]
    fn softmax_family_and_errors() {
        let g = softmax_grad(&x(), 1).unwrap();
        assert!(g.iter().all(|v| v.abs() < 1e-16));
        let z = ArrayD::from_elem(IxDyn(&[]), 3.0);
        close(&log_softmax_grad(&z, 0).unwrap(), &[0.0]);
        // 1 - C·s for the uniform row: 1 - 3·(1/3).
        let g: ArrayD<f64> = log_softmax_grad(&array![[0.0, 0.0, 0.0]].into_dyn(), -1).unwrap();
        assert!(g.iter().all(|v| v.abs() < 1e-15));
        close(&sigmoid_grad(&array![0.0].into_dyn()), &[0.25]);
        assert!(softmax_grad(&z, 1).is_err());
        let bad = array![1.5].into_dyn();
        assert!(binary_cross_entropy_grad(&bad, &bad, &Default::default()).is_err());
        assert!(cross_entropy_grad(&z, Target::Probabilities(&z), &Default::default()).is_err());
    }
}
