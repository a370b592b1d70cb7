//! Semantic mutants: implementations with one plausible bug each in *what* they compute (a
//! wrong denominator, a missing clamp, the wrong dimension), delegating to the reference
//! elsewhere. Each computes its wrong value from the reference's public functions or a few lines
//! of its own.

use cross_entropy_spec::conformance::Implementation;
use cross_entropy_spec::conformance::protocol::{Reply, Request};
use cross_entropy_spec::error::LossError;
use cross_entropy_spec::eval::{Reference, Tensors, evaluate};
use cross_entropy_spec::reference::{Real, Reduction, sigmoid};
use cross_entropy_spec::spec::Attrs;
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::{Dtype, Op, Role};
use ndarray::{ArrayD, Axis};

use super::Mutant;

pub fn reply(result: Result<Tensor, LossError>) -> Reply {
    match result {
        Ok(output) => Reply::Output {
            output,
            grad_input: None,
        },
        Err(e) => Reply::from(e),
    }
}

fn reduction(request: &Request) -> Option<Reduction> {
    request
        .attrs
        .reduction
        .as_deref()
        .unwrap_or("mean")
        .parse()
        .ok()
}

/// The reference's answer to the same call with other options.
fn with_attrs(request: &Request, attrs: Attrs) -> Result<Tensor, LossError> {
    evaluate(request.op, &request.tensors, &attrs)
}

fn with_reduction(request: &Request, reduction: &str) -> Result<Tensor, LossError> {
    let attrs = Attrs {
        reduction: Some(reduction.into()),
        ..request.attrs.clone()
    };
    with_attrs(request, attrs)
}

/// Who counts in a class-index mean: the number of positions, of positions that are not
/// ignored, and the total class weight of those.
struct Census {
    positions: f64,
    valid: f64,
    valid_weight: f64,
}

/// The census of a `cross_entropy` or `nll_loss` request with class indices; `None` for other
/// requests, and for targets the reference rejects (it answers those).
fn census(request: &Request) -> Option<Census> {
    if !matches!(request.op, Op::CrossEntropy | Op::NllLoss) {
        return None;
    }
    let Some(Tensor::Int64(targets)) = request.tensors.get(&Role::Target) else {
        return None;
    };
    let ignore = request.attrs.ignore_index.unwrap_or(-100);
    let weight = request.tensors.get(&Role::Weight).map(Tensor::to_f64_vec);
    let mut c = Census {
        positions: targets.len() as f64,
        valid: 0.0,
        valid_weight: 0.0,
    };
    for &t in targets.iter().filter(|&&t| t != ignore) {
        c.valid += 1.0;
        c.valid_weight += match &weight {
            Some(w) => *w.get(usize::try_from(t).ok()?)?,
            None => 1.0,
        };
    }
    Some(c)
}

/// A class-index 'mean' computed as the reference's 'sum' over a denominator of the mutant's
/// choosing.
fn mean_over(request: &Request, denominator: fn(&Census) -> f64) -> Option<Reply> {
    if reduction(request) != Some(Reduction::Mean) {
        return None;
    }
    let c = census(request)?;
    Some(reply(with_reduction(request, "sum").map(|total| {
        let value = total.to_f64_vec()[0] / denominator(&c);
        Tensor::from_f64(total.dtype(), &[], &[value]).expect("a scalar")
    })))
}

/// (a) `loss_none.mean()`: divides by every position, ignoring both the weights and which
/// targets are ignored.
fn mean_over_all_elements(request: &Request) -> Option<Reply> {
    mean_over(request, |c| c.positions)
}

/// (b) `mean(w_t · l)` style code: divides by the number of counted targets, not their weight.
fn weights_missing_from_denominator(request: &Request) -> Option<Reply> {
    mean_over(request, |c| c.valid)
}

/// (c) Masks ignored targets out of the numerator but counts each of them, with weight 1, in the
/// denominator.
fn ignored_in_denominator(request: &Request) -> Option<Reply> {
    mean_over(request, |c| c.valid_weight + (c.positions - c.valid))
}

