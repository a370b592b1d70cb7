//! One function per operation: read the arguments, call the typed reference (its value or its
//! gradient), nothing else. The rules that belong to the mathematics (shapes, bounds, which
//! target is which) live in [`crate::reference`]; the dtype rules of a dynamically typed call
//! live here and in [`super::args`].

use ndarray::ArrayD;

use super::Mode;
use super::args::{Args, class_indices, torch_scalar};
use crate::error::{ErrorKind, LossError};
use crate::reference::{
    self, BceOptions, BceWithLogitsOptions, CrossEntropyOptions, NllOptions, Real, Target, grad,
};
use crate::vocab::{Op, Role};

type Output<T> = Result<ArrayD<T>, LossError>;

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
        (true, Mode::Gradient) => grad::softmax_grad(&input, dim),
        (false, Mode::Value) => reference::log_softmax(&input, dim),
        (false, Mode::Gradient) => grad::log_softmax_grad(&input, dim),
    }
}

pub(crate) fn sigmoid<T: Real>(args: &Args<'_>, mode: Mode) -> ArrayD<T> {
    let input = args.input::<T>();
    match mode {
        Mode::Value => reference::sigmoid(&input),
        Mode::Gradient => grad::sigmoid_grad(&input),
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
    let run = |target: Target<'_, T>| match mode {
        Mode::Value => reference::cross_entropy(&input, target, &opts),
        Mode::Gradient => grad::cross_entropy_grad(&input, target, &opts),
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
        Mode::Gradient => grad::nll_loss_grad(&input, &indices, &opts),
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
        Mode::Gradient => grad::binary_cross_entropy_grad(&input, &target, &opts),
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
    match mode {
        Mode::Value => reference::binary_cross_entropy_with_logits(&input, &target, &opts),
        Mode::Gradient => grad::binary_cross_entropy_with_logits_grad(&input, &target, &opts),
    }
}
