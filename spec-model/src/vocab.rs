//! The closed vocabularies that the spec, the protocol and the reference share: the operations
//! (PyTorch's functional names), the tensor roles (PyTorch's keyword arguments), the dtypes
//! (PyTorch's spellings) and the error kinds. Serde spells each as the protocol does.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An operation of the suite, named as in `torch.nn.functional`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Softmax,
    LogSoftmax,
    Sigmoid,
    CrossEntropy,
    NllLoss,
    BinaryCrossEntropy,
    BinaryCrossEntropyWithLogits,
}

impl Op {
    pub const ALL: [Op; 7] = [
        Op::Softmax,
        Op::LogSoftmax,
        Op::Sigmoid,
        Op::CrossEntropy,
        Op::NllLoss,
        Op::BinaryCrossEntropy,
        Op::BinaryCrossEntropyWithLogits,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Softmax => "softmax",
            Op::LogSoftmax => "log_softmax",
            Op::Sigmoid => "sigmoid",
            Op::CrossEntropy => "cross_entropy",
            Op::NllLoss => "nll_loss",
            Op::BinaryCrossEntropy => "binary_cross_entropy",
            Op::BinaryCrossEntropyWithLogits => "binary_cross_entropy_with_logits",
        }
    }

    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == name)
    }

    /// The tensor arguments the operation takes, in PyTorch's order (which is also the order in
    /// which a seeded case draws them).
    pub fn tensor_args(self) -> &'static [Role] {
        match self {
            Op::Softmax | Op::LogSoftmax | Op::Sigmoid => &[Role::Input],
            Op::CrossEntropy | Op::NllLoss | Op::BinaryCrossEntropy => {
                &[Role::Input, Role::Target, Role::Weight]
            }
            Op::BinaryCrossEntropyWithLogits => {
                &[Role::Input, Role::Target, Role::Weight, Role::PosWeight]
            }
        }
    }

    /// The attributes (non-tensor options) the operation takes.
    pub fn attr_names(self) -> &'static [&'static str] {
        match self {
            Op::Softmax | Op::LogSoftmax => &["dim"],
            Op::Sigmoid => &[],
            Op::CrossEntropy => &["reduction", "ignore_index", "label_smoothing"],
            Op::NllLoss => &["reduction", "ignore_index"],
            Op::BinaryCrossEntropy | Op::BinaryCrossEntropyWithLogits => &["reduction"],
        }
    }

    /// Whether the operation is a loss (takes a target).
    pub fn is_loss(self) -> bool {
        self.tensor_args().contains(&Role::Target)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The role of a tensor argument, named as PyTorch's keyword arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Input,
    Target,
    Weight,
    PosWeight,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Input, Role::Target, Role::Weight, Role::PosWeight];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Input => "input",
            Role::Target => "target",
            Role::Weight => "weight",
            Role::PosWeight => "pos_weight",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tensor element type, spelled as PyTorch spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dtype {
    Float32,
    Float64,
    Int64,
    Float16,
    #[serde(rename = "bfloat16")]
    BFloat16,
}

