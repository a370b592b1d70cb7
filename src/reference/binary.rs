//! binary_cross_entropy (on probabilities) and binary_cross_entropy_with_logits.
//!
//! The logits version has its own stable formula and does not go through
//! `binary_cross_entropy(sigmoid(x))`, so the suite's comparison of the two is a real check.

use ndarray::{ArrayD, ArrayViewD, Zip};

use super::real::{Real, from_count, narrow, widen};
use super::reduce::{Reduction, array_from, reduce_elementwise, scalar, sum_chunked};
use super::rows::{collect_chunked, flat};
use super::shape::{BroadcastIssue, broadcast_weight, enlarge_message, fmt_shape, fmt_torch_size};
use super::softmax::log_sigmoid_with;
use crate::error::{ErrorKind, LossError};

/// Options of `F.binary_cross_entropy`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BceOptions<'a, T> {
    /// Per-element weight, broadcast to the target's shape (it must not enlarge it).
    pub weight: Option<&'a ArrayD<T>>,
    pub reduction: Reduction,
}

/// Options of `F.binary_cross_entropy_with_logits`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BceWithLogitsOptions<'a, T> {
    /// Per-element weight, broadcast to the target's shape (it must not enlarge it).
    pub weight: Option<&'a ArrayD<T>>,
    /// Weight of the positive term, broadcast by trailing dimensions: a `(C,)`
    /// `pos_weight` applies along the last dimension.
    pub pos_weight: Option<&'a ArrayD<T>>,
    pub reduction: Reduction,
}

impl<T: Real> BceOptions<'_, T> {
    /// The same options in [`Real::Wide`], with `weight` the widened weight.
    pub(crate) fn widened<'b>(
        &self,
        weight: &'b Option<ArrayD<T::Wide>>,
    ) -> BceOptions<'b, T::Wide> {
        BceOptions {
            weight: weight.as_ref(),
            reduction: self.reduction,
        }
    }
}

/// A BCE-with-logits call's `(weight, pos_weight)`, widened and owned.
pub(crate) type WideWeights<W> = (Option<ArrayD<W>>, Option<ArrayD<W>>);

impl<T: Real> BceWithLogitsOptions<'_, T> {
    /// The same options in [`Real::Wide`], with the widened `(weight, pos_weight)`.
    pub(crate) fn widened<'b>(
        &self,
        (weight, pos_weight): &'b WideWeights<T::Wide>,
    ) -> BceWithLogitsOptions<'b, T::Wide> {
        BceWithLogitsOptions {
            weight: weight.as_ref(),
            pos_weight: pos_weight.as_ref(),
            reduction: self.reduction,
        }
    }
}

/// PyTorch clamps each log at -100 so that `0·log 0` terms stay finite.
const LOG_FLOOR: f64 = -100.0;

/// `l = w·[(y - 1)·max(log1p(-x), -100) - y·max(ln x, -100)]`.
///
/// The clamp gives 100 on the wrong side of 0 and 1, 0 at `(0, 0)` and `-0.0` at `(1, 1)`.
fn bce_element<T: Real>(x: T, y: T) -> T {
    let floor = T::from_f64(LOG_FLOOR);
    (y - T::one()) * (-x).ln_1p().max(floor) - y * x.ln().max(floor)
}

