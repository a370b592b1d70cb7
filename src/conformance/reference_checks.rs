//! What `cargo test` checks beyond the conformance verdict, for the reference implementation
//! only: the identities CE = NLL∘log_softmax and BCE-with-logits = BCE∘sigmoid on every case
//! where they hold, the documents' restated implementations a case names, the reference's error
//! messages, and the full-precision snapshot of the result.

use std::fmt::Write as _;

use super::{
    Implementation, Status, describe, expected_gradient, judge, judge_gradient, request_for,
};
use crate::bundle;
use crate::compare::compare;
use crate::conformance::protocol::{Reply, Request};
use crate::documents;
use crate::eval::{self, Reference, Tensors};
use crate::spec::{Attrs, Case, Check, Literal, Spec, Tolerance};
use crate::tensor::Tensor;
use crate::vocab::{Dtype, Op, Role};

/// A case that passed every check, and the snapshot of its result.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecOutcome {
    /// The snapshot's name: `<case id>.<dtype>`.
    pub name: String,
    /// Readable YAML: the call's result at full precision, and the identities checked.
    pub snapshot: String,
}

/// Runs the bundled case `id` in `dtype` against the reference, with every reference-only check.
/// The error is a readable account naming the spec file and line.
pub fn spec_test(id: &str, dtype: Dtype) -> Result<SpecOutcome, String> {
    let spec = bundle::spec().map_err(|e| format!("the bundled spec does not read back: {e}"))?;
    let case = spec.case(id).ok_or_else(|| {
        format!("no case `{id}` in the bundled spec (rebuild after editing spec/)")
    })?;
    check_case(spec, case, dtype)
}

fn check_case(spec: &Spec, case: &Case, dtype: Dtype) -> Result<SpecOutcome, String> {
    let request = request_for(case, dtype)
        .map_err(|why| format!("{}: case `{}` could not be built: {why}", case.at, case.id))?;
    let reply = Reference.evaluate(&request);
    match judge(case, dtype, &request, &reply) {
        Status::Passed => {}
        Status::Failed(detail) => return Err(detail),
        Status::Errored(why)
        | Status::Skipped(why)
        | Status::ExpectedFailure(why)
        | Status::UnexpectedPass(why) => {
            return Err(format!("{}: case `{}`: {why}", case.at, case.id));
        }
    }
    let grad_reply = match expected_gradient(spec, case, dtype) {
        None => None,
        Some(Err(why)) => return Err(format!("{}: case `{}` [{dtype}]: {why}", case.at, case.id)),
        Some(Ok((want, tol))) => {
            let mut grad_request = request.clone();
            grad_request.grad = true;
            let reply = Reference.evaluate(&grad_request);
            match judge_gradient(case, dtype, &grad_request, &reply, &want, &tol) {
                Status::Passed => Some(reply),
                Status::Failed(detail) => return Err(detail),
                other => {
                    return Err(format!(
                        "{}: case `{}` [{dtype}] gradient: {other:?}",
                        case.at, case.id
                    ));
                }
            }
        }
    };
    let identity = spec.tolerances.get("identity").ok_or_else(|| {
        "the spec defines no `identity` tolerance, which identities are checked with".to_string()
    })?;
    let mut checked = Vec::new();
    match (&case.check, &reply) {
        (
            Check::Error {
                message: Some(m), ..
            },
            Reply::Error { message, .. },
        ) if !message.contains(m.as_str()) => {
            return Err(format!(
                "{}: case `{}` [{dtype}]: the reference's message {message:?} does not contain {m:?}",
                case.at, case.id
            ));
        }
        (Check::Value { .. }, Reply::Output { output, .. }) => {
            for (name, other) in identities(&request, dtype) {
                let other = other.map_err(|e| {
                    format!(
                        "{}: case `{}` [{dtype}]: {name} failed: {e}",
                        case.at, case.id
                    )
                })?;
                agree(case, dtype, &name, &other, output, identity)?;
                checked.push(name);
            }
            for name in &case.agrees_with {
                let other = run_document(case, &request, name)?;
                agree(case, dtype, name, &other, output, identity)?;
                checked.push(format!("agrees with {name}"));
            }
            for name in &case.differs_from {
                let other = run_document(case, &request, name)?;
                let as_reply = Reply::Output {
                    output: other.clone(),
                    grad_input: None,
                };
                if judge(case, dtype, &request, &as_reply) == Status::Passed {
                    return Err(format!(
                        "{}: case `{}` [{dtype}]: `{name}` gives [{}], which passes the case: \
                         the case does not show the bug it claims to show",
                        case.at,
                        case.id,
                        other.formatted().join(", ")
                    ));
                }
                checked.push(format!(
                    "differs from {name}: [{}]",
                    other.formatted().join(", ")
                ));
            }
        }
        _ => {}
    }
    Ok(SpecOutcome {
        name: format!("{}.{}", case.id, dtype),
        snapshot: snapshot(case, dtype, &reply, grad_reply.as_ref(), &checked),
    })
}

