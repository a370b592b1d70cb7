//! nll_loss: `l_n = -w[t_n] · x[n, t_n]` for every target that is not `ignore_index`.

use ndarray::{ArrayD, Axis};

use super::real::{Real, narrow, widen};
use super::reduce::{Reduction, array_from, scalar, sum};
use super::shape::{ClassLayout, index_target_layout, resolve_targets};
use crate::error::LossError;

/// Options of `F.nll_loss` (the deprecated `size_average`/`reduce` are not modelled).
#[derive(Debug, Clone, Copy)]
pub struct NllOptions<'a, T> {
    /// Per-class weight, 1-D of length C.
    pub weight: Option<&'a ArrayD<T>>,
    /// Targets equal to this contribute 0 and are left out of the 'mean' denominator.
    pub ignore_index: i64,
    pub reduction: Reduction,
}

impl<T: Real> NllOptions<'_, T> {
    /// The same options in [`Real::Wide`], with `weight` the widened class weight.
    pub(crate) fn widened<'b>(
        &self,
        weight: &'b Option<ArrayD<T::Wide>>,
    ) -> NllOptions<'b, T::Wide> {
        NllOptions {
            weight: weight.as_ref(),
            ignore_index: self.ignore_index,
            reduction: self.reduction,
        }
    }
}

impl<T> Default for NllOptions<'_, T> {
    fn default() -> Self {
        NllOptions {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
        }
    }
}

/// Everything the forward pass computes before reducing; the closed-form gradient
/// (`grad::nll_loss_grad`: `-w[t_n]·g/D` at `[n, t_n]`) is built from these.
pub(crate) struct NllTerms<T> {
    pub layout: ClassLayout,
    /// `Some(class)` per target element (row-major), `None` where ignored.
    pub targets: Vec<Option<usize>>,
    /// The class weight, flattened (`None`: all ones).
    pub weight: Option<Vec<T>>,
    /// `l_n` per target element (0 where ignored).
    pub losses: Vec<T>,
    /// The 'mean' denominator `D = Σ_valid w[t_n]` (the valid count without a weight).
    pub total_weight: T,
}

/// `w[c]`, or 1 without a weight (PyTorch multiplies by 1 then, too).
pub(crate) fn weight_of<T: Real>(weight: Option<&[T]>, class: usize) -> T {
    weight
        .and_then(|w| w.get(class).copied())
        .unwrap_or_else(T::one)
}

/// `D = Σ_valid w[t_n]`.
pub(crate) fn total_weight<T: Real>(targets: &[Option<usize>], weight: Option<&[T]>) -> T {
    let gathered: Vec<T> = targets
        .iter()
        .flatten()
        .map(|&c| weight_of(weight, c))
        .collect();
    sum(&gathered)
}

/// For an unbatched `(C)` input PyTorch accumulates the one loss into a sum even for
/// 'none', so a `-0.0` loss comes out as `+0.0`.
pub(crate) fn unbatched_as_sum<T: Real>(layout: &ClassLayout, losses: Vec<T>) -> Vec<T> {
    if layout.out_shape.is_empty() {
        vec![sum(&losses)]
    } else {
        losses
    }
}

pub(crate) fn nll_terms<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<i64>,
    opts: &NllOptions<'_, T>,
) -> Result<NllTerms<T>, LossError> {
    let (layout, weight) = index_target_layout(input.shape(), target.shape(), opts.weight)?;
    let targets = resolve_targets(target, layout.classes, opts.ignore_index)?;
    let w = weight.as_deref();
    let losses: Vec<T> = input
        .lanes(Axis(layout.class_dim))
        .into_iter()
        .zip(&targets)
        .map(|(row, t)| match *t {
            Some(c) => -row.get(c).copied().unwrap_or_else(T::nan) * weight_of(w, c),
            None => T::zero(),
        })
        .collect();
    let total_weight = total_weight(&targets, w);
    Ok(NllTerms {
        losses: unbatched_as_sum(&layout, losses),
        weight,
        layout,
        targets,
        total_weight,
    })
}

