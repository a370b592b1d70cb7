//! Targets for the files the runner reads besides the spec's text: an implementation's
//! expectations file (`check --expect`) and a spec's recorded data (`recorded/exact.json`,
//! `recorded/pytorch-gradients.json`). Seeds are the repository's own files, the recorded data
//! cut into one document per run so that each execution stays small.

use std::path::{Path, PathBuf};

use cross_entropy_spec::conformance::run::parts;
use cross_entropy_spec::conformance::{
    Expectations, Implementation, Reply, Report, Request, expected_for, find_run, judge, render,
    request_for, run_suite,
};
use cross_entropy_spec::eval::Reference;
use cross_entropy_spec::spec::{Recorded, Spec};
use serde_json::{Map, Value};

use super::targets::Target;

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// Answers as the reference, a wrong zero, or a breakage, in turn: a report with passes,
/// failures and errored runs for the expectations to be applied to.
struct InTurn(usize);

impl Implementation for InTurn {
    fn name(&self) -> String {
        "in turn".into()
    }

    fn evaluate(&mut self, request: &Request) -> Reply {
        self.0 += 1;
        match self.0 % 3 {
            0 => Reference.evaluate(request),
            1 => Reply::Output {
                output: cross_entropy_spec::tensor::Tensor::from_f64(
                    cross_entropy_spec::vocab::Dtype::Float64,
                    &[],
                    &[0.0],
                )
                .expect("a scalar"),
                grad_input: None,
            },
            _ => Reply::Broken("broken in turn".into()),
        }
    }
}

/// Expectations files: parsed, checked against the spec, applied to a report and drafted again.
pub struct ExpectationsFiles {
    seeds: Vec<Vec<u8>>,
    spec: &'static Spec,
    report: Report,
}

impl ExpectationsFiles {
    pub fn new(spec: &'static Spec) -> ExpectationsFiles {
        // The documents' cases: a report small enough to render at every execution.
        let report = run_suite(spec, Some("*.doc*"), &mut InTurn(0));
        let mut seeds: Vec<Vec<u8>> = (files_named(&repo("adapters"), "expectations", "toml")
            .into_iter()
            .chain(files_named(&repo("peers/expectations"), "", "toml")))
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
        seeds.push(render::expectations::skeleton(&report).into_bytes());
        ExpectationsFiles {
            seeds,
            spec,
            report,
        }
    }
}

/// Files under `dir` (and one level down) whose name starts with `stem` and ends with `.ext`.
fn files_named(dir: &Path, stem: &str, ext: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    for sub in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if sub.path().is_dir() {
            dirs.push(sub.path());
        }
    }
    for d in dirs {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(stem) && path.extension().is_some_and(|e| e == ext) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

impl Target for ExpectationsFiles {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    fn run(&mut self, input: &[u8], _seed: usize) {
        let text = String::from_utf8_lossy(input);
        let Ok(expectations) = Expectations::parse(&text) else {
            return;
        };
        let _ = expectations.unmatchable(self.spec);
        let mut report = self.report.clone();
        expectations.apply(&mut report);
        report.stale_expectations = expectations.stale(self.spec);
        let _ = render::text::report(&report);
        let _ = render::expectations::skeleton(&report);
        let _ = render::json::report(&report);
    }
}

/// Recorded data: one run's exact record or recorded gradient per document, read, put in the
/// spec's place, and every run of its key judged by it against the reference's reply.
pub struct RecordedData {
    seeds: Vec<Vec<u8>>,
    /// Per seed: whether it is an exact-values document (else a gradients one).
    exact: Vec<bool>,
    spec: Spec,
}

impl RecordedData {
    pub fn new(spec: &Spec) -> RecordedData {
        let (mut seeds, mut exact) = (Vec::new(), Vec::new());
        for (file, map, is_exact) in [
            ("spec/recorded/exact.json", "values", true),
            ("spec/recorded/pytorch-gradients.json", "gradients", false),
        ] {
            for doc in one_per_run(&repo(file), map) {
                seeds.push(doc);
                exact.push(is_exact);
            }
        }
        RecordedData {
            seeds,
            exact,
            spec: spec.clone(),
        }
    }
}

/// The JSON file at `path` cut into documents of one entry of its map `key` each, with the
/// file's other fields.
fn one_per_run(path: &Path, key: &str) -> Vec<Vec<u8>> {
    let Some(Value::Object(file)) = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    else {
        return Vec::new();
    };
    let Some(Value::Object(entries)) = file.get(key) else {
        return Vec::new();
    };
    (entries.iter())
        .map(|(run, record)| {
            let mut doc: Map<String, Value> = file.clone();
            doc.insert(
                key.to_string(),
                Value::Object(Map::from_iter([(run.clone(), record.clone())])),
            );
            serde_json::to_vec_pretty(&Value::Object(doc)).unwrap_or_default()
        })
        .collect()
}

impl Target for RecordedData {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    fn run(&mut self, input: &[u8], seed: usize) {
        let text = String::from_utf8_lossy(input);
        let keys: Vec<String> = if self.exact[seed] {
            let Ok(values) = Recorded::parse_exact(&text) else {
                return;
            };
            let keys = values.values.keys().take(2).cloned().collect();
            self.spec.recorded.exact = Some(values);
            keys
        } else {
            let Ok(gradients) = Recorded::parse_gradients(&text) else {
                return;
            };
            let keys = gradients.gradients.keys().take(2).cloned().collect();
            self.spec.recorded.gradients = Some(gradients);
            keys
        };
        for key in keys {
            let Ok((case, dtype, _)) = find_run(&self.spec, &key) else {
                continue;
            };
            for &part in parts(case) {
                let Ok(request) = request_for(case, dtype, part) else {
                    continue;
                };
                if let Ok(expected) = expected_for(&self.spec, case, dtype, part, &request) {
                    let reply = Reference.evaluate(&request);
                    let _ = judge(&expected, dtype, &request, &reply);
                }
            }
        }
    }
}
