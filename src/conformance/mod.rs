//! The conformance runner: turns each case into a request, asks an implementation, and judges
//! the answer against the case's claim. The reference implementation is one implementation
//! among others; the same runner checks any other through the [`Implementation`] trait.

mod expectations;
mod export;
pub mod protocol;
mod reference_checks;
mod report;
mod repro;
mod subprocess;

pub use expectations::{Divergence, Expectations};
pub use export::case_json;
pub use protocol::{Reply, Request};
pub use reference_checks::{SpecOutcome, spec_test};
pub use report::{Counts, Report};
pub use repro::torch_line;
pub use subprocess::Subprocess;

use crate::compare::{Comparison, compare};
use crate::materialize::materialize;
use crate::spec::{Case, Check, Literal, Location, Spec, Tolerance};
use crate::vocab::Dtype;

/// An implementation under test, called in process. Another crate implements this to be
/// checked by the same runner as the reference.
pub trait Implementation {
    /// A short name for reports (`reference`, `candle 0.9`, ...).
    fn name(&self) -> String;
    /// Answers one request.
    fn evaluate(&mut self, request: &Request) -> Reply;
}

/// How one case fared in one dtype.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Passed,
    /// The answer contradicts the case: a readable account of how.
    Failed(String),
    /// The case could not be judged: the implementation broke, or the case could not be built.
    Errored(String),
    /// The implementation does not support what the case needs.
    Skipped(String),
    /// A failure the implementation's expectations file lists, with its reason.
    ExpectedFailure(String),
    /// A pass the expectations file says should be a failure: the list is out of date.
    UnexpectedPass(String),
}

/// What a run checks: the value of the call, or the gradient of its sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    Value,
    Gradient,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Value => "value",
            Part::Gradient => "gradient",
        }
    }
}

/// One case run in one dtype, for its value or its gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRun {
    pub id: String,
    pub dtype: Dtype,
    pub part: Part,
    pub at: Location,
    pub chapter: String,
    pub section: String,
    pub status: Status,
}

/// The request a case makes when it runs in `dtype`.
pub fn request_for(case: &Case, dtype: Dtype) -> Result<Request, String> {
    Ok(Request {
        id: format!("{}@{}", case.id, dtype),
        op: case.op,
        tensors: materialize(case, dtype)?,
        attrs: case.attrs.clone(),
        grad: false,
    })
}

/// Judges an implementation's reply to a case's request.
pub fn judge(case: &Case, dtype: Dtype, request: &Request, reply: &Reply) -> Status {
    let failed = |what: String| Status::Failed(report::failure(case, dtype, request, &what));
    match (&case.check, reply) {
        (_, Reply::Unsupported(why)) => Status::Skipped(why.clone()),
        (_, Reply::Broken(why)) => Status::Errored(why.clone()),
        (
            Check::Value {
                expect,
                select,
                tol,
                signed_zeros,
                ..
            },
            Reply::Output { output, .. },
        ) => {
            let bounds = tol.bounds(dtype);
            let c = compare(output, expect, select.as_deref(), bounds, *signed_zeros);
            if c.passed {
                Status::Passed
            } else {
                failed(report::value_mismatch(
                    case,
                    output,
                    expect,
                    select.as_deref(),
                    &c,
                    tol,
                ))
            }
        }
        (Check::Value { .. }, Reply::Error { kind, message }) => {
            failed(format!("expected values, got an error: {kind}: {message}"))
        }
        (Check::Error { kind, .. }, Reply::Error { kind: got, .. }) if got == kind => {
            Status::Passed
        }
        (Check::Error { kind, .. }, Reply::Error { kind: got, message }) => failed(format!(
            "expected an error of kind `{}`, got `{got}`: {message}",
            kind.as_str()
        )),
        (Check::Error { kind, .. }, Reply::Output { output, .. }) => failed(format!(
            "expected an error of kind `{}`, got an output of shape {:?}: [{}]",
            kind.as_str(),
            output.shape(),
            report::preview(&output.formatted())
        )),
    }
}

