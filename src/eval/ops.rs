//! One function per operation: read the arguments, call the typed reference (its value or its
//! gradient), nothing else. The rules that belong to the mathematics (shapes, bounds, which
//! target is which) live in [`crate::reference`]; the dtype rules of a dynamically typed call
//! live here and in [`super::args`].

use ndarray::ArrayD;

use super::Mode;
use super::args::{Args, class_indices, torch_scalar};
use crate::conformance::protocol::Vjp;
use crate::error::{ErrorKind, LossError};
use crate::reference::vjp::{self as vjps, Upstream};
use crate::reference::{
    self, BceOptions, BceWithLogitsOptions, CrossEntropyOptions, NllOptions, Real, Target, grad,
};
use crate::vocab::{Op, Role};

type Output<T> = Result<ArrayD<T>, LossError>;

/// The upstream gradient of a request, in the compute dtype `T`.
fn upstream<T: Real>(vjp: &Vjp) -> Upstream<T> {
    (vjp.upstream.as_ref()).map_or_else(Upstream::ones, |u| Upstream::new(&u.float_array::<T>()))
}

/// A product the reference does not compute. `eval` refuses first every argument the recorded
/// table says PyTorch does not differentiate, and a test holds the reference to every other one,
/// so this is only reached if the two disagree.
fn unhandled(op: Op, wrt: Role) -> LossError {
    LossError::new(
        ErrorKind::NotDifferentiable,
        format!("the reference has no vector–Jacobian product of `{op}` with respect to `{wrt}`"),
    )
}

pub(crate) fn softmax<T: Real>(op: Op, args: &Args<'_>, mode: Mode) -> Output<T> {
    let dim = args
        .attrs
        .dim
        .ok_or_else(|| LossError::new(ErrorKind::MissingArgument, format!("`{op}` needs `dim`")))?;
    let dim = isize::try_from(dim).map_err(|_| {
        LossError::new(
            ErrorKind::DimOutOfRange,
            format!("dim {dim} is out of range"),
        )
    })?;
    let input = args.input::<T>();
    match (op == Op::Softmax, mode) {
        (true, Mode::Value) => reference::softmax(&input, dim),
        (false, Mode::Value) => reference::log_softmax(&input, dim),
        (_, Mode::Gradient(v)) if v.wrt != Role::Input => Err(unhandled(op, v.wrt)),
        (true, Mode::Gradient(v)) => grad::softmax_vjp(&input, dim, &upstream(v)),
        (false, Mode::Gradient(v)) => grad::log_softmax_vjp(&input, dim, &upstream(v)),
    }
}

pub(crate) fn sigmoid<T: Real>(args: &Args<'_>, mode: Mode) -> Output<T> {
    let input = args.input::<T>();
    match mode {
        Mode::Value => Ok(reference::sigmoid(&input)),
        Mode::Gradient(v) if v.wrt != Role::Input => Err(unhandled(Op::Sigmoid, v.wrt)),
        Mode::Gradient(v) => grad::sigmoid_vjp(&input, &upstream(v)),
    }
}

/// PyTorch chooses the path by shape, not dtype: a target shaped like the input holds class
/// probabilities (the reference rejects an integer one), any other target class indices.
pub(crate) fn cross_entropy<T: Real>(args: &Args<'_>, mode: Mode) -> Output<T> {
    let input = args.input::<T>();
    let target = args.target()?;
    let probabilities = target.shape() == input.shape() && target.dtype().is_float();
    let weight = args.float_arg::<T>(Role::Weight, !probabilities)?;
    let opts = CrossEntropyOptions {
        weight: weight.as_ref(),
        ignore_index: args.ignore_index(),
        reduction: args.reduction,
        label_smoothing: args.attrs.label_smoothing.unwrap_or(0.0),
    };
    let run = |target: Target<'_, T>| match (mode, target) {
        (Mode::Value, target) => reference::cross_entropy(&input, target, &opts),
        (Mode::Gradient(v), target) if v.wrt == Role::Input => {
            grad::cross_entropy_vjp(&input, target, &opts, &upstream(v))
        }
        (Mode::Gradient(v), Target::Probabilities(q)) if v.wrt == Role::Target => {
            vjps::cross_entropy_target_vjp(&input, q, &opts, &upstream(v))
        }
        (Mode::Gradient(v), Target::Probabilities(q)) if v.wrt == Role::Weight => {
            vjps::cross_entropy_weight_vjp(&input, q, &opts, &upstream(v))
        }
        (Mode::Gradient(v), _) => Err(unhandled(Op::CrossEntropy, v.wrt)),
    };
    if probabilities {
        return run(Target::Probabilities(&target.float_array::<T>()));
    }
    let indices = class_indices(target, |indices| {
        reference::cross_entropy(&input, Target::Indices(indices), &opts)
    })?;
    run(Target::Indices(&indices))
}

