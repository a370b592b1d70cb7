//! Vector–Jacobian products: `Σ_i u_i·∂out_i/∂arg` for an upstream gradient `u` of the output's
//! shape, with respect to `input` (every op: [`mod@super::grad`], whose functions take an
//! [`Upstream`]), and with respect to the other arguments PyTorch differentiates (here): the
//! target of both binary losses, the target and the class weight of probability-target
//! cross-entropy. All ones is the gradient of the output's sum.
//!
//! Every function here runs its forward's own validation first, so it fails where the forward
//! fails, then checks the upstream's shape against the output's (`shape_mismatch`, as
//! PyTorch's autograd answers "Mismatch in shape"). The derivations are in
//! `spec/10-gradients.md`.

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use super::binary::{BceOptions, BceWithLogitsOptions, LogitsWeights, bce_checked, logits_checked};
use super::cancel::neg_logit;
use super::cross_entropy::{CrossEntropyOptions, log_probs, prob_setup, smoothed_target};
use super::nll::weight_of;
use super::real::{Real, from_count, narrow, widen};
use super::reduce::{Reduction, array_from, sum};
use super::rows::{Rows, flat};
use super::shape::{check_size, normalize_dim};
use super::softmax::{along, log_sigmoid_scalar};
use crate::error::{ErrorKind, LossError};

/// The upstream gradient `u` of a vector–Jacobian product, in the output's row-major order;
/// all ones when none is given (the gradient of the output's sum).
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream<T>(Option<ArrayD<T>>);

impl<T: Real> Upstream<T> {
    /// All ones: the gradient of the sum of the output.
    pub fn ones() -> Upstream<T> {
        Upstream(None)
    }

    /// The upstream `u`, of the output's shape.
    pub fn new(u: &ArrayD<T>) -> Upstream<T> {
        Upstream(Some(u.as_standard_layout().into_owned()))
    }

    /// The same upstream widened to [`Real::Wide`] (a [`Real::ROUNDED_ONCE`] evaluation).
    pub(crate) fn widened(&self) -> Upstream<T::Wide> {
        Upstream(self.0.as_ref().map(widen))
    }

    /// The upstream's array, or `None` for all ones.
    pub fn array(&self) -> Option<&ArrayD<T>> {
        self.0.as_ref()
    }

    /// `u_i`, `i` in the output's row-major order (checked by [`Upstream::check`] first): the
    /// one element of a reduced loss's upstream at every `i`.
    pub fn at(&self, i: usize) -> T {
        match self.0.as_ref().and_then(|u| u.as_slice()) {
            Some([only]) => *only,
            Some(u) => u.get(i).copied().unwrap_or_else(T::one),
            None => T::one(),
        }
    }