/// The gradient a case expects in `dtype`: the one it states (`expect_grad`, within
/// `grad_tol`), or else PyTorch's recorded gradient for it, within the spec's `gradient`
/// tolerance. `None` for a case that expects an error.
pub fn expected_gradient(
    spec: &Spec,
    case: &Case,
    dtype: Dtype,
) -> Option<Result<(Literal, Tolerance), String>> {
    let Check::Value { grad, .. } = &case.check else {
        return None;
    };
    if let Some(g) = grad {
        return Some(Ok((g.expect.clone(), g.tol.clone())));
    }
    let recorded = match spec.recorded.gradient(&case.run_key(dtype)) {
        Ok(recorded) => recorded,
        Err(why) => return Some(Err(why)),
    };
    let tol = spec.tolerances.get("gradient").cloned().ok_or_else(|| {
        "the spec defines no `gradient` tolerance, which recorded gradients are checked with"
            .to_string()
    });
    Some(tol.map(|tol| (recorded, tol)))
}

/// Judges the `grad_input` of a reply to a request that asked for it.
pub fn judge_gradient(
    case: &Case,
    dtype: Dtype,
    request: &Request,
    reply: &Reply,
    want: &Literal,
    tol: &Tolerance,
) -> Status {
    let failed = |what: String| Status::Failed(report::failure(case, dtype, request, &what));
    match reply {
        Reply::Unsupported(why) => Status::Skipped(why.clone()),
        Reply::Broken(why) => Status::Errored(why.clone()),
        Reply::Error { kind, message } => failed(format!(
            "expected a gradient, got an error: {kind}: {message}"
        )),
        Reply::Output {
            grad_input: None, ..
        } => failed("asked for `grad_input`, the reply has none".into()),
        Reply::Output {
            grad_input: Some(grad),
            ..
        } => {
            let c = compare(grad, want, None, tol.bounds(dtype), false);
            if c.passed {
                Status::Passed
            } else {
                failed(format!(
                    "the gradient of the sum of the output with respect to input:\n{}",
                    report::value_mismatch(case, grad, want, None, &c, tol)
                ))
            }
        }
    }
}

/// Runs one case in one dtype against an implementation: its value, and for a case that
/// expects a value, the gradient of its sum.
pub fn run_case(
    spec: &Spec,
    case: &Case,
    dtype: Dtype,
    implementation: &mut dyn Implementation,
) -> Vec<CaseRun> {
    let run = |part, status| CaseRun {
        id: case.id.clone(),
        dtype,
        part,
        at: case.at.clone(),
        chapter: case.chapter.clone(),
        section: case.section.clone(),
        status,
    };
    let mut request = match request_for(case, dtype) {
        Ok(request) => request,
        Err(why) => {
            let why = format!("{}: the case could not be built: {why}", case.at);
            return vec![run(Part::Value, Status::Errored(why))];
        }
    };
    let mut runs = vec![run(
        Part::Value,
        judge(case, dtype, &request, &implementation.evaluate(&request)),
    )];
    if let Some(expected) = expected_gradient(spec, case, dtype) {
        request.grad = true;
        let status = match expected {
            Ok((want, tol)) => {
                let reply = implementation.evaluate(&request);
                judge_gradient(case, dtype, &request, &reply, &want, &tol)
            }
            Err(why) => Status::Skipped(why),
        };
        runs.push(run(Part::Gradient, status));
    }
    runs
}

/// Runs every case whose id matches `filter` (a glob with `*` and `?`) in each of its dtypes.
pub fn run_suite(
    spec: &Spec,
    filter: Option<&str>,
    implementation: &mut dyn Implementation,
) -> Report {
    let mut runs = Vec::new();
    for case in &spec.cases {
        if filter.is_some_and(|f| !glob_match(f, &case.id)) {
            continue;
        }
        for &dtype in &case.dtypes {
            runs.extend(run_case(spec, case, dtype, implementation));
        }
    }
    Report {
        implementation: implementation.name(),
        runs,
        stale_expectations: Vec::new(),
    }
}

/// Matches `text` against a glob where `*` is any run of characters and `?` any one.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A comparison's numbers, for reports.
pub(crate) fn describe(c: &Comparison) -> String {
    format!(
        "max abs error {:.3e}, max rel error {:.3e}",
        c.max_abs, c.max_rel
    )
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("ce.*", "ce.doc001.batch3x5.none"));
        assert!(glob_match("*.none", "ce.doc001.batch3x5.none"));
        assert!(glob_match("ce.doc00?.*", "ce.doc001.x"));
        assert!(!glob_match("nll.*", "ce.doc001"));
        assert!(glob_match("*", ""));
    }
}