pub(crate) fn nll_loss<T: Real>(args: &Args<'_>, mode: Mode) -> Output<T> {
    let input = args.input::<T>();
    let weight = args.float_arg::<T>(Role::Weight, true)?;
    let opts = NllOptions {
        weight: weight.as_ref(),
        ignore_index: args.ignore_index(),
        reduction: args.reduction,
    };
    let indices = class_indices(args.target()?, |indices| {
        reference::nll_loss(&input, indices, &opts)
    })?;
    match mode {
        Mode::Value => reference::nll_loss(&input, &indices, &opts),
        Mode::Gradient(v) if v.wrt != Role::Input => Err(unhandled(Op::NllLoss, v.wrt)),
        Mode::Gradient(v) => grad::nll_loss_vjp(&input, &indices, &opts, &upstream(v)),
    }
}

pub(crate) fn binary_cross_entropy<T: Real>(args: &Args<'_>, mode: Mode) -> Output<T> {
    let input = args.input::<T>();
    let t = args.target()?;
    if t.dtype() != args.input_dtype {
        return Err(LossError::new(
            ErrorKind::DtypeMismatch,
            format!(
                "Found dtype {} but expected {}",
                torch_scalar(t.dtype()),
                torch_scalar(args.input_dtype)
            ),
        ));
    }
    let target: ArrayD<T> = t.float_array();
    let weight = args.float_arg::<T>(Role::Weight, false)?;
    let opts = BceOptions {
        weight: weight.as_ref(),
        reduction: args.reduction,
    };
    match mode {
        Mode::Value => reference::binary_cross_entropy(&input, &target, &opts),
        Mode::Gradient(v) => match v.wrt {
            Role::Input => grad::binary_cross_entropy_vjp(&input, &target, &opts, &upstream(v)),
            Role::Target => {
                vjps::binary_cross_entropy_target_vjp(&input, &target, &opts, &upstream(v))
            }
            wrt => Err(unhandled(Op::BinaryCrossEntropy, wrt)),
        },
    }
}

pub(crate) fn binary_cross_entropy_with_logits<T: Real>(args: &Args<'_>, mode: Mode) -> Output<T> {
    let input = args.input::<T>();
    let t = args.target()?;
    if !t.dtype().is_float() {
        return Err(LossError::new(
            ErrorKind::DtypeMismatch,
            format!(
                "result type {} can't be cast to the desired output type Long",
                torch_scalar(args.input_dtype)
            ),
        ));
    }
    let target: ArrayD<T> = t.float_array();
    let weight = args.float_arg::<T>(Role::Weight, false)?;
    let pos_weight = args.float_arg::<T>(Role::PosWeight, false)?;
    let opts = BceWithLogitsOptions {
        weight: weight.as_ref(),
        pos_weight: pos_weight.as_ref(),
        reduction: args.reduction,
    };
    let (x, y) = (&input, &target);
    match mode {
        Mode::Value => reference::binary_cross_entropy_with_logits(x, y, &opts),
        Mode::Gradient(v) => match v.wrt {
            Role::Input => grad::binary_cross_entropy_with_logits_vjp(x, y, &opts, &upstream(v)),
            Role::Target => {
                vjps::binary_cross_entropy_with_logits_target_vjp(x, y, &opts, &upstream(v))
            }
            wrt => Err(unhandled(Op::BinaryCrossEntropyWithLogits, wrt)),
        },
    }
}
