//! dfdx 0.13.0 (CPU) as an implementation under test.
//!
//! What is called: `softmax::<Axis<1>>`, `log_softmax::<Axis<1>>`, `sigmoid`,
//! `losses::cross_entropy_with_logits_loss` (probability targets, mean over rows) and
//! `losses::binary_cross_entropy_with_logits_loss` (mean), in f32 and f64. Gradients come from
//! dfdx's tapes (`leaky_trace`, `backward`) of the sum of the output, or of the output times the
//! request's upstream gradient (a vector–Jacobian product, with respect to `input` only).
//!
//! Layout: dfdx takes the reduced axis as a type parameter and its losses put the classes on the
//! **last** axis, so every input is presented as a matrix `(rows, C)`: for softmax the adapter
//! transposes `dim` to the end (and back for the output and the gradient); for cross-entropy it
//! moves PyTorch's class dim 1 to the end, `(N, C, d..) → (N·d.., C)`, and a `(C)` input becomes
//! `(1, C)`; the binary losses and sigmoid see the elements as one row. dfdx's mean over rows of
//! `(N·d.., C)` is PyTorch's mean over `N·d..`.
//!
//! Class indices: dfdx has no class-index form, so a class-index target is given as its one-hot
//! probability rows (a target outside `[0, C)` has none and is answered `Unsupported`).
//!
//! Derived reduction: `'sum'` is dfdx's mean times the number of averaged elements (a dfdx scalar
//! multiply, so the tape sees it), only without weights and for a non-empty batch. `'none'`,
//! weights, ignore_index, label smoothing, `pos_weight`, NLL and BCE on probabilities are not in
//! dfdx and are answered `Unsupported`.

use cross_entropy_spec::conformance::Implementation;
use cross_entropy_spec::conformance::protocol::{Reply, Request};
use cross_entropy_spec::tensor::Tensor as Spec;
use cross_entropy_spec::vocab::{Dtype, Op, Role};
use dfdx::prelude::*;

use crate::request::{
    self, Dense, Reduce, guarded, mean_or_sum, reply, tensor, uses_default_ignore,
};

pub const VERSION: &str = "0.13.0";

pub struct Dfdx;

impl Implementation for Dfdx {
    fn name(&self) -> String {
        format!("dfdx {VERSION}")
    }

    fn evaluate(&mut self, r: &Request) -> Reply {
        guarded(|| answer(r))
    }
}

type Traced<S, E> = Tensor<S, E, Cpu, OwnedTape<E, Cpu>>;
type Rows = (usize, usize);

fn answer(r: &Request) -> Reply {
    let dtype = match request::float_dtype(r) {
        Ok(d) => d,
        Err(reply) => return reply,
    };
    let result = match dtype {
        Dtype::Float32 => dispatch::<f32>(r, dtype),
        _ => dispatch::<f64>(r, dtype),
    };
    result.unwrap_or_else(|reply| reply)
}

fn dispatch<E: dfdx::dtypes::Dtype>(r: &Request, dtype: Dtype) -> Result<Reply, Reply>
where
    Cpu: Device<E>,
{
    let input = Dense::of(&r.tensors[&Role::Input]);
    match r.op {
        Op::Softmax | Op::LogSoftmax => {
            let Some(dim) = r.attrs.dim else {
                return Err(Reply::Unsupported(
                    "softmax without `dim` (PyTorch's implicit dim)".into(),
                ));
            };
            let Some(axis) = request::axis(dim, input.rank()) else {
                return Err(Reply::Unsupported(format!(
                    "dim {dim} of a rank-{} input: dfdx's axis is a type parameter, so a dim the \
                     input lacks cannot be asked for",
                    input.rank()
                )));
            };
            let moved = input.axis_to_last(axis);
            let log = r.op == Op::LogSoftmax;
            let pullback = request::pullback(r)?.map(|u| u.map(|u| u.axis_to_last(axis)));
            let (values, grad) = rows_op::<E>(&moved, pullback, |x| {
                if log {
                    x.log_softmax::<Axis<1>>()
                } else {
                    x.softmax::<Axis<1>>()
                }
            });
            let back = |data| moved.like(data).last_to_axis(axis);
            Ok(reply(back(values), grad.map(back), dtype))
        }
        Op::Sigmoid => {
            let (values, grad) = rows_op::<E>(&input, request::pullback(r)?, |x| x.sigmoid());
            let like = |data| input.like(data);
            Ok(reply(like(values), grad.map(like), dtype))
        }
        Op::CrossEntropy => cross_entropy::<E>(r, &input, dtype),
        Op::BinaryCrossEntropyWithLogits => bce_with_logits::<E>(r, &input, dtype),
        Op::NllLoss => Err(Reply::Unsupported("dfdx 0.13 has no nll_loss".into())),
        Op::BinaryCrossEntropy => Err(Reply::Unsupported(
            "dfdx 0.13 has no binary cross-entropy on probabilities".into(),
        )),
    }
}

