//! Runs cases against an implementation: each case in each of its dtypes, for its value and
//! (for a value case) its gradient, each run with its own request.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Implementation;
use super::protocol::Request;
use super::report::Report;
use super::run::{Expected, Part, Run, expected_for, parts, request_for};
use super::subprocess::INTERRUPTED_REPLY;
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
    let prepared = prepare(spec, case, dtype, part);
    judge_prepared(run, case.source.clone(), &prepared, implementation)
}

/// What a run sends and what it expects back, or why the spec cannot build it (an unjudgeable
/// run). Tests that judge many implementations on one run prepare it once.
pub fn prepare(
    spec: &Spec,
    case: &Case,
    dtype: Dtype,
    part: Part,
) -> Result<(Request, Expected), String> {
    request_for(case, dtype, part)
        .map_err(|why| format!("the case could not be built: {why}"))
        .and_then(|request| {
            let expected = expected_for(spec, case, dtype, part, &request)?;
            Ok((request, expected))
        })
}

/// Asks `implementation` a prepared request and judges the reply against what it expects; a
/// request that could not be prepared is an unjudgeable run. One place for the fixed suite, the
/// random mode and the tests that judge wrong implementations.
pub fn judge_prepared(
    run: Run,
    source: Option<String>,
    prepared: &Result<(Request, Expected), String>,
    implementation: &mut dyn Implementation,
) -> Verdict {
    match prepared {
        Err(why) => Verdict::new(run, source, Judgement::Unjudgeable(why.clone()), None),
        Ok((request, expected)) => {
            let reply = implementation.evaluate(request);
            let judgement = judge(expected, run.dtype, request, &reply);
            // The reply is reduced to what the report shows as soon as it is judged.
            let evidence = Evidence::new(request.clone(), expected.clone(), &reply);
            drop(reply);
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

/// [`run_suite`], stopping as soon as `stop()` says so: the runs completed before are kept, and
/// so is the one under way unless the stop cut its wait short; the report says it was
/// interrupted.
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
        replay: None,
    };
    for (case, dtype, part) in plan(spec, filter) {
        let verdict = run_part(spec, case, dtype, part, implementation);
        if stop() && cut_short(&verdict) {
            report.interrupted = true;
            return report;
        }
        report.runs.push(verdict);
        if stop() {
            report.interrupted = true;
            return report;
        }
    }
    report
}

/// Every run of the cases `filter` selects, in report order.
fn plan<'a>(spec: &'a Spec, filter: Option<&str>) -> Vec<(&'a Case, Dtype, Part)> {
    let cases = spec
        .cases
        .iter()
        .filter(|c| filter.is_none_or(|f| glob_match(f, &c.id)));
    cases
        .flat_map(|case| {
            (case.dtypes.iter())
                .flat_map(move |&dtype| parts(case).iter().map(move |&part| (case, dtype, part)))
        })
        .collect()
}

/// [`run_suite_until`] with `jobs` implementations at once (no more than there are runs), each
/// made by `make` and answering the next run not yet taken. The verdicts are in the same order
/// as with one job. A worker thread the system refuses is done without: the others take its runs.
pub fn run_suite_parallel(
    spec: &Spec,
    filter: Option<&str>,
    make: &(dyn Fn() -> Box<dyn Implementation + Send> + Sync),
    jobs: usize,
    stop: &(dyn Fn() -> bool + Sync),
) -> Report {
    let runs = plan(spec, filter);
    let results: Vec<Mutex<Option<Verdict>>> = runs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let mut name = String::new();
    let worker = || {
        let mut implementation = make();
        loop {
            let i = next.fetch_add(1, Ordering::SeqCst);
            let Some(&(case, dtype, part)) = runs.get(i) else {
                break;
            };
            let verdict = run_part(spec, case, dtype, part, implementation.as_mut());
            if stop() && cut_short(&verdict) {
                break;
            }
            *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(verdict);
            if stop() {
                break;
            }
        }
        implementation.name()
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.clamp(1, runs.len().max(1)))
            .map_while(|_| std::thread::Builder::new().spawn_scoped(scope, worker).ok())
            .collect();
        if workers.is_empty() {
            name = worker();
        }
        for worker in workers {
            if let Ok(n) = worker.join() {
                name = n;
            }
        }
    });
    let runs: Vec<Verdict> = (results.into_iter())
        .filter_map(|slot| slot.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect();
    Report {
        implementation: name,
        runs,
        stale_expectations: Vec::new(),
        interrupted: stop(),
        replay: None,
    }
}

/// Whether a run was cut short by the interrupt (its wait ended without a reply), rather than
/// answered: only such a run is left out of an interrupted report.
fn cut_short(verdict: &Verdict) -> bool {
    matches!(&verdict.judgement, Judgement::Broken(why) if why == INTERRUPTED_REPLY)
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
