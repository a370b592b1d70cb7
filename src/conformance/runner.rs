//! Runs cases against an implementation: each case in each of its dtypes, for its value and
//! (for a value case) its gradient, each run with its own request.

use super::Implementation;
use super::protocol::Request;
use super::report::Report;
use super::run::{Expected, Part, Run, expected_for, parts, request_for};
use super::verdict::{Evidence, Judgement, Verdict, judge};
use crate::spec::{Case, Spec};
use crate::vocab::Dtype;

/// Runs one case in one dtype: its value, and for a case that expects a value, the gradient of
/// its sum.
pub fn run_case(
    spec: &Spec,
    case: &Case,
    dtype: Dtype,
    implementation: &mut dyn Implementation,
) -> Vec<Verdict> {
    (parts(case).iter())
        .map(|&part| run_part(spec, case, dtype, part, implementation))
        .collect()
}

fn run_part(
    spec: &Spec,
    case: &Case,
    dtype: Dtype,
    part: Part,
    implementation: &mut dyn Implementation,
) -> Verdict {
    let run = Run::new(case, dtype, part);
    let source = case.source.clone();
    let prepared: Result<(Request, Expected), String> = request_for(case, dtype, part)
        .map_err(|why| format!("the case could not be built: {why}"))
        .and_then(|request| {
            let expected = expected_for(spec, case, dtype, part, &request)?;
            Ok((request, expected))
        });
    match prepared {
        Err(why) => Verdict::new(run, source, Judgement::Unjudgeable(why), None),
        Ok((request, expected)) => {
            let reply = implementation.evaluate(&request);
            let judgement = judge(&expected, dtype, &request, &reply);
            let evidence = Evidence {
                request,
                expected,
                reply,
            };
            Verdict::new(run, source, judgement, Some(evidence))
        }
    }
}

/// Runs every case whose id matches `filter` (a glob with `*` and `?`) in each of its dtypes.
pub fn run_suite(
    spec: &Spec,
    filter: Option<&str>,
    implementation: &mut dyn Implementation,
) -> Report {
    run_suite_until(spec, filter, implementation, &|| false)
}

/// [`run_suite`], stopping as soon as `stop()` says so: the runs completed before are kept, the
/// one under way when it was asked to stop is dropped, and the report says it was interrupted.
pub fn run_suite_until(
    spec: &Spec,
    filter: Option<&str>,
    implementation: &mut dyn Implementation,
    stop: &dyn Fn() -> bool,
) -> Report {
    let mut report = Report {
        implementation: implementation.name(),
        runs: Vec::new(),
        stale_expectations: Vec::new(),
        interrupted: false,
    };
    let cases = spec
        .cases
        .iter()
        .filter(|c| filter.is_none_or(|f| glob_match(f, &c.id)));
    for case in cases {
        for &dtype in &case.dtypes {
            for &part in parts(case) {
                let verdict = run_part(spec, case, dtype, part, implementation);
                if stop() {
                    report.interrupted = true;
                    return report;
                }
                report.runs.push(verdict);
            }
        }
    }
    report
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