/// `log(exp(x) / Σ exp(x))` along `dim`, with no maximum subtracted first: overflows to
/// `inf / inf = NaN` once a score passes ~88 (f32) or ~709 (f64), and underflows to `log 0 = -inf`
/// for scores far below the largest.
fn naive_softmax<T: Real>(x: &ArrayD<T>, dim: usize, log: bool) -> ArrayD<T> {
    let e = x.mapv(T::exp);
    let total = e.sum_axis(Axis(dim)).insert_axis(Axis(dim));
    let p = &e / &total;
    if log { p.mapv(T::ln) } else { p }
}

fn naive_tensor(x: &Tensor, dim: usize, log: bool) -> Option<Tensor> {
    match x {
        Tensor::Float32(a) => Some(Tensor::from_real(naive_softmax(a, dim, log))),
        Tensor::Float64(a) => Some(Tensor::from_real(naive_softmax(a, dim, log))),
        half @ (Tensor::Float16(_) | Tensor::BFloat16(_)) => Some(
            Tensor::from_real(naive_softmax(&half.float_array::<f32>(), dim, log))
                .cast(half.dtype()),
        ),
        Tensor::Int64(_) => None,
    }
}

/// The requested `dim` of a softmax, wrapped into `[0, ndim)`; `None` where the reference rejects
/// it (and a 0-d input, a slice of one where the bug cannot show).
fn softmax_dim(request: &Request) -> Option<usize> {
    let ndim = request.tensors.get(&Role::Input)?.shape().len() as i64;
    let dim = request.attrs.dim?;
    let wrapped = if dim < 0 { dim + ndim } else { dim };
    (0..ndim).contains(&wrapped).then_some(wrapped as usize)
}

/// (d) `log(softmax(x))` in two steps, and softmax without the maximum subtracted: for `softmax`
/// and `log_softmax`, and for `cross_entropy`, whose input becomes those log-probabilities
/// (normalising them again is a no-op, so the reference's loss of them is the buggy loss).
/// `nll_loss` takes log-probabilities as given, so the bug has nothing to act on there.
fn log_of_unshifted_softmax(request: &Request) -> Option<Reply> {
    let input = request.tensors.get(&Role::Input)?;
    match request.op {
        Op::Softmax | Op::LogSoftmax => {
            let dim = softmax_dim(request)?;
            let out = naive_tensor(input, dim, request.op == Op::LogSoftmax)?;
            Some(reply(Ok(out)))
        }
        Op::CrossEntropy if !input.shape().is_empty() => {
            let class_dim = usize::from(input.shape().len() > 1);
            let mut tensors: Tensors = request.tensors.clone();
            tensors.insert(Role::Input, naive_tensor(input, class_dim, true)?);
            Some(reply(evaluate(request.op, &tensors, &request.attrs)))
        }
        _ => None,
    }
}

/// `-(t·log x + (1 - t)·log(1 - x))`, times the weight, without clamping the logarithms at -100.
fn bce_unclamped_losses<T: Real>(request: &Request) -> Option<ArrayD<T>> {
    let x: ArrayD<T> = request.tensors.get(&Role::Input)?.float_array();
    let t: ArrayD<T> = request.tensors.get(&Role::Target)?.float_array();
    let mut losses = ndarray::Zip::from(&x)
        .and(&t)
        .map_collect(|&x, &t| -(t * x.ln() + (T::one() - t) * (T::one() - x).ln()));
    if let Some(w) = request.tensors.get(&Role::Weight) {
        losses = &losses * &w.float_array::<T>().broadcast(t.shape())?;
    }
    Some(losses)
}

fn reduce<T: Real>(losses: ArrayD<T>, reduction: Reduction) -> Tensor {
    let n = T::from_f64(losses.len() as f64);
    Tensor::from_real(match reduction {
        Reduction::None => losses,
        Reduction::Sum => ArrayD::from_elem(vec![], losses.sum()),
        Reduction::Mean => ArrayD::from_elem(vec![], losses.sum() / n),
    })
}

