//! The identities the reference must satisfy on a case's own inputs: CE = NLL∘log_softmax (class
//! indices, no smoothing) and BCE-with-logits = BCE∘sigmoid (where sigmoid does not saturate).
//! The reference computes each side from its own formula, so each identity is a real check.

use cross_entropy_spec::conformance::Request;
use cross_entropy_spec::eval::{self, Tensors};
use cross_entropy_spec::reference;
use cross_entropy_spec::spec::Attrs;
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::{Dtype, Op, Role};

/// The identities that hold for this call, each with the other side's value.
pub fn identities(request: &Request, dtype: Dtype) -> Vec<(String, Result<Tensor, String>)> {
    let t = &request.tensors;
    let (Some(input), Some(target)) = (t.get(&Role::Input), t.get(&Role::Target)) else {
        return Vec::new();
    };
    let a = &request.attrs;
    let no_smoothing = a.label_smoothing.is_none_or(|l| l == 0.0);
    match request.op {
        Op::CrossEntropy if target.dtype() == Dtype::Int64 && no_smoothing => {
            let class_dim = reference::class_dim(input.shape().len()) as i64;
            let name = format!("cross_entropy = nll_loss(log_softmax(input, {class_dim}))");
            vec![(name, nll_of_log_softmax(t, a, input, class_dim))]
        }
        Op::BinaryCrossEntropyWithLogits
            if !t.contains_key(&Role::PosWeight)
                && input.dtype() == dtype
                && target.dtype() == dtype
                && input.numel() > 0
                && unsaturated(input, dtype)
                && target.to_f64_vec().iter().all(|y| (0.0..=1.0).contains(y)) =>
        {
            let name = "binary_cross_entropy_with_logits = binary_cross_entropy(sigmoid(input))";
            vec![(name.into(), bce_of_sigmoid(t, a, input))]
        }
        _ => Vec::new(),
    }
}

fn nll_of_log_softmax(
    t: &Tensors,
    a: &Attrs,
    input: &Tensor,
    class_dim: i64,
) -> Result<Tensor, String> {
    let dim = Attrs {
        dim: Some(class_dim),
        ..Attrs::default()
    };
    let log_probs = eval::evaluate(
        Op::LogSoftmax,
        &Tensors::from([(Role::Input, input.clone())]),
        &dim,
    )
    .map_err(|e| e.to_string())?;
    let mut args = t.clone();
    args.insert(Role::Input, log_probs);
    let attrs = Attrs {
        label_smoothing: None,
        ..a.clone()
    };
    eval::evaluate(Op::NllLoss, &args, &attrs).map_err(|e| e.to_string())
}

fn bce_of_sigmoid(t: &Tensors, a: &Attrs, input: &Tensor) -> Result<Tensor, String> {
    let probs = eval::evaluate(
        Op::Sigmoid,
        &Tensors::from([(Role::Input, input.clone())]),
        &Attrs::default(),
    )
    .map_err(|e| e.to_string())?;
    let mut args = t.clone();
    args.insert(Role::Input, probs);
    eval::evaluate(Op::BinaryCrossEntropy, &args, a).map_err(|e| e.to_string())
}

/// Whether `log(1 - sigmoid(x))` is still accurate to the identity tolerance: its relative
/// error grows like `eps * exp(|x|)`, so |x| <= 4 in float32 and |x| <= 8 in float64.
fn unsaturated(input: &Tensor, dtype: Dtype) -> bool {
    let limit = if dtype == Dtype::Float64 { 8.0 } else { 4.0 };
    input.to_f64_vec().iter().all(|x| x.abs() <= limit)
}
