//! candle (`candle-core` + `candle-nn` 0.11.1, CPU) as an implementation under test.
//!
//! What is called: `candle_nn::ops::{softmax, log_softmax, sigmoid}` (any dim, f32 and f64),
//! `candle_nn::loss::{cross_entropy, nll}` (class indices, mean over the batch) and
//! `candle_nn::loss::binary_cross_entropy_with_logit` (mean). Gradients come from candle's own
//! backprop (`Var` + `backward`) of the sum of the output, or of the output times the request's
//! upstream gradient (a vector–Jacobian product, with respect to `input` only).
//!
//! Layout: candle's losses take `[N, C]` inputs and `[N]` targets. A K-dim input `(N, C, d..)` is
//! permuted with candle's `permute` to `(N, d.., C)` and reshaped to `(N·d.., C)` (the target to
//! `N·d..`), which averages over the same elements as PyTorch; an unbatched `(C)` input becomes
//! `(1, C)`. Both moves are candle tensor operations, so the gradient flows back through them.
//!
//! Derived reduction: `'sum'` is candle's mean multiplied by the number of averaged elements
//! (`affine`), only without weights or ignore_index and for a non-empty batch. `'none'`, class
//! weights, `ignore_index` (including a target equal to PyTorch's default −100), label smoothing,
//! probability targets, `pos_weight` and BCE on probabilities are not offered by candle-nn and
//! are answered `Unsupported`.

use candle_core::{D, DType, Device, Error, Tensor as C, Var};
use cross_entropy_spec::conformance::Implementation;
use cross_entropy_spec::conformance::protocol::{Reply, Request};
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::{Dtype, ErrorKind, Op, Role};

use crate::request::{self, Dense, Reduce, guarded, mean_or_sum, tensor, uses_default_ignore};

pub const VERSION: &str = "0.11.1";

pub struct Candle;

impl Implementation for Candle {
    fn name(&self) -> String {
        format!("candle {VERSION}")
    }

    fn evaluate(&mut self, r: &Request) -> Reply {
        guarded(|| answer(r))
    }
}

fn answer(r: &Request) -> Reply {
    let dtype = match request::float_dtype(r) {
        Ok(d) => d,
        Err(reply) => return reply,
    };
    let result = match r.op {
        Op::Softmax | Op::LogSoftmax | Op::Sigmoid => activation(r, dtype),
        Op::CrossEntropy | Op::NllLoss => class_loss(r, dtype),
        Op::BinaryCrossEntropyWithLogits => bce_with_logits(r, dtype),
        Op::BinaryCrossEntropy => {
            return Reply::Unsupported(
                "candle-nn 0.11.1 has no binary cross-entropy on probabilities".into(),
            );
        }
    };
    result.unwrap_or_else(|reply| reply)
}

/// A candle error as a reply: the kind its variant names, or for candle's `bail!` messages in
/// its loss functions, the kind their text names. Anything else is `unclassified`.
fn rejected(e: Error) -> Reply {
    let message: String = e.to_string().lines().next().unwrap_or_default().into();
    match kind_of(&e) {
        Some(kind) => Reply::Error { kind, message },
        // As over the protocol, an error of no known kind is an unreadable answer.
        None => Reply::Broken(format!("an error of no protocol kind: {message}")),
    }
}

fn kind_of(e: &Error) -> Option<ErrorKind> {
    Some(match e {
        Error::WithBacktrace { inner, .. }
        | Error::Context { inner, .. }
        | Error::WithPath { inner, .. } => return kind_of(inner),
        Error::DimOutOfRange { .. } => ErrorKind::DimOutOfRange,
        Error::UnexpectedDType { .. }
        | Error::DTypeMismatchBinaryOp { .. }
        | Error::UnsupportedDTypeForOp(..) => ErrorKind::DtypeMismatch,
        Error::ShapeMismatchBinaryOp { .. }
        | Error::BroadcastIncompatibleShapes { .. }
        | Error::UnexpectedShape { .. }
        | Error::ShapeMismatch { .. } => ErrorKind::ShapeMismatch,
        Error::UnexpectedNumberOfDims { .. } => ErrorKind::InvalidRank,
        Error::InvalidIndex { .. } => ErrorKind::TargetOutOfBounds,
        Error::Msg(m) if m.contains("batch size mismatch") => ErrorKind::ShapeMismatch,
        Error::Msg(m) if m.contains("target tensor should have") => ErrorKind::ShapeMismatch,
        Error::Msg(m) if m.contains("expects an input tensor of rank 2") => ErrorKind::InvalidRank,
        _ => return None,
    })
}

fn to_candle(t: &Tensor) -> candle_core::Result<C> {
    let dev = Device::Cpu;
    match t {
        Tensor::Float32(a) => C::from_vec(a.iter().copied().collect::<Vec<_>>(), a.shape(), &dev),
        Tensor::Float64(a) => C::from_vec(a.iter().copied().collect::<Vec<_>>(), a.shape(), &dev),
        Tensor::Int64(a) => C::from_vec(a.iter().copied().collect::<Vec<_>>(), a.shape(), &dev),
        Tensor::Float16(_) | Tensor::BFloat16(_) => Err(candle_core::Error::Msg(
            "half tensors are not passed to candle by this adapter".into(),
        )),
    }
}

fn to_dense(t: &C) -> candle_core::Result<Dense> {
    Ok(Dense {
        shape: t.dims().to_vec(),
        data: t
            .reshape(t.elem_count())?
            .to_dtype(DType::F64)?
            .to_vec1::<f64>()?,
    })
}

