//! cross_entropy, computed directly from its own formula: per row,
//! `-log p_t = logsumexp(x) - x_t`, written as `-((x_t - m) - log Σ exp(x - m))`.
//!
//! It deliberately does not call [`super::nll_loss`] or [`super::log_softmax`], so the
//! conformance suite's `cross_entropy = nll_loss ∘ log_softmax` is a real check.

use ndarray::{ArrayD, Axis};

use super::nll::{total_weight, unbatched_as_sum, weight_of};
use super::real::{Real, from_count, narrow, widen};
use super::reduce::{Reduction, array_from, scalar, sum, sum_chunked};
use super::rows::Rows;
use super::shape::{
    ClassLayout, WeightCheck, class_dim, class_weight, fmt_g, fmt_shape, index_target_layout,
    resolve_targets,
};
use super::softmax::shift_and_log_norm;
use crate::error::{ErrorKind, LossError};

/// The target of a cross-entropy call. PyTorch decides by shape (equal to the input's
/// shape means probabilities); here the type says it, and the shapes are then checked.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a, T> {
    /// Class indices, shaped like the input without its class dimension.
    Indices(&'a ArrayD<i64>),
    /// Class probabilities (not validated: any reals), shaped like the input.
    Probabilities(&'a ArrayD<T>),
}

/// Options of `F.cross_entropy` (the deprecated `size_average`/`reduce` are not modelled).
#[derive(Debug, Clone, Copy)]
pub struct CrossEntropyOptions<'a, T> {
    /// Per-class weight, 1-D of length C.
    pub weight: Option<&'a ArrayD<T>>,
    /// Index targets equal to this are ignored; must be negative with probability targets.
    pub ignore_index: i64,
    pub reduction: Reduction,
    /// `ε`: mixes the target with the uniform distribution. Only `ε > 1` is an error;
    /// `ε <= 0` and NaN mean no smoothing (PyTorch tests `ε > 0`).
    pub label_smoothing: f64,
}

impl<T: Real> CrossEntropyOptions<'_, T> {
    /// The same options in [`Real::Wide`], with `weight` the widened class weight.
    pub(crate) fn widened<'b>(
        &self,
        weight: &'b Option<ArrayD<T::Wide>>,
    ) -> CrossEntropyOptions<'b, T::Wide> {
        CrossEntropyOptions {
            weight: weight.as_ref(),
            ignore_index: self.ignore_index,
            reduction: self.reduction,
            label_smoothing: self.label_smoothing,
        }
    }
}

/// `f` on the call's tensors widened to [`Real::Wide`], its result rounded once to `T`: how a
/// [`Real::ROUNDED_ONCE`] dtype's cross-entropy (value or product) is made.
pub(crate) fn in_wide<T: Real>(
    input: &ArrayD<T>,
    target: Target<'_, T>,
    opts: &CrossEntropyOptions<'_, T>,
    f: impl Fn(
        &ArrayD<T::Wide>,
        Target<'_, T::Wide>,
        &CrossEntropyOptions<'_, T::Wide>,
    ) -> Result<ArrayD<T::Wide>, LossError>,
) -> Result<ArrayD<T>, LossError> {
    let (x, w) = (widen(input), opts.weight.map(widen));
    let opts = opts.widened(&w);
    match target {
        Target::Indices(t) => f(&x, Target::Indices(t), &opts),
        Target::Probabilities(q) => f(&x, Target::Probabilities(&widen(q)), &opts),
    }
    .map(narrow)
}

impl<T> Default for CrossEntropyOptions<'_, T> {
    fn default() -> Self {
        CrossEntropyOptions {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
            label_smoothing: 0.0,
        }
    }
}

/// `Some(ε)` if smoothing applies, an error if `ε > 1` (including +inf).
fn smoothing(label_smoothing: f64) -> Result<Option<f64>, LossError> {
    // PyTorch tests `ε > 0`, so negative values and NaN silently mean "no smoothing".
    let applies = label_smoothing > 0.0;
    if !applies {
        return Ok(None);
    }
    if label_smoothing > 1.0 {
        return Err(LossError::new(
            ErrorKind::InvalidLabelSmoothing,
            format!(
                "label_smoothing must be between 0.0 and 1.0. Got: {}",
                fmt_g(label_smoothing)
            ),
        ));
    }
    Ok(Some(label_smoothing))
}

