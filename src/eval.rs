//! Calls the reference implementation with dynamically typed tensors, applying PyTorch's rules
//! for which dtypes each argument may have and which dtype the result takes.

use std::collections::BTreeMap;

use ndarray::ArrayD;

use crate::error::{ErrorKind, LossError};
use crate::reference::{
    self, BceOptions, BceWithLogitsOptions, CrossEntropyOptions, NllOptions, Real, Reduction,
    Target,
};
use crate::spec::Attrs;
use crate::tensor::Tensor;
use crate::vocab::{Dtype, Op, Role};

/// The tensors of one call, by role.
pub type Tensors = BTreeMap<Role, Tensor>;

/// What a dispatch computes: the call's output, or the gradient of its sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Value,
    Gradient,
}

/// Evaluates `op` on `tensors` with `attrs`, as PyTorch's functional API would.
pub fn evaluate(op: Op, tensors: &Tensors, attrs: &Attrs) -> Result<Tensor, LossError> {
    dispatch(op, tensors, attrs, Mode::Value)
}

/// The gradient of the sum of `op`'s output with respect to `input` (PyTorch's
/// `out.sum().backward()`), in the input's dtype; the same arguments are rejected as by
/// [`evaluate`].
pub fn gradient(op: Op, tensors: &Tensors, attrs: &Attrs) -> Result<Tensor, LossError> {
    dispatch(op, tensors, attrs, Mode::Gradient)
}

fn dispatch(op: Op, tensors: &Tensors, attrs: &Attrs, mode: Mode) -> Result<Tensor, LossError> {
    let input = tensors
        .get(&Role::Input)
        .ok_or_else(|| LossError::new(ErrorKind::MissingArgument, "missing tensor `input`"))?;
    if !input.dtype().is_float() {
        return Err(LossError::new(
            ErrorKind::DtypeMismatch,
            format!("\"{op}\" not implemented for 'Long': the input must be floating"),
        ));
    }
    // The dtype the computation runs in: the input's, widened where PyTorch promotes (class
    // probabilities and binary_cross_entropy_with_logits targets of float64).
    let promoted = match op {
        Op::BinaryCrossEntropyWithLogits => widest(tensors, &[Role::Input, Role::Target]),
        Op::CrossEntropy
            if tensors
                .get(&Role::Target)
                .is_some_and(|t| t.dtype().is_float()) =>
        {
            widest(tensors, &[Role::Input, Role::Target, Role::Weight])
        }
        _ => input.dtype(),
    };
    let result = match promoted {
        Dtype::Float64 => call::<f64>(op, tensors, attrs, mode),
        _ => call::<f32>(op, tensors, attrs, mode),
    }?;
    // A gradient has the dtype of what it is the gradient with respect to.
    Ok(match mode {
        Mode::Gradient => result.cast(input.dtype()),
        Mode::Value => result,
    })
}

fn widest(tensors: &Tensors, roles: &[Role]) -> Dtype {
    let any64 = roles
        .iter()
        .filter_map(|r| tensors.get(r))
        .any(|t| t.dtype() == Dtype::Float64);
    if any64 {
        Dtype::Float64
    } else {
        Dtype::Float32
    }
}

