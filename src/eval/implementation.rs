//! The reference as an implementation under test: what `cargo run` checks in process and what
//! `cross-entropy-spec eval` serves over the protocol.

use crate::conformance::Implementation;
use crate::conformance::protocol::{Reply, Request};

/// The crate's reference implementation, as an [`Implementation`].
#[derive(Debug, Default, Clone, Copy)]
pub struct Reference;

impl Implementation for Reference {
    fn name(&self) -> String {
        "reference".into()
    }

    fn evaluate(&mut self, request: &Request) -> Reply {
        let (op, tensors, attrs) = (request.op, &request.tensors, &request.attrs);
        // The gradient first: its refusal (`not_differentiable`) comes before the op's checks,
        // which it runs too.
        let grad_input = (request.grad)
            .then(|| super::vjp(op, tensors, attrs, &request.vjp))
            .transpose();
        let answer = grad_input.and_then(|grad_input| {
            let output = super::evaluate(op, tensors, attrs)?;
            Ok(Reply::Output { output, grad_input })
        });
        answer.unwrap_or_else(Reply::from)
    }
}