/// Cases PyTorch accepts without smoothing but rejects with it (its smoothing code
/// broadcasts the per-row term and reshapes the weight itself), checked after the NLL checks.
fn smoothing_shape_quirks<T>(
    input_ndim: usize,
    target_ndim: usize,
    layout: &ClassLayout,
    opts: &CrossEntropyOptions<'_, T>,
) -> Result<(), LossError> {
    if input_ndim == 1 && target_ndim == 1 {
        return Err(LossError::new(
            ErrorKind::ShapeMismatch,
            "output with shape [] doesn't match the broadcast shape [1] (with label smoothing an unbatched input needs a 0-d target)",
        ));
    }
    // Only 3-D and larger inputs accept a weight that is not 1-D in the first place.
    let Some(w) = opts.weight.filter(|w| w.ndim() != 1) else {
        return Ok(());
    };
    let detail = format!(
        "(with label smoothing the weight must be 1-D of length {}, got shape {})",
        layout.classes,
        fmt_shape(w.shape())
    );
    let message = match w.shape().first() {
        None => "Dimension specified as 0 but tensor has no dimensions".to_string(),
        Some(&lead) if lead != layout.classes => {
            let mut view = vec![1; input_ndim];
            if let Some(slot) = view.get_mut(layout.class_dim) {
                *slot = lead;
            }
            format!(
                "shape '{}' is invalid for input of size {}",
                fmt_shape(&view),
                w.len()
            )
        }
        Some(_) if opts.reduction == Reduction::Mean => {
            "Index tensor must have the same number of dimensions as input tensor".to_string()
        }
        Some(_) => return Ok(()),
    };
    Err(LossError::new(
        ErrorKind::WeightShape,
        format!("{message} {detail}"),
    ))
}

/// `log p_c = (x_c - m) - log Σ exp(x - m)` for every class of one row, as a function of `c`,
/// and the row's `log Σ exp(x - m)` (`-log p_max`).
pub(crate) fn log_probs<T: Real>(row: &[T]) -> (T, impl Fn(usize) -> T + Sync + '_) {
    let (m, log_norm) = shift_and_log_norm(row);
    (log_norm, move |c| (row[c] - m) - log_norm)
}

/// `terms[j] = log p_(lo + j)` of `row`, given its `(m, log_norm)`: one chunk for
/// [`sum_chunked`], in a loop the compiler vectorises.
fn log_probs_chunk<T: Real>(row: &[T], (m, log_norm): (T, T), lo: usize, terms: &mut [T]) {
    let xs = &row[lo..lo + terms.len()];
    terms
        .iter_mut()
        .zip(xs)
        .for_each(|(t, &v)| *t = (v - m) - log_norm);
}

/// `terms[j] = terms[j]·w[lo + j]` with a class weight `w` (nothing without one): the weighing of
/// one chunk of per-class terms.
fn weigh_chunk<T: Real>(terms: &mut [T], w: Option<&[T]>, lo: usize) {
    if let Some(w) = w {
        let pairs = terms.iter_mut().zip(&w[lo..]);
        pairs.for_each(|(t, &w)| *t = *t * w);
    }
}

/// One row's `(nll, smooth)` terms for target class `t` (both 0 when the row is ignored);
/// `smooth` only with label smoothing.
fn index_row<T: Real>(row: &[T], t: Option<usize>, w: Option<&[T]>, smoothing: bool) -> (T, T) {
    let Some(c) = t else {
        return (T::zero(), T::zero());
    };
    let (m, log_norm) = shift_and_log_norm(row);
    let lp = |k: usize| (row[k] - m) - log_norm;
    let lp_t = match row.get(c) {
        None => T::nan(),
        Some(_) => lp(c),
    };
    let nll = -lp_t * weight_of(w, c);
    let smooth = match smoothing {
        true => -sum_chunked(row.len(), &|lo, terms: &mut [T]| {
            log_probs_chunk(row, (m, log_norm), lo, terms);
            weigh_chunk(terms, w, lo);
        }),
        false => T::zero(),
    };
    (nll, smooth)
}

