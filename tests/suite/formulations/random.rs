//! The formulations through the random mode (`check --random`): calls nobody chose, judged
//! against the oracle. Every careful formulation passes every drawn call of its ops, and every
//! sloppy one fails some call by ten allowances or more, as on the fixed suite. A formulation
//! with its own vector–Jacobian product answers the drawn upstream gradients with it.
//!
//! A formulation is judged where it is a matter of precision: on calls whose inputs are finite
//! and that the reference does not reject (an error kind or the special values of chapter 07
//! are the reference's to answer, not a formula's). Each draws [`CALLS`] calls of its ops, of at
//! most [`MAX_ELEMENTS`] elements, from one seed.

use std::sync::atomic::Ordering;

use cross_entropy_spec::bundle;
use cross_entropy_spec::conformance::protocol::{Reply, Request};
use cross_entropy_spec::conformance::random::{Options, Surface, run_random};
use cross_entropy_spec::conformance::{Implementation, Status};
use cross_entropy_spec::eval::Reference;
use cross_entropy_spec::vocab::Dtype;

use super::{Formulation, careful, sloppy};

pub const CALLS: u64 = 200;
pub const MAX_ELEMENTS: usize = 1024;
const SEED: u64 = 20;

/// A formulation where it applies; the reference on a call it rejects or with a non-finite
/// input.
struct Finite<'a>(&'a mut Formulation);

impl Implementation for Finite<'_> {
    fn name(&self) -> String {
        self.0.name()
    }

    fn evaluate(&mut self, request: &Request) -> Reply {
        let finite =
            (request.tensors.values()).all(|t| t.to_f64_vec().iter().all(|v| v.is_finite()));
        match Reference.evaluate(request) {
            reply @ Reply::Error { .. } => reply,
            reply if !finite => reply,
            _ => self.0.evaluate(request),
        }
    }
}

/// Every run of `CALLS` drawn calls of the formulation's ops: (request id, status, ratio).
fn judge(f: &mut Formulation) -> Vec<(String, Status, f64)> {
    let spec = bundle::spec().expect("the bundled spec parses");
    let options = Options {
        count: CALLS,
        seed: SEED,
        from: 0,
        surface: Surface {
            ops: f.ops.to_vec(),
            dtypes: vec![Dtype::Float32, Dtype::Float64],
            max_elements: MAX_ELEMENTS,
        },
        shrink: 0,
        guard: false,
    };
    let before = f.answered.load(Ordering::Relaxed);
    let gradients_before = f.gradients.load(Ordering::Relaxed);
    let outcome = run_random(spec, &options, &mut Finite(f), &|| false);
    let answered = f.answered.load(Ordering::Relaxed) - before;
    let gradients = f.gradients.load(Ordering::Relaxed) - gradients_before;
    assert!(
        answered >= 20 && (f.gradient.is_none() || gradients >= 20),
        "{} answered {answered} random runs, {gradients} gradients: the test would judge the reference",
        f.name
    );
    (outcome.report.runs.iter())
        .map(|v| (v.run.request_id(), v.status, v.judgement.ratio()))
        .collect()
}

#[test]
fn every_careful_formulation_passes_every_random_call() {
    for mut f in careful() {
        let judged = judge(&mut f);
        let failed: Vec<_> = (judged.iter())
            .filter(|(_, status, _)| *status != Status::Passed)
            .collect();
        let worst = judged.iter().map(|j| j.2).fold(0.0, f64::max);
        println!(
            "{}: {} random runs, worst at {worst:.3} of its allowance",
            f.name,
            judged.len()
        );
        assert!(failed.is_empty(), "{} fails {failed:?}", f.name);
    }
}

#[test]
fn every_sloppy_formulation_fails_a_random_call_by_ten_allowances() {
    for mut f in sloppy() {
        let judged = judge(&mut f);
        let failed =
            (judged.iter()).filter(|(_, status, r)| *status == Status::Failed && r.is_finite());
        let caught = failed.max_by(|a, b| a.2.total_cmp(&b.2));
        println!(
            "{}: of {} random runs, largest finite miss {caught:?}",
            f.name,
            judged.len()
        );
        assert!(
            caught.is_some_and(|c| c.2 > 10.0),
            "{} is not caught by ten allowances on random calls",
            f.name
        );
    }
}
