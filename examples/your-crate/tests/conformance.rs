//! The whole cross-entropy-spec suite against this crate, in process: every run of an op the
//! crate has is judged (values and gradients, float32 and float64), every other run is skipped,
//! and the one listed divergence is expected to fail.

use cross_entropy_spec::conformance::{Expectations, Implementation, Reply, Request};
use cross_entropy_spec::conformance::{render, run_suite};
use cross_entropy_spec::error::ErrorKind;
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::{Op, Role};
use ndarray::{ArrayD, Axis};
use num_traits::Float;

#[test]
fn conforms_to_the_spec_but_for_its_listed_divergence() {
    let spec = cross_entropy_spec::bundle::spec().expect("the spec built into the crate");
    let mut report = run_suite(spec, None, &mut YourCrate);
    Expectations::parse(include_str!("expectations.toml"))
        .unwrap()
        .apply(&mut report);

    println!("{}", render::text::report(&report));
    assert!(report.success(), "{}", render::text::report(&report));
    let counts = report.counts();
    assert!(
        counts.passed > 0 && counts.expected_failures > 0,
        "{counts:?}"
    );
}

/// The adapter: the spec's requests in, this crate's calls, the protocol's replies out.
struct YourCrate;

impl Implementation for YourCrate {
    fn name(&self) -> String {
        "your-crate (example)".into()
    }

    fn evaluate(&mut self, request: &Request) -> Reply {
        let Some(input) = request.tensors.get(&Role::Input) else {
            return Reply::Unsupported("no input".into());
        };
        if request.op != Op::Softmax || request.tensors.len() != 1 {
            return Reply::Unsupported(format!("{} is not in this crate", request.op));
        }
        let Some(dim) = request.attrs.dim else {
            return Reply::Unsupported("softmax without dim".into());
        };
        if request.vjp.wrt != Role::Input {
            return Reply::Unsupported(format!("the gradient with respect to {}", request.vjp.wrt));
        }
        // The backward's upstream gradient: the request's (a vector-Jacobian product), or ones.
        let grad = request.grad;
        match (input, &request.vjp.upstream) {
            (Tensor::Float32(x), None) => answer(x, dim, grad, None, Tensor::Float32),
            (Tensor::Float32(x), Some(Tensor::Float32(u))) => {
                answer(x, dim, grad, Some(u), Tensor::Float32)
            }
            (Tensor::Float64(x), None) => answer(x, dim, grad, None, Tensor::Float64),
            (Tensor::Float64(x), Some(Tensor::Float64(u))) => {
                answer(x, dim, grad, Some(u), Tensor::Float64)
            }
            _ => Reply::Unsupported("float32 and float64 only".into()),
        }
    }
}

/// The output and, when asked for, the gradient of `Σ upstream · output` (ones when no upstream
/// is given: the gradient of the output's sum).
fn answer<T: Float>(
    x: &ArrayD<T>,
    dim: i64,
    grad: bool,
    upstream: Option<&ArrayD<T>>,
    wrap: fn(ArrayD<T>) -> Tensor,
) -> Reply {
    let rank = x.ndim().max(1) as i64;
    if !(-rank..rank).contains(&dim) {
        return Reply::Unsupported(format!("dim {dim} of a {rank}-d input"));
    }
    let axis = dim.rem_euclid(rank) as usize;
    if let Some(u) = upstream.filter(|u| u.shape() != x.shape()) {
        return Reply::Error {
            kind: ErrorKind::ShapeMismatch,
            message: format!(
                "upstream of shape {:?} for an output of {:?}",
                u.shape(),
                x.shape()
            ),
        };
    }
    // A 0-d input is one slice of one element.
    let x1 = if x.ndim() == 0 {
        x.clone().insert_axis(Axis(0))
    } else {
        x.clone()
    };
    let y = your_crate::softmax(x1.view(), axis);
    let grad_input = grad.then(|| {
        let up = match upstream {
            Some(u) => u.clone().into_shape_clone(y.raw_dim()).unwrap(),
            None => ArrayD::from_elem(y.raw_dim(), T::one()),
        };
        wrap(
            your_crate::softmax_backward(y.view(), up.view(), axis)
                .into_shape_clone(x.raw_dim())
                .unwrap(),
        )
    });
    let output = wrap(y.into_shape_clone(x.raw_dim()).unwrap());
    Reply::Output { output, grad_input }
}