    /// The upstream must have the output's shape; all ones fits any.
    pub fn check(&self, output_shape: &[usize]) -> Result<(), LossError> {
        match &self.0 {
            Some(u) if u.shape() != output_shape => Err(LossError::new(
                ErrorKind::ShapeMismatch,
                format!(
                    "Mismatch in shape: grad_output[0] has a shape of {:?} and output[0] has a shape of {:?}.",
                    u.shape(),
                    output_shape
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// A loss's output shape: `()` when reduced, `none_shape` for 'none'.
pub(crate) fn loss_shape(reduction: Reduction, none_shape: &[usize]) -> Vec<usize> {
    match reduction {
        Reduction::None => none_shape.to_vec(),
        Reduction::Mean | Reduction::Sum => Vec::new(),
    }
}

/// The weight of loss element `i` in a reduced or unreduced total: `u_i/D` for 'mean' (`D` the
/// loss's own denominator), `u_i` for 'sum' and 'none'.
pub(crate) fn per_loss<T: Real>(reduction: Reduction, u: T, denominator: T) -> T {
    match reduction {
        Reduction::Mean => u / denominator,
        Reduction::None | Reduction::Sum => u,
    }
}

/// Like [`along`], with the matching slice of the upstream (of `x`'s shape), `None` for ones.
pub(crate) fn along_with<T: Real>(
    x: &ArrayD<T>,
    dim: isize,
    up: &Upstream<T>,
    f: impl Fn(&[T], Option<&[T]>, &mut [T]) + Sync,
) -> Result<ArrayD<T>, LossError> {
    let d = normalize_dim(dim, x.ndim())?;
    check_size(x.shape())?;
    up.check(x.shape())?;
    let Some(u) = up.array() else {
        return along(x, dim, |row, out| f(row, None, out));
    };
    if x.is_empty() {
        return Ok(x.clone());
    }
    if let (0, Some(&v), Some(&g)) = (x.ndim(), x.first(), u.first()) {
        let mut out = [T::zero()];
        f(&[v], Some(&[g]), &mut out);
        return Ok(ArrayD::from_elem(IxDyn(&[]), out[0]));
    }
    let u_rows = Rows::new(u, d);
    Rows::blocks(x, d).fill(x.shape(), |r, row, out| f(row, Some(u_rows.row(r)), out))
}

/// `∂L/∂target` of `binary_cross_entropy`: `-u·w·logit(x)`, over `numel` for 'mean'. PyTorch's
/// backward (`binary_cross_entropy_target_backward`) knows nothing of the forward's clamp of each
/// log at −100, so it is infinite at `x = 0` and `x = 1`; `logit(x)` is `log x - log1p(-x)`,
/// without the cancellation of `log(x/(1 - x))`'s quotient.
pub fn binary_cross_entropy_target_vjp<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<T>,
    opts: &BceOptions<'_, T>,
    up: &Upstream<T>,
) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        let (x, y, w) = (widen(input), widen(target), opts.weight.map(widen));
        let f = binary_cross_entropy_target_vjp(&x, &y, &opts.widened(&w), &up.widened());
        return f.map(narrow);
    }
    let weight = bce_checked(input, target, opts)?;
    up.check(&loss_shape(opts.reduction, input.shape()))?;
    let dl = |_: usize, x: T| neg_logit(x);
    Ok(elementwise_target_vjp(
        input,
        weight,
        opts.reduction,
        up,
        dl,
    ))
}

/// `∂L/∂target` of `binary_cross_entropy_with_logits`: `u·w·(log σ(-x) - p·log σ(x))`, which is
/// `-u·w·x` without `pos_weight` (`p = 1`), over `numel` for 'mean'.
pub fn binary_cross_entropy_with_logits_target_vjp<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<T>,
    opts: &BceWithLogitsOptions<'_, T>,
    up: &Upstream<T>,
) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        let (x, y) = (widen(input), widen(target));
        let w = (opts.weight.map(widen), opts.pos_weight.map(widen));
        let f =
            binary_cross_entropy_with_logits_target_vjp(&x, &y, &opts.widened(&w), &up.widened());
        return f.map(narrow);
    }
    let LogitsWeights { weight, pos_weight } = logits_checked(input, target, opts)?;
    up.check(&loss_shape(opts.reduction, input.shape()))?;
    let p = pos_weight.map(flat);
    let dl = |i: usize, x: T| match &p {
        Some(p) => log_sigmoid_scalar(-x) - p[i] * log_sigmoid_scalar(x),
        None => -x,
    };
    Ok(elementwise_target_vjp(
        input,
        weight,
        opts.reduction,
        up,
        dl,
    ))
}

/// The target VJP of an elementwise binary loss: `u_i·w_i·dl(i, x_i)` per element, over `numel`
/// for 'mean', where `dl` is the unweighted loss's derivative in the target.
fn elementwise_target_vjp<T: Real>(
    input: &ArrayD<T>,
    weight: Option<ArrayViewD<'_, T>>,
    reduction: Reduction,
    up: &Upstream<T>,
    dl: impl Fn(usize, T) -> T,
) -> ArrayD<T> {
    let x = flat(input.view());
    let w = weight.map(flat);
    let n = from_count::<T>(x.len());
    let grad = (x.iter().enumerate())
        .map(|(i, &x)| {
            let g = dl(i, x);
            let g = w.as_ref().map_or(g, |w| g * w[i]);
            per_loss(reduction, g * up.at(i), n)
        })
        .collect();
    array_from(input.shape(), grad)
}

