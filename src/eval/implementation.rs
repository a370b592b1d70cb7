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
        let answer = super::evaluate(op, tensors, attrs).and_then(|output| {
            let grad_input = (request.grad)
                .then(|| super::gradient(op, tensors, attrs))
                .transpose()?;
            Ok(Reply::Output { output, grad_input })
        });
        answer.unwrap_or_else(Reply::from)
    }
}
