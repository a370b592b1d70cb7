//! burn 0.22.1 on its `flex` CPU backend as an implementation under test.
//!
//! Backend: `flex`, burn's pure-Rust CPU backend (`Device::flex()`). The research
//! (`shared/research/rust-peers.md` §3) recommends it over `ndarray`, which 0.22 marks deprecated,
//! and it builds as fast (about 1 min debug on 2 cores); gradients use the same backend under
//! `device.autodiff()`.
//!
//! What is called: `tensor::activation::{softmax, log_softmax, sigmoid}`,
//! `nn::loss::CrossEntropyLoss` (class indices, with weights, label smoothing and `pad_tokens`
//! as ignore_index), `tensor::loss::cross_entropy_with_logits` (probability targets), and
//! `nn::loss::BinaryCrossEntropyLoss` (`logits = false` for BCE, `true` for BCE-with-logits).
//! Gradients come from burn's autodiff of the sum of the output, or of the output times the
//! request's upstream gradient (a vector–Jacobian product, with respect to `input` only).
//!
//! Layout: burn's losses and the adapter's activation calls take rank-2 tensors with the classes
//! (or the softmax dim) **last**: softmax's `dim` is transposed to the end and back; PyTorch's
//! class dim 1 is moved to the end, `(N, C, d..) → (N·d.., C)`, and `(C)` becomes `(1, C)`; the
//! binary losses see `(rows, last dim)`, which keeps their per-column weights on the last dim.
//!
//! Mapping of options, and what is answered `Unsupported`: `ignore_index` becomes
//! `pad_tokens = [ignore_index]` only when it is a valid class id (burn's pads go through
//! `gather`); a target equal to an ignore_index burn cannot express (−100 by default) is
//! unsupported. Float64 runs with weights, label smoothing or the binary losses are
//! unsupported: burn builds those internal tensors in the device's default float dtype, f32
//! (see [`f64_internals`]). Weights and BCE targets must have the input's dtype (burn takes
//! `Vec<f32>` weights and `Int` labels, so a mismatch cannot be expressed). BCE targets must be exactly 0 or 1 (burn's targets are `Int`);
//! a BCE weight must be a per-column vector of the last dim (burn's 1-D weights are class
//! weights indexed by the target, not PyTorch's). No `pos_weight`, no NLL, no `'none'`.
//!
//! Derived reduction: `'sum'` is burn's mean times the number of averaged elements (a burn tensor
//! multiply, so autodiff sees it), only when the mean divides by exactly that count (no weight,
//! no pads) and the batch is not empty.

use burn::nn::loss::{BinaryCrossEntropyLossConfig, CrossEntropyLossConfig};
use burn::tensor::{DType, Device, Int, Tensor, TensorData, activation, loss};
use cross_entropy_spec::conformance::Implementation;
use cross_entropy_spec::conformance::protocol::{Reply, Request};
use cross_entropy_spec::tensor::Tensor as Spec;
use cross_entropy_spec::vocab::{Dtype, Op, Role};

use crate::request::{self, Dense, Reduce, guarded, mean_or_sum, reply, tensor};

pub const VERSION: &str = "0.22.1";

pub struct Burn;

impl Implementation for Burn {
    fn name(&self) -> String {
        format!("burn {VERSION} (flex)")
    }

    fn evaluate(&mut self, r: &Request) -> Reply {
        guarded(|| answer(r).unwrap_or_else(|reply| reply))
    }
}

/// The device a request runs on: flex, under autodiff when a gradient is wanted.
fn device(grad: bool) -> Device {
    if grad {
        Device::flex().autodiff()
    } else {
        Device::flex()
    }
}

fn burn_dtype(dtype: Dtype) -> DType {
    match dtype {
        Dtype::Float32 => DType::F32,
        _ => DType::F64,
    }
}