/// `∂L/∂target` of probability-target `cross_entropy`: `l_n = -Σ_c w_c·q'_{nc}·lp_{nc}` with
/// `q' = (1 - ε)·q + ε/C`, so `∂l_n/∂q_{nc} = -(1 - ε)·w_c·lp_{nc}`, times `u_n` (over the
/// number of rows for 'mean').
pub fn cross_entropy_target_vjp<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<T>,
    opts: &CrossEntropyOptions<'_, T>,
    up: &Upstream<T>,
) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        let (x, q, w) = (widen(input), widen(target), opts.weight.map(widen));
        let f = cross_entropy_target_vjp(&x, &q, &opts.widened(&w), &up.widened());
        return f.map(narrow);
    }
    let setup = prob_setup(input, target, opts)?;
    up.check(&loss_shape(opts.reduction, &setup.out_shape))?;
    let keep = match setup.eps {
        Some(eps) => T::smoothing_weights(eps, setup.classes).0,
        None => T::one(),
    };
    let (cd, w) = (setup.class_dim, setup.weight.as_deref());
    let x = Rows::blocks(input, cd);
    let rows = from_count::<T>(x.count);
    x.fill(input.shape(), |r, row, out| {
        let g = -per_loss(opts.reduction, up.at(r), rows) * keep;
        let (_, lp) = log_probs(row);
        for (c, o) in out.iter_mut().enumerate() {
            *o = g * weight_of(w, c) * lp(c);
        }
    })
}

/// `∂L/∂weight` of probability-target `cross_entropy`: `Σ_n -u_n·q'_{nc}·lp_{nc}` for each class
/// `c` (over the number of rows for 'mean', which divides by rows, never by weights), in the
/// weight's shape `(C)`. Without a weight there is nothing to differentiate: `missing_argument`.
pub fn cross_entropy_weight_vjp<T: Real>(
    input: &ArrayD<T>,
    target: &ArrayD<T>,
    opts: &CrossEntropyOptions<'_, T>,
    up: &Upstream<T>,
) -> Result<ArrayD<T>, LossError> {
    if T::ROUNDED_ONCE {
        let (x, q, w) = (widen(input), widen(target), opts.weight.map(widen));
        let f = cross_entropy_weight_vjp(&x, &q, &opts.widened(&w), &up.widened());
        return f.map(narrow);
    }
    let setup = prob_setup(input, target, opts)?;
    let weight = opts.weight.ok_or_else(|| {
        LossError::new(ErrorKind::MissingArgument, "no `weight` to differentiate")
    })?;
    up.check(&loss_shape(opts.reduction, &setup.out_shape))?;
    let smoothed = smoothed_target(setup.eps, setup.classes);
    let cd = setup.class_dim;
    let q = Rows::new(target, cd);
    let rows = from_count::<T>(q.count);
    // Row n's contribution to every class, then a pairwise sum over rows per class.
    let per_row = Rows::blocks(input, cd).map(|r, row| {
        let g = -per_loss(opts.reduction, up.at(r), rows);
        let (_, lp) = log_probs(row);
        let q = q.row(r);
        (0..row.len())
            .map(|c| g * smoothed(q[c]) * lp(c))
            .collect::<Vec<T>>()
    });
    let grad = (0..setup.classes)
        .map(|c| sum(&per_row.iter().map(|v| v[c]).collect::<Vec<T>>()))
        .collect();
    Ok(array_from(weight.shape(), grad))
}

#[cfg(test)]
mod tests {
    //! Every product against PyTorch 2.15.0's `torch.autograd.grad(out, arg, u)` in float64 on the
    //! same inputs (printed to 17 digits; the script is in the commit message of this test).
    use super::*;
    use crate::reference::grad::*;
    use crate::reference::{NllOptions, Target};
    use ndarray::{arr0, array};

    fn close(got: &ArrayD<f64>, want: &[f64]) {
        let ok = got.len() == want.len()
            && (got.iter().zip(want)).all(|(&a, &b)| (a - b).abs() <= 1e-14 * b.abs().max(1e-300));
        assert!(ok, "{got:?} vs {want:?}");
    }

