//! The machine-readable export of the suite: every case, in every dtype it runs in, as the
//! request it sends and what it expects back, with its tolerance and its place in the spec.

use serde_json::{Value, json};

use super::run::{Expected, Part, expected_for, request_for};
use crate::conformance::protocol::{PROTOCOL_VERSION, tensor_json};
use crate::spec::{Case, Check, Spec};
use crate::tensor::Tensor;
use crate::vocab::Dtype;

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
    // A case whose gradient is neither stated nor recorded is exported without one (the export
    // is what scripts/observe_torch_gradients.py records new gradients from).
    let gradient = match case.check {
        Check::Value { .. } => expected_for(spec, case, dtype, Part::Gradient).ok(),
        Check::Error { .. } => None,
    };
    if let Some(Expected::Value { want, tol, .. }) = gradient {
        let want = Tensor::from_f64(Dtype::Float64, &want.shape, &want.data)?;
        let bounds = tol.bounds(dtype);
        out["expect_grad"] = json!({
            "grad_input": serde_json::from_str::<Value>(&tensor_json(&want)).map_err(|e| e.to_string())?,
            "tolerance": { "name": tol.name, "abs": bounds.abs, "rel": bounds.rel, "why": tol.why },
        });
    }
    Ok(out)
}
