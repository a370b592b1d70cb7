//! The conformance runner against implementations that are wrong or badly behaved: a loss that
//! drops the class weights from the mean's denominator is caught with a readable failure; the
//! reference speaking the protocol as a child process passes the whole suite; a child that
//! crashes, hangs or prints garbage is reported for the cases concerned and the run goes on;
//! expectations files are strict both ways.

use std::time::Duration;

use cross_entropy_spec::conformance::protocol::{Reply, Request};
use cross_entropy_spec::conformance::{
    Expectations, Implementation, Status, Subprocess, run_suite,
};
use cross_entropy_spec::eval::Reference;
use cross_entropy_spec::eval::evaluate;
use cross_entropy_spec::spec::{Attrs, Spec};
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::{Op, Role};
use cross_entropy_spec::{bundle, vocab::Dtype};

fn spec() -> &'static Spec {
    bundle::spec().expect("the bundled spec parses")
}

/// A plausible bug: the weighted mean divided by the number of non-ignored targets instead of
/// the sum of their weights (what `mean(w_t * l)` style code does).
struct WeightsMissingFromDenominator;

impl Implementation for WeightsMissingFromDenominator {
    fn name(&self) -> String {
        "weights missing from the mean's denominator".into()
    }

    fn evaluate(&mut self, request: &Request) -> Reply {
        let weighted_mean = matches!(request.op, Op::CrossEntropy | Op::NllLoss)
            && request.tensors.contains_key(&Role::Weight)
            && request
                .attrs
                .reduction
                .as_deref()
                .is_none_or(|r| r == "mean");
        let target = request.tensors.get(&Role::Target);
        let Some(Tensor::Int64(indices)) = target.filter(|_| weighted_mean) else {
            return Reference.evaluate(request);
        };
        let ignore = request.attrs.ignore_index.unwrap_or(-100);
        let count = indices.iter().filter(|&&t| t != ignore).count() as f64;
        let sum = Attrs {
            reduction: Some("sum".into()),
            ..request.attrs.clone()
        };
        match evaluate(request.op, &request.tensors, &sum) {
            Ok(total) => {
                let value = total.to_f64_vec()[0] / count;
                let output = Tensor::from_f64(total.dtype(), &[], &[value]).expect("a scalar");
                Reply::Output {
                    output,
                    grad_input: None,
                }
            }
            Err(e) => Reply::from(e),
        }
    }
}

#[test]
fn a_wrong_weighted_mean_is_caught_with_a_readable_failure() {
    let report = run_suite(spec(), None, &mut WeightsMissingFromDenominator);
    let failures: Vec<(&str, &str)> = report
        .runs
        .iter()
        .filter_map(|r| match &r.status {
            Status::Failed(detail) => Some((r.id.as_str(), detail.as_str())),
            _ => None,
        })
        .collect();
    assert!(!report.success());
    assert!(
        failures
            .iter()
            .any(|(id, _)| *id == "ce.torch.kdim_weight_ignore.mean"),
        "the weighted K-dim mean must catch it: {:?}",
        failures.iter().map(|f| f.0).collect::<Vec<_>>()
    );
    let (_, detail) = failures
        .iter()
        .find(|(id, _)| *id == "ce.torch.kdim_weight_ignore.mean")
        .expect("present");
    for needle in [
        "FAIL ce.torch.kdim_weight_ignore.mean [float32]",
        "at spec/03-nll-and-the-identity.md:",
        "expected []: [1.0723636]",
        "worst element",
        "tolerance `pytorch8`",
        "reproduce in PyTorch:",
        "F.cross_entropy(torch.tensor(",
        "weight=torch.tensor([1.0, 2.0, 0.5]",
    ] {
        assert!(detail.contains(needle), "missing {needle:?} in:\n{detail}");
    }
    // Unweighted cases are untouched by the bug, so they still pass.
    let passed = report
        .runs
        .iter()
        .any(|r| r.id == "ce.doc001.batch3x5.mean" && r.status == Status::Passed);
    assert!(passed);
}

fn eval_command() -> String {
    format!("{} eval", env!("CARGO_BIN_EXE_cross-entropy-spec"))
}

#[test]
fn the_reference_passes_the_whole_suite_through_the_protocol() {
    let mut child = Subprocess::new(&eval_command(), Duration::from_secs(30));
    let report = run_suite(spec(), None, &mut child);
    let in_process = run_suite(spec(), None, &mut Reference);
    assert!(report.success(), "{}", report.render());
    assert_eq!(report.counts(), in_process.counts());
    assert_eq!(report.counts().skipped, 0);
}