    #[test]
    fn softmax_family_against_pytorch() {
        let x = array![[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]].into_dyn();
        let up = Upstream::new(&array![[1.0, -2.0, 0.0], [0.5, 0.0, 3.0]].into_dyn());
        let softmax = [0.1259911581053418, -0.39170593754013167, 0.2657147794347898];
        let softmax_2 = [
            -0.41962508382491664,
            -0.15460683831101635,
            0.574231922135933,
        ];
        close(
            &softmax_vjp(&x, 1, &up).unwrap(),
            &[softmax, softmax_2].concat(),
        );
        let log = [1.0900305731703805, -1.7552715289452023, 0.6652409557748218];
        let log_2 = [-1.4129228554316287, -0.426830783084051, 1.8397536385156799];
        close(
            &log_softmax_vjp(&x, -1, &up).unwrap(),
            &[log, log_2].concat(),
        );
        let u = Upstream::new(&array![2.0, 0.0, -1.0].into_dyn());
        let g = sigmoid_vjp(&array![-1.0, 0.0, 2.0].into_dyn(), &u).unwrap();
        close(&g, &[0.3932238664829637, 0.0, -0.10499358540350662]);
        // The upstream must have the output's shape.
        let e = softmax_vjp(&x, 0, &u).unwrap_err();
        assert_eq!(e.kind, ErrorKind::ShapeMismatch);
    }

    fn x3() -> ArrayD<f64> {
        array![[1.0, 2.0, 3.0], [1.0, -1.0, 0.5], [0.0, 0.0, 0.0]].into_dyn()
    }

    #[test]
    fn class_losses_against_pytorch() {
        let w = array![1.0, 2.0, 3.0].into_dyn();
        let t = array![0_i64, 2, 1].into_dyn();
        let mut opts = CrossEntropyOptions {
            weight: Some(&w),
            label_smoothing: 0.1,
            reduction: Reduction::None,
            ..Default::default()
        };
        let up = Upstream::new(&array![1.0, -2.0, 0.0].into_dyn());
        let g = cross_entropy_vjp(&x3(), Target::Indices(&t), &opts, &up).unwrap();
        close(
            &g,
            &[
                -0.8342997028459148,
                0.20253465149361077,
                0.631765051352304,
                -3.2630958925459623,
                -0.31730102572837604,
                3.5803969182743383,
                0.0,
                0.0,
                0.0,
            ],
        );
        opts.reduction = Reduction::Mean;
        let scalar = Upstream::new(&arr0(-3.0).into_dyn());
        let g = cross_entropy_vjp(&x3(), Target::Indices(&t), &opts, &scalar).unwrap();
        close(
            &g,
            &[
                0.4171498514229574,
                -0.10126732574680539,
                -0.315882525676152,
                -0.8157739731364906,
                -0.07932525643209401,
                0.8950992295685846,
                -0.31666666666666665,
                0.6000000000000001,
                -0.2833333333333333,
            ],
        );
        let lp = array![[-0.1, -0.2, -0.3], [-1.0, -2.0, -3.0]].into_dyn();
        let nll = NllOptions {
            weight: Some(&w),
            reduction: Reduction::None,
            ..Default::default()
        };
        let u = Upstream::new(&array![-1.5, 2.0].into_dyn());
        let g = nll_loss_vjp(&lp, &array![2_i64, 0].into_dyn(), &nll, &u).unwrap();
        close(&g, &[0.0, 0.0, 4.5, -2.0, 0.0, 0.0]);
    }

