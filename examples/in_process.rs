//! How another Rust crate gets checked by the suite, in process: implement
//! [`Implementation`] by converting each request's tensors into your crate's types, calling your
//! function, and converting the result (or your error) back. Answer `Unsupported` for what your
//! crate does not do: it is counted as skipped, never as passed.
//!
//! Here the crate's own typed reference functions stand in for "your crate", restricted to what a
//! typical small crate offers (float32 only, softmax and class-index cross-entropy without
//! options), so the example shows the adaptation work and the skips it produces:
//!
//! ```sh
//! cargo run --release --example in_process
//! ```

use std::process::ExitCode;

use cross_entropy_spec::bundle;
use cross_entropy_spec::conformance::protocol::{Reply, Request};
use cross_entropy_spec::conformance::{Implementation, render, run_suite};
use cross_entropy_spec::error::LossError;
use cross_entropy_spec::reference::{self as your_crate, CrossEntropyOptions, Target};
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::{Op, Role};

struct YourCrate;

impl Implementation for YourCrate {
    fn name(&self) -> String {
        "your-crate (example)".into()
    }

    fn evaluate(&mut self, request: &Request) -> Reply {
        let Some(Tensor::Float32(input)) = request.tensors.get(&Role::Input) else {
            return Reply::Unsupported("float32 inputs only".into());
        };
        // A product with an upstream gradient other than ones, or with respect to another
        // argument (`request.vjp`), needs a backward that takes the upstream: this crate has none.
        if request.vjp.upstream.is_some() || request.vjp.wrt != Role::Input {
            return Reply::Unsupported("vector-Jacobian products".into());
        }
        // A gradient request (`request.grad`) wants the output and the gradient of its sum with
        // respect to `input`: call your crate's backward (here: the closed-form gradients).
        let grad = request.grad;
        let result = match (request.op, request.tensors.get(&Role::Target)) {
            (Op::Softmax, _) => match request.attrs.dim {
                Some(dim) => both(
                    grad,
                    || your_crate::softmax(input, dim as isize),
                    || your_crate::softmax_grad(input, dim as isize),
                ),
                None => return Reply::Unsupported("softmax without dim".into()),
            },
            (Op::CrossEntropy, Some(Tensor::Int64(target)))
                if request.tensors.len() == 2 && request.attrs == Default::default() =>
            {
                let opts = CrossEntropyOptions::default();
                both(
                    grad,
                    || your_crate::cross_entropy(input, Target::Indices(target), &opts),
                    || your_crate::cross_entropy_grad(input, Target::Indices(target), &opts),
                )
            }
            (op, _) => return Reply::Unsupported(format!("{op} with these options")),
        };
        match result {
            Ok((output, grad_input)) => Reply::Output {
                output: Tensor::Float32(output),
                grad_input: grad_input.map(Tensor::Float32),
            },
            // Map your crate's errors onto the protocol's kinds; here they already are.
            Err(e) => Reply::from(e),
        }
    }
}

type Array = ndarray::ArrayD<f32>;

/// The output, and the gradient when it is asked for.
fn both(
    grad: bool,
    value: impl FnOnce() -> Result<Array, LossError>,
    gradient: impl FnOnce() -> Result<Array, LossError>,
) -> Result<(Array, Option<Array>), LossError> {
    let output = value()?;
    let grad_input = if grad { Some(gradient()?) } else { None };
    Ok((output, grad_input))
}

fn main() -> ExitCode {
    let spec = match bundle::spec() {
        Ok(spec) => spec,
        Err(errors) => {
            eprintln!("the bundled spec does not parse: {errors:?}");
            return ExitCode::from(2);
        }
    };
    let report = run_suite(spec, None, &mut YourCrate);
    print!("{}", render::text::report(&report));
    if report.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