fn matrix<E: dfdx::dtypes::Dtype>(d: &Dense) -> Tensor<Rows, E, Cpu>
where
    Cpu: Device<E>,
{
    let data = d
        .data
        .iter()
        .map(|&v| E::from_f64(v).unwrap_or_default())
        .collect();
    Cpu::default().tensor_from_vec(data, d.rows())
}

fn to_f64<E: dfdx::dtypes::Dtype>(v: Vec<E>) -> Vec<f64> {
    v.into_iter()
        .map(|e| e.to_f64().unwrap_or(f64::NAN))
        .collect()
}

/// An elementwise or row-wise op on `(rows, C)`: its values, and with `grad` the gradient of
/// their sum, or of their product with the upstream gradient `grad` holds (laid out as `x`; a
/// dfdx `*` on the tape, so the tape pulls it back).
fn rows_op<E: dfdx::dtypes::Dtype>(
    x: &Dense,
    grad: Option<Option<Dense>>,
    f: impl Fn(Traced<Rows, E>) -> Traced<Rows, E>,
) -> (Vec<f64>, Option<Vec<f64>>)
where
    Cpu: Device<E>,
{
    let x = matrix::<E>(x);
    let out = f(x.leaky_trace());
    let values = to_f64(out.retaped::<NoneTape>().as_vec());
    let grad = grad.map(|upstream| {
        let total: Traced<Rank0, E> = match upstream {
            None => out.sum(),
            Some(u) => (out * matrix::<E>(&u)).sum(),
        };
        to_f64(total.backward().get(&x).as_vec())
    });
    (values, grad)
}

/// A loss of `(rows, C)` against `target`: its value and, with `grad`, the gradient with
/// respect to the input of the loss times the upstream gradient `grad` holds (one number; `None`
/// is 1, the loss itself), the product a dfdx scalar multiply on the tape.
fn loss_op<E: dfdx::dtypes::Dtype>(
    x: &Dense,
    target: &Dense,
    reduce: Reduce,
    grad: Option<Option<Dense>>,
    f: impl Fn(Traced<Rows, E>, Tensor<Rows, E, Cpu>) -> Traced<Rank0, E>,
) -> (f64, Option<Vec<f64>>)
where
    Cpu: Device<E>,
{
    let xm = matrix::<E>(x);
    let loss = f(xm.leaky_trace(), matrix::<E>(target));
    let loss = match reduce {
        Reduce::Mean => loss,
        Reduce::SumAsMeanTimesCount(n) => loss * E::from_usize(n).unwrap_or_default(),
    };
    let value = loss
        .retaped::<NoneTape>()
        .array()
        .to_f64()
        .unwrap_or(f64::NAN);
    let grad = grad.map(|upstream| {
        let loss = match &upstream {
            None => loss,
            Some(u) => loss * E::from_f64(request::scalar_upstream(Some(u))).unwrap_or_default(),
        };
        to_f64(loss.backward().get(&xm).as_vec())
    });
    (value, grad)
}

