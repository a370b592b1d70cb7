//! Vector–Jacobian product mutants: a backward with one plausible bug in how it uses its upstream
//! gradient. The gradient of a sum (an upstream of ones) cannot see either, so only the cases of
//! chapter 10 that state an upstream can catch them.

use super::Mutant;
use cross_entropy_spec::conformance::Implementation;
use cross_entropy_spec::conformance::protocol::{Reply, Request, Vjp};
use cross_entropy_spec::eval::Reference;
use cross_entropy_spec::tensor::Tensor;

/// The reference's answer to `request` with its upstream replaced by `upstream`.
fn with_upstream(request: &Request, upstream: Option<Tensor>) -> Reply {
    let vjp = Vjp {
        upstream,
        ..request.vjp.clone()
    };
    Reference.evaluate(&Request {
        vjp,
        ..request.clone()
    })
}

/// (j) A backward that ignores its upstream gradient: it answers the gradient of the sum.
fn ignores_upstream(request: &Request) -> Option<Reply> {
    request.vjp.upstream.as_ref()?;
    Some(with_upstream(request, None))
}

/// (k) A backward that reads its upstream with the last two axes swapped: for a K-dim input,
/// the class axis and the one after it of softmax's upstream, the batch and spatial axes of an
/// unreduced loss's.
fn upstream_transposed(request: &Request) -> Option<Reply> {
    let u = request.vjp.upstream.as_ref()?;
    let n = u.shape().len();
    if n < 2 || u.shape()[n - 2] != u.shape()[n - 1] {
        return None;
    }
    let swap = |a: &ndarray::ArrayD<f64>| {
        let mut t = a.clone();
        t.swap_axes(n - 2, n - 1);
        t.as_standard_layout().into_owned()
    };
    let swapped = swap(&u.float_array::<f64>());
    let data: Vec<f64> = swapped.iter().copied().collect();
    let t = Tensor::from_f64(u.dtype(), u.shape(), &data).ok()?;
    Some(with_upstream(request, Some(t)))
}

pub fn vjp_mutants() -> Vec<Mutant> {
    vec![
        Mutant {
            name: "(j) a backward that ignores its upstream gradient",
            bug: ignores_upstream,
        },
        Mutant {
            name: "(k) a backward that reads its upstream transposed",
            bug: upstream_transposed,
        },
    ]
}