/// (e) `binary_cross_entropy` without PyTorch's clamp of each logarithm at -100: a prediction of
/// exactly 0 or 1 gives an infinite loss when wrong and `0·log 0 = NaN` when right.
fn bce_without_clamp(request: &Request) -> Option<Reply> {
    elementwise_mutant(
        request,
        Op::BinaryCrossEntropy,
        bce_unclamped_losses::<f32>,
        bce_unclamped_losses::<f64>,
    )
}

/// A binary-loss mutant that keeps the reference's checks (a request it rejects is rejected the
/// same way) and reduction, with the elementwise losses of `op` replaced, in the output's dtype.
fn elementwise_mutant(
    request: &Request,
    op: Op,
    losses_f32: fn(&Request) -> Option<ArrayD<f32>>,
    losses_f64: fn(&Request) -> Option<ArrayD<f64>>,
) -> Option<Reply> {
    if request.op != op {
        return None;
    }
    let checked = Reference.evaluate(request);
    let Reply::Output { output, .. } = &checked else {
        return Some(checked);
    };
    let reduction = reduction(request)?;
    Some(reply(Ok(match output.dtype() {
        Dtype::Float32 => reduce(losses_f32(request)?, reduction),
        _ => reduce(losses_f64(request)?, reduction),
    })))
}

/// `binary_cross_entropy(sigmoid(x))` with `pos_weight`: `σ(x)` rounded first, then its
/// logarithms, clamped at -100 as BCE clamps them.
fn bce_of_sigmoid_losses<T: Real>(request: &Request) -> Option<ArrayD<T>> {
    let x: ArrayD<T> = request.tensors.get(&Role::Input)?.float_array();
    let t: ArrayD<T> = request.tensors.get(&Role::Target)?.float_array();
    let full = |role| -> Option<ArrayD<T>> {
        Some(match request.tensors.get(&role) {
            Some(w) => w.float_array::<T>().broadcast(t.shape())?.to_owned(),
            None => ArrayD::from_elem(t.shape(), T::one()),
        })
    };
    let (weight, pos_weight) = (full(Role::Weight)?, full(Role::PosWeight)?);
    let floor = T::from_f64(-100.0);
    let s = sigmoid(&x);
    Some(
        ndarray::Zip::from(&s)
            .and(&t)
            .and(&weight)
            .and(&pos_weight)
            .map_collect(|&s, &t, &w, &p| {
                let (log_s, log_not_s) = (s.ln().max(floor), (T::one() - s).ln().max(floor));
                -w * (p * t * log_s + (T::one() - t) * log_not_s)
            }),
    )
}

/// (f) `binary_cross_entropy_with_logits` as BCE of `sigmoid(x)`: once `σ(x)` rounds to 1 (x ≳ 17
/// in f32) the loss of a negative target is the clamp, 100, instead of about `x`.
fn bce_with_logits_via_sigmoid(request: &Request) -> Option<Reply> {
    elementwise_mutant(
        request,
        Op::BinaryCrossEntropyWithLogits,
        bce_of_sigmoid_losses::<f32>,
        bce_of_sigmoid_losses::<f64>,
    )
}