/// Per-row terms of the index-target loss before reduction (the closed-form gradient,
/// `grad::cross_entropy_grad`, needs only their [`IndexSetup`] and the row softmax).
pub(crate) struct IndexTerms<T> {
    pub layout: ClassLayout,
    /// `nll_n = -w[t_n]·log p[n, t_n]` (0 where ignored).
    pub nll: Vec<T>,
    /// With smoothing: `(ε, smooth_n = -Σ_c w_c·log p[n, c])` (0 where ignored).
    pub smooth: Option<(f64, Vec<T>)>,
    /// The 'mean' denominator of both terms: `Σ_valid w[t_n]`.
    pub total_weight: T,
}

/// What an index-target call is, once validated: every input of [`IndexTerms`] but the rows'
/// losses (all the gradient needs besides the logits).
pub(crate) struct IndexSetup<T> {
    pub layout: ClassLayout,
    pub targets: Vec<Option<usize>>,
    /// The class weight, flattened (`None`: all ones).
    pub weight: Option<Vec<T>>,
    /// `ε` if smoothing applies.
    pub eps: Option<f64>,
    pub total_weight: T,
}

/// The checks of an index-target call, in PyTorch's order.
pub(crate) fn index_setup<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<i64>,
    opts: &CrossEntropyOptions<'_, T>,
) -> Result<IndexSetup<T>, LossError> {
    if target.shape() == input.shape() {
        // PyTorch takes a target of the input's shape for class probabilities, and then
        // rejects it for its integer dtype.
        return Err(LossError::new(
            ErrorKind::DtypeMismatch,
            "Expected floating point type for target with class probabilities, got Long",
        ));
    }
    let eps = smoothing(opts.label_smoothing)?;
    let (layout, weight) = index_target_layout(input.shape(), target.shape(), opts.weight)?;
    let targets = resolve_targets(target, layout.classes, opts.ignore_index)?;
    if eps.is_some() {
        smoothing_shape_quirks(input.ndim(), target.ndim(), &layout, opts)?;
    }
    let total_weight = total_weight(&targets, weight.as_deref());
    Ok(IndexSetup {
        layout,
        targets,
        weight,
        eps,
        total_weight,
    })
}

pub(crate) fn index_terms<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<i64>,
    opts: &CrossEntropyOptions<'_, T>,
) -> Result<IndexTerms<T>, LossError> {
    let IndexSetup {
        layout,
        targets,
        weight,
        eps,
        total_weight,
    } = index_setup(input, target, opts)?;
    let w = weight.as_deref();
    let rows = Rows::blocks(input, layout.class_dim);
    let pairs = rows.map(|r, row| index_row(row, targets[r], w, eps.is_some()));
    let (nll, smooth): (Vec<T>, Vec<T>) = pairs.into_iter().unzip();
    Ok(IndexTerms {
        nll: unbatched_as_sum(&layout, nll),
        layout,
        smooth: eps.map(|e| (e, smooth)),
        total_weight,
    })
}

/// `(1-ε)·nll + (ε/C)·smooth`, reduced: both terms are divided by the same `Σ_valid w[t_n]`
/// for 'mean' (PyTorch's "consistent with nll_loss" choice).
fn reduce_index<T: Real>(terms: IndexTerms<T>, reduction: Reduction) -> ArrayD<T> {
    let d = terms.total_weight;
    let Some((eps, smooth)) = terms.smooth else {
        return match reduction {
            Reduction::None => array_from(&terms.layout.out_shape, terms.nll),
            Reduction::Sum => scalar(sum(&terms.nll)),
            Reduction::Mean => scalar(sum(&terms.nll) / d),
        };
    };
    let (keep, spread) = T::smoothing_weights(eps, terms.layout.classes);
    match reduction {
        Reduction::None => {
            let mixed = terms.nll.iter().zip(&smooth);
            let l = mixed.map(|(&n, &s)| keep * n + s * spread).collect();
            array_from(&terms.layout.out_shape, l)
        }
        Reduction::Sum => scalar(keep * sum(&terms.nll) + sum(&smooth) * spread),
        Reduction::Mean => scalar(keep * (sum(&terms.nll) / d) + (sum(&smooth) / d) * spread),
    }
}

