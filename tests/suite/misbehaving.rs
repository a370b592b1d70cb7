//! The runner against implementations that misbehave on purpose, each a line of shell: what any
//! of them does costs at most its timeout, a bounded amount of memory, and no process left
//! behind, and is reported for the run concerned.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cross_entropy_spec::conformance::{
    Implementation, Judgement, Reply, Request, Subprocess, run_suite,
};
use cross_entropy_spec::eval::Tensors;
use cross_entropy_spec::spec::{Spec, read_dir};
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::{Dtype, Op, Role};

use crate::common::alive;

fn spec() -> Spec {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/runner-spec");
    read_dir(std::path::Path::new(dir), "tests/data/runner-spec")
        .expect("the runner's spec")
        .0
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ces-{name}-{}", std::process::id()))
}

fn broken(reply: &Reply) -> &str {
    match reply {
        Reply::Broken(why) => why,
        other => panic!("expected a broken reply, got {other:?}"),
    }
}

/// A sigmoid request of `n` zeros: about 4 bytes of JSON per element.
fn request(n: usize) -> Request {
    let input = Tensor::from_f64(Dtype::Float64, &[n], &vec![0.0; n]).expect("a tensor");
    Request {
        id: "big@float64".into(),
        op: Op::Sigmoid,
        tensors: Tensors::from([(Role::Input, input)]),
        attrs: Default::default(),
        grad: false,
        vjp: Default::default(),
    }
}

#[test]
fn a_timed_out_implementation_is_killed_with_everything_it_started() {
    let pidfile = scratch("orphan");
    let command = format!("sleep 60 & echo $! > {}; wait", pidfile.display());
    let mut child =
        Subprocess::new(&command, Duration::from_millis(500)).with_startup(Duration::ZERO);
    let why = broken(&child.evaluate(&request(1))).to_string();
    assert!(why.contains("no answer within 0.5 s"), "{why}");
    let pid = std::fs::read_to_string(&pidfile).expect("the child wrote its grandchild's pid");
    let _ = std::fs::remove_file(&pidfile);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive(&pid), "the grandchild {pid} outlived the timeout");
}

