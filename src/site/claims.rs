//! The claims a case's runs are judged by beyond what the case states (`conformance::run`'s
//! `expected_for`): the exact value in each dtype, PyTorch's recorded gradient when the case
//! states none, and the exact gradient, each with the tolerance it is held to. A reader who
//! meets the stated tolerance can see here what else a run must meet.

use std::fmt::Write as _;

use super::card::{escape, pre, row, tol_link};
use super::numbers::tensor;
use crate::spec::recorded::RecordedTensor;
use crate::spec::{Case, Check, Dtype, Spec};

/// The rows of the claims made from recorded data, one per kind, each dtype on its own line.
pub fn rows(h: &mut String, spec: &Spec, case: &Case) {
    let Check::Value { grad, .. } = &case.check else {
        return;
    };
    let exact = |dtype: Dtype| {
        let key = case.run_key(dtype);
        spec.recorded.exact.as_ref()?.values.get(&key)
    };
    let outputs = per_dtype(case, |d| exact(d).map(|r| &r.output));
    claim_row(h, spec, "exact value", &outputs, "rounding");
    if grad.is_none() {
        let recorded = |d: Dtype| {
            let file = spec.recorded.gradients.as_ref()?;
            file.gradients.get(&case.run_key(d))
        };
        let label = match &spec.recorded.gradients {
            Some(file) => format!(
                "gradient (PyTorch {}, or any closer to exact)",
                file.torch_version
            ),
            None => "gradient (PyTorch, or any closer to exact)".into(),
        };
        claim_row(h, spec, &label, &per_dtype(case, recorded), "gradient");
    }
    let grads = per_dtype(case, |d| exact(d).and_then(|r| r.grad_input.as_ref()));
    claim_row(h, spec, "exact gradient", &grads, "rounding_grad");
}

/// The recorded tensor of each dtype the case runs in.
fn per_dtype<'a>(
    case: &Case,
    get: impl Fn(Dtype) -> Option<&'a RecordedTensor>,
) -> Vec<(Dtype, Option<&'a RecordedTensor>)> {
    case.dtypes.iter().map(|&d| (d, get(d))).collect()
}

/// One claim: each dtype's values (or that none is recorded, which fails the run), and the
/// tolerance, linked.
fn claim_row(
    h: &mut String,
    spec: &Spec,
    label: &str,
    values: &[(Dtype, Option<&RecordedTensor>)],
    tolerance: &str,
) {
    let shown: Vec<(String, String)> = values
        .iter()
        .map(|(dtype, value)| {
            let text = match value {
                Some(RecordedTensor {
                    shape,
                    indices: Some(at),
                    data,
                    dtype,
                }) => format!(
                    "a sample of {} elements (shape {shape:?}), flat offsets {} to {}: {}",
                    at.len(),
                    at.first().copied().unwrap_or(0),
                    at.last().copied().unwrap_or(0),
                    tensor(&[data.len()], data, Some(*dtype))
                ),
                Some(t) => tensor(&t.shape, &t.data, Some(t.dtype)),
                None => "not recorded: the run is an error".into(),
            };
            (dtype.to_string(), text)
        })
        .collect();
    let mut text = String::new();
    // Values that read the same in every dtype (integers, zeros, NaN) are written once.
    if shown.len() > 1 && shown.iter().all(|(_, t)| *t == shown[0].1) {
        let dtypes: Vec<&str> = shown.iter().map(|(d, _)| d.as_str()).collect();
        let _ = write!(text, "{}: {}", dtypes.join(", "), shown[0].1);
    } else {
        for (dtype, value) in &shown {
            let _ = writeln!(text, "{dtype}: {}", value.replace('\n', "\n  "));
        }
    }
    let within = match spec.tolerances.get(tolerance) {
        Some(tol) => format!("within {}", tol_link(spec, tol)),
        None => format!("within <code>{}</code>", escape(tolerance)),
    };
    row(h, label, &format!("{}{within}", pre(text.trim_end())));
}