/// Per-row terms of the probability-target loss before reduction:
/// `r_n = Σ_c w_c·q'_{nc}·log p_{nc}`, so that `l_n = -r_n`.
pub(crate) struct ProbTerms<T> {
    pub out_shape: Vec<usize>,
    pub classes: usize,
    pub row_sums: Vec<T>,
}

/// `q ↦ q' = (1-ε)·q + ε/C` when smoothing applies, the identity otherwise.
pub(crate) fn smoothed_target<T: Real>(eps: Option<f64>, classes: usize) -> impl Fn(T) -> T + Sync {
    let keep_spread = eps.map(|e| T::smoothing_weights(e, classes));
    move |q| keep_spread.map_or(q, |(keep, spread)| q * keep + spread)
}

/// What a probability-target call is, once validated: every input of [`ProbTerms`] but the
/// rows' sums (all the gradient needs besides the logits and the target).
pub(crate) struct ProbSetup<T> {
    pub out_shape: Vec<usize>,
    pub class_dim: usize,
    pub classes: usize,
    pub weight: Option<Vec<T>>,
    /// `ε` if smoothing applies: `q' = (1-ε)·q + ε/C`.
    pub eps: Option<f64>,
}

/// The checks of a probability-target call, in PyTorch's order.
pub(crate) fn prob_setup<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<T>,
    opts: &CrossEntropyOptions<'_, T>,
) -> Result<ProbSetup<T>, LossError> {
    if target.shape() != input.shape() {
        return Err(LossError::new(
            ErrorKind::ShapeMismatch,
            format!(
                "Expected a probability target of the input's shape {}, got {}",
                fmt_shape(input.shape()),
                fmt_shape(target.shape())
            ),
        ));
    }
    if opts.ignore_index >= 0 {
        return Err(LossError::new(
            ErrorKind::IgnoreIndexWithProbabilities,
            "ignore_index is not supported for floating point target",
        ));
    }
    let cd = class_dim(input.ndim());
    let classes = input.len_of(Axis(cd));
    let weight = class_weight(opts.weight, classes, WeightCheck::Probabilities)?;
    let eps = smoothing(opts.label_smoothing)?;
    let out_shape = (input.shape().iter().enumerate())
        .filter_map(|(axis, &len)| (axis != cd).then_some(len))
        .collect();
    Ok(ProbSetup {
        out_shape,
        class_dim: cd,
        classes,
        weight,
        eps,
    })
}

pub(crate) fn prob_terms<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<T>,
    opts: &CrossEntropyOptions<'_, T>,
) -> Result<ProbTerms<T>, LossError> {
    let ProbSetup {
        out_shape,
        class_dim: cd,
        classes,
        weight,
        eps,
    } = prob_setup(input, target, opts)?;
    let smoothed = smoothed_target(eps, classes);
    let w = weight.as_deref();
    let q = Rows::new(target, cd);
    let row_sums = Rows::blocks(input, cd).map(|r, x| {
        let (shift, q) = (shift_and_log_norm(x), q.row(r));
        sum_chunked(x.len(), &|lo, terms: &mut [T]| {
            log_probs_chunk(x, shift, lo, terms);
            let qs = &q[lo..lo + terms.len()];
            terms
                .iter_mut()
                .zip(qs)
                .for_each(|(t, &q)| *t = *t * smoothed(q));
            weigh_chunk(terms, w, lo);
        })
    });
    Ok(ProbTerms {
        out_shape,
        classes,
        row_sums,
    })
}