/// A `(rows, C)` float matrix on `dev`, in the request's dtype.
fn matrix(d: &Dense, dtype: Dtype, dev: &Device) -> Tensor<2> {
    let (rows, c) = d.rows();
    let data = match dtype {
        Dtype::Float32 => TensorData::new(d.data.iter().map(|&v| v as f32).collect(), [rows, c]),
        _ => TensorData::new(d.data.clone(), [rows, c]),
    };
    Tensor::<2>::from_data(data, (dev, burn_dtype(dtype)))
}

fn values<const D: usize>(t: Tensor<D>) -> Result<Vec<f64>, Reply> {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .map_err(|e| Reply::Broken(format!("burn's output could not be read: {e:?}")))
}

/// Runs `f` on the input matrix; with `grad`, also the gradient of the output's sum, or of the
/// output times the request's upstream gradient, laid out as `f`'s output by `layout` (a burn
/// `mul`, so the autodiff pulls the upstream back).
fn run<const D: usize>(
    x: &Dense,
    r: &Request,
    dtype: Dtype,
    layout: impl Fn(&Dense) -> Dense,
    f: impl Fn(Tensor<2>) -> Tensor<D>,
) -> Result<(Vec<f64>, Option<Vec<f64>>), Reply> {
    let dev = device(r.grad);
    let input = matrix(x, dtype, &dev);
    let Some(upstream) = request::pullback(r)? else {
        return Ok((values(f(input))?, None));
    };
    let input = input.require_grad();
    let out = f(input.clone());
    let total = match upstream.map(|u| layout(&u)) {
        None => out.clone().sum(),
        Some(u) => {
            let data = match dtype {
                Dtype::Float32 => {
                    TensorData::new(u.data.iter().map(|&v| v as f32).collect(), out.shape())
                }
                _ => TensorData::new(u.data, out.shape()),
            };
            let u = Tensor::<D>::from_data(data, (&dev, burn_dtype(dtype)));
            (out.clone() * u).sum()
        }
    };
    let grads = total.backward();
    let grad = input
        .grad(&grads)
        .ok_or_else(|| Reply::Broken("burn's autodiff gave no gradient for the input".into()))?;
    Ok((values(out)?, Some(values(grad)?)))
}

fn answer(r: &Request) -> Result<Reply, Reply> {
    let dtype = request::float_dtype(r)?;
    let input = Dense::of(&r.tensors[&Role::Input]);
    match r.op {
        Op::Softmax | Op::LogSoftmax => softmax(r, &input, dtype),
        Op::Sigmoid => {
            let (out, grad) = run(&input, r, dtype, Dense::clone, activation::sigmoid)?;
            let like = |data| input.like(data);
            Ok(reply(like(out), grad.map(like), dtype))
        }
        Op::CrossEntropy => cross_entropy(r, &input, dtype),
        Op::BinaryCrossEntropy | Op::BinaryCrossEntropyWithLogits => binary(r, &input, dtype),
        Op::NllLoss => Err(Reply::Unsupported(
            "burn 0.22 has no public nll_loss on log-probabilities".into(),
        )),
    }
}

fn scalar_reply(value: Vec<f64>, grad: Option<Dense>, dtype: Dtype) -> Reply {
    let out = Dense {
        shape: vec![],
        data: value.into_iter().take(1).collect(),
    };
    reply(out, grad, dtype)
}

fn softmax(r: &Request, input: &Dense, dtype: Dtype) -> Result<Reply, Reply> {
    let Some(dim) = r.attrs.dim else {
        return Err(Reply::Unsupported(
            "softmax without `dim` (PyTorch's implicit dim)".into(),
        ));
    };
    let Some(axis) = request::axis(dim, input.rank()) else {
        return Err(Reply::Unsupported(format!(
            "dim {dim} of a rank-{} input: the adapter moves `dim` last and cannot move one the \
             input lacks",
            input.rank()
        )));
    };
    let moved = input.axis_to_last(axis);
    let log = r.op == Op::LogSoftmax;
    let (out, grad) = run(
        &moved,
        r,
        dtype,
        |u| u.axis_to_last(axis),
        |x| {
            if log {
                activation::log_softmax(x, 1)
            } else {
                activation::softmax(x, 1)
            }
        },
    )?;
    let back = |data| moved.like(data).last_to_axis(axis);
    Ok(reply(back(out), grad.map(back), dtype))
}