/// `l = (1 - y)·x - lw·log σ(x)` with `lw = 1 + (pos_weight - 1)·y` (`lw = 1` without it).
///
/// This equals `-[pw·y·log σ(x) + (1 - y)·log(1 - σ(x))]` without computing `1 - σ(x)`. For
/// `x ≥ 0` both terms are non-negative (with `y ≤ 1`, `pw ≥ 0`), but for `x < 0` they cancel,
/// so there, for `y` in `[0, 1]` and `pw ≥ 0`, the same loss is computed as the sum of
/// non-negative terms `(1 - y)·softplus(x) + pw·y·softplus(-x)` (from
/// `softplus(x) = x + softplus(-x)` and `log σ(x) = -softplus(-x)`): a loss near zero keeps
/// its digits (`x = -40, y = 0` gives `4.2e-18` where the difference gives 0). Otherwise the
/// cancellations are PyTorch's: `(+inf, 1)`, `(-inf, 1)`, `(-inf, 0)` give NaN (`0·inf`,
/// `inf - inf`); `(+inf, 0)` gives inf.
///
/// `softplus` is `log(1 + exp(-|x|))`, which both forms need: `log1p(exp(x))` for `x < 0`, and
/// `log σ(x) = min(x, 0) - softplus`.
///
/// Both forms are computed and one is kept, with no branch on the data: random signs would
/// mispredict every other element.
fn bce_logits_element<T: Real>(x: T, y: T, pos_weight: Option<T>, softplus: T) -> T {
    let one = T::one();
    // For x < 0, softplus(x) = softplus and softplus(-x) = softplus - x.
    let positive = pos_weight.map_or(y, |pw| pw * y);
    let non_negative_terms = (one - y) * softplus + positive * (softplus - x);
    let log_sigmoid = log_sigmoid_with(x, softplus);
    // `1 + (pw - 1)·y` as `(1 - y) + pw·y`: `1 - y` is exact for y in [1/2, 2] (Sterbenz), so
    // a target near 1 with a small pos_weight does not cancel (PyTorch's order loses ~1/pw ulps).
    let lw = pos_weight.map_or(one, |pw| (one - y) + pw * y);
    let difference = (one - y) * x - log_sigmoid * lw;
    let in_unit = (y >= T::zero()) & (y <= one);
    let split =
        (x < T::zero()) & x.is_finite() & in_unit & pos_weight.is_none_or(|p| p >= T::zero());
    if split {
        non_negative_terms
    } else {
        difference
    }
}

/// Weight broadcast for BCE, with PyTorch's messages. PyTorch finds an incompatible
/// weight while expanding it (before the range checks) but an enlarging one only in
/// the kernel (after them): the outer `Result` is the first, the inner the second.
#[allow(clippy::type_complexity)]
fn bce_weight<'a, T>(
    weight: &'a ArrayD<T>,
    target: &[usize],
) -> Result<Result<ArrayViewD<'a, T>, LossError>, LossError> {
    let late = |message| Ok(Err(LossError::new(ErrorKind::WeightShape, message)));
    match broadcast_weight(weight, target) {
        Ok(view) => Ok(Ok(view)),
        Err(BroadcastIssue::Enlarges { shape }) => late(enlarge_message(target, &shape)),
        Err(issue) => Err(issue),
    }
    .map_err(|issue| {
        let message = match issue {
            BroadcastIssue::Incompatible { from_right, weight_len, partial, .. } => {
                format!(
                    "Attempting to broadcast a dimension of length {weight_len} at -{from_right}! Mismatching argument at index 1 had {}; but expected shape should be broadcastable to {}",
                    fmt_torch_size(weight.shape()),
                    fmt_shape(&partial)
                )
            }
            BroadcastIssue::Enlarges { shape } => enlarge_message(target, &shape),
        };
        LossError::new(ErrorKind::WeightShape, message)
    })
}

/// Weight / pos_weight broadcast for BCE-with-logits, with PyTorch's messages for
/// element-wise ops (`loss * weight`, so the loss is tensor a; `(pos_weight - 1) * target`,
/// so pos_weight is tensor a).
fn logits_weight<'a, T>(
    weight: &'a ArrayD<T>,
    target: &[usize],
    weight_is_a: bool,
) -> Result<ArrayViewD<'a, T>, LossError> {
    broadcast_weight(weight, target).map_err(|issue| {
        let message = match issue {
            BroadcastIssue::Incompatible { from_right, weight_len, target_len, result_ndim, .. } => {
                let (a, b) = if weight_is_a { (weight_len, target_len) } else { (target_len, weight_len) };
                format!(
                    "The size of tensor a ({a}) must match the size of tensor b ({b}) at non-singleton dimension {}",
                    result_ndim - from_right
                )
            }
            BroadcastIssue::Enlarges { shape } => enlarge_message(target, &shape),
        };
        LossError::new(ErrorKind::WeightShape, message)
    })
}

