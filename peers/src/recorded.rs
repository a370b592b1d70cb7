//! The committed runs of the Python frameworks, each recorded by its adapter's script
//! (`adapters/<name>/run.sh`, or `adapters/pytorch/README.md`): CI installs none of them, so the
//! matrix reads their reports, and `--check` makes sure each still fits the spec — every run it
//! names exists, nothing in it is an unexpected result, and its expectations file names only
//! existing cases.

use std::collections::BTreeSet;
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
        expectations: None,
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
    let known = known_runs(spec);
    for run in json["runs"]
        .as_array()
        .ok_or_else(|| format!("{}: no `runs`", r.report))?
    {
        let key = (
            run["id"].as_str().unwrap_or_default(),
            run["dtype"].as_str().unwrap_or_default(),
            run["part"].as_str().unwrap_or_default(),
        );
        if !known.contains(&(key.0.to_string(), key.1.to_string(), key.2.to_string())) {
            return Err(format!(
                "{}: the run {}@{} {} is not in the spec: record it again",
                r.report, key.0, key.1, key.2
            ));
        }
    }
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

/// Every run of the spec as `(case, dtype, part)`.
fn known_runs(spec: &Spec) -> BTreeSet<(String, String, String)> {
    let mut runs = BTreeSet::new();
    for case in &spec.cases {
        for dtype in &case.dtypes {
            for part in parts(case) {
                let part = match part {
                    Part::Value => "value",
                    Part::Gradient => "gradient",
                };
                runs.insert((case.id.clone(), dtype.to_string(), part.to_string()));
            }
        }
    }
    runs
}
