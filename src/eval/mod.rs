//! Calls the reference implementation with dynamically typed tensors, applying PyTorch's rules
//! for which dtypes each argument may have and which dtype the result takes: the reference as
//! the protocol and the runner see it. `args` reads a call's arguments, `ops` has one
//! function per operation, [`Reference`] is the reference as an
//! [`Implementation`](crate::conformance::Implementation).

mod args;
mod differentiable;
mod implementation;
mod ops;

use std::collections::BTreeMap;

pub use implementation::Reference;

use crate::conformance::protocol::Vjp;
use crate::error::{ErrorKind, LossError};
use crate::spec::Attrs;
use crate::tensor::Tensor;
use crate::vocab::{Dtype, Op, Role};
use args::Args;

/// The tensors of one call, by role.
pub type Tensors = BTreeMap<Role, Tensor>;

/// What a call computes: the output, or a vector–Jacobian product.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Mode<'a> {
    Value,
    Gradient(&'a Vjp),
}

/// Evaluates `op` on `tensors` with `attrs`, as PyTorch's functional API would.
///
/// `F.cross_entropy(torch.arange(1., 13.).reshape(3, 4), torch.tensor([1, 2, 3]),
/// reduction='none')` (`004_8a619d584319f9a0.txt`: `[2.4402, 1.4402, 0.4402]`), and the error
/// PyTorch raises for a label out of range:
///
/// ```
/// use cross_entropy_spec::eval::{Tensors, evaluate};
/// use cross_entropy_spec::spec::Attrs;
/// use cross_entropy_spec::tensor::Tensor;
/// use cross_entropy_spec::vocab::{Dtype, ErrorKind, Op, Role};
///
/// let logits: Vec<f64> = (1..=12).map(f64::from).collect();
/// let mut tensors = Tensors::new();
/// tensors.insert(Role::Input, Tensor::from_f64(Dtype::Float32, &[3, 4], &logits).unwrap());
/// tensors.insert(Role::Target, Tensor::from_f64(Dtype::Int64, &[3], &[1.0, 2.0, 3.0]).unwrap());
/// let attrs = Attrs { reduction: Some("none".into()), ..Attrs::default() };
///
/// let losses = evaluate(Op::CrossEntropy, &tensors, &attrs).unwrap();
/// assert_eq!(losses.dtype(), Dtype::Float32);
/// let four: Vec<String> = losses.to_f64_vec().iter().map(|l| format!("{l:.4}")).collect();
/// assert_eq!(four, ["2.4402", "1.4402", "0.4402"]);
///
/// tensors.insert(Role::Target, Tensor::from_f64(Dtype::Int64, &[3], &[1.0, 2.0, 4.0]).unwrap());
/// let error = evaluate(Op::CrossEntropy, &tensors, &attrs).unwrap_err();
/// assert_eq!(error.kind, ErrorKind::TargetOutOfBounds);
/// ```
pub fn evaluate(op: Op, tensors: &Tensors, attrs: &Attrs) -> Result<Tensor, LossError> {
    dispatch(op, tensors, attrs, Mode::Value)
}

/// The gradient of the sum of `op`'s output with respect to `input` (PyTorch's
/// `out.sum().backward()`), in the input's dtype; the same arguments are rejected as by
/// [`evaluate`].
pub fn gradient(op: Op, tensors: &Tensors, attrs: &Attrs) -> Result<Tensor, LossError> {
    dispatch(op, tensors, attrs, Mode::Gradient(&Vjp::default()))
}

/// The vector–Jacobian product `vjp` asks for (`torch.autograd.grad(out, wrt,
/// grad_outputs=upstream)`), in the dtype of the argument it differentiates. An argument PyTorch
/// does not differentiate is refused first (`not_differentiable`): PyTorch refuses it before
/// the op's kernel runs, at `requires_grad_()` or in the forward's autograd wrapper.
pub fn vjp(op: Op, tensors: &Tensors, attrs: &Attrs, vjp: &Vjp) -> Result<Tensor, LossError> {
    dispatch(op, tensors, attrs, Mode::Gradient(vjp))
}

fn dispatch(op: Op, tensors: &Tensors, attrs: &Attrs, mode: Mode) -> Result<Tensor, LossError> {
    if let Mode::Gradient(v) = mode {
        differentiable::check(op, probabilities(op, tensors), v.wrt)?;
    }
    float_input(op, tensors)?;
    let args = Args::new(op, tensors, attrs)?;
    // A half dtype computes in float32 (its opmath) and rounds once, at the end
    // (`spec/14-half-precision.md`).
    let result = match result_dtype(op, tensors) {
        Dtype::Float64 => Tensor::from_real(call::<f64>(op, &args, mode)?),
        dtype => Tensor::from_real(call::<f32>(op, &args, mode)?).cast(dtype),
    };
    Ok(result.cast(gradient_dtype(tensors, mode).unwrap_or(result.dtype())))
}

