//! Readable reports: a summary per spec section, then every failure with where it is in the
//! spec, what was expected and what came back, the tolerance that applied, and how to reproduce it.

use std::fmt::Write as _;

use super::{CaseRun, Part, Status, describe, repro};
use crate::compare::{Comparison, unflatten};
use crate::conformance::protocol::Request;
use crate::spec::{Case, Literal, Tolerance};
use crate::tensor::{Tensor, fmt_float};
use crate::vocab::Dtype;

/// The runs of a suite against one implementation.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub implementation: String,
    pub runs: Vec<CaseRun>,
    /// Expectation ids that name no case of the spec.
    pub stale_expectations: Vec<String>,
}

/// Counts of each outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub errored: usize,
    pub skipped: usize,
    pub expected_failures: usize,
    pub unexpected_passes: usize,
}

impl Counts {
    fn add(&mut self, status: &Status) {
        match status {
            Status::Passed => self.passed += 1,
            Status::Failed(_) => self.failed += 1,
            Status::Errored(_) => self.errored += 1,
            Status::Skipped(_) => self.skipped += 1,
            Status::ExpectedFailure(_) => self.expected_failures += 1,
            Status::UnexpectedPass(_) => self.unexpected_passes += 1,
        }
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} errored, {} skipped",
            self.passed, self.failed, self.errored, self.skipped
        )?;
        if self.expected_failures > 0 {
            write!(f, ", {} expected failures", self.expected_failures)?;
        }
        if self.unexpected_passes > 0 {
            write!(f, ", {} unexpected passes", self.unexpected_passes)?;
        }
        Ok(())
    }
}

impl Report {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for run in &self.runs {
            c.add(&run.status);
        }
        c
    }

    /// Whether nothing unexpected happened: no failure or error that the expectations do not
    /// list, no listed failure that passed, no stale expectation.
    pub fn success(&self) -> bool {
        let c = self.counts();
        c.failed == 0
            && c.errored == 0
            && c.unexpected_passes == 0
            && self.stale_expectations.is_empty()
    }

    /// The human report: per section, then each failure, then the totals on the last line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let cases: std::collections::BTreeSet<&str> =
            self.runs.iter().map(|r| r.id.as_str()).collect();
        let _ = writeln!(
            out,
            "cross-entropy-spec: {} cases ({} runs) against {}\n",
            cases.len(),
            self.runs.len(),
            self.implementation
        );
        let mut sections: Vec<((&str, &str, &str), Counts)> = Vec::new();
        for run in &self.runs {
            let key = (
                run.at.file.as_str(),
                run.chapter.as_str(),
                run.section.as_str(),
            );
            match sections.iter_mut().find(|(k, _)| *k == key) {
                Some((_, c)) => c.add(&run.status),
                None => {
                    let mut c = Counts::default();
                    c.add(&run.status);
                    sections.push((key, c));
                }
            }
        }
        let mut last_file = "";
        for ((file, chapter, section), counts) in &sections {
            if *file != last_file {
                let _ = writeln!(out, "{file}: {chapter}");
                last_file = file;
            }
            let _ = writeln!(out, "  {section:<58} {counts}");
        }
        let problems: Vec<&CaseRun> = self
            .runs
            .iter()
            .filter(|r| {
                matches!(
                    r.status,
                    Status::Failed(_) | Status::Errored(_) | Status::UnexpectedPass(_)
                )
            })
            .collect();
        if !problems.is_empty() {
            let _ = writeln!(out, "\nFailures:\n");
            for run in problems {
                match &run.status {
                    Status::Failed(detail) => {
                        let _ = writeln!(out, "{detail}");
                    }
                    Status::Errored(why) => {
                        let _ = writeln!(
                            out,
                            "ERROR {} [{}]{} at {}\n  {why}\n",
                            run.id,
                            run.dtype,
                            part_label(run.part),
                            run.at
                        );
                    }
                    Status::UnexpectedPass(why) => {
                        let _ = writeln!(
                            out,
                            "UNEXPECTED PASS {} [{}]{} at {}\n  the expectations file lists it as a divergence: {why}\n  remove it from the file\n",
                            run.id,
                            run.dtype,
                            part_label(run.part),
                            run.at
                        );
                    }
                    _ => {}
                }
            }
        }
        for id in &self.stale_expectations {
            let _ = writeln!(
                out,
                "STALE EXPECTATION {id}: the expectations file names a case the spec does not have"
            );
        }
        for part in [Part::Value, Part::Gradient] {
            let mut c = Counts::default();
            self.runs
                .iter()
                .filter(|r| r.part == part)
                .for_each(|r| c.add(&r.status));
            let _ = writeln!(out, "\n{:>8}s: {c}", part.as_str());
        }
        let _ = writeln!(out, "\n{}", self.counts());
        out
    }

    /// The machine-readable report.
    pub fn to_json(&self) -> serde_json::Value {
        let c = self.counts();
        let runs: Vec<serde_json::Value> = self
            .runs
            .iter()
            .map(|r| {
                let (status, detail) = match &r.status {
                    Status::Passed => ("passed", None),
                    Status::Failed(d) => ("failed", Some(d)),
                    Status::Errored(d) => ("errored", Some(d)),
                    Status::Skipped(d) => ("skipped", Some(d)),
                    Status::ExpectedFailure(d) => ("expected_failure", Some(d)),
                    Status::UnexpectedPass(d) => ("unexpected_pass", Some(d)),
                };
                serde_json::json!({
                    "id": r.id,
                    "dtype": r.dtype.as_str(),
                    "part": r.part.as_str(),
                    "spec": { "file": r.at.file, "line": r.at.line, "section": r.section },
                    "status": status,
                    "detail": detail,
                })
            })
            .collect();
        serde_json::json!({
            "suite": { "name": "cross-entropy-spec", "version": env!("CARGO_PKG_VERSION") },
            "protocol": crate::conformance::protocol::PROTOCOL_VERSION,
            "implementation": self.implementation,
            "counts": {
                "passed": c.passed,
                "failed": c.failed,
                "errored": c.errored,
                "skipped": c.skipped,
                "expected_failures": c.expected_failures,
                "unexpected_passes": c.unexpected_passes,
            },
            "stale_expectations": self.stale_expectations,
            "success": self.success(),
            "runs": runs,
        })
    }
}

