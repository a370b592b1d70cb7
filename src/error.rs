//! The one error type of the reference implementation.
//!
//! Every validation failure is a [`LossError`]: a closed [`ErrorKind`] that the
//! spec and the protocol name by [`ErrorKind::as_str`], plus a message that
//! follows PyTorch's own text for the same failure.

use serde::{Deserialize, Serialize};

/// One closed list of error kinds; the protocol and the spec name them by `as_str()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// A rejected input: what kind of failure, and PyTorch's words for it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct LossError {
    pub kind: ErrorKind,
    pub message: String,
}

impl LossError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        LossError {
            kind,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for &k in ErrorKind::ALL {
            assert_eq!(ErrorKind::parse(k.as_str()), Some(k));
            assert_eq!(from_serde_name(k.as_str()), Some(k));
        }
        assert_eq!(ErrorKind::parse("nope"), None);
    }

    /// Deserialize a name through serde's derive, without a format crate.
    fn from_serde_name(name: &str) -> Option<ErrorKind> {
        use serde::de::IntoDeserializer;
        let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            name.into_deserializer();
        ErrorKind::deserialize(de).ok()
    }

    #[test]
    fn message_is_display() {
        let e = LossError::new(ErrorKind::TargetOutOfBounds, "Target 3 is out of bounds.");
        assert_eq!(e.to_string(), "Target 3 is out of bounds.");
    }
}
