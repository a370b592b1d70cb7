//! The one error type of the reference implementation.
//!
//! Every validation failure is a [`LossError`]: a closed [`ErrorKind`] that the
//! spec and the protocol name by [`ErrorKind::as_str`], plus a message that
//! follows PyTorch's own text for the same failure.

pub use spec_model::ErrorKind;

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
    fn message_is_display() {
        let e = LossError::new(ErrorKind::TargetOutOfBounds, "Target 3 is out of bounds.");
        assert_eq!(e.to_string(), "Target 3 is out of bounds.");
    }
}