/// The identities that hold for this call, each with the other side's value.
fn identities(request: &Request, dtype: Dtype) -> Vec<(String, Result<Tensor, String>)> {
    let t = &request.tensors;
    let a = &request.attrs;
    let mut out = Vec::new();
    let (Some(input), Some(target)) = (t.get(&Role::Input), t.get(&Role::Target)) else {
        return out;
    };
    match request.op {
        // Without label smoothing, PyTorch's cross_entropy with class indices *is*
        // nll_loss(log_softmax(input, class_dim)); the reference computes it directly from
        // logsumexp, so the identity is a real check.
        Op::CrossEntropy
            if target.dtype() == Dtype::Int64 && a.label_smoothing.is_none_or(|l| l == 0.0) =>
        {
            let class_dim = if input.shape().len() >= 2 { 1 } else { 0 };
            let log_probs = eval::evaluate(
                Op::LogSoftmax,
                &Tensors::from([(Role::Input, input.clone())]),
                &Attrs {
                    dim: Some(class_dim),
                    ..Attrs::default()
                },
            );
            let value = log_probs.map_err(|e| e.to_string()).and_then(|lp| {
                let mut args = t.clone();
                args.insert(Role::Input, lp);
                let attrs = Attrs {
                    label_smoothing: None,
                    ..a.clone()
                };
                eval::evaluate(Op::NllLoss, &args, &attrs).map_err(|e| e.to_string())
            });
            out.push((
                format!("cross_entropy = nll_loss(log_softmax(input, {class_dim}))"),
                value,
            ));
        }
        // Where sigmoid does not saturate, BCE of the probabilities equals BCE with logits.
        Op::BinaryCrossEntropyWithLogits
            if !t.contains_key(&Role::PosWeight)
                && input.dtype() == dtype
                && target.dtype() == dtype
                && input.numel() > 0
                && unsaturated(input, dtype)
                && target.to_f64_vec().iter().all(|y| (0.0..=1.0).contains(y)) =>
        {
            let probs = eval::evaluate(
                Op::Sigmoid,
                &Tensors::from([(Role::Input, input.clone())]),
                &Attrs::default(),
            );
            let value = probs.map_err(|e| e.to_string()).and_then(|p| {
                let mut args = t.clone();
                args.insert(Role::Input, p);
                eval::evaluate(Op::BinaryCrossEntropy, &args, a).map_err(|e| e.to_string())
            });
            out.push((
                "binary_cross_entropy_with_logits = binary_cross_entropy(sigmoid(input))".into(),
                value,
            ));
        }
        _ => {}
    }
    out
}

/// Whether `log(1 - sigmoid(x))` is still accurate to the identity tolerance: its relative
/// error grows like `eps * exp(|x|)`, so |x| <= 4 in float32 and |x| <= 8 in float64.
fn unsaturated(input: &Tensor, dtype: Dtype) -> bool {
    let limit = if dtype == Dtype::Float64 { 8.0 } else { 4.0 };
    input.to_f64_vec().iter().all(|x| x.abs() <= limit)
}