/// The checks of `F.binary_cross_entropy`, in PyTorch's order; returns the weight
/// broadcast to the target's shape. Shared by the loss and its gradient.
pub(crate) fn bce_checked<'a, T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<T>,
    opts: &BceOptions<'a, T>,
) -> Result<Option<ArrayViewD<'a, T>>, LossError> {
    if input.shape() != target.shape() {
        return Err(LossError::new(
            ErrorKind::ShapeMismatch,
            format!(
                "Using a target size ({}) that is different to the input size ({}) is deprecated. Please ensure they have the same size.",
                fmt_torch_size(target.shape()),
                fmt_torch_size(input.shape())
            ),
        ));
    }
    let weight = opts
        .weight
        .map(|w| bce_weight(w, target.shape()))
        .transpose()?;
    let in_unit = |v: &T| *v >= T::zero() && *v <= T::one(); // false for NaN
    if !input.iter().all(in_unit) {
        return Err(LossError::new(
            ErrorKind::InputOutOfRange,
            "all elements of input should be between 0 and 1",
        ));
    }
    if !target.iter().all(in_unit) {
        return Err(LossError::new(
            ErrorKind::TargetOutOfRange,
            "all elements of target should be between 0 and 1",
        ));
    }
    weight.transpose()
}

/// Binary cross-entropy between probabilities `input` and targets, both in `[0, 1]`.
///
/// Shapes must be equal (any rank, 0-d included); 'none' keeps that shape; 'mean' is
/// `Σ l / numel` whatever the weight (NaN when empty).
///
/// `004_8a619d584319f9a0.txt`'s hand computation, `-math.log(0.0871)` and so on, is binary
/// cross-entropy with label 1; an input of 0 costs the clamp, 100, not infinity:
///
/// ```
/// use cross_entropy_spec::reference::{BceOptions, Reduction, binary_cross_entropy};
/// use ndarray::arr1;
///
/// let p = arr1(&[0.0871_f64, 0.2369, 0.6439, 0.0]).into_dyn();
/// let ones = arr1(&[1.0, 1.0, 1.0, 1.0]).into_dyn();
/// let opts = BceOptions { reduction: Reduction::None, ..BceOptions::default() };
/// let losses = binary_cross_entropy(&p, &ones, &opts).unwrap();
/// let four: Vec<String> = losses.iter().map(|l| format!("{l:.4}")).collect();
/// assert_eq!(four, ["2.4407", "1.4401", "0.4402", "100.0000"]);
/// ```
pub fn binary_cross_entropy<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<T>,
    opts: &BceOptions<'_, T>,
) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        let (x, y, w) = (widen(input), widen(target), opts.weight.map(widen));
        return binary_cross_entropy(&x, &y, &opts.widened(&w)).map(narrow);
    }
    let weight = bce_checked(input, target, opts)?;
    let mut losses = input.clone();
    Zip::from(&mut losses)
        .and(target)
        .for_each(|l, &y| *l = bce_element(*l, y));
    if let Some(w) = weight {
        Zip::from(&mut losses).and(&w).for_each(|l, &w| *l = *l * w);
    }
    Ok(reduce_elementwise(
        target.shape(),
        losses.into_iter().collect(),
        opts.reduction,
    ))
}

/// `weight` and `pos_weight` of a BCE-with-logits call, broadcast to the target's shape.
pub(crate) struct LogitsWeights<'a, T> {
    pub weight: Option<ArrayViewD<'a, T>>,
    pub pos_weight: Option<ArrayViewD<'a, T>>,
}

/// The checks of `F.binary_cross_entropy_with_logits`, in PyTorch's order. Shared by the
/// loss and its gradient.
pub(crate) fn logits_checked<'a, T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<T>,
    opts: &BceWithLogitsOptions<'a, T>,
) -> Result<LogitsWeights<'a, T>, LossError> {
    if input.shape() != target.shape() {
        return Err(LossError::new(
            ErrorKind::ShapeMismatch,
            format!(
                "Target size ({}) must be the same as input size ({})",
                fmt_torch_size(target.shape()),
                fmt_torch_size(input.shape())
            ),
        ));
    }
    let shape = target.shape();
    let pos_weight = opts
        .pos_weight
        .map(|p| logits_weight(p, shape, true))
        .transpose()?;
    let weight = opts
        .weight
        .map(|w| logits_weight(w, shape, false))
        .transpose()?;
    Ok(LogitsWeights { weight, pos_weight })
}

