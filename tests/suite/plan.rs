//! The runs of the everyday spec (and of its vocabulary-scale cases), prepared once per test
//! binary: each run's request, what it expects, and the reference's verdict on it. Preparing a
//! run (materialising its inputs, the digest its exact record is checked against, the oracle's
//! claims) costs more than judging a reply, and the mutants, the formulations and the protocol
//! test would otherwise prepare the whole spec again for every wrong implementation they judge.

use std::sync::OnceLock;

use cross_entropy_spec::conformance::protocol::{Reply, Request};
use cross_entropy_spec::conformance::{
    Expected, Implementation, Judgement, Run, Status, Verdict, judge, judge_prepared, parts,
    prepare,
};
use cross_entropy_spec::eval::Reference;
use cross_entropy_spec::spec::{Case, Spec};

use crate::common::{everyday_spec, vocabulary_spec};

/// One run of a case in one dtype and part, as `run_suite` makes it, with the reference's
/// verdict.
pub struct Prepared {
    pub case: &'static Case,
    pub run: Run,
    /// The request and what it expects, or why the case could not be built.
    pub prepared: Result<(Request, Expected), String>,
    pub reference: Verdict,
}

impl Prepared {
    /// The request, for a run that could be built.
    pub fn request(&self) -> Option<&Request> {
        self.prepared.as_ref().ok().map(|(request, _)| request)
    }

    /// Whether the reference passes the run: the runs that judge a wrong implementation (one the
    /// reference fails is the spec's to report, in `tests/spec_cases`).
    pub fn reference_passes(&self) -> bool {
        self.reference.status == Status::Passed
    }

    /// `reply`'s judgement, for a run that could be built.
    pub fn judge(&self, reply: &Reply) -> Option<Judgement> {
        let (request, expected) = self.prepared.as_ref().ok()?;
        Some(judge(expected, self.run.dtype, request, reply))
    }

    /// The verdict `run_suite` gives `implementation` on this run.
    pub fn verdict(&self, implementation: &mut dyn Implementation) -> Verdict {
        let source = self.case.source.clone();
        judge_prepared(self.run.clone(), source, &self.prepared, implementation)
    }
}

/// Every run of `spec`, in report order, prepared and judged with the reference.
fn prepare_all(spec: &'static Spec) -> Vec<Prepared> {
    let mut out = Vec::new();
    for case in &spec.cases {
        for &dtype in &case.dtypes {
            for &part in parts(case) {
                let prepared = prepare(spec, case, dtype, part);
                let run = Run::new(case, dtype, part);
                let source = case.source.clone();
                let reference = judge_prepared(run.clone(), source, &prepared, &mut Reference);
                out.push(Prepared {
                    case,
                    run,
                    prepared,
                    reference,
                });
            }
        }
    }
    out
}

/// The everyday spec's runs ([`everyday_spec`]), prepared once.
pub fn everyday() -> &'static [Prepared] {
    static RUNS: OnceLock<Vec<Prepared>> = OnceLock::new();
    RUNS.get_or_init(|| prepare_all(everyday_spec()))
}

/// The vocabulary-scale runs ([`vocabulary_spec`]), prepared once (by the ignored tests).
pub fn vocabulary() -> &'static [Prepared] {
    static RUNS: OnceLock<Vec<Prepared>> = OnceLock::new();
    RUNS.get_or_init(|| prepare_all(vocabulary_spec()))
}