    #[test]
    fn probability_targets_against_pytorch() {
        let w = array![1.0, 2.0, 3.0].into_dyn();
        let q = array![[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.1, 0.6, 0.3]].into_dyn();
        let mut opts = CrossEntropyOptions {
            weight: Some(&w),
            label_smoothing: 0.2,
            reduction: Reduction::None,
            ..Default::default()
        };
        let up = Upstream::new(&array![1.0, -2.0, 0.5].into_dyn());
        let g = cross_entropy_vjp(&x3(), Target::Probabilities(&q), &opts, &up).unwrap();
        close(
            &g,
            &[
                -0.02499818276501453,
                -0.06514155817058663,
                0.09013974093560073,
                0.3555005502108665,
                0.0801972767100973,
                -0.43569782692096354,
                0.2866666666666667,
                -0.18666666666666662,
                -0.09999999999999996,
            ],
        );
        let g = cross_entropy_target_vjp(&x3(), &q, &opts, &up).unwrap();
        close(
            &g,
            &[
                1.9260847715555045,
                2.2521695431110085,
                0.978254314666513,
                -0.8879310714271851,
                -8.17586214285437,
                -5.0637932142815565,
                0.43944491546724396,
                0.8788898309344879,
                1.3183347464017316,
            ],
        );
        let g = cross_entropy_weight_vjp(&x3(), &q, &opts, &up).unwrap();
        close(
            &g,
            &[
                -0.3356364076030629,
                0.39129226537996115,
                0.21800907838422226,
            ],
        );
        // 'mean' divides by the number of rows, whatever the weights.
        opts.reduction = Reduction::Mean;
        opts.label_smoothing = 0.0;
        let two = Upstream::new(&arr0(2.0).into_dyn());
        let g = cross_entropy_weight_vjp(&x3(), &q, &opts, &two).unwrap();
        close(
            &g,
            &[0.7642262275984517, 0.7209661083561199, 0.35559111254841536],
        );
        opts.weight = None;
        let e = cross_entropy_weight_vjp(&x3(), &q, &opts, &two).unwrap_err();
        assert_eq!(e.kind, ErrorKind::MissingArgument);
    }

    #[test]
    fn binary_losses_against_pytorch() {
        let (x, y) = (
            array![0.25, 0.5, 0.9].into_dyn(),
            array![0.0, 1.0, 0.3].into_dyn(),
        );
        let w = array![1.0, 2.0, 0.5].into_dyn();
        let opts = BceOptions {
            weight: Some(&w),
            reduction: Reduction::Mean,
        };
        let up = Upstream::new(&arr0(2.5).into_dyn());
        let g = binary_cross_entropy_vjp(&x, &y, &opts, &up).unwrap();
        close(
            &g,
            &[1.1111111111111112, -3.3333333333333335, 2.7777777777777786],
        );
        let g = binary_cross_entropy_target_vjp(&x, &y, &opts, &up).unwrap();
        close(&g, &[0.9155102405567582, 0.0, -0.9155102405567582]);
        let x = array![[-2.0, 0.0, 3.0], [0.5, -1.0, 1.0]].into_dyn();
        let y = array![[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]].into_dyn();
        let (pw, w) = (
            array![1.0, 3.0, 0.5].into_dyn(),
            array![[2.0], [0.5]].into_dyn(),
        );
        let opts = BceWithLogitsOptions {
            weight: Some(&w),
            pos_weight: Some(&pw),
            reduction: Reduction::None,
        };
        let up = Upstream::new(&array![[1.0, 0.0, -1.0], [2.0, -0.5, 3.0]].into_dyn());
        let g = binary_cross_entropy_with_logits_vjp(&x, &y, &opts, &up).unwrap();
        let input = [0.2384058440442351, 0.0, 0.047425873177566635];
        let input_2 = [
            -0.3775406687981454,
            -0.06723535534249878,
            0.44744090095875555,
        ];
        close(&g, &[input, input_2].concat());
        let g = binary_cross_entropy_with_logits_target_vjp(&x, &y, &opts, &up).unwrap();
        let target = [4.0, 0.0, 6.048587351573742];
        let target_2 = [-0.5, -0.9066308437591114, -1.734946265638667];
        close(&g, &[target, target_2].concat());
        let plain = BceWithLogitsOptions {
            reduction: Reduction::Sum,
            ..Default::default()
        };
        let minus_two = Upstream::new(&arr0(-2.0).into_dyn());
        let g = binary_cross_entropy_with_logits_target_vjp(&x, &y, &plain, &minus_two).unwrap();
        close(&g, &[-4.0, 0.0, 6.0, 1.0, -2.0, 2.0]);
    }
}