#[test]
fn a_reply_without_a_newline_is_bounded() {
    let command = "head -c 3000000 /dev/zero | tr '\\0' x; sleep 30";
    let mut child = Subprocess::new(command, Duration::from_secs(20)).with_max_line(1 << 20);
    let started = Instant::now();
    let why = broken(&child.evaluate(&request(1))).to_string();
    assert!(why.contains("longer than the 1048576 bytes read"), "{why}");
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn a_flood_on_stderr_keeps_only_its_tail() {
    let mut child = Subprocess::new("yes 'flooding stderr' >&2", Duration::from_secs(1))
        .with_startup(Duration::ZERO);
    let why = broken(&child.evaluate(&request(1))).to_string();
    assert!(why.contains("no answer within 1 s"), "{why}");
    assert!(why.contains("[the last 12 lines of"), "{why}");
    assert!(why.lines().count() <= 14, "{why}");
}

#[test]
fn a_child_that_reads_nothing_cannot_block_the_write() {
    // About 4 MB of request, far more than a pipe holds, to a child that never reads.
    let mut child =
        Subprocess::new("sleep 60", Duration::from_secs(1)).with_startup(Duration::ZERO);
    let started = Instant::now();
    let why = broken(&child.evaluate(&request(1_000_000))).to_string();
    assert!(why.contains("no answer within 1 s"), "{why}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn an_unreadable_error_kind_is_an_error_of_the_run_not_a_pass() {
    let command = r#"sed -u 's/.*"id":"\([^"]*\)".*/{"id":"\1","error":{"kind":"unclassified","message":"?"}}/'"#;
    let report = run_suite(
        &spec(),
        Some("proto.*"),
        &mut Subprocess::new(command, Duration::from_secs(5)),
    );
    assert_eq!(report.runs.len(), 2);
    for run in &report.runs {
        assert!(
            matches!(&run.judgement, Judgement::Broken(why) if why.contains("not in the protocol's list"))
        );
    }
}

/// Start-up time is not the request's: a command that takes longer to start than the request
/// timeout (as `import torch` can under load) still answers within the start-up allowance.
#[test]
fn start_up_time_is_outside_the_request_timeout() {
    let command = format!("sleep 1; exec {}", EVAL);
    let mut child = Subprocess::new(&command, Duration::from_millis(500));
    let reply = child.evaluate(&request(1));
    assert!(matches!(reply, Reply::Output { .. }), "{reply:?}");
}

/// The reference's `eval`, this test binary's sibling.
const EVAL: &str = concat!(env!("CARGO_BIN_EXE_cross-entropy-spec"), " eval");

/// The reference, except that it aborts on every gradient request: correct on what it answers.
fn aborts_on_gradients() -> String {
    format!(
        r#"while read -r line; do case "$line" in *'"grad":true'*) kill -ABRT $$;; esac; printf '%s\n' "$line" | {EVAL}; done"#
    )
}

fn with_grad(grad: bool) -> Request {
    Request { grad, ..request(1) }
}

/// Repeated deaths never turn a correct answer into an error: after an answer, any number of
/// deaths in a row; before any answer, deaths on one kind of request (op and part) give up only
/// that kind.
#[test]
fn giving_up_never_turns_a_correct_answer_into_an_error() {
    let mut child = Subprocess::new(&aborts_on_gradients(), Duration::from_secs(10));
    assert!(matches!(
        child.evaluate(&with_grad(false)),
        Reply::Output { .. }
    ));
    for _ in 0..4 {
        broken(&child.evaluate(&with_grad(true)));
    }
    let reply = child.evaluate(&with_grad(false));
    assert!(matches!(reply, Reply::Output { .. }), "{reply:?}");

    let mut child = Subprocess::new(&aborts_on_gradients(), Duration::from_secs(10));
    for _ in 0..4 {
        broken(&child.evaluate(&with_grad(true)));
    }
    let reply = child.evaluate(&with_grad(false));
    assert!(matches!(reply, Reply::Output { .. }), "{reply:?}");
}

/// A command that cannot start is given up after three deaths in a row, per kind of request.
#[test]
fn a_command_that_never_answers_is_given_up() {
    let mut child = Subprocess::new("exit 3", Duration::from_secs(10));
    for _ in 0..3 {
        assert!(!broken(&child.evaluate(&with_grad(false))).contains("not started again"));
    }
    let why = broken(&child.evaluate(&with_grad(false))).to_string();
    assert!(why.contains("not started again"), "{why}");
}

/// A grandchild that leaves the process group and the session (`setsid`) while holding the
/// child's output neither costs the rest of the timeout once the child has exited nor outlives
/// it: it is ended with the child.
#[test]
fn a_grandchild_that_leaves_the_session_is_ended_with_the_child() {
    let pidfile = scratch("setsid");
    let command = format!(
        "setsid sh -c 'echo $$ > {}; exec sleep 60' & sleep 0.3; exit 3",
        pidfile.display()
    );
    let mut child = Subprocess::new(&command, Duration::from_secs(20)).with_startup(Duration::ZERO);
    let started = Instant::now();
    let why = broken(&child.evaluate(&request(1))).to_string();
    assert!(why.contains("exited"), "{why}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let pid = std::fs::read_to_string(&pidfile).expect("the grandchild wrote its pid");
    let _ = std::fs::remove_file(&pidfile);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive(&pid), "the grandchild {pid} outlived the child");
}

#[test]
fn a_crash_after_a_partial_line_shows_its_signal_and_stderr() {
    // A process that aborts mid-reply (heap corruption in a C++ kernel): what reaches the runner
    // is a broken line, and the signal and glibc's message are what tell the reader why.
    let command = "read line; echo; echo 'free(): invalid pointer' >&2; kill -ABRT $$";
    let mut child = Subprocess::new(command, Duration::from_secs(20));
    let why = broken(&child.evaluate(&request(1))).to_string();
    assert!(why.contains("unreadable reply"), "{why}");
    assert!(why.contains("SIGABRT"), "{why}");
    assert!(why.contains("free(): invalid pointer"), "{why}");
}

#[test]
fn an_unclassified_error_keeps_the_implementations_message() {
    let command = r#"read line; echo '{"id": "big@float64", "error": {"kind": "unclassified", "message": "(InvalidArgument) label should be in [0, 3)"}}'; sleep 30"#;
    let mut child = Subprocess::new(command, Duration::from_secs(20));
    let why = broken(&child.evaluate(&request(1))).to_string();
    assert!(why.contains("`unclassified`"), "{why}");
    assert!(
        why.contains("(InvalidArgument) label should be in [0, 3)"),
        "{why}"
    );
}
