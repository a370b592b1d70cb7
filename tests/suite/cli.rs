//! The command line as a user meets it: `torch-rng` prints PyTorch's draws (checked against the
//! recorded PyTorch observations), `cases --json` exports every run, `eval` answers protocol lines
//! including malformed ones, and bad arguments give an error and exit status 2, not a panic.

use std::io::Write;
use std::process::{Output, Stdio};

use cross_entropy_spec::spec::read_dir;
use serde_json::Value;

use crate::common::{bin, run, spec_copy, wait_for};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every single-call observation of PyTorch's generator, replayed through the command line.
#[test]
fn torch_rng_prints_what_pytorch_drew() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/torch_rng_observations.json"
    ))
    .expect("the observations are committed");
    let file: Value = serde_json::from_str(&text).expect("valid JSON");
    let mut checked = 0;
    for obs in file["observations"].as_array().expect("a list") {
        // Sequences continue a generator; the command line always starts from the seed. Draws
        // recorded with the portable float32 randn kernel are not what the command line uses.
        if obs.get("sequence").is_some() || obs.get("cpu_capability").is_some() {
            continue;
        }
        let shape: Vec<String> = obs["shape"]
            .as_array()
            .expect("a shape")
            .iter()
            .map(|d| d.to_string())
            .collect();
        let seed = obs["seed"].to_string();
        let dtype = obs["dtype"].as_str().expect("a dtype");
        let shape_arg = shape.join(",");
        let mut args = vec![
            "torch-rng",
            "--seed",
            &seed,
            "--op",
            obs["op"].as_str().expect("an op"),
            "--dtype",
            dtype,
            "--shape",
            &shape_arg,
        ];
        let high = obs.get("high").map(|h| h.to_string());
        if let Some(high) = &high {
            args.extend(["--high", high]);
        }
        let output = run(&args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let printed: Value = serde_json::from_str(&stdout(&output)).expect("JSON out");
        assert_eq!(printed["dtype"], obs["dtype"], "{args:?}");
        assert_eq!(printed["shape"], obs["shape"], "{args:?}");
        let got = printed["data"].as_array().expect("data");
        match obs.get("bits") {
            Some(bits) => {
                for (i, (g, b)) in got.iter().zip(bits.as_array().expect("bits")).enumerate() {
                    let g = g.as_f64().expect("a number");
                    let b = b.as_u64().expect("bits");
                    let same = match dtype {
                        "float32" => (g as f32).to_bits() == b as u32,
                        "float16" => half::f16::from_f64(g).to_bits() == b as u16,
                        "bfloat16" => half::bf16::from_f64(g).to_bits() == b as u16,
                        _ => g.to_bits() == b,
                    };
                    assert!(
                        same,
                        "{args:?}: element {i}: printed {g}, PyTorch's bits {b:#x}"
                    );
                }
            }
            None => assert_eq!(got, obs["data"].as_array().expect("data"), "{args:?}"),
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} observations were replayed");
}

#[test]
fn bad_arguments_are_errors_not_panics() {
    for line in [
        "torch-rng --seed 1 --op randint --shape 3",
        "torch-rng --seed 1 --op rand --shape 3 --high 2",
        "torch-rng --seed 1 --op rand --dtype int64 --shape 3",
        "torch-rng --seed 1 --op rand --shape 100000000,100000000",
        "check --filter no.such.case",
        "check --timeout -1 --impl cat",
        "check --spec /nonexistent/spec/dir",
        "check --timeout 1e20 --impl cat",
        "check --timeout nan --impl cat",
        "check --startup 1e20 --impl cat",
        "check --json /nonexistent/dir/report.json --impl cat",
        "torch-rng --seed 1 --op randint --high 100000000 --dtype float32 --shape 3",
        "torch-rng --seed 1 --op rand --shape 1099511627776,0",
        "check --expect /nonexistent/expectations.toml",
        "bench --op softmin --shape 2,3",
        "bench --op softmax --shape 32768,16384",
        "bench --op softmax --shape 18446744073709551615,2",
        "bench --op softmax --shape 2,0",
        "bench --op softmax --shape 2,3 --dtype int64",
        "bench --op softmax --shape 2,3 --threads 0",
        "bench --op softmax --shape 2,3 --reps 0",
        "bench --op cross_entropy --shape 2,3 --options {\"reduction\":\"avg\"}",
        "bench --op cross_entropy --shape 2,3 --options [1]",
        "bench --op softmax --shape 2,3 --options {\"label_smoothing\":0.1}",
    ] {
        let args: Vec<&str> = line.split(' ').collect();
        let output = run(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.starts_with("error: "), "{args:?}: {err}");
    }
}

/// `bench` ends with its one-line summary.
#[test]
fn bench_prints_its_summary_last() {
    let output = run(&[
        "bench",
        "--op",
        "cross_entropy",
        "--grad",
        "--shape",
        "3,5,2",
        "--dtype",
        "float64",
        "--threads",
        "2",
        "--reps",
        "3",
        "--options",
        r#"{"label_smoothing": 0.1}"#,
    ]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("cross_entropy.grad float64 [3, 5, 2]: median ")
            && last.ends_with(" GB/s (3 reps, 2 threads)"),
        "{last}"
    );
}

/// `cases --json` prints one request per run of `spec` (the bundled spec where `dir` is `None`).
fn assert_cases_exports_every_run(dir: Option<&std::path::Path>) {
    let mut args = vec!["cases", "--json"];
    // The files a line names: the spec directory as given (`spec/` for the bundled one).
    let (spec, label) = match dir {
        Some(dir) => {
            let label = dir.to_str().expect("a UTF-8 path").to_string();
            (read_dir(dir, &label).expect("the copy parses").0, label)
        }
        None => {
            let bundled = cross_entropy_spec::bundle::spec().expect("the bundled spec");
            (bundled.clone(), "spec".to_string())
        }
    };
    if dir.is_some() {
        args.extend(["--spec", &label]);
    }
    let output = run(&args);
    assert!(output.status.success());
    let runs: usize = spec.cases.iter().map(|c| c.dtypes.len()).sum();
    let lines: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), runs);
    for line in &lines {
        assert_eq!(line["request"]["id"], line["id"]);
        assert!(
            line["spec"]["file"]
                .as_str()
                .is_some_and(|f| f.starts_with(&format!("{label}/")))
        );
        assert!(line.get("expect").is_some() != line.get("expect_error").is_some());
    }
}