fn reduced<const D: usize>(loss: Tensor<D>, reduce: Reduce) -> Tensor<D> {
    match reduce {
        Reduce::Mean => loss,
        Reduce::SumAsMeanTimesCount(n) => loss.mul_scalar(n as f64),
    }
}

fn cross_entropy(r: &Request, input: &Dense, dtype: Dtype) -> Result<Reply, Reply> {
    if input.rank() == 0 {
        return Err(Reply::Unsupported(
            "a 0-d input: burn's losses take (batch, classes) and the adapter has no class dim \
             to move"
                .into(),
        ));
    }
    let x = input.classes_last();
    let (rows, classes) = x.rows();
    let Some(target) = tensor(r, Role::Target) else {
        return Err(Reply::Unsupported("a loss without `target`".into()));
    };
    let back = |data| x.classes_back(data, input.rank());
    let Spec::Int64(t) = target else {
        return probability_targets(r, input, &x, target, dtype);
    };
    let options = tensor(r, Role::Weight).is_some() || r.attrs.label_smoothing.is_some();
    if options && dtype == Dtype::Float64 {
        return Err(f64_internals());
    }
    let weights = match tensor(r, Role::Weight) {
        None => None,
        Some(w) if w.dtype() != dtype => {
            return Err(Reply::Unsupported(format!(
                "a {} weight for {dtype} input: burn takes weights as Vec<f32>, so a dtype \
                 mismatch cannot be expressed",
                w.dtype()
            )));
        }
        Some(w) if w.shape().len() != 1 => {
            return Err(Reply::Unsupported(format!(
                "a weight of shape {:?}: burn takes weights as a Vec<f32>, so a shape to refuse \
                 cannot be expressed",
                w.shape()
            )));
        }
        Some(w) => Some(w.to_f64_vec().iter().map(|&v| v as f32).collect()),
    };
    let smoothing = r.attrs.label_smoothing.map(|l| l as f32);
    let ignore = r.attrs.ignore_index.unwrap_or(-100);
    let ignored = t.iter().any(|&k| k == ignore);
    let pad = match usize::try_from(ignore) {
        Ok(i) if i < classes && ignored => Some(vec![i]),
        _ if ignored => {
            return Err(Reply::Unsupported(format!(
                "targets equal to ignore_index {ignore}: burn's pad_tokens must be class ids in \
                 [0, {classes})"
            )));
        }
        _ => None,
    };
    let reduce = mean_or_sum(r, rows, weights.is_some() || pad.is_some())?;
    let targets: Vec<i64> = t.iter().copied().collect();
    let config = CrossEntropyLossConfig::new()
        .with_weights(weights)
        .with_smoothing(smoothing)
        .with_pad_tokens(pad);
    let dev = device(r.grad);
    let n = targets.len();
    let (out, grad) = run(&x, r, dtype, Dense::clone, |x| {
        let targets = Tensor::<1, Int>::from_data(TensorData::new(targets.clone(), [n]), &dev);
        reduced(config.init(&dev).forward(x, targets), reduce)
    })?;
    Ok(scalar_reply(out, grad.map(back), dtype))
}

