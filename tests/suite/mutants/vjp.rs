//! Vector–Jacobian product mutants: a backward with one plausible bug in how it uses its upstream
//! gradient, or in a product with respect to another argument than `input`. The gradient of a
//! sum with respect to `input` (an upstream of ones) cannot see any of them, so only the cases of
//! chapter 10 that state an upstream or a `wrt` can catch them.

use super::Mutant;
use cross_entropy_spec::conformance::Implementation;
use cross_entropy_spec::conformance::protocol::{Reply, Request, Vjp};
use cross_entropy_spec::eval::Reference;
use cross_entropy_spec::reference::Reduction;
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::{Op, Role};

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

/// The reference's reply to `request` with its gradient's every element times `factor`.
fn scaled(request: &Request, factor: f64) -> Option<Reply> {
    let Reply::Output {
        output,
        grad_input: Some(g),
    } = Reference.evaluate(request)
    else {
        return None;
    };
    let data: Vec<f64> = g.to_f64_vec().iter().map(|v| v * factor).collect();
    let grad_input = Some(Tensor::from_f64(g.dtype(), g.shape(), &data).ok()?);
    Some(Reply::Output { output, grad_input })
}

/// (l) A target gradient with its sign flipped (`+w·logit(x)` for BCE, `+(1-ε)·w·lp` for
/// probability targets): the derivative of the loss read as that of its negative.
fn target_sign_flipped(request: &Request) -> Option<Reply> {
    (request.grad && request.vjp.wrt == Role::Target).then_some(())?;
    scaled(request, -1.0)
}

/// (m) The weight gradient of probability-target cross-entropy with `"mean"` that forgets the
/// normalisation: the sum over rows, not their mean (the value is right).
fn weight_gradient_unnormalised(request: &Request) -> Option<Reply> {
    let reduction = request.attrs.reduction.as_deref().unwrap_or("mean");
    let mean = matches!(reduction.parse(), Ok(Reduction::Mean));
    (request.grad && request.op == Op::CrossEntropy && request.vjp.wrt == Role::Weight && mean)
        .then_some(())?;
    let input = request.tensors.get(&Role::Input)?;
    let classes = *input.shape().get(usize::from(input.shape().len() >= 2))?;
    let rows = input.shape().iter().product::<usize>() / classes.max(1);
    scaled(request, rows as f64)
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
        Mutant {
            name: "(l) a target gradient with its sign flipped",
            bug: target_sign_flipped,
        },
        Mutant {
            name: "(m) a probability-target weight gradient that forgets the mean's normalisation",
            bug: weight_gradient_unnormalised,
        },
    ]
}
