//! A call's arguments read for the typed reference: the input in the compute dtype, the options
//! with PyTorch's defaults, and the dtype rules each tensor argument obeys.

use ndarray::ArrayD;

use super::Tensors;
use crate::error::{ErrorKind, LossError};
use crate::reference::{Real, Reduction};
use crate::spec::Attrs;
use crate::tensor::Tensor;
use crate::vocab::{Dtype, Op, Role};

/// The arguments of one call.
pub(crate) struct Args<'a> {
    pub op: Op,
    pub tensors: &'a Tensors,
    pub attrs: &'a Attrs,
    pub reduction: Reduction,
    pub input_dtype: Dtype,
}

impl<'a> Args<'a> {
    pub fn new(op: Op, tensors: &'a Tensors, attrs: &'a Attrs) -> Result<Args<'a>, LossError> {
        let reduction = match &attrs.reduction {
            Some(r) => r.parse::<Reduction>()?,
            None => Reduction::default(),
        };
        Ok(Args {
            op,
            tensors,
            attrs,
            reduction,
            input_dtype: tensors[&Role::Input].dtype(),
        })
    }

    pub fn input<T: Real>(&self) -> ArrayD<T> {
        self.tensors[&Role::Input].float_array()
    }

    /// `ignore_index`, PyTorch's default -100 when absent.
    pub fn ignore_index(&self) -> i64 {
        self.attrs.ignore_index.unwrap_or(-100)
    }

    pub fn target(&self) -> Result<&'a Tensor, LossError> {
        self.tensors.get(&Role::Target).ok_or_else(|| {
            LossError::new(
                ErrorKind::MissingArgument,
                format!("`{}` needs a target", self.op),
            )
        })
    }

    /// A floating tensor argument, if given; with `same_dtype`, of exactly the input's dtype.
    pub fn float_arg<T: Real>(
        &self,
        role: Role,
        same_dtype: bool,
    ) -> Result<Option<ArrayD<T>>, LossError> {
        match self.tensors.get(&role) {
            None => Ok(None),
            Some(t) if !t.dtype().is_float() => Err(LossError::new(
                ErrorKind::DtypeMismatch,
                format!(
                    "expected {role} of a floating dtype but found {}",
                    t.dtype()
                ),
            )),
            Some(t) if same_dtype && t.dtype() != self.input_dtype => Err(LossError::new(
                ErrorKind::DtypeMismatch,
                format!(
                    "expected scalar type {} but found {} for {role}",
                    torch_scalar(self.input_dtype),
                    torch_scalar(t.dtype())
                ),
            )),
            Some(t) => Ok(Some(t.float_array())),
        }
    }
}

/// The class indices of a target. A floating target where indices belong is rejected as PyTorch
/// rejects it: after the shape checks (run here with a stand-in target of zeros), by its dtype.
pub(crate) fn class_indices<T>(
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

/// PyTorch's name of a scalar type in its messages (`Float`, `Double`, `Long`, `Half`).
pub(crate) fn torch_scalar(dtype: Dtype) -> &'static str {
    match dtype {
        Dtype::Float32 => "Float",
        Dtype::Float64 => "Double",
        Dtype::Int64 => "Long",
        Dtype::Float16 => "Half",
        Dtype::BFloat16 => "BFloat16",
    }
}