/// The full account of a failed case: id, location, the call, what went wrong, a reproduction.
pub(crate) fn failure(case: &Case, dtype: Dtype, request: &Request, what: &str) -> String {
    let mut out = String::new();
    let part = if request.grad { " gradient" } else { "" };
    let _ = writeln!(out, "FAIL {} [{}]{part}", case.id, dtype);
    let _ = writeln!(out, "  at {} (§ {})", case.at, case.section);
    if let Some(source) = &case.source {
        let _ = writeln!(out, "  source: {source}");
    }
    for line in what.lines() {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(
        out,
        "  reproduce in PyTorch:\n    {}",
        repro::torch_line(request)
    );
    out
}

/// Expected against got, the worst element, the errors, and the tolerance with its reason.
pub(crate) fn value_mismatch(
    case: &Case,
    got: &Tensor,
    want: &Literal,
    select: Option<&[usize]>,
    c: &Comparison,
    tol: &Tolerance,
) -> String {
    let single = got.dtype() == Dtype::Float32;
    let want_text: Vec<String> = want.data.iter().map(|&v| fmt_float(v, false)).collect();
    let got_text = got.formatted();
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", case.op, attrs_text(case));
    if let Some(index) = select {
        let _ = writeln!(out, "compared element {index:?} of the output only");
    }
    if let Some(reason) = &c.reason {
        let _ = writeln!(out, "mismatch: {reason}");
    }
    let _ = writeln!(out, "expected {:?}: [{}]", want.shape, preview(&want_text));
    let _ = writeln!(out, "got      {:?}: [{}]", got.shape(), preview(&got_text));
    if let Some(worst) = c.worst.filter(|&w| w < got.numel()) {
        let index = unflatten(got.shape(), worst);
        let expected = match select {
            Some(_) => want.data.first(),
            None => want.data.get(worst),
        };
        if let Some(&w) = expected {
            let value = got.to_f64_vec()[worst];
            let _ = writeln!(
                out,
                "worst element {index:?}: got {}, expected {}, allowed ±{:.3e}",
                fmt_float(value, single),
                fmt_float(w, false),
                c.bounds.abs + c.bounds.rel * w.abs()
            );
        }
    }
    let _ = writeln!(out, "{}", describe(c));
    let _ = write!(
        out,
        "tolerance `{}` (abs {}, rel {}): {}",
        tol.name,
        fmt_bound(c.bounds.abs),
        fmt_bound(c.bounds.rel),
        tol.why
    );
    out
}

fn part_label(part: Part) -> &'static str {
    match part {
        Part::Value => "",
        Part::Gradient => " gradient",
    }
}

fn fmt_bound(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else {
        format!("{v:e}")
    }
}

fn attrs_text(case: &Case) -> String {
    format!("({})", repro::keyword_args(&case.attrs).join(", "))
}

/// At most 12 values, then an ellipsis with the count.
pub(crate) fn preview(values: &[String]) -> String {
    const SHOWN: usize = 12;
    if values.len() <= SHOWN {
        values.join(", ")
    } else {
        format!(
            "{}, ... ({} values)",
            values[..SHOWN].join(", "),
            values.len()
        )
    }
}