/// Negative log-likelihood of class-index targets, given log-probabilities
/// (nothing checks that `input` is normalised, as in PyTorch).
///
/// Shapes: `(C)` with a `()` or `(1,)` target, `(N, C)` with `(N)`,
/// `(N, C, d1..dk)` with `(N, d1..dk)`. 'none' has the target's shape (`()` unbatched);
/// 'mean' is `Σ l_n / Σ_valid w[t_n]`, NaN when that is 0 (all ignored, empty batch).
///
/// On raw scores it only gathers: the loss is minus the true class's entry, here the third
/// (classes count from zero), averaged.
///
/// ```
/// use cross_entropy_spec::reference::{NllOptions, nll_loss};
/// use ndarray::{arr1, arr2};
///
/// let scores = arr2(&[[-0.1_f64, -0.2, -0.3], [-1.0, -2.0, -3.0]]).into_dyn();
/// let target = arr1(&[2_i64, 0]).into_dyn();
/// let loss = nll_loss(&scores, &target, &NllOptions::default()).unwrap();
/// assert!((loss[[]] - (0.3 + 1.0) / 2.0).abs() < 1e-15);
/// ```
pub fn nll_loss<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<i64>,
    opts: &NllOptions<'_, T>,
) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        let (x, w) = (widen(input), opts.weight.map(widen));
        return nll_loss(&x, target, &opts.widened(&w)).map(narrow);
    }
    let terms = nll_terms(input, target, opts)?;
    Ok(match opts.reduction {
        Reduction::None => array_from(&terms.layout.out_shape, terms.losses),
        Reduction::Sum => scalar(sum(&terms.losses)),
        Reduction::Mean => scalar(sum(&terms.losses) / terms.total_weight),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use ndarray::{IxDyn, array};

    fn run(reduction: Reduction, w: Option<&ArrayD<f64>>) -> Vec<f64> {
        let x = array![[-0.5, -1.0, -2.0], [-3.0, -0.25, -1.5]].into_dyn();
        let t = array![2i64, 1].into_dyn();
        let opts = NllOptions {
            weight: w,
            reduction,
            ..Default::default()
        };
        nll_loss(&x, &t, &opts).unwrap().iter().copied().collect()
    }

    #[test]
    fn tv16() {
        let w = array![1.0, 2.0, 4.0].into_dyn();
        assert_eq!(run(Reduction::None, Some(&w)), vec![8.0, 0.5]);
        assert_eq!(run(Reduction::Sum, Some(&w)), vec![8.5]);
        assert!((run(Reduction::Mean, Some(&w))[0] - 1.4166667).abs() < 1e-7);
    }

    #[test]
    fn unbatched_mean_cancels_weight_and_all_ignored_is_nan() {
        let x = array![1.0f32, 2.0, 3.0].into_dyn();
        let w = array![0.5f32, 1.0, 1.0].into_dyn();
        let t = ArrayD::from_elem(IxDyn(&[]), 0i64);
        let opts = NllOptions {
            weight: Some(&w),
            ..Default::default()
        };
        let l = nll_loss(&x, &t, &opts).unwrap();
        assert_eq!((l.shape(), l.first()), (&[] as &[usize], Some(&-1.0)));
        let t = array![-100i64].into_dyn();
        assert!(nll_loss(&x, &t, &opts).unwrap().iter().all(|v| v.is_nan()));
    }

    #[test]
    fn out_of_bounds_any_reduction() {
        let x = ArrayD::<f64>::zeros(IxDyn(&[2, 3]));
        let t = array![0i64, -1].into_dyn();
        let opts = NllOptions {
            reduction: Reduction::None,
            ..Default::default()
        };
        let e = nll_loss(&x, &t, &opts).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::TargetOutOfBounds, "Target -1 is out of bounds.")
        );
    }
}
