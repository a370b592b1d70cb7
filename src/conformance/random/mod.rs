//! The random differential mode (`check --random N`): calls drawn from the whole option surface
//! ([`draw`]), each judged — its value and a vector–Jacobian product, with a drawn upstream
//! gradient and argument ([`GradDraw`]) or of its sum — against the exact result
//! from the crate's oracle ([`crate::oracle`]) within the allowance of the exact claims
//! (`k · u · M`, [`allowance`]); an error is judged by kind, the oracle's (the reference's) kind
//! being the expectation, as in the fixed suite. A failure is shrunk ([`shrink`]) and printed as
//! a spec `case` block with a PyTorch reproduction ([`block`]).
//!
//! Case `i` of seed `S` is drawn from its own SplitMix64 stream ([`rng`]), so the same seed gives
//! the same calls on every machine, and `--from i --random 1` draws that one call again.

pub mod block;
pub mod draw;
pub mod expect;
pub mod rng;
pub mod shrink;

use super::Implementation;
use super::protocol::Request;
use super::report::Report;
use super::run::{Claim, Expected, Part, Run, Source};
use super::runner::judge_prepared;
use super::scale;
use super::verdict::{Judgement, Status, Verdict};
use crate::oracle;
use crate::spec::{Location, Spec};
pub use draw::{ALL_OPS, Drawn, GradDraw, Surface};
use rng::Rng;

/// What to draw and how many.
#[derive(Debug, Clone)]
pub struct Options {
    pub count: u64,
    pub seed: u64,
    /// The index of the first case: `--from i --random 1` draws case `i` alone.
    pub from: u64,
    pub surface: Surface,
    /// How many failures to shrink (each takes up to [`shrink::BUDGET`] more calls).
    pub shrink: usize,
    /// Shrink only failures the reference does not share, and only into calls the reference
    /// passes: for an implementation other than the reference, so that a shrunk case shows its
    /// fault, not a gap of the allowance.
    pub guard: bool,
}

/// A failure, shrunk.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The drawn call's index under the seed.
    pub index: u64,
    /// The shrunk call, its failing verdict, and how many candidate calls shrinking tried.
    pub drawn: Drawn,
    pub verdict: Verdict,
    pub tried: usize,
    /// The spec `case` block and the PyTorch line that reproduce it.
    pub block: String,
    pub torch: String,
}

/// Every run's verdict, and the shrunk failures.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub report: Report,
    pub findings: Vec<Finding>,
    /// Per `[[random]]` rule of the expectations, how many failed runs it absorbed.
    pub absorbed: Vec<usize>,
}

/// The allowance of a run, per element: `u · M` from the error model of [`scale`], times the
/// tolerance's `k`. The one place the random mode asks for it.
pub fn allowance(request: &Request, part: Part) -> Result<Vec<f64>, String> {
    scale::roundoff(request, part)
}

/// What a run of a drawn call expects: the oracle's exact value within the exact claims'
/// tolerance (`rounding`, `rounding_grad`), or the oracle's error kind.
pub fn expected(spec: &Spec, request: &Request, part: Part) -> Result<Expected, String> {
    let mut want = match oracle::exact(request) {
        Err(e) => return Ok(Expected::Error(e.kind)),
        Ok(want) => want,
    };
    // Compared as the fixed suite compares: with the exact value rounded to the run's dtype, so
    // that a correctly rounded subnormal or zero passes (scale::exact_in_dtype).
    if let Some(dtype) = want.dtype {
        want.data = (want.data.iter())
            .map(|&v| scale::exact_in_dtype(dtype, v))
            .collect();
    }
    let name = match part {
        Part::Value => "rounding",
        Part::Gradient => "rounding_grad",
    };
    let tol = (spec.tolerances.get(name).cloned())
        .ok_or_else(|| format!("the spec defines no `{name}` tolerance"))?;
    Ok(Expected::Values(vec![Claim {
        source: Source::Oracle,
        want,
        select: None,
        at: None,
        tol,
        signed_zeros: false,
        roundoff: Some(allowance(request, part)?),
        yields_to_exact: false,
    }]))
}

