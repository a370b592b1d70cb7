//! The JSON report (`check --json`): the counts, and per run its id, dtype, part, spec location,
//! status, the rendered detail and, for a comparison, its numbers.

use serde::Serialize;
use serde_json::Value;

use super::text;
use crate::conformance::compare::Comparison;
use crate::conformance::protocol::PROTOCOL_VERSION;
use crate::conformance::report::{self, Report};
use crate::conformance::run::{Part, Source};
use crate::conformance::verdict::{Judgement, Verdict};

#[derive(Serialize)]
struct Counts {
    passed: usize,
    failed: usize,
    errored: usize,
    skipped: usize,
    expected_failures: usize,
    expected_errors: usize,
    unexpected_passes: usize,
}

impl From<report::Counts> for Counts {
    fn from(c: report::Counts) -> Counts {
        Counts {
            passed: c.passed,
            failed: c.failed,
            errored: c.errored,
            skipped: c.skipped,
            expected_failures: c.expected_failures,
            expected_errors: c.expected_errors,
            unexpected_passes: c.unexpected_passes,
        }
    }
}

/// The counts of the value runs and of the gradient runs, which an implementation without
/// gradients, or with bugs in them alone, tells apart.
#[derive(Serialize)]
struct ByPart {
    value: Counts,
    gradient: Counts,
}

#[derive(Serialize)]
struct Spec<'a> {
    file: &'a str,
    line: usize,
    section: &'a str,
}

/// How the runs judged in one grade ended.
#[derive(Serialize)]
struct GradeCounts {
    judged: usize,
    passed: usize,
    failed: usize,
    documented: usize,
}

/// The numbers of one claim's comparison, for programs that read the report.
#[derive(Serialize)]
struct Numbers {
    source: Source,
    failing_elements: usize,
    compared_elements: usize,
    worst_index: Option<usize>,
    worst_ratio: Option<f64>,
    worst_ulps: Option<f64>,
    max_abs_error: f64,
    max_ulps: f64,
}

impl Numbers {
    fn of(source: Source, c: &Comparison) -> Option<Numbers> {
        let finite = |x: f64| x.is_finite().then_some(x);
        c.shape_mismatch.is_none().then(|| Numbers {
            source,
            failing_elements: c.failing.len(),
            compared_elements: c.compared,
            worst_index: c.worst.map(|w| w.index),
            worst_ratio: c.worst.and_then(|w| finite(w.ratio)),
            worst_ulps: c.worst.and_then(|w| finite(w.ulps)),
            max_abs_error: c.max_abs,
            max_ulps: c.max_ulps,
        })
    }
}

#[derive(Serialize)]
struct Run<'a> {
    id: &'a str,
    request: String,
    dtype: &'a str,
    part: &'a str,
    spec: Spec<'a>,
    status: &'a str,
    /// The grade a run that did not pass failed in.
    #[serde(skip_serializing_if = "Option::is_none")]
    grade: Option<&'static str>,
    detail: Option<String>,
    /// Each claim's comparison: all of them for a pass, the failing one for a mismatch.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    claims: Vec<Numbers>,
}

/// The report as a JSON value.
pub fn report(r: &Report) -> Value {
    let counts = Counts::from(r.counts());
    let by_part = ByPart {
        value: r.counts_of(Part::Value).into(),
        gradient: r.counts_of(Part::Gradient).into(),
    };
    let by_grade: std::collections::BTreeMap<&str, GradeCounts> = (r.grades().into_iter())
        .map(|(g, c)| {
            let counts = GradeCounts {
                judged: c.judged,
                passed: c.passed(),
                failed: c.failed,
                documented: c.documented,
            };
            (g.as_str(), counts)
        })
        .collect();
    let runs: Vec<Run<'_>> = r.runs.iter().map(run).collect();
    serde_json::json!({
        "suite": { "name": "cross-entropy-spec", "version": env!("CARGO_PKG_VERSION") },
        "protocol": PROTOCOL_VERSION,
        "implementation": r.implementation,
        "counts": counts,
        "counts_by_part": by_part,
        "counts_by_grade": by_grade,
        "stale_expectations": r.stale_expectations,
        "interrupted": r.interrupted,
        "success": r.success(),
        "runs": runs,
    })
}

fn run(v: &Verdict) -> Run<'_> {
    let claims = match &v.judgement {
        Judgement::Mismatch {
            source, comparison, ..
        } => Numbers::of(*source, comparison).into_iter().collect(),
        Judgement::Passed(checked) => checked
            .iter()
            .filter_map(|(s, c)| Numbers::of(*s, c))
            .collect(),
        _ => Vec::new(),
    };
    let detail = match &v.judgement {
        Judgement::Passed(_) => v.divergence.clone(),
        _ => {
            let d = text::detail(v);
            Some(match &v.divergence {
                Some(why) => format!("{why}\n{d}"),
                None => d,
            })
        }
    };
    Run {
        id: &v.run.id,
        request: v.run.request_id(),
        dtype: v.run.dtype.as_str(),
        part: v.run.part.as_str(),
        spec: Spec {
            file: &v.run.at.file,
            line: v.run.at.line,
            section: &v.run.section,
        },
        status: v.status.as_str(),
        grade: v.failed_grade().map(|g| g.as_str()),
        detail,
        claims,
    }
}