impl Dtype {
    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::Float32 => "float32",
            Dtype::Float64 => "float64",
            Dtype::Int64 => "int64",
            Dtype::Float16 => "float16",
            Dtype::BFloat16 => "bfloat16",
        }
    }

    /// Accepts the protocol's spelling and PyTorch's (`torch.long`, `torch.float`, ...).
    pub fn parse(name: &str) -> Option<Dtype> {
        match name.strip_prefix("torch.").unwrap_or(name) {
            "float32" | "float" => Some(Dtype::Float32),
            "float64" | "double" => Some(Dtype::Float64),
            "int64" | "long" => Some(Dtype::Int64),
            "float16" | "half" => Some(Dtype::Float16),
            "bfloat16" => Some(Dtype::BFloat16),
            _ => None,
        }
    }

    pub fn is_float(self) -> bool {
        !matches!(self, Dtype::Int64)
    }

    /// float16 or bfloat16: stored in 16 bits, computed in float32 (`spec/14-half-precision.md`).
    pub fn is_half(self) -> bool {
        matches!(self, Dtype::Float16 | Dtype::BFloat16)
    }

    /// The name PyTorch's Python API uses, for reproduction snippets.
    pub fn torch_name(self) -> &'static str {
        match self {
            Dtype::Float32 => "torch.float32",
            Dtype::Float64 => "torch.float64",
            Dtype::Int64 => "torch.int64",
            Dtype::Float16 => "torch.float16",
            Dtype::BFloat16 => "torch.bfloat16",
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One closed list of error kinds; the protocol and the spec name them by `as_str()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// softmax/log_softmax `dim` outside `[-ndim, ndim)` (0-d: `[-1, 0]`).
    DimOutOfRange,
    /// The input has a number of dimensions the operation does not accept (a 0-d input to
    /// `nll_loss` or `cross_entropy`).
    InvalidRank,
    /// The target does not fit the input: its number of dimensions, batch size or spatial size
    /// for class indices; not exactly the input's shape for probabilities and the binary losses;
    /// a size other than 1 for an unbatched input.
    ShapeMismatch,
    /// A class index not in `[0, C)` that is not `ignore_index`.
    TargetOutOfBounds,
    /// Class weight not 1-D of length C; BCE weight or BCEWL weight/pos_weight
    /// not broadcastable to the target, or broadcasting would enlarge it.
    WeightShape,
    /// `label_smoothing > 1` (PyTorch silently treats `< 0` and NaN as 0).
    InvalidLabelSmoothing,
    /// `ignore_index >= 0` together with probability targets.
    IgnoreIndexWithProbabilities,
    /// BCE input not in `[0, 1]` (NaN and ±inf included).
    InputOutOfRange,
    /// BCE target not in `[0, 1]` (NaN included).
    TargetOutOfRange,
    /// A reduction string other than none/mean/sum.
    InvalidReduction,
    /// A tensor of a dtype the call does not accept: an integer input, a floating class-index
    /// target, a weight or BCE target whose dtype differs from the input's.
    DtypeMismatch,
    /// A tensor or option the operation needs is absent (e.g. no `target` for a loss).
    MissingArgument,
    /// A tensor, even an empty one, with a dimension (or non-zero dimensions whose product) above
    /// the suite's limit of 2^24: the reference refuses what it could not compute in bounded
    /// time and memory.
    TooLarge,
    /// A gradient with respect to an argument PyTorch does not differentiate (its "not
    /// differentiable with respect to argument"; which ones: `spec/recorded/pytorch-differentiability.json`).
    NotDifferentiable,
    /// Protocol: a request line that is not a well-formed request.
    MalformedRequest,
    /// Protocol: a request for a protocol version the implementation does not speak.
    UnsupportedProtocol,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::DimOutOfRange,
        ErrorKind::InvalidRank,
        ErrorKind::ShapeMismatch,
        ErrorKind::TargetOutOfBounds,
        ErrorKind::WeightShape,
        ErrorKind::InvalidLabelSmoothing,
        ErrorKind::IgnoreIndexWithProbabilities,
        ErrorKind::InputOutOfRange,
        ErrorKind::TargetOutOfRange,
        ErrorKind::InvalidReduction,
        ErrorKind::DtypeMismatch,
        ErrorKind::MissingArgument,
        ErrorKind::TooLarge,
        ErrorKind::NotDifferentiable,
        ErrorKind::MalformedRequest,
        ErrorKind::UnsupportedProtocol,
    ];

    /// The snake_case name (the same spelling serde uses).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::DimOutOfRange => "dim_out_of_range",
            ErrorKind::InvalidRank => "invalid_rank",
            ErrorKind::ShapeMismatch => "shape_mismatch",
            ErrorKind::TargetOutOfBounds => "target_out_of_bounds",
            ErrorKind::WeightShape => "weight_shape",
            ErrorKind::InvalidLabelSmoothing => "invalid_label_smoothing",
            ErrorKind::IgnoreIndexWithProbabilities => "ignore_index_with_probabilities",
            ErrorKind::InputOutOfRange => "input_out_of_range",
            ErrorKind::TargetOutOfRange => "target_out_of_range",
            ErrorKind::InvalidReduction => "invalid_reduction",
            ErrorKind::DtypeMismatch => "dtype_mismatch",
            ErrorKind::MissingArgument => "missing_argument",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::NotDifferentiable => "not_differentiable",
            ErrorKind::MalformedRequest => "malformed_request",
            ErrorKind::UnsupportedProtocol => "unsupported_protocol",
        }
    }

    /// The inverse of [`ErrorKind::as_str`].
    pub fn parse(s: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str`, `parse` and serde spell every name the same way, the protocol's way.
    #[test]
    fn names_round_trip_and_match_serde() {
        for &k in ErrorKind::ALL {
            assert_eq!(ErrorKind::parse(k.as_str()), Some(k));
            let json = format!("\"{}\"", k.as_str());
            assert_eq!(serde_json::from_str::<ErrorKind>(&json).ok(), Some(k));
        }
        for op in Op::ALL {
            assert_eq!(serde_json::to_string(&op).unwrap(), format!("\"{op}\""));
        }
        for role in Role::ALL {
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{role}\""));
        }
        for d in [
            Dtype::Float32,
            Dtype::Float64,
            Dtype::Int64,
            Dtype::Float16,
            Dtype::BFloat16,
        ] {
            assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{d}\""));
            assert_eq!(Dtype::parse(d.torch_name()), Some(d));
        }
        assert_eq!(ErrorKind::parse("nope"), None);
        assert!(serde_json::from_str::<ErrorKind>("\"unclassified\"").is_err());
    }
}
