//! The committed runs of the Python frameworks, each recorded by its adapter's script
//! (`adapters/<name>/run.sh`, or `adapters/pytorch/README.md`): CI installs none of them, so the
//! matrix reads their reports, and `--check` makes sure each still fits the spec — it has every
//! run of the spec and no other, each at the case's current file and line, nothing in it is an
//! unexpected result, and its expectations file names only existing cases.

use std::collections::BTreeMap;
use std::path::Path;

use cross_entropy_spec::conformance::run::parts;
use cross_entropy_spec::conformance::{Expectations, Part};
use cross_entropy_spec::spec::Spec;
use serde_json::Value;

use crate::matrix::Column;

/// A framework's recorded run: its column, its report, its expectations file (if any).
pub struct Recorded {
    pub column: &'static str,
    pub report: &'static str,
    pub expectations: Option<&'static str>,
}

pub const RECORDED: &[Recorded] = &[
    Recorded {
        column: "PyTorch 2.15.0 (CPU)",
        report: "adapters/pytorch/report.json",
        expectations: Some("adapters/pytorch/expectations.toml"),
    },
    Recorded {
        column: "JAX 0.10.2 + optax 0.2.8",
        report: "adapters/jax/report.json",
        expectations: Some("adapters/jax/expectations.toml"),
    },
    Recorded {
        column: "TensorFlow 2.21.0",
        report: "adapters/tensorflow/report.json",
        expectations: Some("adapters/tensorflow/expectations.toml"),
    },
    Recorded {
        column: "ONNX Runtime 1.32.0",
        report: "adapters/onnxruntime/report.json",
        expectations: Some("adapters/onnxruntime/expectations.toml"),
    },
    Recorded {
        column: "ONNX Runtime training 1.19.2",
        report: "adapters/onnxruntime/report-training.json",
        expectations: Some("adapters/onnxruntime/expectations-training.toml"),
    },
    Recorded {
        column: "PaddlePaddle 3.3.1 (CPU)",
        report: "adapters/paddle/report.json",
        expectations: Some("adapters/paddle/expectations.toml"),
    },
];

/// The column of one recorded run, after checking that it fits the spec.
pub fn column(spec: &Spec, root: &Path, r: &Recorded) -> Result<Column, String> {
    let text =
        std::fs::read_to_string(root.join(r.report)).map_err(|e| format!("{}: {e}", r.report))?;
    let json: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", r.report))?;
    let counts = &json["counts"];
    for bad in ["failed", "errored", "unexpected_passes"] {
        if counts[bad].as_u64() != Some(0) {
            return Err(format!(
                "{}: the recorded run has {bad} runs: record it again",
                r.report
            ));
        }
    }
    runs_fit(spec, &json).map_err(|m| format!("{}: {m}: record it again", r.report))?;
    if let Some(file) = r.expectations {
        let text = std::fs::read_to_string(root.join(file)).map_err(|e| format!("{file}: {e}"))?;
        let stale = Expectations::parse(&text)
            .map_err(|e| format!("{file}: {e}"))?
            .stale(spec);
        if !stale.is_empty() {
            return Err(format!("{file}: names no case of the spec: {stale:?}"));
        }
    }
    Column::of_json(r.column, &text).map_err(|e| format!("{}: {e}", r.report))
}

/// A run as a report names it: `(case, dtype, part)`.
type RunKey = (String, String, String);

/// The report holds every run of the spec, no other, each where the spec has its case now.
fn runs_fit(spec: &Spec, report: &Value) -> Result<(), String> {
    let mut known = known_runs(spec);
    for run in report["runs"].as_array().ok_or("no `runs`")? {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let key = (text(&run["id"]), text(&run["dtype"]), text(&run["part"]));
        let Some((file, line)) = known.remove(&key) else {
            return Err(format!(
                "the run {}@{} {} is not in the spec",
                key.0, key.1, key.2
            ));
        };
        let at = (text(&run["spec"]["file"]), run["spec"]["line"].as_u64());
        if at != (file.clone(), Some(line as u64)) {
            return Err(format!(
                "the run {}@{} {} is at {file}:{line} in the spec, not {}:{}",
                key.0,
                key.1,
                key.2,
                at.0,
                at.1.unwrap_or_default()
            ));
        }
    }
    match known.keys().next() {
        Some((id, dtype, part)) => Err(format!(
            "{} runs of the spec are missing, among them {id}@{dtype} {part}",
            known.len()
        )),
        None => Ok(()),
    }
}

/// Every run of the spec, with its case's file and line.
fn known_runs(spec: &Spec) -> BTreeMap<RunKey, (String, usize)> {
    let mut runs = BTreeMap::new();
    for case in &spec.cases {
        for dtype in &case.dtypes {
            for part in parts(case) {
                let part = match part {
                    Part::Value => "value",
                    Part::Gradient => "gradient",
                };
                let key = (case.id.clone(), dtype.to_string(), part.to_string());
                runs.insert(key, (case.at.file.clone(), case.at.line));
            }
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_must_hold_every_run_where_the_spec_has_it() {
        let spec = cross_entropy_spec::bundle::spec().expect("the embedded spec");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let text = std::fs::read_to_string(root.join("adapters/pytorch/report.json")).unwrap();
        let report: Value = serde_json::from_str(&text).unwrap();
        runs_fit(spec, &report).unwrap();

        let mut moved = report.clone();
        moved["runs"][0]["spec"]["line"] = Value::from(1);
        let e = runs_fit(spec, &moved).unwrap_err();
        assert!(e.contains("in the spec, not"), "{e}");

        let mut short = report.clone();
        short["runs"].as_array_mut().unwrap().pop();
        let e = runs_fit(spec, &short).unwrap_err();
        assert!(e.contains("1 runs of the spec are missing"), "{e}");

        let mut foreign = report;
        foreign["runs"][0]["id"] = Value::from("no.such.case");
        let e = runs_fit(spec, &foreign).unwrap_err();
        assert!(e.contains("not in the spec"), "{e}");
    }
}