/// Probability targets through `burn::tensor::loss::cross_entropy_with_logits` (classes last,
/// mean over rows); it takes no weight, smoothing or ignore_index.
fn probability_targets(
    r: &Request,
    input: &Dense,
    x: &Dense,
    target: &Spec,
    dtype: Dtype,
) -> Result<Reply, Reply> {
    if tensor(r, Role::Weight).is_some()
        || r.attrs.label_smoothing.is_some_and(|l| l != 0.0)
        || r.attrs.ignore_index.is_some()
    {
        return Err(Reply::Unsupported(
            "probability targets with weight, label smoothing or ignore_index: burn's \
             cross_entropy_with_logits has none"
                .into(),
        ));
    }
    if target.dtype() != dtype || target.shape() != input.shape.as_slice() {
        return Err(Reply::Unsupported(
            "a probability target whose shape or dtype differs from the input's: the adapter \
             cannot lay it out as burn's (rows, classes)"
                .into(),
        ));
    }
    let y = Dense::of(target).classes_last();
    let reduce = mean_or_sum(r, x.rows().0, false)?;
    let dev = device(r.grad);
    let (out, grad) = run(x, r, dtype, Dense::clone, |logits| {
        let y = matrix(&y, dtype, &dev);
        reduced(loss::cross_entropy_with_logits(logits, y), reduce)
    })?;
    let back = |data| x.classes_back(data, input.rank());
    Ok(scalar_reply(out, grad.map(back), dtype))
}

/// Burn's loss modules create their weights (`from_floats`), smoothed targets (`zeros`) and
/// BCE float targets (`Int::float`) in the device's default float dtype, which flex fixes at f32
/// once per process; given float64 logits they panic on the dtype mismatch. So float64 runs
/// of those paths are not asked.
fn f64_internals() -> Reply {
    Reply::Unsupported(
        "float64 with weights, label smoothing or BCE: burn's loss modules build these tensors in \
         the device's default float dtype (f32, fixed once per process)"
            .into(),
    )
}

fn binary(r: &Request, input: &Dense, dtype: Dtype) -> Result<Reply, Reply> {
    if tensor(r, Role::PosWeight).is_some() {
        return Err(Reply::Unsupported("pos_weight: burn has none".into()));
    }
    if dtype == Dtype::Float64 {
        return Err(f64_internals());
    }
    let Some(target) = tensor(r, Role::Target) else {
        return Err(Reply::Unsupported("a loss without `target`".into()));
    };
    if target.dtype() != dtype {
        return Err(Reply::Unsupported(format!(
            "a {} target for {dtype} input: the adapter turns float 0/1 targets into burn's Int \
             labels, so a target dtype mismatch cannot be expressed",
            target.dtype()
        )));
    }
    if target.shape() != input.shape.as_slice() {
        return Err(Reply::Unsupported(
            "a target whose shape differs from the input's: the adapter lays both out as \
             (rows, last dim) and could hide the mismatch"
                .into(),
        ));
    }
    let labels: Option<Vec<i64>> = target
        .to_f64_vec()
        .iter()
        .map(|&v| (v == 0.0 || v == 1.0).then_some(v as i64))
        .collect();
    let Some(labels) = labels else {
        return Err(Reply::Unsupported(
            "targets other than exactly 0 or 1: burn's BCE targets are Int labels".into(),
        ));
    };
    let (rows, last) = input.rows();
    let weights = match tensor(r, Role::Weight) {
        None => None,
        Some(w) if input.rank() >= 2 && w.numel() == last && w.shape().last() == Some(&last) => {
            Some(w.to_f64_vec().iter().map(|&v| v as f32).collect())
        }
        Some(_) => {
            return Err(Reply::Unsupported(
                "a weight that is not one value per column of the last dim: burn's BCE weights \
                 are per class (and indexed by the target for 1-D inputs)"
                    .into(),
            ));
        }
    };
    let reduce = mean_or_sum(r, input.data.len(), weights.is_some())?;
    let config = BinaryCrossEntropyLossConfig::new()
        .with_weights(weights)
        .with_logits(r.op == Op::BinaryCrossEntropyWithLogits);
    let dev = device(r.grad);
    let (out, grad) = run(input, r, dtype, Dense::clone, |x| {
        let y = Tensor::<2, Int>::from_data(TensorData::new(labels.clone(), [rows, last]), &dev);
        reduced(config.init(&dev).forward(x, y), reduce)
    })?;
    let like = |data| input.like(data);
    Ok(scalar_reply(out, grad.map(like), dtype))
}