#[test]
fn cases_exports_every_run_as_a_request() {
    assert_cases_exports_every_run(Some(&spec_copy("cases-export")));
}

/// The bundled spec's export, whose rows of 128,256 classes the debug build takes twenty
/// seconds to draw and print: run by `.ci/run` (`--ignored`).
#[test]
#[ignore = "vocabulary scale: run by .ci/run with --ignored"]
fn cases_exports_every_run_of_the_bundled_spec() {
    assert_cases_exports_every_run(None);
}

#[test]
fn eval_answers_each_line_and_survives_malformed_ones() {
    let mut child = bin()
        .arg("eval")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("eval starts");
    let input = concat!(
        r#"{"id":"a","op":"sigmoid","inputs":{"input":{"dtype":"float64","shape":[2],"data":[0.0,"-inf"]}}}"#,
        "\nthis is not json\n",
        r#"{"id":"b","op":"softmax","protocol":9}"#,
        "\n",
        r#"{"id":"c","op":"cross_entropy","inputs":{"input":{"dtype":"float32","shape":[1,2],"data":[0,0]},"target":{"dtype":"int64","shape":[1],"data":[5]}}}"#,
        "\n",
    );
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("written");
    let output = child.wait_with_output().expect("eval ends at end of input");
    assert!(output.status.success());
    let replies: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(replies.len(), 4);
    assert_eq!(replies[0]["output"]["data"], serde_json::json!([0.5, 0.0]));
    assert_eq!(replies[1]["error"]["kind"], "malformed_request");
    assert_eq!(replies[2]["error"]["kind"], "unsupported_protocol");
    assert_eq!(replies[3]["error"]["kind"], "target_out_of_bounds");
    assert_eq!(replies[3]["id"], "c");
}