fn call<T: Real>(
    op: Op,
    tensors: &Tensors,
    attrs: &Attrs,
    mode: Mode,
) -> Result<Tensor, LossError> {
    use reference::grad;
    let value = mode == Mode::Value;
    let input: ArrayD<T> = tensors[&Role::Input].float_array();
    let reduction = match &attrs.reduction {
        Some(r) => r.parse::<Reduction>()?,
        None => Reduction::default(),
    };
    let ignore_index = attrs.ignore_index.unwrap_or(-100);
    let input_dtype = tensors[&Role::Input].dtype();
    let float_arg = |role: Role, exact_dtype: bool| -> Result<Option<ArrayD<T>>, LossError> {
        match tensors.get(&role) {
            None => Ok(None),
            Some(t) if !t.dtype().is_float() => Err(LossError::new(
                ErrorKind::DtypeMismatch,
                format!(
                    "expected {role} of a floating dtype but found {}",
                    t.dtype()
                ),
            )),
            Some(t) if exact_dtype && t.dtype() != input_dtype => Err(LossError::new(
                ErrorKind::DtypeMismatch,
                format!(
                    "expected scalar type {} but found {} for {role}",
                    torch_scalar(input_dtype),
                    torch_scalar(t.dtype())
                ),
            )),
            Some(t) => Ok(Some(t.float_array())),
        }
    };
    let target = || {
        tensors.get(&Role::Target).ok_or_else(|| {
            LossError::new(ErrorKind::MissingArgument, format!("`{op}` needs a target"))
        })
    };
    let output = match op {
        Op::Softmax | Op::LogSoftmax => {
            let dim = attrs.dim.ok_or_else(|| {
                LossError::new(ErrorKind::MissingArgument, format!("`{op}` needs `dim`"))
            })?;
            let dim = isize::try_from(dim).map_err(|_| {
                LossError::new(
                    ErrorKind::DimOutOfRange,
                    format!("dim {dim} is out of range"),
                )
            })?;
            match (op == Op::Softmax, value) {
                (true, true) => reference::softmax(&input, dim)?,
                (true, false) => grad::softmax_grad(&input, dim)?,
                (false, true) => reference::log_softmax(&input, dim)?,
                (false, false) => grad::log_softmax_grad(&input, dim)?,
            }
        }
        Op::Sigmoid if value => reference::sigmoid(&input),
        Op::Sigmoid => grad::sigmoid_grad(&input),
        Op::CrossEntropy => {
            let target = target()?;
            let opts = |weight| CrossEntropyOptions {
                weight,
                ignore_index,
                reduction,
                label_smoothing: attrs.label_smoothing.unwrap_or(0.0),
            };
            let run = |target: Target<'_, T>, opts: &CrossEntropyOptions<'_, T>| {
                if value {
                    reference::cross_entropy(&input, target, opts)
                } else {
                    grad::cross_entropy_grad(&input, target, opts)
                }
            };
            // PyTorch chooses the path by shape, not dtype: a target shaped like the input holds
            // class probabilities, any other target class indices.
            if target.shape() == input.shape() {
                if !target.dtype().is_float() {
                    return Err(LossError::new(
                        ErrorKind::DtypeMismatch,
                        "Expected floating point type for target with class probabilities, got Long",
                    ));
                }
                let probabilities = target.float_array::<T>();
                let weight = float_arg(Role::Weight, false)?;
                run(
                    Target::Probabilities(&probabilities),
                    &opts(weight.as_ref()),
                )?
            } else {
                let weight = float_arg(Role::Weight, true)?;
                let indices = class_indices(target, |indices| {
                    reference::cross_entropy(
                        &input,
                        Target::Indices(indices),
                        &opts(weight.as_ref()),
                    )
                })?;
                run(Target::Indices(&indices), &opts(weight.as_ref()))?
            }
        }
        Op::NllLoss => {
            let weight = float_arg(Role::Weight, true)?;
            let opts = NllOptions {
                weight: weight.as_ref(),
                ignore_index,
                reduction,
            };
            let indices = class_indices(target()?, |indices| {
                reference::nll_loss(&input, indices, &opts)
            })?;
            if value {
                reference::nll_loss(&input, &indices, &opts)?
            } else {
                grad::nll_loss_grad(&input, &indices, &opts)?
            }
        }
        Op::BinaryCrossEntropy => {
            let t = target()?;
            if t.dtype() != input_dtype {
                return Err(LossError::new(
                    ErrorKind::DtypeMismatch,
                    format!(
                        "Found dtype {} but expected {}",
                        torch_scalar(t.dtype()),
                        torch_scalar(input_dtype)
                    ),
                ));
            }
            let target: ArrayD<T> = t.float_array();
            let weight = float_arg(Role::Weight, false)?;
            let opts = BceOptions {
                weight: weight.as_ref(),
                reduction,
            };
            if value {
                reference::binary_cross_entropy(&input, &target, &opts)?
            } else {
                grad::binary_cross_entropy_grad(&input, &target, &opts)?
            }
        }
        Op::BinaryCrossEntropyWithLogits => {
            let t = target()?;
            if !t.dtype().is_float() {
                return Err(LossError::new(
                    ErrorKind::DtypeMismatch,
                    format!(
                        "result type {} can't be cast to the desired output type Long",
                        torch_scalar(input_dtype)
                    ),
                ));
            }
            let target: ArrayD<T> = t.float_array();
            let weight = float_arg(Role::Weight, false)?;
            let pos_weight = float_arg(Role::PosWeight, false)?;
            let opts = BceWithLogitsOptions {
                weight: weight.as_ref(),
                pos_weight: pos_weight.as_ref(),
                reduction,
            };
            if value {
                reference::binary_cross_entropy_with_logits(&input, &target, &opts)?
            } else {
                grad::binary_cross_entropy_with_logits_grad(&input, &target, &opts)?
            }
        }
    };
    Ok(Tensor::from_real(output))
}

/// The class indices of a target. A floating target where indices belong is rejected as PyTorch
/// rejects it: after the shape checks (run here with a stand-in target of zeros), by its dtype.
fn class_indices<T>(
    target: &Tensor,
    shape_checks: impl FnOnce(&ArrayD<i64>) -> Result<T, LossError>,
) -> Result<ArrayD<i64>, LossError> {
    match target {
        Tensor::Int64(t) => Ok(t.clone()),
        other => {
            shape_checks(&ArrayD::zeros(other.shape()))?;
            Err(LossError::new(
                ErrorKind::DtypeMismatch,
                format!(
                    "expected target dtype to be Long or Byte, but got {}",
                    torch_scalar(other.dtype())
                ),
            ))
        }
    }
}

/// PyTorch's name of a scalar type in its messages (`Float`, `Double`, `Long`).
fn torch_scalar(dtype: Dtype) -> &'static str {
    match dtype {
        Dtype::Float32 => "Float",
        Dtype::Float64 => "Double",
        Dtype::Int64 => "Long",
    }
}