/// A gradient has the dtype of what it is the gradient with respect to; a value has none.
fn gradient_dtype(tensors: &Tensors, mode: Mode) -> Option<Dtype> {
    match mode {
        Mode::Gradient(v) => tensors.get(&v.wrt).map(Tensor::dtype),
        Mode::Value => None,
    }
}

/// Whether a `cross_entropy` call has class probabilities: a floating target of the input's
/// shape (PyTorch decides by shape; an integer one is refused later, as a dtype).
fn probabilities(op: Op, tensors: &Tensors) -> bool {
    let (input, target) = (tensors.get(&Role::Input), tensors.get(&Role::Target));
    op == Op::CrossEntropy
        && (input.zip(target)).is_some_and(|(x, t)| x.shape() == t.shape() && t.dtype().is_float())
}

/// The reference evaluated in `T` whatever the tensors' dtypes (their values are read exactly):
/// with a wider `T`, the oracle of [`crate::oracle`]. Also the dtype the result has.
pub(crate) fn evaluate_in<T: crate::reference::Real>(
    op: Op,
    tensors: &Tensors,
    attrs: &Attrs,
    mode: Mode,
) -> Result<(Dtype, ndarray::ArrayD<T>), LossError> {
    if let Mode::Gradient(v) = mode {
        differentiable::check(op, probabilities(op, tensors), v.wrt)?;
    }
    float_input(op, tensors)?;
    let result = call::<T>(op, &Args::new(op, tensors, attrs)?, mode)?;
    let dtype = gradient_dtype(tensors, mode).unwrap_or_else(|| result_dtype(op, tensors));
    Ok((dtype, result))
}

/// The input, which must be floating.
fn float_input(op: Op, tensors: &Tensors) -> Result<&Tensor, LossError> {
    let input = tensors
        .get(&Role::Input)
        .ok_or_else(|| LossError::new(ErrorKind::MissingArgument, "missing tensor `input`"))?;
    if !input.dtype().is_float() {
        return Err(LossError::new(
            ErrorKind::DtypeMismatch,
            format!("\"{op}\" not implemented for 'Long': the input must be floating"),
        ));
    }
    Ok(input)
}

/// The dtype the output has: the input's, promoted as PyTorch promotes class probabilities and
/// binary_cross_entropy_with_logits targets of another floating dtype.
pub fn result_dtype(op: Op, tensors: &Tensors) -> Dtype {
    let widest = |roles: &[Role]| {
        (roles.iter().filter_map(|r| tensors.get(r)))
            .map(Tensor::dtype)
            .filter(|d| d.is_float())
            .reduce(promote)
            .unwrap_or(Dtype::Float32)
    };
    let float_target = tensors
        .get(&Role::Target)
        .is_some_and(|t| t.dtype().is_float());
    match op {
        Op::BinaryCrossEntropyWithLogits => widest(&[Role::Input, Role::Target]),
        Op::CrossEntropy if float_target => widest(&[Role::Input, Role::Target, Role::Weight]),
        _ => tensors
            .get(&Role::Input)
            .map_or(Dtype::Float32, Tensor::dtype),
    }
}

/// PyTorch's promotion of two floating dtypes: the wider; float16 with bfloat16 is float32.
fn promote(a: Dtype, b: Dtype) -> Dtype {
    let rank = |d: Dtype| match d {
        Dtype::Float64 => 3,
        Dtype::Float32 => 2,
        _ => 1,
    };
    match (a, b) {
        _ if a == b => a,
        _ if rank(a) != rank(b) => std::cmp::max_by_key(a, b, |&d| rank(d)),
        _ => Dtype::Float32,
    }
}

fn call<T: crate::reference::Real>(
    op: Op,
    args: &Args<'_>,
    mode: Mode,
) -> Result<ndarray::ArrayD<T>, LossError> {
    match op {
        Op::Softmax | Op::LogSoftmax => ops::softmax::<T>(op, args, mode),
        Op::Sigmoid => ops::sigmoid::<T>(args, mode),
        Op::CrossEntropy => ops::cross_entropy::<T>(args, mode),
        Op::NllLoss => ops::nll_loss::<T>(args, mode),
        Op::BinaryCrossEntropy => ops::binary_cross_entropy::<T>(args, mode),
        Op::BinaryCrossEntropyWithLogits => ops::binary_cross_entropy_with_logits::<T>(args, mode),
    }
}