/// Calls `f` on the request's input; with `grad`, through a `Var` and candle's backprop of the
/// sum of the output, or of the output times the request's upstream gradient (a candle `mul`).
fn call(
    r: &Request,
    dtype: Dtype,
    f: impl Fn(&C) -> candle_core::Result<C>,
) -> Result<Reply, Reply> {
    let Some(input) = tensor(r, Role::Input) else {
        return Err(Reply::Unsupported("a request without `input`".into()));
    };
    let pullback = request::pullback(r)?;
    let run = || -> candle_core::Result<Reply> {
        let x = to_candle(input)?;
        let Some(upstream) = &pullback else {
            return Ok(to_dense(&f(&x)?)?.into_tensor(dtype));
        };
        let var = Var::from_tensor(&x)?;
        let out = f(var.as_tensor())?;
        let total = match upstream {
            None => out.sum_all()?,
            Some(u) => {
                let u = C::from_vec(u.data.clone(), u.shape.as_slice(), &Device::Cpu)?;
                out.mul(&u.to_dtype(out.dtype())?)?.sum_all()?
            }
        };
        let grads = total.backward()?;
        let Some(g) = grads.get(var.as_tensor()) else {
            return Ok(Reply::Broken(
                "candle's backprop gave no gradient for the input".into(),
            ));
        };
        Ok(request::reply(to_dense(&out)?, Some(to_dense(g)?), dtype))
    };
    Ok(run().unwrap_or_else(rejected))
}

fn activation(r: &Request, dtype: Dtype) -> Result<Reply, Reply> {
    if r.op == Op::Sigmoid {
        return call(r, dtype, candle_nn::ops::sigmoid);
    }
    let Some(dim) = r.attrs.dim else {
        return Err(Reply::Unsupported(
            "softmax without `dim` (PyTorch's implicit dim)".into(),
        ));
    };
    let softmax = r.op == Op::Softmax;
    call(r, dtype, |x| match (dim >= 0, softmax) {
        (true, true) => candle_nn::ops::softmax(x, dim as usize),
        (true, false) => candle_nn::ops::log_softmax(x, dim as usize),
        (false, true) => candle_nn::ops::softmax(x, D::Minus(dim.unsigned_abs() as usize)),
        (false, false) => candle_nn::ops::log_softmax(x, D::Minus(dim.unsigned_abs() as usize)),
    })
}

fn class_loss(r: &Request, dtype: Dtype) -> Result<Reply, Reply> {
    if tensor(r, Role::Weight).is_some() {
        return Err(Reply::Unsupported(
            "class weights: candle-nn has none".into(),
        ));
    }
    if r.attrs.ignore_index.is_some() {
        return Err(Reply::Unsupported(
            "ignore_index: candle-nn has none".into(),
        ));
    }
    if r.attrs.label_smoothing.is_some_and(|l| l != 0.0) {
        return Err(Reply::Unsupported(
            "label smoothing: candle-nn has none".into(),
        ));
    }
    let target = match tensor(r, Role::Target) {
        Some(t @ Tensor::Int64(_)) => t,
        Some(_) => {
            return Err(Reply::Unsupported(
                "probability (float) targets: candle-nn takes class indices only".into(),
            ));
        }
        None => return Err(Reply::Unsupported("a loss without `target`".into())),
    };
    if uses_default_ignore(target) {
        return Err(Reply::Unsupported(
            "a target of −100 is PyTorch's default ignore_index; candle-nn has none".into(),
        ));
    }
    let shape = r.tensors[&Role::Input].shape().to_vec();
    let rows = match shape.len() {
        1 => 1,
        0 | 2 => shape.first().copied().unwrap_or(1),
        _ => shape[0] * shape[2..].iter().product::<usize>(),
    };
    let reduce = mean_or_sum(r, rows, false)?;
    let t = to_candle(target).map_err(rejected)?;
    let nll = r.op == Op::NllLoss;
    call(r, dtype, |x| {
        let (x, t) = match x.rank() {
            1 => (x.unsqueeze(0)?, t.reshape(t.elem_count())?),
            k if k >= 3 => {
                let mut order: Vec<usize> = (0..k).filter(|&a| a != 1).collect();
                order.push(1);
                let c = x.dims()[1];
                let x = x.permute(order)?.contiguous()?;
                let n = x.elem_count() / c.max(1);
                (x.reshape((n, c))?, t.reshape(t.elem_count())?)
            }
            _ => (x.clone(), t.clone()),
        };
        let loss = if nll {
            candle_nn::loss::nll(&x, &t)?
        } else {
            candle_nn::loss::cross_entropy(&x, &t)?
        };
        reduced(loss, reduce)
    })
}

fn reduced(mean: C, reduce: Reduce) -> candle_core::Result<C> {
    match reduce {
        Reduce::Mean => Ok(mean),
        Reduce::SumAsMeanTimesCount(n) => mean.affine(n as f64, 0.0),
    }
}

fn bce_with_logits(r: &Request, dtype: Dtype) -> Result<Reply, Reply> {
    if tensor(r, Role::Weight).is_some() || tensor(r, Role::PosWeight).is_some() {
        return Err(Reply::Unsupported(
            "weight / pos_weight: candle-nn's binary_cross_entropy_with_logit has none".into(),
        ));
    }
    let Some(target) = tensor(r, Role::Target) else {
        return Err(Reply::Unsupported("a loss without `target`".into()));
    };
    let reduce = mean_or_sum(r, r.tensors[&Role::Input].numel(), false)?;
    let t = to_candle(target).map_err(rejected)?;
    call(r, dtype, |x| {
        reduced(
            candle_nn::loss::binary_cross_entropy_with_logit(x, &t)?,
            reduce,
        )
    })
}
