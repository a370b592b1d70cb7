//! The closed vocabularies that the spec parser, the protocol and the reference share: the
//! operations (PyTorch's functional names) and the dtypes (PyTorch's spellings).
//!
//! This file uses only `std`, because `build.rs` compiles it too (one parser, one vocabulary).

use std::fmt;

/// An operation of the suite, named as in `torch.nn.functional`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dtype {
    Float32,
    Float64,
    Int64,
}

impl Dtype {
    pub const ALL: [Dtype; 3] = [Dtype::Float32, Dtype::Float64, Dtype::Int64];

    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::Float32 => "float32",
            Dtype::Float64 => "float64",
            Dtype::Int64 => "int64",
        }
    }

    /// Accepts the protocol's spelling and PyTorch's (`torch.long`, `torch.float`, ...).
    pub fn parse(name: &str) -> Option<Dtype> {
        match name.strip_prefix("torch.").unwrap_or(name) {
            "float32" | "float" => Some(Dtype::Float32),
            "float64" | "double" => Some(Dtype::Float64),
            "int64" | "long" => Some(Dtype::Int64),
            _ => None,
        }
    }

    pub fn is_float(self) -> bool {
        !matches!(self, Dtype::Int64)
    }

    /// The name PyTorch's Python API uses, for reproduction snippets.
    pub fn torch_name(self) -> &'static str {
        match self {
            Dtype::Float32 => "torch.float32",
            Dtype::Float64 => "torch.float64",
            Dtype::Int64 => "torch.int64",
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