#[test]
fn a_crashing_implementation_is_reported_and_the_run_goes_on() {
    let mut child = Subprocess::new(
        "echo 'Traceback: segmentation fault' >&2; exit 3",
        Duration::from_secs(10),
    );
    let report = run_suite(spec(), Some("ce.doc001.*"), &mut child);
    assert_eq!(
        report.runs.len(),
        8,
        "every case still runs, value and gradient"
    );
    for run in &report.runs {
        let Status::Errored(why) = &run.status else {
            panic!("{} should be errored: {:?}", run.id, run.status);
        };
        assert!(
            why.contains("exited") || why.contains("stopped reading"),
            "{why}"
        );
    }
}

#[test]
fn a_hanging_implementation_times_out_per_case() {
    let mut child = Subprocess::new("sleep 30", Duration::from_millis(300));
    let report = run_suite(spec(), Some("ce.doc004.arange.mean"), &mut child);
    assert_eq!(report.runs.len(), 4);
    for run in &report.runs {
        assert!(
            matches!(&run.status, Status::Errored(why) if why.contains("no answer within 0.3 s")),
            "{:?}",
            run.status
        );
    }
}

#[test]
fn garbage_is_reported_as_such() {
    let mut child = Subprocess::new(
        "while read line; do echo 'loss = 1.8316'; done",
        Duration::from_secs(10),
    );
    let report = run_suite(spec(), Some("ce.doc001.batch3x5.*"), &mut child);
    assert_eq!(report.runs.len(), 8);
    for run in &report.runs {
        assert!(
            matches!(&run.status, Status::Errored(why) if why.contains("unreadable reply")),
            "{:?}",
            run.status
        );
    }
}

#[test]
fn unsupported_is_skipped_never_passed() {
    struct OnlySoftmax;
    impl Implementation for OnlySoftmax {
        fn name(&self) -> String {
            "softmax only".into()
        }
        fn evaluate(&mut self, request: &Request) -> Reply {
            match request.op {
                Op::Softmax => Reference.evaluate(request),
                op => Reply::Unsupported(format!("{op} is not implemented")),
            }
        }
    }
    let report = run_suite(spec(), None, &mut OnlySoftmax);
    let c = report.counts();
    assert!(c.skipped > 0 && c.passed > 0 && c.failed == 0);
    assert!(report.success());
    let softmax_runs = report
        .runs
        .iter()
        .filter(|r| spec().case(&r.id).is_some_and(|c| c.op == Op::Softmax))
        .count();
    assert_eq!(c.passed, softmax_runs);
}

#[test]
fn expectations_are_strict_both_ways() {
    let expectations = Expectations::parse(
        r#"
        [[divergence]]
        id = "ce.torch.kdim_weight_ignore.mean"
        reason = "divides the weighted mean by the count"
        link = "https://example.invalid/issue/1"

        [[divergence]]
        id = "ce.doc001.batch3x5.mean@float64"
        reason = "listed, but this implementation gets it right"

        [[divergence]]
        id = "ce.no.such_case"
        reason = "a case that was renamed"
        "#,
    )
    .expect("a valid expectations file");
    let mut report = run_suite(spec(), None, &mut WeightsMissingFromDenominator);
    expectations.apply(&mut report);
    report.stale_expectations = expectations.stale(spec());
    let status = |id: &str, dtype: Dtype| {
        report
            .runs
            .iter()
            .find(|r| r.id == id && r.dtype == dtype)
            .map(|r| r.status.clone())
            .expect("the run exists")
    };
    assert!(matches!(
        status("ce.torch.kdim_weight_ignore.mean", Dtype::Float32),
        Status::ExpectedFailure(_)
    ));
    assert!(matches!(
        status("ce.doc001.batch3x5.mean", Dtype::Float64),
        Status::UnexpectedPass(_)
    ));
    assert_eq!(
        status("ce.doc001.batch3x5.mean", Dtype::Float32),
        Status::Passed
    );
    assert_eq!(
        report.stale_expectations,
        vec!["ce.no.such_case".to_string()]
    );
    let text = report.render();
    assert!(text.contains("UNEXPECTED PASS ce.doc001.batch3x5.mean [float64]"));
    assert!(text.contains("STALE EXPECTATION ce.no.such_case"));
    assert!(!report.success());
    assert!(Expectations::parse("[[divergence]]\nid = 3").is_err());
}

/// The protocol page lists every error kind, so the closed list cannot drift from its spec.
#[test]
fn the_protocol_page_documents_every_error_kind() {
    let page = include_str!("../spec/protocol.md");
    for kind in cross_entropy_spec::error::ErrorKind::ALL {
        let row = format!("| `{}` |", kind.as_str());
        assert!(
            page.contains(&row),
            "spec/protocol.md has no row for `{}`",
            kind.as_str()
        );
    }
}