/// Binary cross-entropy on logits, stable for any finite `x`; targets are not
/// range-checked (PyTorch does not either).
///
/// `l = weight·((1 - y)·x - (1 + (pos_weight - 1)·y)·log σ(x))`. Shapes must be equal;
/// `weight` and `pos_weight` broadcast to the target by trailing dimensions.
///
/// A wrong score of 20 costs 20 from the logits, while the loss of the float32 sigmoid, which
/// has rounded to 1, hits the clamp at 100:
///
/// ```
/// use cross_entropy_spec::reference::{
///     BceOptions, BceWithLogitsOptions, binary_cross_entropy, binary_cross_entropy_with_logits,
///     sigmoid,
/// };
/// use ndarray::arr1;
///
/// let (x, zero) = (arr1(&[20.0_f32]).into_dyn(), arr1(&[0.0_f32]).into_dyn());
/// let logits = binary_cross_entropy_with_logits(&x, &zero, &BceWithLogitsOptions::default());
/// assert_eq!(logits.unwrap()[[]], 20.0);
/// let of_sigmoid = binary_cross_entropy(&sigmoid(&x), &zero, &BceOptions::default());
/// assert_eq!(of_sigmoid.unwrap()[[]], 100.0);
/// ```
pub fn binary_cross_entropy_with_logits<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<T>,
    opts: &BceWithLogitsOptions<'_, T>,
) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        let (x, y) = (widen(input), widen(target));
        let w = (opts.weight.map(widen), opts.pos_weight.map(widen));
        return binary_cross_entropy_with_logits(&x, &y, &opts.widened(&w)).map(narrow);
    }
    let LogitsWeights { weight, pos_weight } = logits_checked(input, target, opts)?;
    let (x, y) = (flat(input.view()), flat(target.view()));
    let pos_weight = pos_weight.map(flat);
    let weight = weight.map(flat);
    // A chunk of losses: the softplus of every element first, in one vectorisable call, then
    // the element formula over slices of one length (so the loop has no bounds check and the
    // options' presence is decided once, outside it).
    let losses = |lo: usize, out: &mut [T]| {
        let range = lo..lo + out.len();
        let (x, y) = (&x[range.clone()], &y[range.clone()]);
        let pos_weight = pos_weight.as_ref().map(|p| &p[range.clone()]);
        let weight = weight.as_ref().map(|w| &w[range]);
        T::log1p_exp_of(out, |j| -x[j].abs());
        for (j, o) in out.iter_mut().enumerate() {
            let l = bce_logits_element(x[j], y[j], pos_weight.map(|p| p[j]), *o);
            *o = weight.map_or(l, |w| l * w[j]);
        }
    };
    let n = x.len();
    Ok(match opts.reduction {
        Reduction::None => array_from(target.shape(), collect_chunked(n, losses)),
        Reduction::Sum => scalar(sum_chunked(n, &losses)),
        Reduction::Mean => scalar(sum_chunked(n, &losses) / from_count::<T>(n)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{IxDyn, array};

    fn close(a: &ArrayD<f64>, b: &[f64]) {
        let ok = a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x == y || (x - y).abs() <= 1e-7 * y.abs());
        assert!(ok, "{a:?} vs {b:?}");
    }

    #[test]
    fn tv17_tv18() {
        let x = array![0.25, 0.5, 0.9].into_dyn();
        let y = array![0.0, 1.0, 0.3].into_dyn();
        let w = array![1.0, 2.0, 0.5].into_dyn();
        let o = BceOptions {
            weight: Some(&w),
            reduction: Reduction::None,
        };
        close(
            &binary_cross_entropy(&x, &y, &o).unwrap(),
            &[0.28768207, 1.3862944, 0.82170886],
        );
        let o = BceOptions {
            weight: Some(&w),
            ..Default::default()
        };
        close(&binary_cross_entropy(&x, &y, &o).unwrap(), &[0.8318951]);
        let x = array![0.0, 1.0, 0.0, 1.0, 0.5].into_dyn();
        let y = array![1.0, 0.0, 0.0, 1.0, 0.5].into_dyn();
        let o = BceOptions {
            reduction: Reduction::None,
            ..Default::default()
        };
        let l = binary_cross_entropy(&x, &y, &o).unwrap();
        close(&l, &[100.0, 100.0, 0.0, 0.0, std::f64::consts::LN_2]);
        assert!(l[3].is_sign_negative() && l[2].is_sign_positive());
    }

    #[test]
    fn bce_errors() {
        let h = array![0.5f32, 0.5].into_dyn();
        let bad = array![0.5f32, f32::NAN].into_dyn();
        let o = BceOptions::default();
        assert_eq!(
            binary_cross_entropy(&bad, &h, &o).unwrap_err().kind,
            ErrorKind::InputOutOfRange
        );
        assert_eq!(
            binary_cross_entropy(&h, &bad, &o).unwrap_err().kind,
            ErrorKind::TargetOutOfRange
        );
        let w = ArrayD::<f32>::ones(IxDyn(&[3]));
        let o = BceOptions {
            weight: Some(&w),
            ..Default::default()
        };
        assert_eq!(
            binary_cross_entropy(&h, &h, &o).unwrap_err().message,
            "Attempting to broadcast a dimension of length 3 at -1! Mismatching argument at index 1 had torch.Size([3]); but expected shape should be broadcastable to [2]"
        );
        let w = ArrayD::<f32>::ones(IxDyn(&[2, 2]));
        let o = BceOptions {
            weight: Some(&w),
            ..Default::default()
        };
        assert_eq!(
            binary_cross_entropy(&h, &h, &o).unwrap_err().message,
            "output with shape [2] doesn't match the broadcast shape [2, 2]"
        );
    }

    #[test]
    fn tv19_tv20_tv21() {
        let x = array![[-2.0, 0.0, 3.0], [0.5, -1.0, 1.0]].into_dyn();
        let y = array![[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]].into_dyn();
        let pw = array![1.0, 3.0, 0.5].into_dyn();
        let o = BceWithLogitsOptions {
            pos_weight: Some(&pw),
            reduction: Reduction::None,
            ..Default::default()
        };
        let expect = [
            0.12692801,
            2.0794415,
            0.024293676,
            0.47407698,
            0.31326169,
            0.73494627,
        ];
        close(
            &binary_cross_entropy_with_logits(&x, &y, &o).unwrap(),
            &expect,
        );
        let w = array![[2.0], [0.5]].into_dyn();
        let o = BceWithLogitsOptions {
            weight: Some(&w),
            pos_weight: Some(&pw),
            ..Default::default()
        };
        close(
            &binary_cross_entropy_with_logits(&x, &y, &o).unwrap(),
            &[0.87041149],
        );
        let x = array![100.0, -100.0, 40.0, -40.0, 0.0].into_dyn();
        let y = array![0.0, 1.0, 1.0, 0.0, 0.0].into_dyn();
        let o = BceWithLogitsOptions {
            reduction: Reduction::None,
            ..Default::default()
        };
        close(
            &binary_cross_entropy_with_logits(&x, &y, &o).unwrap(),
            &[
                100.0,
                100.0,
                4.2483543e-18,
                4.2483543e-18,
                std::f64::consts::LN_2,
            ],
        );
    }

    #[test]
    fn logits_non_finite_and_broadcast_errors() {
        let inf = f64::INFINITY;
        let x = array![inf, -inf, inf, -inf, f64::NAN].into_dyn();
        let y = array![1.0, 1.0, 0.0, 0.0, 1.0].into_dyn();
        let o = BceWithLogitsOptions {
            reduction: Reduction::None,
            ..Default::default()
        };
        let l = binary_cross_entropy_with_logits(&x, &y, &o).unwrap();
        let nan = f64::NAN;
        assert!(
            l.iter()
                .zip([nan, nan, inf, nan, nan])
                .all(|(a, b)| a == &b || (a.is_nan() && b.is_nan()))
        );
        let z = ArrayD::<f64>::zeros(IxDyn(&[2, 3, 2, 2]));
        let pw = ArrayD::<f64>::ones(IxDyn(&[3]));
        let o = BceWithLogitsOptions {
            pos_weight: Some(&pw),
            ..Default::default()
        };
        assert_eq!(
            binary_cross_entropy_with_logits(&z, &z, &o)
                .unwrap_err()
                .message,
            "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 3"
        );
    }
}