/// How many runs that did not pass keep their request and reply: a long run's memory stays
/// bounded whatever fails (100,000 calls kept every failure's tensors, 0.9 GB, before).
pub const KEEP_EVIDENCE: usize = 100;

/// The id of drawn case `index` of `seed`.
pub fn case_id(seed: u64, index: u64) -> String {
    format!("random.s{seed}.n{index}")
}

/// Judges one run of a drawn call.
pub fn run_drawn(
    spec: &Spec,
    drawn: &Drawn,
    id: &str,
    part: Part,
    implementation: &mut dyn Implementation,
) -> Verdict {
    let run = Run {
        id: id.to_string(),
        dtype: drawn.dtype,
        part,
        at: Location::new("check --random", 0),
        chapter: "random".into(),
        section: drawn.op.as_str().into(),
        pytorch: None,
    };
    let request_id = run.request_id();
    let prepared = drawn
        .request(request_id, part == Part::Gradient)
        .and_then(|request| {
            let expected = expected(spec, &request, part)?;
            Ok((request, expected))
        });
    let source = Some("drawn by check --random; exact value from the crate's oracle".into());
    judge_prepared(run, source, &prepared, implementation)
}

fn reference_passes(spec: &Spec, drawn: &Drawn, id: &str, part: Part) -> bool {
    run_drawn(spec, drawn, id, part, &mut crate::eval::Reference).status == Status::Passed
}

/// Whether a run expected an error (a call without a value has no gradient run).
fn expects_error(v: &Verdict) -> bool {
    match &v.evidence {
        Some(e) => matches!(e.expected, Expected::Error(_)),
        // Kept only for runs that did not pass: an error that passed has no comparisons.
        None => matches!(&v.judgement, Judgement::Passed(c) if c.is_empty()),
    }
}

/// Draws and judges `options.count` calls (each value run, and the gradient run of a call whose
/// value is a value), stopping early when `stop()` says so; shrinks the first failures.
pub fn run_random(
    spec: &Spec,
    options: &Options,
    implementation: &mut dyn Implementation,
    stop: &dyn Fn() -> bool,
) -> Outcome {
    run_random_expecting(spec, options, &[], implementation, stop)
}

/// [`run_random`], with the failures a rule of `rules` explains marked expected (and not shrunk).
pub fn run_random_expecting(
    spec: &Spec,
    options: &Options,
    rules: &[expect::Rule],
    implementation: &mut dyn Implementation,
    stop: &dyn Fn() -> bool,
) -> Outcome {
    let mut absorbed = vec![0; rules.len()];
    let mut report = Report {
        implementation: implementation.name(),
        runs: Vec::new(),
        stale_expectations: Vec::new(),
        interrupted: false,
        replay: None,
    };
    let mut findings = Vec::new();
    let mut kept = 0;
    for index in options.from..options.from.saturating_add(options.count) {
        if stop() {
            report.interrupted = true;
            break;
        }
        let drawn = draw::draw(&mut Rng::for_case(options.seed, index), &options.surface);
        let id = case_id(options.seed, index);
        for part in [Part::Value, Part::Gradient] {
            let mut verdict = run_drawn(spec, &drawn, &id, part, implementation);
            let value_error = part == Part::Value && expects_error(&verdict);
            if let Some(n) = rules.iter().position(|r| r.absorbs(&drawn, &verdict)) {
                absorbed[n] += 1;
                verdict.status = Status::ExpectedFailure;
                verdict.divergence = Some(rules[n].note());
            }
            if verdict.status == Status::Failed
                && findings.len() < options.shrink
                && (!options.guard || reference_passes(spec, &drawn, &id, part))
            {
                let f =
                    shrink::finding(spec, &drawn, index, &verdict, implementation, options.guard);
                findings.push(f);
            }
            if verdict.evidence.is_some() {
                kept += 1;
                if kept > KEEP_EVIDENCE {
                    verdict.evidence = None;
                }
            }
            report.runs.push(verdict);
            if value_error {
                break;
            }
        }
    }
    Outcome {
        report,
        findings,
        absorbed,
    }
}
