//! The conformance runner against implementations that are wrong or badly behaved: a loss that
//! drops the class weights from the mean's denominator is caught with a readable failure; the
//! reference speaking the protocol as a child process gets the verdicts it gets in process; a
//! reply answers only the run that asked; a child that
//! crashes, hangs or prints garbage is reported for the cases concerned and the run goes on;
//! expectations files are strict both ways.

use std::time::Duration;

use cross_entropy_spec::conformance::protocol::{Reply, Request};
use cross_entropy_spec::conformance::render::text;
use cross_entropy_spec::conformance::{
    Expectations, Grade, Implementation, Judgement, Part, Status, Subprocess, run_suite,
    run_suite_parallel,
};
use cross_entropy_spec::eval::Reference;
use cross_entropy_spec::eval::evaluate;
use cross_entropy_spec::spec::{Attrs, Spec, read_dir};
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::{Op, Role};
use cross_entropy_spec::{bundle, vocab::Dtype};

/// The runner's own small spec (`tests/data/runner-spec`), so that these tests depend on the
/// runner only: a value edited in `spec/` fails that case's own test, not these.
fn spec() -> &'static Spec {
    static SPEC: std::sync::OnceLock<Spec> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/runner-spec");
        read_dir(std::path::Path::new(dir), "tests/data/runner-spec")
            .expect("the runner's spec parses")
            .0
    })
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
    let failures: Vec<(&str, String)> = report
        .runs
        .iter()
        .filter(|r| r.status == Status::Failed)
        .map(|r| (r.run.id.as_str(), text::failure(r)))
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
        "at tests/data/runner-spec/01-runner.md:",
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
        .any(|r| r.run.id == "ce.doc001.batch3x5.mean" && r.status == Status::Passed);
    assert!(passed);
}

fn eval_command() -> String {
    format!("{} eval", env!("CARGO_BIN_EXE_cross-entropy-spec"))
}

/// The reference through the protocol, as a child process, gets exactly the verdicts it gets in
/// process: the codec loses nothing. (Whether those verdicts are passes is the spec suite's
/// concern, so an edited case fails there first, under its own name.) The runs are prepared
/// once per test binary, with the reference's verdicts in process (`plan`).
fn protocol_verdicts_match_in_process(runs: &[crate::plan::Prepared]) {
    let mut child = Subprocess::new(&eval_command(), Duration::from_secs(30));
    let mut skipped = 0;
    for p in runs {
        let (child, local) = (p.verdict(&mut child), &p.reference);
        assert_eq!(child.run, local.run);
        assert_eq!(
            (child.status, text::detail(&child)),
            (local.status, text::detail(local))
        );
        skipped += usize::from(child.status == Status::Skipped);
    }
    assert!(!runs.is_empty());
    assert_eq!(skipped, 0);
}

#[test]
fn the_protocol_gives_the_verdicts_of_the_reference_in_process() {
    protocol_verdicts_match_in_process(crate::plan::everyday());
}

/// The same for the vocabulary-scale cases (a request line of 256,512 logits), which the debug
/// build takes half a minute over: run by `.ci/run` (`--ignored`).
#[test]
#[ignore = "vocabulary scale: run by .ci/run with --ignored"]
fn the_protocol_gives_the_verdicts_of_the_reference_at_vocabulary_scale() {
    protocol_verdicts_match_in_process(crate::plan::vocabulary());
}

/// Each run has its own request id, so an implementation that answers one request twice cannot
/// have its stale value reply judged as the answer to the gradient request that follows.
#[test]
fn a_reply_answers_only_the_run_that_asked() {
    let twice = format!(
        "{} | while read -r line; do echo \"$line\"; echo \"$line\"; done",
        eval_command()
    );
    let mut child = Subprocess::new(&twice, Duration::from_secs(10));
    let report = run_suite(spec(), Some("ce.doc004.arange.mean"), &mut child);
    let parts: Vec<(Part, Status)> = report.runs.iter().map(|r| (r.run.part, r.status)).collect();
    assert_eq!(
        parts,
        [
            (Part::Value, Status::Passed),
            (Part::Gradient, Status::Errored)
        ]
        .repeat(2)
    );
    for r in report.runs.iter().filter(|r| r.run.part == Part::Gradient) {
        let why = text::detail(r);
        assert!(why.contains("reply for `ce.doc004.arange.mean@"), "{why}");
        assert!(why.contains("/grad` was expected"), "{why}");
    }
}

