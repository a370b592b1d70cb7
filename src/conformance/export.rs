//! The machine-readable export of the suite: every case, in every dtype it runs in, as the
//! request it sends and what it expects back, with its tolerance and its place in the spec.

use serde_json::{Value, json};

use super::run::{Claim, Expected, Part, Source, expected_for, request_digest, request_for};
use crate::conformance::protocol::{PROTOCOL_VERSION, tensor_json};
use crate::spec::{Case, Check, GradCheck, Spec};
use crate::tensor::Tensor;
use crate::vocab::{Dtype, Role};

/// One exported case run: `{"id", "case", "dtype", "spec", "request", "expect" | "expect_error"}`,
/// and `"expect_grad"` (the gradient of the output's sum, with its tolerance) for a value case.
pub fn case_json(spec: &Spec, case: &Case, dtype: Dtype) -> Result<Value, String> {
    let request = request_for(case, dtype, Part::Value)?;
    let request_value: Value = serde_json::from_str(&request.to_json())
        .map_err(|e| format!("unreachable: the request does not read back: {e}"))?;
    let mut out = json!({
        "protocol": PROTOCOL_VERSION,
        "id": request.id,
        "case": case.id,
        "dtype": dtype.as_str(),
        "spec": { "file": case.at.file, "line": case.at.line, "chapter": case.chapter, "section": case.section },
        "source": case.source,
        "request": request_value,
    });
    match &case.check {
        Check::Value {
            expect,
            select,
            tol,
            signed_zeros,
            ..
        } => {
            let expected = Tensor::from_f64(Dtype::Float64, &expect.shape, &expect.data)?;
            let bounds = tol.bounds(dtype);
            out["expect"] = json!({
                "output": serde_json::from_str::<Value>(&tensor_json(&expected)).map_err(|e| e.to_string())?,
                "select": select,
                "signed_zeros": signed_zeros,
                "tolerance": { "name": tol.name, "abs": bounds.abs, "rel": bounds.rel, "why": tol.why },
            });
        }
        Check::Error { kind, message } => {
            out["expect_error"] = json!({ "kind": kind.as_str(), "message": message });
        }
    }
    out["digest"] = Value::from(request_digest(&request));
    // What the gradient run differentiates, when it is not the sum with respect to `input`.
    let vjp = request_for(case, dtype, Part::Gradient)?.vjp;
    if vjp.wrt != Role::Input || vjp.upstream.is_some() {
        let upstream = (vjp.upstream.as_ref())
            .map(|u| serde_json::from_str::<Value>(&tensor_json(u)).map_err(|e| e.to_string()))
            .transpose()?;
        out["vjp"] = json!({ "wrt": vjp.wrt.as_str(), "upstream": upstream });
    }
    if let Check::Value { grad, .. } = &case.check {
        match grad.as_deref() {
            Some(GradCheck::Error { kind }) => {
                // Its backward raises: the value's claims, and the error the gradient run expects.
                out["expect_grad_error"] = json!({ "kind": kind.as_str() });
                add_claims(&mut out, spec, case, dtype, &[Part::Value])?;
            }
            _ => add_claims(&mut out, spec, case, dtype, &[Part::Value, Part::Gradient])?,
        }
    }
    Ok(out)
}

/// A value case's other claims, where the spec can make them (a case added since the data was
/// recorded is exported without them: the export is what the recording scripts read).
fn add_claims(
    out: &mut Value,
    spec: &Spec,
    case: &Case,
    dtype: Dtype,
    parts: &[Part],
) -> Result<(), String> {
    for &part in parts {
        let request = request_for(case, dtype, part)?;
        let claims = match expected_for(spec, case, dtype, part, &request) {
            Ok(Expected::Values(claims)) => claims,
            _ => stated_only(spec, case, dtype, part),
        };
        for claim in claims {
            let key = match (part, claim.source) {
                (Part::Value, Source::Stated) => continue,
                (Part::Gradient, Source::Stated | Source::Pytorch) => "expect_grad",
                (Part::Value, _) => "exact",
                (Part::Gradient, Source::Exact | Source::Oracle) => "exact_grad",
            };
            let name = if part == Part::Value {
                "output"
            } else {
                "grad_input"
            };
            out[key] = claim_json(&claim, dtype, name)?;
        }
    }
    Ok(())
}

/// The stated (or PyTorch-recorded) gradient alone, when the exact claim cannot be made.
fn stated_only(spec: &Spec, case: &Case, dtype: Dtype, part: Part) -> Vec<Claim> {
    let Check::Value { grad, .. } = &case.check else {
        return Vec::new();
    };
    if part == Part::Value {
        return Vec::new();
    }
    let tol = spec.tolerances.get("gradient");
    let want = match grad {
        Some(g) => match g.as_ref() {
            GradCheck::Value { expect, tol } => Some((expect.clone(), None, tol.clone())),
            GradCheck::Error { .. } => None,
        },
        None => (spec.recorded.gradient(&case.run_key(dtype)).ok())
            .zip(tol.cloned())
            .map(|((want, at), tol)| (want, at, tol)),
    };
    want.map(|(want, at, tol)| Claim {
        source: if grad.is_some() {
            Source::Stated
        } else {
            Source::Pytorch
        },
        want,
        select: None,
        at,
        tol,
        signed_zeros: false,
        roundoff: None,
        yields_to_exact: false,
    })
    .into_iter()
    .collect()
}

/// `{grad_input | output, tolerance, allowance}`: the values, the tolerance, and each element's
/// allowance in the run's dtype (with the roundoff scale already applied). A recorded sample is
/// a one-dimensional tensor of the sampled values with `at`, their flat offsets, and `shape`,
/// the whole tensor's.
fn claim_json(claim: &Claim, dtype: Dtype, name: &str) -> Result<Value, String> {
    let shape = match &claim.at {
        Some(at) => vec![at.len()],
        None => claim.want.shape.clone(),
    };
    let want = Tensor::from_f64(Dtype::Float64, &shape, &claim.want.data)?;
    let bounds = claim.tol.bounds(dtype);
    let tensor = serde_json::from_str::<Value>(&tensor_json(&want)).map_err(|e| e.to_string())?;
    let offset = |i: usize| claim.at.as_ref().map_or(i, |at| at[i]);
    let roundoff = |i: usize| {
        claim
            .roundoff
            .as_ref()
            .and_then(|r| r.get(offset(i)))
            .copied()
            .unwrap_or(0.0)
    };
    let allowance: Vec<f64> = (claim.want.data.iter().enumerate())
        .map(|(i, &w)| bounds.allowance(w, roundoff(i)))
        .map(|a| if a.is_finite() { a } else { 0.0 })
        .collect();
    let mut out = json!({
        name: tensor,
        "source": claim.source,
        "tolerance": { "name": claim.tol.name, "abs": bounds.abs, "rel": bounds.rel, "k": bounds.k, "cut": bounds.cut, "why": claim.tol.why },
        "allowance": allowance,
    });
    if claim.yields_to_exact {
        // PyTorch's gradient gives way where `exact_grad` admits an answer, or it is closer.
        out["yields_to_exact"] = json!(true);
    }
    if let Some(at) = &claim.at {
        out["at"] = json!(at);
        out["shape"] = json!(claim.want.shape);
    }
    Ok(out)
}