/// (g) Label smoothing of the *weighted* one-hot target, `q = (1 - ε)·w_t·onehot + ε/C`: the
/// weight reaches the true class's term only, not every class of the smooth term as in PyTorch
/// (`w_c` on each class). The mean keeps PyTorch's denominator `Σ w_t`. Without weights it is
/// PyTorch's loss, so only weighted smoothing cases can see it.
fn smoothing_of_weighted_one_hot(request: &Request) -> Option<Reply> {
    let eps = request.attrs.label_smoothing.filter(|&e| e > 0.0)?;
    let c = census(request).filter(|_| request.tensors.contains_key(&Role::Weight))?;
    let checked = Reference.evaluate(request);
    let Reply::Output { output, .. } = &checked else {
        return Some(checked);
    };
    let none = |tensors: &Tensors, label_smoothing| {
        let attrs = Attrs {
            reduction: Some("none".into()),
            label_smoothing,
            ..request.attrs.clone()
        };
        evaluate(request.op, tensors, &attrs).map(|t| t.to_f64_vec())
    };
    let weighted_nll = none(&request.tensors, None);
    let mut unweighted = request.tensors.clone();
    unweighted.remove(&Role::Weight);
    // Cross-entropy against the uniform target, -Σ_c lp_c / C, is the ε = 1 loss without weights.
    let uniform = none(&unweighted, Some(1.0));
    let (Ok(a), Ok(b)) = (weighted_nll, uniform) else {
        return None;
    };
    let losses: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(a, b)| (1.0 - eps) * a + eps * b)
        .collect();
    let (shape, data) = match reduction(request)? {
        Reduction::None => {
            let shape = request.tensors[&Role::Target].shape().to_vec();
            (shape, losses)
        }
        Reduction::Sum => (vec![], vec![losses.iter().sum()]),
        Reduction::Mean => (vec![], vec![losses.iter().sum::<f64>() / c.valid_weight]),
    };
    let output = Tensor::from_f64(output.dtype(), &shape, &data).expect("one loss per target");
    Some(reply(Ok(output)))
}

/// (h) Softmax over the last dimension whatever `dim` says (a hard-coded `dim=-1`): right for
/// vectors and for rows of a matrix, wrong for every other axis.
fn softmax_over_last_dim(request: &Request) -> Option<Reply> {
    if !matches!(request.op, Op::Softmax | Op::LogSoftmax) {
        return None;
    }
    softmax_dim(request)?;
    let attrs = Attrs {
        dim: Some(-1),
        ..request.attrs.clone()
    };
    Some(reply(with_attrs(request, attrs)))
}

/// (i) The gradient of a 'mean' without its `1/N`: the reference's gradient times the number of
/// per-element losses (what differentiating the 'sum' by hand and forgetting the mean gives).
/// The value is right, so only gradient checks can see it.
pub fn gradient_without_one_over_n(request: &Request) -> Option<Reply> {
    if !request.grad || !request.op.is_loss() || reduction(request) != Some(Reduction::Mean) {
        return None;
    }
    let n = with_reduction(request, "none").ok()?.numel() as f64;
    match Reference.evaluate(request) {
        Reply::Output {
            output,
            grad_input: Some(g),
        } => {
            let scaled: Vec<f64> = g.to_f64_vec().iter().map(|v| v * n).collect();
            let grad = Tensor::from_f64(g.dtype(), g.shape(), &scaled).expect("same shape");
            Some(Reply::Output {
                output,
                grad_input: Some(grad),
            })
        }
        other => Some(other),
    }
}

/// The value mutants, (a) to (h); the gradient mutant (i) is tested on its own below.
pub fn value_mutants() -> Vec<Mutant> {
    vec![
        Mutant {
            name: "(a) 'mean' over all elements",
            bug: mean_over_all_elements,
        },
        Mutant {
            name: "(b) weights missing from the mean's denominator",
            bug: weights_missing_from_denominator,
        },
        Mutant {
            name: "(c) ignored targets counted in the mean's denominator",
            bug: ignored_in_denominator,
        },
        Mutant {
            name: "(d) log(softmax(x)) without max-subtraction",
            bug: log_of_unshifted_softmax,
        },
        Mutant {
            name: "(e) BCE without the -100 clamp",
            bug: bce_without_clamp,
        },
        Mutant {
            name: "(f) BCE-with-logits as BCE(sigmoid(x))",
            bug: bce_with_logits_via_sigmoid,
        },
        Mutant {
            name: "(g) label smoothing of the weighted one-hot",
            bug: smoothing_of_weighted_one_hot,
        },
        Mutant {
            name: "(h) softmax over the last dim whatever dim says",
            bug: softmax_over_last_dim,
        },
    ]
}