/// 'mean' divides by the number of rows `N·d1·…·dk`, not by any weight; an empty input
/// gives NaN for 'mean' and `-0.0` for 'sum' (the negated empty sum), as in PyTorch.
fn reduce_prob<T: Real>(terms: ProbTerms<T>, reduction: Reduction) -> ArrayD<T> {
    let total = sum(&terms.row_sums);
    let rows = terms.row_sums.len();
    match reduction {
        Reduction::None => {
            let l = terms.row_sums.into_iter().map(|r| -r).collect();
            array_from(&terms.out_shape, l)
        }
        Reduction::Sum => scalar(-total),
        Reduction::Mean if rows * terms.classes == 0 => scalar(T::nan()),
        Reduction::Mean => scalar(-total / from_count::<T>(rows)),
    }
}

/// A 0-d input has no class dimension; PyTorch rejects it before looking at the target.
pub(crate) fn check_rank<T>(input: &ArrayD<T>) -> Result<(), LossError> {
    super::shape::check_size(input.shape())?;
    if input.ndim() == 0 {
        return Err(LossError::new(
            ErrorKind::InvalidRank,
            "Expected 1 or more dimensions (got 0)",
        ));
    }
    Ok(())
}

/// Cross-entropy between logits `input` and a class-index or class-probability target.
///
/// Input `(C)`, `(N, C)` or `(N, C, d1..dk)`; classes along dim 1 (dim 0 unbatched).
/// Index targets: `l_n = -w[t_n]·log p[n, t_n]`, 'mean' divides by `Σ_valid w[t_n]`; with
/// smoothing `(1-ε)·l_n + (ε/C)·(-Σ_c w_c log p[n, c])`. Probability targets:
/// `l_n = -Σ_c w_c·q'_{nc}·log p_{nc}`, 'mean' divides by `N·d1·…·dk`.
///
/// `004_8a619d584319f9a0.txt`'s logits `arange(1, 13).reshape(3, 4)` with labels `[1, 2, 3]`,
/// printed as `[2.4402, 1.4402, 0.4402]` with `reduction='none'`, and as probability targets:
///
/// ```
/// use cross_entropy_spec::reference::{CrossEntropyOptions, Reduction, Target, cross_entropy};
/// use ndarray::{Array, arr1, arr2};
///
/// let logits = Array::range(1.0_f64, 13.0, 1.0).into_shape_with_order((3, 4)).unwrap().into_dyn();
/// let labels = arr1(&[1_i64, 2, 3]).into_dyn();
/// let opts = CrossEntropyOptions { reduction: Reduction::None, ..Default::default() };
/// let losses = cross_entropy(&logits, Target::Indices(&labels), &opts).unwrap();
/// let four: Vec<String> = losses.iter().map(|l| format!("{l:.4}")).collect();
/// assert_eq!(four, ["2.4402", "1.4402", "0.4402"]);
///
/// let one_hot = arr2(&[[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]);
/// let soft = cross_entropy(&logits, Target::Probabilities(&one_hot.into_dyn()), &opts).unwrap();
/// assert!(soft.iter().zip(&losses).all(|(a, b)| (a - b).abs() < 1e-15));
/// ```
pub fn cross_entropy<T: Real>(
    input: &ArrayD<T>,
    target: Target<'_, T>,
    opts: &CrossEntropyOptions<'_, T>,
) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        return in_wide(input, target, opts, cross_entropy);
    }
    check_rank(input)?;
    match target {
        Target::Indices(t) => Ok(reduce_index(index_terms(input, t, opts)?, opts.reduction)),
        Target::Probabilities(q) => Ok(reduce_prob(prob_terms(input, q, opts)?, opts.reduction)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{IxDyn, array};

    fn x() -> ArrayD<f64> {
        array![[1.0, 2.0, 3.0], [1.0, -1.0, 0.5], [0.0, 0.0, 0.0]].into_dyn()
    }

    /// none; sum; mean, flattened.
    fn all(target: Target<'_, f64>, o: CrossEntropyOptions<'_, f64>) -> Vec<f64> {
        let mut out = Vec::new();
        for reduction in [Reduction::None, Reduction::Sum, Reduction::Mean] {
            let mut opts = o;
            opts.reduction = reduction;
            out.extend(cross_entropy(&x(), target, &opts).unwrap());
        }
        out
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
        for (x, y) in a.iter().zip(b) {
            assert!(x == y || (x - y).abs() <= 1e-7 * y.abs(), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn tv05_tv06_tv07_tv10() {
        let t = array![0i64, 2, 1].into_dyn();
        let d = CrossEntropyOptions::default();
        close(
            &all(Target::Indices(&t), d),
            &[2.407606, 1.0549569, 1.0986123, 4.5611752, 1.5203917],
        );
        let w = array![1.0, 2.0, 3.0].into_dyn();
        let wd = CrossEntropyOptions {
            weight: Some(&w),
            ..d
        };
        close(
            &all(Target::Indices(&t), wd),
            &[2.407606, 3.1648708, 2.1972246, 7.7697013, 1.2949502],
        );
        let t = array![0i64, -100, 1].into_dyn();
        close(
            &all(Target::Indices(&t), wd),
            &[2.407606, 0.0, 2.1972246, 4.6048305, 1.5349435],
        );
        let ls = CrossEntropyOptions {
            label_smoothing: 0.2,
            ..wd
        };
        close(
            &all(Target::Indices(&t), ls),
            &[2.3557938, 0.0, 2.1972246, 4.5530184, 1.5176728],
        );
    }

    #[test]
    fn tv12_tv13_probabilities() {
        let q = array![[0.25, 0.25, 0.5], [1.0, 0.0, 0.0], [0.5, 0.5, 0.0]].into_dyn();
        let w = array![1.0, 2.0, 3.0].into_dyn();
        let o = CrossEntropyOptions {
            weight: Some(&w),
            ..Default::default()
        };
        close(
            &all(Target::Probabilities(&q), o),
            &[1.9171134, 0.55495692, 1.6479184, 4.1199888, 1.3733296],
        );
        let o = CrossEntropyOptions {
            label_smoothing: 0.3,
            ..Default::default()
        };
        close(
            &all(Target::Probabilities(&q), o),
            &[1.232606, 0.80495692, 1.0986123, 3.1361752, 1.0453917],
        );
    }

    #[test]
    fn tv14_kdim_and_empty() {
        let x = array![[[0.0, 1.0, 2.0], [1.0, 1.0, -1.0]]].into_dyn();
        let t = array![[1i64, 0, -100]].into_dyn();
        let o = CrossEntropyOptions {
            reduction: Reduction::None,
            ..Default::default()
        };
        let l = cross_entropy(&x, Target::Indices(&t), &o).unwrap();
        assert_eq!(l.shape(), &[1, 3]);
        close(
            &l.into_iter().collect::<Vec<_>>(),
            &[0.31326169, std::f64::consts::LN_2, 0.0],
        );
        let e = ArrayD::<f32>::zeros(IxDyn(&[0, 3]));
        let q = e.clone();
        let o = CrossEntropyOptions {
            reduction: Reduction::Sum,
            ..Default::default()
        };
        let s = cross_entropy(&e, Target::Probabilities(&q), &o).unwrap();
        assert!(s.iter().all(|v| *v == 0.0 && v.is_sign_negative()));
        let m = cross_entropy(&e, Target::Probabilities(&q), &Default::default()).unwrap();
        assert!(m.iter().all(|v| v.is_nan()));
    }

    /// A confidently right prediction: the loss `log1p(4·e^-20) ≈ 8.2e-9` keeps its digits in
    /// f32, where `ln(Σ exp)` rounds the sum to 1 and gives 0. Ties with the maximum count once
    /// each, and a row whose loss is not small keeps the plain formula.
    #[test]
    fn a_dominant_target_loses_no_digits() {
        let x = array![[20.0f32, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0, 0.0]].into_dyn();
        let t = array![0i64, 1].into_dyn();
        let o = CrossEntropyOptions {
            reduction: Reduction::None,
            ..Default::default()
        };
        let l = cross_entropy(&x, Target::Indices(&t), &o).unwrap();
        let exact = (4.0 * (-20.0f64).exp()).ln_1p();
        assert!((f64::from(l[0]) - exact).abs() <= 1e-7 * exact, "{}", l[0]);
        let tie = (2.0 + 3.0 * (-1.0f64).exp()).ln();
        assert!((f64::from(l[1]) - tie).abs() <= 1e-7 * tie, "{}", l[1]);
    }

    /// The same with probability targets: one-hot on the dominant class, the loss is
    /// `-log p_0 = log1p(4·e^-20)`, and near one-hot every `log p_c` carries the accurate
    /// log-norm (float64: `ln(1 + s)` would be off by about 2·10⁻⁸ of it).
    #[test]
    fn a_dominant_soft_target_loses_no_digits() {
        let x = array![[20.0f64, 0.0, 0.0, 0.0, 0.0]].into_dyn();
        let o = CrossEntropyOptions {
            reduction: Reduction::None,
            ..Default::default()
        };
        let q = array![[1.0f64, 0.0, 0.0, 0.0, 0.0]].into_dyn();
        let l = cross_entropy(&x, Target::Probabilities(&q), &o).unwrap();
        let exact = (4.0 * (-20.0f64).exp()).ln_1p();
        assert!((l[0] - exact).abs() <= 4e-16 * exact, "{} vs {exact}", l[0]);
        let q = array![[0.5f64, 0.5, 0.0, 0.0, 0.0]].into_dyn();
        let l = cross_entropy(&x, Target::Probabilities(&q), &o).unwrap();
        let exact = exact + 10.0; // -(0.5·lp_0 + 0.5·(lp_0 - 20))
        assert!((l[0] - exact).abs() <= 4e-16 * exact, "{} vs {exact}", l[0]);
    }

    #[test]
    fn empty_targets_with_a_huge_batch_are_refused_not_allocated() {
        let x = ArrayD::<f64>::zeros(IxDyn(&[1 << 62, 0]));
        let o = CrossEntropyOptions {
            reduction: Reduction::None,
            ..Default::default()
        };
        let e = cross_entropy(&x, Target::Probabilities(&x), &o).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge);
    }

    #[test]
    fn torch_quirks() {
        // Unbatched 'none' is accumulated like a sum in PyTorch: +0.0, not -0.0.
        let x = array![0.0f32].into_dyn();
        let t = ArrayD::from_elem(IxDyn(&[]), 0i64);
        let o = CrossEntropyOptions {
            reduction: Reduction::None,
            ..Default::default()
        };
        let l = cross_entropy(&x, Target::Indices(&t), &o).unwrap();
        assert!(l.iter().all(|v| *v == 0.0 && v.is_sign_positive()));
        // A (1,) target for an unbatched input is rejected once smoothing is on.
        let t = array![0i64].into_dyn();
        let o = CrossEntropyOptions {
            label_smoothing: 0.1,
            ..o
        };
        assert!(cross_entropy(&x, Target::Indices(&t), &o).is_err());
        // An index target of the input's shape is what PyTorch reads as probabilities, and
        // rejects for its integer dtype: the rule lives here, so every caller of the typed
        // API (not only `eval`) gets PyTorch's kind.
        let e = cross_entropy(&x, Target::Indices(&t), &Default::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::DtypeMismatch);
    }

    #[test]
    fn smoothing_rule_and_errors() {
        let t = array![0i64, 2, 1].into_dyn();
        let plain = all(Target::Indices(&t), Default::default());
        for eps in [-0.1, f64::NAN] {
            let o = CrossEntropyOptions {
                label_smoothing: eps,
                ..Default::default()
            };
            close(&all(Target::Indices(&t), o), &plain);
        }
        let o = CrossEntropyOptions::<f64> {
            label_smoothing: 1.5,
            ..Default::default()
        };
        let e = cross_entropy(&x(), Target::Indices(&t), &o).unwrap_err();
        assert_eq!(
            e.message,
            "label_smoothing must be between 0.0 and 1.0. Got: 1.5"
        );
        let q = x();
        let o = CrossEntropyOptions::<f64> {
            ignore_index: 0,
            ..Default::default()
        };
        let e = cross_entropy(&x(), Target::Probabilities(&q), &o).unwrap_err();
        assert_eq!(e.kind, ErrorKind::IgnoreIndexWithProbabilities);
    }
}