fn run_document(case: &Case, request: &Request, name: &str) -> Result<Tensor, String> {
    let doc = documents::lookup(name).ok_or_else(|| {
        let known: Vec<&str> = documents::REGISTRY.iter().map(|d| d.name).collect();
        format!(
            "{}: case `{}` names `{name}`, which is not a restated document implementation (known: {})",
            case.at,
            case.id,
            known.join(", ")
        )
    })?;
    if !documents::supports(&request.tensors, &request.attrs) {
        return Err(format!(
            "{}: case `{}`: `{name}` is the document's code, which has no options: \
             the case must use the defaults",
            case.at, case.id
        ));
    }
    (doc.run)(&request.tensors).map_err(|e| {
        format!(
            "{}: case `{}`: `{name}` ({}) failed: {e}",
            case.at, case.id, doc.source
        )
    })
}

/// Two computations of the same quantity must agree within the identity tolerance.
fn agree(
    case: &Case,
    dtype: Dtype,
    name: &str,
    other: &Tensor,
    output: &Tensor,
    identity: &Tolerance,
) -> Result<(), String> {
    let want = Literal::from(output);
    let c = compare(other, &want, None, identity.bounds(dtype), false);
    if c.passed {
        Ok(())
    } else {
        Err(format!(
            "{}: case `{}` [{dtype}]: {name} disagrees with the library call\n  library: [{}]\n  {name}: [{}]\n  {}; tolerance `identity`: {}",
            case.at,
            case.id,
            output.formatted().join(", "),
            other.formatted().join(", "),
            describe(&c),
            identity.why
        ))
    }
}

/// The snapshot: the result at full precision (shortest round-trip decimals), by rows.
fn snapshot(
    case: &Case,
    dtype: Dtype,
    reply: &Reply,
    grad_reply: Option<&Reply>,
    checked: &[String],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "case: {}", case.id);
    let _ = writeln!(out, "op: {}", case.op);
    let _ = writeln!(out, "dtype: {dtype}");
    match reply {
        Reply::Output { output, .. } => yaml_tensor(&mut out, "output", output),
        Reply::Error { kind, message } => {
            let _ = writeln!(out, "error:");
            let _ = writeln!(out, "  kind: {kind}");
            let _ = writeln!(out, "  message: {message:?}");
        }
        Reply::Unsupported(why) | Reply::Broken(why) => {
            let _ = writeln!(out, "unanswered: {why:?}");
        }
    }
    if let Some(Reply::Output {
        grad_input: Some(grad),
        ..
    }) = grad_reply
    {
        yaml_tensor(&mut out, "grad_input", grad);
    }
    if !checked.is_empty() {
        let _ = writeln!(out, "checked:");
        for c in checked {
            let _ = writeln!(out, "  - {c:?}");
        }
    }
    out
}

/// A tensor as YAML: dtype, shape, and the values by rows of the last dimension.
fn yaml_tensor(out: &mut String, name: &str, t: &Tensor) {
    let _ = writeln!(out, "{name}:");
    let _ = writeln!(out, "  dtype: {}", t.dtype());
    let _ = writeln!(out, "  shape: {:?}", t.shape());
    let values: Vec<String> = t.formatted().into_iter().map(yaml_number).collect();
    match t.shape() {
        [] => {
            let _ = writeln!(out, "  value: {}", values.join(""));
        }
        _ if values.is_empty() => {
            let _ = writeln!(out, "  data: []");
        }
        shape => {
            let row = shape.last().copied().unwrap_or(1).max(1);
            let _ = writeln!(out, "  data:");
            for chunk in values.chunks(row) {
                let _ = writeln!(out, "    - [{}]", chunk.join(", "));
            }
        }
    }
}

/// YAML's spellings of the non-finite numbers.
fn yaml_number(v: String) -> String {
    match v.as_str() {
        "nan" => ".nan".into(),
        "inf" => ".inf".into(),
        "-inf" => "-.inf".into(),
        _ => v,
    }
}