/// `check --spec DIR` judges gradients by DIR's own recorded data: with it emptied or removed,
/// or for a case added without a record, every such gradient run is an error of the run (named,
/// with its reason) and the run exits non-zero — never a pass by the binary's built-in data, never
/// a silent skip.
#[test]
fn check_judges_gradients_by_the_spec_directorys_own_records() {
    let dir = spec_copy("records");
    let check = || run(&["check", "--spec", dir.to_str().expect("a UTF-8 path")]);
    let full = check();
    assert_eq!(full.status.code(), Some(0), "{}", stdout(&full));
    assert!(
        stdout(&full).contains("18 passed, 0 failed, 0 errored, 0 skipped"),
        "{}",
        stdout(&full)
    );

    let empty =
        r#"{"torch_version": "2.15.0", "generated_by": "x", "command": "y", "gradients": {}}"#;
    std::fs::write(dir.join("recorded/pytorch-gradients.json"), empty).expect("written");
    let emptied = check();
    assert_eq!(emptied.status.code(), Some(1));
    let text = stdout(&emptied);
    assert!(
        text.contains("gradients: 0 passed, 0 failed, 8 errored, 0 skipped"),
        "{text}"
    );
    assert!(
        text.contains("ERROR ce.doc001.batch3x5.mean [float32] gradient"),
        "{text}"
    );
    assert!(
        text.contains("no gradient is recorded for ce.doc001.batch3x5.mean@float32"),
        "{text}"
    );

    std::fs::remove_file(dir.join("recorded/pytorch-gradients.json")).expect("removed");
    let removed = stdout(&check());
    assert!(
        removed.contains("the spec has no recorded/pytorch-gradients.json"),
        "{removed}"
    );
    assert!(
        removed.contains("gradients: 0 passed, 0 failed, 8 errored, 0 skipped"),
        "{removed}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every value run is also judged against its exact value, recorded for exactly its inputs: with
/// the record gone, or after a case's inputs change, its runs are errors of the run, named with
/// the reason — so `cargo test` (which runs every case the same way) fails on a value case
/// without an exact record, and on a stale one.
#[test]
fn check_needs_a_current_exact_record_for_every_value_run() {
    let dir = spec_copy("exact");
    let check = || {
        stdout(&run(&[
            "check",
            "--spec",
            dir.to_str().expect("a UTF-8 path"),
        ]))
    };
    let spec = dir.join("01-runner.md");
    let text = std::fs::read_to_string(&spec).expect("readable");
    std::fs::write(
        &spec,
        text.replace("target = [1, 2, 3]", "target = [1, 2, 0]"),
    )
    .expect("written");
    let stale = check();
    assert!(
        stale.contains("ERROR ce.doc004.arange.mean [float32]"),
        "{stale}"
    );
    assert!(stale.contains("was recorded for other inputs"), "{stale}");
    assert!(stale.contains("4 errored"), "{stale}");

    std::fs::remove_file(dir.join("recorded/exact.json")).expect("removed");
    let missing = check();
    assert!(
        missing.contains("the spec has no recorded/exact.json"),
        "{missing}"
    );
    assert!(
        missing.contains("0 passed, 0 failed, 8 errored, 0 skipped"),
        "{missing}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A command that answers every request line the same way, with the request's id.
fn answering(reply_without_id: &str) -> String {
    format!(r#"sed -u 's/.*"id":"\([^"]*\)".*/{{"id":"\1",{reply_without_id}}}/'"#)
}

/// An implementation that answers `unsupported` to everything has not conformed: exit 1, and
/// say so, unless asked to accept that.
#[test]
fn passing_nothing_is_not_conforming() {
    let command = answering(r#""unsupported":"nothing""#);
    let output = run(&["check", "--filter", "ce.doc001.*", "--impl", &command]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("nothing passed"),
        "{}",
        stdout(&output)
    );
    let allowed = run(&[
        "check",
        "--filter",
        "ce.doc001.*",
        "--impl",
        &command,
        "--allow-empty",
    ]);
    assert_eq!(allowed.status.code(), Some(0), "{}", stdout(&allowed));
}

/// Control bytes an implementation sends are escaped in the report, never passed to the terminal.
#[test]
fn control_bytes_from_an_implementation_are_escaped() {
    // `\\u` reaches sed as `\u`, which it writes as JSON's escape of ESC.
    let command = answering(r#""error":{"kind":"invalid_rank","message":"\\u001b[2Jcleared"}"#);
    let output = run(&[
        "check",
        "--filter",
        "ce.doc001.batch3x5.mean",
        "--impl",
        &command,
    ]);
    let text = stdout(&output);
    assert!(text.contains("invalid_rank: \\u{1b}[2Jcleared"), "{text}");
    assert!(!text.contains('\u{1b}'));
}

/// Ctrl-C during a run reports and writes what completed, and exits 130.
#[test]
fn an_interrupted_run_reports_what_completed() {
    let json = std::env::temp_dir().join(format!("ces-interrupted-{}.json", std::process::id()));
    let answer = answering(r#""unsupported":"slowly""#);
    // The second request read means the first run is recorded: then the interrupt.
    let second =
        std::env::temp_dir().join(format!("ces-interrupted-{}.second", std::process::id()));
    let _ = std::fs::remove_file(&second);
    let command = format!(
        "read -r first; echo \"$first\" | {answer}; read -r second; : > {}; sleep 60",
        second.display()
    );
    let child = bin()
        .args(["check", "--timeout", "100", "--impl", &command, "--json"])
        .arg(&json)
        .stdout(Stdio::piped())
        .spawn()
        .expect("check starts");
    wait_for(&second);
    let _ = std::fs::remove_file(&second);
    // SAFETY: sends SIGINT to the child we started; no memory is involved.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let output = child.wait_with_output().expect("check ends");
    assert_eq!(output.status.code(), Some(130), "{}", stdout(&output));
    assert!(stdout(&output).contains("INTERRUPTED: the counts are of the 1 runs completed before"));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("written")).expect("JSON");
    let _ = std::fs::remove_file(&json);
    assert_eq!(
        (
            report["interrupted"].as_bool(),
            report["runs"].as_array().map(Vec::len)
        ),
        (Some(true), Some(1))
    );
}

/// Lines that are not requests — bad bytes, shapes whose empty tensors have a dimension too
/// large to walk — are answered with an error, at once, and the next line is read.
#[test]
fn eval_answers_hostile_lines_and_goes_on() {
    let huge = [
        r#"{"id":"a","op":"softmax","inputs":{"input":{"dtype":"float32","shape":[1099511627776,0],"data":[]}},"attrs":{"dim":1}}"#,
        r#"{"id":"b","op":"cross_entropy","inputs":{"input":{"dtype":"float32","shape":[4611686018427387904,0],"data":[]},"target":{"dtype":"float32","shape":[4611686018427387904,0],"data":[]}}}"#,
        r#"{"id":"c","op":"cross_entropy","inputs":{"input":{"dtype":"float32","shape":[134217728,0],"data":[]},"target":{"dtype":"float32","shape":[134217728,0],"data":[]}},"attrs":{"reduction":"none"}}"#,
    ];
    let mut input = huge.join("\n").into_bytes();
    input.extend_from_slice(b"\n\xff\xfe\n");
    input.extend_from_slice(br#"{"id":"d","op":"sigmoid","inputs":{"input":{"dtype":"float64","shape":[],"data":[0]}}}"#);
    let mut child = bin()
        .arg("eval")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("eval");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("written");
    let started = std::time::Instant::now();
    let output = child.wait_with_output().expect("eval ends");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let replies: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(replies.len(), 5);
    for reply in &replies[..4] {
        assert_eq!(reply["error"]["kind"], "malformed_request", "{reply}");
    }
    assert!(
        replies[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too large")
    );
    assert_eq!(replies[4]["output"]["data"][0], 0.5);
}

/// `request ID` prints the exact line a run sends; piped into an implementation it replays it.
#[test]
fn request_prints_the_line_a_run_sends() {
    let output = run(&["request", "ce.doc004.arange.mean@float64/grad"]);
    assert!(output.status.success());
    let line: Value = serde_json::from_str(stdout(&output).trim()).expect("one JSON line");
    assert_eq!(
        (line["id"].as_str(), line["grad"].as_bool()),
        (Some("ce.doc004.arange.mean@float64/grad"), Some(true))
    );
    assert_eq!(line["inputs"]["input"]["dtype"], "float64");
    for bad in [
        "ce.doc004.arange.mean",
        "nope@float32",
        "proto.nll.target_out_of_bounds@float32/grad",
    ] {
        assert_eq!(run(&["request", bad]).status.code(), Some(2), "{bad}");
    }
}

/// Each failure shows the request it sent and a command replaying it through the same
/// implementation; skipped runs are counted by the implementation's reason.
#[test]
fn failures_show_their_request_and_a_replay_and_skips_their_reasons() {
    let command = r#"sed -u -e 's/.*"id":"\([^"]*\)","op":"softmax".*/{"id":"\1","unsupported":"no softmax"}/;t' -e 's/.*"id":"\([^"]*\)","op":"cross_entropy".*/{"id":"\1","output":{"dtype":"float32","shape":[],"data":[1.0]}}/;t' -e 's/.*"id":"\([^"]*\)".*/{"id":"\1","unsupported":"not here"}/'"#;
    let dir = spec_copy("replay");
    let spec = dir.to_str().expect("UTF-8").to_string();
    let output = run(&["check", "--spec", &spec, "--impl", command]);
    let text = stdout(&output);
    assert!(
        text.contains("  request: {\"protocol\":1,\"id\":\"ce.doc001.batch3x5.mean@float32\""),
        "{text}"
    );
    // The binary the check ran with, which need not be on PATH.
    let program = env!("CARGO_BIN_EXE_cross-entropy-spec");
    assert!(text.contains(&format!("  replay: '{program}' request --spec '{spec}' 'ce.doc001.batch3x5.mean@float32' | {command}")), "{text}");
    assert!(
        text.contains("Skipped, by the implementation's reason:"),
        "{text}"
    );
    assert!(text.contains("    4  no softmax"), "{text}");
    assert!(text.contains("    2  not here"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--write-expectations` drafts a file that `--expect` reads and that lists every failure.
#[test]
fn a_drafted_expectations_file_lists_every_failure() {
    let dir = spec_copy("draft");
    let spec = dir.to_str().expect("UTF-8").to_string();
    let draft = dir.join("draft.toml");
    let command = answering(r#""error":{"kind":"invalid_rank","message":"no"}"#);
    let draft_path = draft.to_str().expect("UTF-8");
    let first = run(&[
        "check",
        "--spec",
        &spec,
        "--impl",
        &command,
        "--write-expectations",
        draft_path,
    ]);
    assert_eq!(first.status.code(), Some(1));
    // The error case got an error, of another kind: counted apart from a missing error.
    assert!(
        stdout(&first).contains("2 of the failures rejected the input with another error kind")
    );
    let text = std::fs::read_to_string(&draft).expect("written");
    assert!(text.contains("[[divergence]]\nid = \"ce.doc001.batch3x5.mean\"\nreason = \"TODO: cross_entropy: refuses with `invalid_rank`: no (and 3 more runs)\""), "{text}");
    let again = run(&[
        "check",
        "--spec",
        &spec,
        "--impl",
        &command,
        "--expect",
        draft_path,
        "--allow-empty",
    ]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert!(
        stdout(&again).contains("0 passed, 0 failed, 0 errored, 0 skipped, 10 expected failures"),
        "{}",
        stdout(&again)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `figures --check` passes on what `figures` just wrote (the output is deterministic) and
/// fails, naming the figure, once one of them is edited. (CI checks the committed figures; this
/// test does not read them, so that an edited spec value fails only its own case.)
#[test]
fn figures_check_names_a_figure_that_differs() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = std::env::temp_dir().join(format!("figures-cli-{}", std::process::id()));
    let out = dir.to_str().unwrap();
    let report = format!("{root}/adapters/pytorch/report.json");
    let write = ["figures", "--out", out, "--pytorch-report", &report];
    assert!(run(&write).status.success());
    let check = [
        "figures",
        "--check",
        "--out",
        out,
        "--pytorch-report",
        &report,
    ];
    let output = run(&check);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let figure = dir.join("neg-log-p.svg");
    let text = std::fs::read_to_string(&figure).unwrap();
    std::fs::write(
        &figure,
        text.replacen("<svg ", "<svg data-edited=\"yes\" ", 1),
    )
    .unwrap();
    let output = run(&check);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("neg-log-p.svg"), "{stderr}");
    assert!(!stderr.contains("bce-clamp.svg"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `site` with a missing spec directory or a malformed report: an error naming it, status 2.
#[test]
fn site_reports_bad_input_as_an_error() {
    let out = std::env::temp_dir().join(format!("site-cli-{}", std::process::id()));
    let out = out.to_str().unwrap();
    let output = run(&["site", "--spec", "/nonexistent/spec", "--out", out]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/spec: no such spec directory"),
        "{stderr}"
    );
    let readme = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let output = run(&["site", "--out", out, "--report", readme]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("README.md: not a `check --json` report"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(out);
}

/// The smaller hostile inputs: each is answered with what it is, never with a terminal's escape,
/// a wrong word, or silence.
#[test]
fn small_hostile_inputs_are_answered_for_what_they_are() {
    let output = run(&["figures", "--check", "--out", "/nonexistent/figures"]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("these figures are missing: /nonexistent/figures/"),
        "{err}"
    );
    assert!(!err.contains("differ"), "{err}");

    let output = run(&["request", "\u{1b}[2Jcleared@float32"]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        !err.contains('\u{1b}') && err.contains("\\u{1b}[2Jcleared"),
        "{err}"
    );

    let dir = spec_copy("exact-dir");
    std::fs::remove_file(dir.join("recorded/exact.json")).expect("removed");
    std::fs::create_dir(dir.join("recorded/exact.json")).expect("a directory");
    let output = run(&["check", "--spec", dir.to_str().expect("UTF-8")]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("recorded/exact.json") && err.contains("directory"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The replay line is one command for `sh` whatever the spec directory's name; exact-value
/// failures name the spec's own record.
#[test]
fn the_replay_line_quotes_the_spec_directory() {
    let dir = spec_copy("it's");
    let spec = dir.to_str().expect("UTF-8").to_string();
    let command = answering(r#""output":{"dtype":"float32","shape":[],"data":[1.0]}"#);
    let output = run(&[
        "check",
        "--spec",
        &spec,
        "--filter",
        "ce.doc004.*",
        "--impl",
        &command,
    ]);
    let text = stdout(&output);
    let quoted = spec.replace('\'', r"'\''");
    assert!(
        text.contains(&format!(
            "request --spec '{quoted}' 'ce.doc004.arange.mean@float32' | "
        )),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `eval` answers a line with its id when the id is readable, whatever else is wrong (a number
/// beyond float64, a role given twice); blank lines are skipped, and a line of other
/// whitespace (U+00A0, U+2028) is answered as malformed.
#[test]
fn eval_answers_with_the_id_and_answers_unusual_whitespace() {
    let input = concat!(
        r#"{"id":"big","op":"sigmoid","inputs":{"input":{"dtype":"float64","shape":[1],"data":[1e400]}}}"#,
        "\n",
        r#"{"id":"twice","op":"sigmoid","inputs":{"input":{"dtype":"float64","shape":[1],"data":[0]},"input":{"dtype":"float64","shape":[1],"data":[1]}}}"#,
        "\n \t\n\u{a0}\n\u{2028}\n",
    );
    let mut child = bin()
        .arg("eval")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("eval starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("written");
    let output = child.wait_with_output().expect("eval ends");
    let replies: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(replies.len(), 4, "{replies:?}");
    assert_eq!(replies[0]["id"], "big");
    assert_eq!(replies[0]["error"]["kind"], "malformed_request");
    assert_eq!(replies[1]["id"], "twice");
    assert!(
        replies[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("duplicate key"),
        "{}",
        replies[1]
    );
    assert_eq!(replies[2]["error"]["kind"], "malformed_request");
    assert_eq!(replies[3]["error"]["kind"], "malformed_request");
}

#[test]
fn random_calls_through_the_protocol_pass_and_reproduce_by_seed() {
    // log_softmax: an op today's allowance is sound on; through `eval` as a child process.
    let me = env!("CARGO_BIN_EXE_cross-entropy-spec");
    let args = ["--random", "30", "--seed", "4", "--op", "log_softmax"];
    let eval = format!("{me} eval");
    let mut all = vec!["check", "--impl", eval.as_str(), "--max-elements", "64"];
    all.extend(args);
    let out = run(&all);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("30 random calls (seed 4, from 0; --op log_softmax"),
        "{text}"
    );
    // One call, drawn by its index alone, as a report's reproduction line does.
    let one = run(&[
        "check",
        "--random",
        "1",
        "--seed",
        "4",
        "--from",
        "17",
        "--op",
        "log_softmax",
        "--max-elements",
        "64",
    ]);
    assert!(one.status.success(), "{}", stdout(&one));
    let bad = run(&["check", "--random", "3", "--dtype", "int64"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("not float32, float64, float16 or bfloat16")
    );
}

/// `--write-expectations` writes one entry per case where a whole case or a whole part of it
/// fails (not one per run), with a reason drafted from the divergence itself: the worst element,
/// got against expected, and where.
#[test]
fn a_drafted_expectations_file_groups_by_case_and_says_what_diverged() {
    let dir = spec_copy("grouped");
    let spec = dir.to_str().expect("UTF-8").to_string();
    let draft = dir.join("draft.toml");
    let eval = env!("CARGO_BIN_EXE_cross-entropy-spec");
    // The reference, except that every softmax value is 0.5 and no gradient comes back: the
    // softmax case fails as a whole, every other value case only in its gradient runs.
    let command = format!(
        r#"sed -u 's/"grad":true/"grad":false/' | '{eval}' eval | sed -u 's/^\({{"id":"softmax[^"]*","output":{{"dtype":"[a-z0-9]*","shape":\[3\],"data":\)\[[^]]*\]/\1[0.5,0.5,0.5]/'"#
    );
    let output = run(&[
        "check",
        "--spec",
        &spec,
        "--impl",
        &command,
        "--write-expectations",
        draft.to_str().expect("UTF-8"),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let text = std::fs::read_to_string(&draft).expect("written");
    let entries = text.matches("[[divergence]]").count();
    assert_eq!(entries, 4, "one entry per failing case:\n{text}");
    assert!(
        text.contains("id = \"ce.doc001.batch3x5.mean\"\npart = \"gradient\"\nreason = \"TODO: cross_entropy gradient: no `grad_input` in the reply (and 1 more runs)\""),
        "{text}"
    );
    assert!(
        text.contains("id = \"softmax.torch.vector\"\nreason = \"TODO: softmax: got 0.5, expected 0.090030573 at [0] [float32], against the value the case states (and 3 more runs)\""),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// An expectations entry naming no case is a malformed file: exit 2 before anything runs, as
/// spec/protocol.md says, not a failed run (exit 1).
#[test]
fn an_expectation_naming_no_case_exits_2() {
    let dir = spec_copy("stale");
    let spec = dir.to_str().expect("UTF-8").to_string();
    let file = dir.join("expect.toml");
    std::fs::write(
        &file,
        "[[divergence]]\nid = \"ce.no_such_case\"\nreason = \"gone\"\n",
    )
    .expect("written");
    let output = run(&[
        "check",
        "--spec",
        &spec,
        "--expect",
        file.to_str().expect("UTF-8"),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("`ce.no_such_case` names no case"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The exit codes spec/protocol.md documents: 0 when nothing unexpected happened, 1 when
/// something did, 2 when the check could not run.
#[test]
fn exit_codes_are_the_documented_ones() {
    let dir = spec_copy("codes");
    let spec = dir.to_str().expect("UTF-8").to_string();
    let clean = run(&["check", "--spec", &spec]);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
    let wrong = answering(r#""output":{"dtype":"float32","shape":[],"data":[1.0]}"#);
    let failed = run(&["check", "--spec", &spec, "--impl", &wrong]);
    assert_eq!(failed.status.code(), Some(1));
    let malformed = dir.join("bad.toml");
    std::fs::write(&malformed, "[[divergence]]\nid = 3\n").expect("written");
    let bad = run(&[
        "check",
        "--spec",
        &spec,
        "--expect",
        malformed.to_str().expect("UTF-8"),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    std::fs::write(dir.join("02-broken.md"), "```case x\nop = \"nope\"\n```\n").expect("written");
    let broken_spec = run(&["check", "--spec", &spec]);
    assert_eq!(broken_spec.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Errored runs an expectations file accepts (`errored = true`) are counted as expected errors,
/// apart from expected failures, in the text and in the JSON report, whose counts are also split
/// by value and gradient runs.
#[test]
fn accepted_errors_are_counted_apart_and_json_counts_split_by_part() {
    let dir = spec_copy("accepted-errors");
    let spec = dir.to_str().expect("UTF-8").to_string();
    let draft = dir.join("draft.toml");
    let json = dir.join("report.json");
    let command = answering(r#""error":{"kind":"unclassified","message":"no idea"}"#);
    let first = run(&[
        "check",
        "--spec",
        &spec,
        "--impl",
        &command,
        "--write-expectations",
        draft.to_str().expect("UTF-8"),
    ]);
    assert_eq!(first.status.code(), Some(1));
    assert!(stdout(&first).contains("no idea"), "{}", stdout(&first));
    let again = run(&[
        "check",
        "--spec",
        &spec,
        "--impl",
        &command,
        "--expect",
        draft.to_str().expect("UTF-8"),
        "--json",
        json.to_str().expect("UTF-8"),
        "--allow-empty",
    ]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert!(
        stdout(&again).contains("0 passed, 0 failed, 0 errored, 0 skipped, 18 expected errors"),
        "{}",
        stdout(&again)
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("written")).expect("JSON");
    assert_eq!(report["counts"]["expected_errors"], 18);
    assert_eq!(report["counts"]["expected_failures"], 0);
    assert_eq!(report["counts_by_part"]["value"]["expected_errors"], 10);
    assert_eq!(report["counts_by_part"]["gradient"]["expected_errors"], 8);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A claim of exact equality (an allowance of zero) says so, rather than "∞× the allowance 0".
#[test]
fn an_exact_claim_is_reported_as_one() {
    // nll.doc004.raw_scores.none states [-2, -7, -12] under the `exact` tolerance.
    let command = answering(r#""output":{"dtype":"float64","shape":[3],"data":[-2.0,-7.0,-12.5]}"#);
    let output = run(&[
        "check",
        "--filter",
        "nll.doc004.raw_scores.none",
        "--impl",
        &command,
    ]);
    let text = stdout(&output);
    assert!(
        text.contains("where the claim is exact (no difference allowed)"),
        "{text}"
    );
    assert!(!text.contains("∞×"), "{text}");
}

/// `check --grade` picks the grades the exit status requires: a value right to the case's four
/// printed digits but not within the exact allowance fails the exact grade alone.
#[test]
fn the_exit_status_requires_the_chosen_grades() {
    let command = r#"sed -u -e 's/.*"id":"\([^"]*\/grad\)".*/{"id":"\1","unsupported":"no gradients"}/;t' -e 's/.*"id":"\([^"]*\)".*/{"id":"\1","output":{"dtype":"float64","shape":[],"data":[1.8316]}}/'"#;
    let check = |grades: &[&str]| {
        let mut args = vec![
            "check",
            "--filter",
            "ce.doc001.batch3x5.mean",
            "--impl",
            command,
        ];
        for g in grades {
            args.extend(["--grade", g]);
        }
        run(&args)
    };
    let all = check(&[]);
    assert_eq!(all.status.code(), Some(1), "{}", stdout(&all));
    let text = stdout(&all);
    assert!(
        text.contains("  exact      2 judged: 0 passed, 2 failed, 0 documented"),
        "{text}"
    );
    assert!(
        text.contains("conforms to the semantics; exact on 0.0%"),
        "{text}"
    );
    assert_eq!(check(&["semantics"]).status.code(), Some(0));
    assert_eq!(check(&["semantics", "exact"]).status.code(), Some(1));
    assert_eq!(check(&["bitwise"]).status.code(), Some(2));
}

/// A drafted entry whose runs fail in two grades (a value outside the exact allowance alone, a
/// wrong gradient) names no grade, so that `--expect` with the draft absorbs both.
#[test]
fn a_draft_of_runs_failing_in_two_grades_is_accepted_as_drafted() {
    let dir = std::env::temp_dir().join(format!("draft-grades-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let draft = dir.join("draft.toml");
    let draft_path = draft.to_str().expect("UTF-8");
    let command = r#"sed -u -e 's/.*"id":"\([^"]*\/grad\)".*/{"id":"\1","output":{"dtype":"float64","shape":[],"data":[1.8316]},"grad_input":{"dtype":"float64","shape":[3,5],"data":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}}/;t' -e 's/.*"id":"\([^"]*\)".*/{"id":"\1","output":{"dtype":"float64","shape":[],"data":[1.8316]}}/'"#;
    let check = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "--filter",
            "ce.doc001.batch3x5.mean",
            "--impl",
            command,
        ];
        args.extend(extra);
        run(&args)
    };
    let first = check(&["--write-expectations", draft_path]);
    assert_eq!(first.status.code(), Some(1), "{}", stdout(&first));
    let text = stdout(&first);
    assert!(
        text.contains("  semantics  4 judged: 2 passed, 2 failed"),
        "{text}"
    );
    let drafted = std::fs::read_to_string(&draft).expect("written");
    assert!(!drafted.contains("grade ="), "{drafted}");
    let again = check(&["--expect", draft_path]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    let _ = std::fs::remove_dir_all(&dir);
}