#[test]
fn a_crashing_implementation_is_reported_and_the_run_goes_on() {
    let starts = std::env::temp_dir().join(format!("ces-starts-{}", std::process::id()));
    let command = format!(
        "echo start >> {}; echo 'Traceback: segmentation fault' >&2; exit 3",
        starts.display()
    );
    let mut child = Subprocess::new(&command, Duration::from_secs(10));
    let report = run_suite(spec(), Some("ce.doc00*"), &mut child);
    assert_eq!(
        report.runs.len(),
        8,
        "every case still runs, value and gradient"
    );
    for (i, run) in report.runs.iter().enumerate() {
        let Judgement::Broken(why) = &run.judgement else {
            panic!("{} should be errored: {:?}", run.run.id, run.judgement);
        };
        assert!(why.contains("segmentation fault"), "{why}");
        // Three deaths on each kind of request (cross_entropy values, then gradients, taking
        // turns) without any answer, then it is not started again for either: 6 starts, not 8.
        let expected = if i < 6 { "exited" } else { "not started again" };
        assert!(why.contains(expected), "run {i}: {why}");
    }
    let started = std::fs::read_to_string(&starts)
        .unwrap_or_default()
        .lines()
        .count();
    let _ = std::fs::remove_file(&starts);
    assert_eq!(started, 6);
}

#[test]
fn a_hanging_implementation_times_out_per_case() {
    let mut child =
        Subprocess::new("sleep 30", Duration::from_millis(300)).with_startup(Duration::ZERO);
    let report = run_suite(spec(), Some("ce.doc004.arange.mean"), &mut child);
    assert_eq!(report.runs.len(), 4);
    for run in &report.runs {
        assert!(
            matches!(&run.judgement, Judgement::Broken(why) if why.contains("no answer within 0.3 s")),
            "{:?}",
            run.judgement
        );
    }
}