fn scalar_reply(value: f64, grad: Option<Vec<f64>>, input: &Dense, dtype: Dtype) -> Reply {
    let out = Dense {
        shape: vec![],
        data: vec![value],
    };
    let grad = grad.map(|data| input.like(data));
    reply(out, grad, dtype)
}

fn cross_entropy<E: dfdx::dtypes::Dtype>(
    r: &Request,
    input: &Dense,
    dtype: Dtype,
) -> Result<Reply, Reply>
where
    Cpu: Device<E>,
{
    if tensor(r, Role::Weight).is_some() {
        return Err(Reply::Unsupported("class weights: dfdx has none".into()));
    }
    if r.attrs.ignore_index.is_some() {
        return Err(Reply::Unsupported("ignore_index: dfdx has none".into()));
    }
    if r.attrs.label_smoothing.is_some_and(|l| l != 0.0) {
        return Err(Reply::Unsupported("label smoothing: dfdx has none".into()));
    }
    if input.rank() == 0 {
        return Err(Reply::Unsupported(
            "a 0-d input: the adapter presents inputs as (rows, C) and has no class dim here"
                .into(),
        ));
    }
    let Some(target) = tensor(r, Role::Target) else {
        return Err(Reply::Unsupported("a loss without `target`".into()));
    };
    // Classes to the last axis: (N, C, d..) -> (N, d.., C); (C) stays one row.
    let x = input.classes_last();
    let (rows, classes) = x.rows();
    let probs = match target {
        Spec::Int64(t) => {
            if uses_default_ignore(target) {
                return Err(Reply::Unsupported(
                    "a target of −100 is PyTorch's default ignore_index; dfdx has none".into(),
                ));
            }
            if t.len() != rows || t.iter().any(|&k| k < 0 || k as usize >= classes) {
                return Err(Reply::Unsupported(
                    "dfdx has no class-index form, and this target has no one-hot encoding \
                     (it does not fit the input or names no class)"
                        .into(),
                ));
            }
            let mut data = vec![0.0; rows * classes];
            for (row, &k) in t.iter().enumerate() {
                data[row * classes + k as usize] = 1.0;
            }
            x.like(data)
        }
        t if t.dtype() == dtype && t.shape() == input.shape.as_slice() => {
            Dense::of(t).classes_last()
        }
        _ => {
            return Err(Reply::Unsupported(
                "a probability target whose shape or dtype differs from the input's: dfdx's \
                 shapes and dtypes are fixed by the types"
                    .into(),
            ));
        }
    };
    let reduce = mean_or_sum(r, rows, false)?;
    let (value, grad) = loss_op::<E>(&x, &probs, reduce, request::pullback(r)?, |x, y| {
        cross_entropy_with_logits_loss(x, y)
    });
    let grad = grad.map(|data| x.classes_back(data, input.rank()).data);
    Ok(scalar_reply(value, grad, input, dtype))
}

fn bce_with_logits<E: dfdx::dtypes::Dtype>(
    r: &Request,
    input: &Dense,
    dtype: Dtype,
) -> Result<Reply, Reply>
where
    Cpu: Device<E>,
{
    if tensor(r, Role::Weight).is_some() || tensor(r, Role::PosWeight).is_some() {
        return Err(Reply::Unsupported(
            "weight / pos_weight: dfdx's binary_cross_entropy_with_logits_loss has none".into(),
        ));
    }
    let target = match tensor(r, Role::Target) {
        Some(t) if t.dtype() == dtype && t.shape() == input.shape.as_slice() => Dense::of(t),
        Some(_) => {
            return Err(Reply::Unsupported(
                "a target whose shape or dtype differs from the input's: dfdx's shapes and \
                 dtypes are fixed by the types"
                    .into(),
            ));
        }
        None => return Err(Reply::Unsupported("a loss without `target`".into())),
    };
    let reduce = mean_or_sum(r, input.data.len(), false)?;
    let (value, grad) = loss_op::<E>(input, &target, reduce, request::pullback(r)?, |x, y| {
        binary_cross_entropy_with_logits_loss(x, y)
    });
    Ok(scalar_reply(value, grad, input, dtype))
}
