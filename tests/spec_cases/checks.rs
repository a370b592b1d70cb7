//! What `cargo test` checks of a case beyond the conformance verdict, for the reference only:
//! the identities on the case's inputs, the restated document implementations the case names,
//! the reference's error message; and the result that the snapshot records.

use cross_entropy_spec::conformance::compare::compare;
use cross_entropy_spec::conformance::render::text;
use cross_entropy_spec::conformance::run::{Claim, Source};
use cross_entropy_spec::conformance::{
    Expected, Implementation, Judgement, Part, Reply, Request, Status, expected_for, judge,
    request_for, run_case,
};
use cross_entropy_spec::eval::Reference;
use cross_entropy_spec::spec::{Case, Check, GradCheck, Literal, Spec};
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::Dtype;

use crate::documents;
use crate::identities::identities;
use crate::snapshot::Snapshot;

/// Runs a case in `dtype` against the reference with every check. The error is a readable
/// account that starts with the case's id and its `spec/<file>:<line>`.
pub fn check_case(spec: &Spec, case: &Case, dtype: Dtype) -> Result<Snapshot, String> {
    let fail = |what: String| format!("{} [{dtype}] at {}: {what}", case.id, case.at);
    for verdict in run_case(spec, case, dtype, &mut Reference) {
        if verdict.status != Status::Passed {
            return Err(text::failure(&verdict));
        }
    }
    let mut request = request_for(case, dtype, Part::Value).map_err(fail)?;
    // The snapshot holds the gradient run's product too (its `wrt` and `upstream`), unless the
    // case says the backward raises.
    request.grad = matches!(&case.check, Check::Value { grad, .. }
        if !matches!(grad.as_deref(), Some(GradCheck::Error { .. })));
    if request.grad {
        request.vjp = request_for(case, dtype, Part::Gradient).map_err(fail)?.vjp;
    }
    let reply = Reference.evaluate(&request);
    let checked = match (&case.check, &reply) {
        (
            Check::Error {
                message: Some(m), ..
            },
            Reply::Error { message, .. },
        ) if !message.contains(m.as_str()) => {
            return Err(fail(format!(
                "the reference's message {message:?} does not contain {m:?}"
            )));
        }
        (Check::Value { .. }, Reply::Output { output, .. }) => {
            cross_checks(spec, case, dtype, &request, output).map_err(fail)?
        }
        _ => Vec::new(),
    };
    Ok(Snapshot::of(case, dtype, &reply, checked))
}

/// The identities and the document implementations: each must agree with the output, except a
/// `differs_from` implementation, which must not pass the case.
fn cross_checks(
    spec: &Spec,
    case: &Case,
    dtype: Dtype,
    request: &Request,
    output: &Tensor,
) -> Result<Vec<String>, String> {
    let identity = (spec.tolerances.get("identity"))
        .ok_or("the spec defines no `identity` tolerance, which identities are checked with")?;
    let agree = |name: &str, other: &Tensor| {
        let claim = Claim {
            source: Source::Stated,
            want: Literal::from(output),
            select: None,
            at: None,
            tol: identity.clone(),
            signed_zeros: false,
            roundoff: None,
            yields_to_exact: false,
        };
        let c = compare(other, &claim, dtype);
        match c.passed() {
            true => Ok(()),
            false => Err(format!(
                "{name} disagrees with the library call\n  library: [{}]\n  {name}: [{}]\n  tolerance `identity`: {}",
                output.formatted().join(", "),
                other.formatted().join(", "),
                spec.tolerances["identity"].why
            )),
        }
    };
    let mut checked = Vec::new();
    for (name, other) in identities(request, dtype) {
        agree(&name, &other.map_err(|e| format!("{name} failed: {e}"))?)?;
        checked.push(name);
    }
    for name in &case.agrees_with {
        agree(name, &documents::run(request, name)?)?;
        checked.push(format!("agrees with {name}"));
    }
    for name in &case.differs_from {
        let other = documents::run(request, name)?;
        if passes(spec, case, dtype, &other) {
            return Err(format!(
                "`{name}` gives [{}], which passes the case: the case does not show the bug it claims to show",
                other.formatted().join(", ")
            ));
        }
        checked.push(format!(
            "differs from {name}: [{}]",
            other.formatted().join(", ")
        ));
    }
    Ok(checked)
}

/// Whether `output` passes the value the case states (the document's figure, which a
/// `differs_from` implementation must miss).
fn passes(spec: &Spec, case: &Case, dtype: Dtype, output: &Tensor) -> bool {
    let Ok(request) = request_for(case, dtype, Part::Value) else {
        return false;
    };
    let Ok(Expected::Values(claims)) = expected_for(spec, case, dtype, Part::Value, &request)
    else {
        return false;
    };
    let stated: Vec<Claim> = claims
        .into_iter()
        .filter(|c| c.source == Source::Stated)
        .collect();
    let reply = Reply::Output {
        output: output.clone(),
        grad_input: None,
    };
    matches!(
        judge(&Expected::Values(stated), dtype, &request, &reply),
        Judgement::Passed(_)
    )
}