#[test]
fn garbage_is_reported_as_such() {
    let mut child = Subprocess::new(
        "while read line; do echo 'loss = 1.8316'; done",
        Duration::from_secs(10),
    );
    let report = run_suite(spec(), Some("ce.doc00*"), &mut child);
    assert_eq!(report.runs.len(), 8);
    for run in &report.runs {
        assert!(
            matches!(&run.judgement, Judgement::Broken(why) if why.contains("unreadable reply")),
            "{:?}",
            run.judgement
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
        .filter(|r| spec().case(&r.run.id).is_some_and(|c| c.op == Op::Softmax))
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
            .find(|r| r.run.id == id && r.run.dtype == dtype)
            .map(|r| r.status)
            .expect("the run exists")
    };
    assert!(matches!(
        status("ce.torch.kdim_weight_ignore.mean", Dtype::Float32),
        Status::ExpectedFailure
    ));
    assert!(matches!(
        status("ce.doc001.batch3x5.mean", Dtype::Float64),
        Status::UnexpectedPass
    ));
    assert_eq!(
        status("ce.doc001.batch3x5.mean", Dtype::Float32),
        Status::Passed
    );
    assert_eq!(
        report.stale_expectations,
        vec!["ce.no.such_case".to_string()]
    );
    let text = text::report(&report);
    assert!(text.contains("UNEXPECTED PASS ce.doc001.batch3x5.mean [float64]"));
    assert!(text.contains("STALE EXPECTATION ce.no.such_case"));
    assert!(!report.success());
    assert!(Expectations::parse("[[divergence]]\nid = 3").is_err());
}

/// The protocol page lists every error kind, so the closed list cannot drift from its spec.
#[test]
fn the_protocol_page_documents_every_error_kind() {
    let page = include_str!("../../spec/protocol.md");
    for kind in cross_entropy_spec::error::ErrorKind::ALL {
        let row = format!("| `{}` |", kind.as_str());
        assert!(
            page.contains(&row),
            "spec/protocol.md has no row for `{}`",
            kind.as_str()
        );
    }
}

/// `--jobs N`: N implementation processes at once give the same verdicts in the same order.
#[test]
fn parallel_jobs_give_the_same_report_in_the_same_order() {
    let make = || -> Box<dyn Implementation + Send> {
        Box::new(Subprocess::new(&eval_command(), Duration::from_secs(30)))
    };
    let one = run_suite_parallel(spec(), None, &make, 1, &|| false);
    let three = run_suite_parallel(spec(), None, &make, 3, &|| false);
    let sequential = run_suite(spec(), None, &mut Reference);
    assert_eq!(one.runs.len(), sequential.runs.len());
    for ((a, b), c) in one.runs.iter().zip(&three.runs).zip(&sequential.runs) {
        assert_eq!((&a.run, a.status), (&b.run, b.status));
        assert_eq!((&a.run, a.status), (&c.run, c.status));
    }
}

/// The reference with every float64 result scaled by `1 + 1e-10` (an accuracy slip far inside
/// the stated eight digits, far outside the exact allowance) and every gradient of the marked
/// case `grad.bce.at_clamp.in_float64` moved by one (the exact 1e12 of another EPS).
struct Slipping;

impl Implementation for Slipping {
    fn name(&self) -> String {
        "slipping".into()
    }

    fn evaluate(&mut self, request: &Request) -> Reply {
        let reply = Reference.evaluate(request);
        let Reply::Output { output, grad_input } = reply else {
            return reply;
        };
        let clamp = request.id.starts_with("grad.bce.at_clamp.in_float64");
        let slip = |t: Tensor, by: &dyn Fn(f64) -> f64| {
            let data: Vec<f64> = t.to_f64_vec().into_iter().map(by).collect();
            Tensor::from_f64(t.dtype(), t.shape(), &data).expect("same shape")
        };
        let scale = |v: f64| v * (1.0 + 1e-10);
        let output = match output.dtype() {
            Dtype::Float64 if !clamp => slip(output, &scale),
            _ => output,
        };
        let grad_input = grad_input.map(|g| match clamp {
            true => slip(g, &|v| v + 1.0),
            false => g,
        });
        Reply::Output { output, grad_input }
    }
}

/// Each failure is graded by the claim it fails: an accuracy slip fails the exact grade alone, a
/// marked PyTorch detail the pytorch grade; `success_in` requires only the grades it is given.
#[test]
fn failures_are_graded_and_the_exit_requires_only_the_chosen_grades() {
    let spec = bundle::spec().expect("the bundled spec");
    let mut report = run_suite(spec, Some("ce.doc001.batch3x5.*"), &mut Slipping);
    let exact_only = report.runs.iter().filter(|v| v.status == Status::Failed);
    assert!(exact_only.clone().count() > 0, "the slip fails something");
    assert!(
        exact_only
            .clone()
            .all(|v| v.failed_grade() == Some(Grade::Exact)),
        "{}",
        text::report(&report)
    );
    let grades = report.grades();
    assert_eq!(grades[&Grade::Semantics].failed, 0);
    assert!(grades[&Grade::Exact].failed > 0);
    assert!(report.success_in(&[Grade::Semantics]));
    assert!(!report.success_in(&[Grade::Exact]));
    assert!(!report.success());

    report = run_suite(spec, Some("grad.bce.at_clamp.in_float64"), &mut Slipping);
    let by_part: Vec<(Part, Option<Grade>)> = (report.runs.iter())
        .map(|v| (v.run.part, v.failed_grade()))
        .collect();
    assert_eq!(
        by_part,
        [(Part::Value, None), (Part::Gradient, Some(Grade::Pytorch))],
        "{}",
        text::report(&report)
    );
    assert!(report.success_in(&[Grade::Semantics, Grade::Exact]));
    assert!(text::report(&report).contains("grade: pytorch (the case pins a detail of PyTorch: "));

    // An expectations entry that names another grade than the one failed does not absorb it.
    let listed = |grade: &str| {
        format!(
            "[[divergence]]\nid = \"grad.bce.at_clamp.in_float64\"\npart = \"gradient\"\nreason = \"1/EPS with EPS = 1e-12 exactly\"\ngrade = \"{grade}\"\n"
        )
    };
    let mut wrong = report.clone();
    Expectations::parse(&listed("semantics"))
        .expect("parses")
        .apply(&mut wrong);
    assert_eq!(wrong.runs[1].status, Status::Failed);
    let mut right = report.clone();
    Expectations::parse(&listed("pytorch"))
        .expect("parses")
        .apply(&mut right);
    assert_eq!(right.runs[1].status, Status::ExpectedFailure);
    assert_eq!(right.grades()[&Grade::Pytorch].documented, 1);
    assert!(Expectations::parse(&listed("bitwise")).is_err());
}
