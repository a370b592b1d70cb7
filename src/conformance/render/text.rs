//! The text report: counts per spec section, then every failure with where it is written, what
//! was expected and what came back, by how much it is off, the tolerance and its reason, and a
//! line of PyTorch that makes the same call.

use std::fmt::Write as _;

use super::repro;
use crate::conformance::compare::{Comparison, Mismatch, unflatten};
use crate::conformance::report::{Counts, GradeCounts, Replay, Report};
use crate::conformance::run::{Claim, Expected, Part};
use crate::conformance::verdict::{Evidence, Got, Grade, Judgement, Status, Verdict};
use crate::tensor::fmt_float;

/// The whole report.
pub fn report(r: &Report) -> String {
    let mut out = String::new();
    let cases: std::collections::BTreeSet<&str> =
        r.runs.iter().map(|v| v.run.id.as_str()).collect();
    let _ = writeln!(
        out,
        "cross-entropy-spec: {} cases ({} runs) against {}\n",
        cases.len(),
        r.runs.len(),
        r.implementation
    );
    sections(&mut out, r);
    let problems = r.runs.iter().filter(|v| {
        matches!(
            v.status,
            Status::Failed | Status::Errored | Status::UnexpectedPass
        )
    });
    let mut first = true;
    for v in problems {
        if std::mem::take(&mut first) {
            out.push_str("\nFailures:\n\n");
        }
        out.push_str(&failure(v));
        out.push_str(&replay(v, r.replay.as_ref()));
        out.push('\n');
    }
    skips(&mut out, r);
    let other_kind = (r.runs.iter())
        .filter(|v| {
            v.status == Status::Failed && matches!(v.judgement, Judgement::WrongErrorKind { .. })
        })
        .count();
    if other_kind > 0 {
        let _ = writeln!(
            out,
            "\n{other_kind} of the failures rejected the input with another error kind (the order of the checks: spec/protocol.md)"
        );
    }
    for id in &r.stale_expectations {
        let _ = writeln!(
            out,
            "STALE EXPECTATION {id}: the expectations file names a case the spec does not have"
        );
    }
    if r.interrupted {
        let _ = writeln!(
            out,
            "\nINTERRUPTED: the counts are of the {} runs completed before",
            r.runs.len()
        );
    }
    for part in [Part::Value, Part::Gradient] {
        let _ = writeln!(out, "\n{:>8}s: {}", part.as_str(), r.counts_of(part));
    }
    grades(&mut out, r);
    let _ = writeln!(out, "\n{}", r.counts());
    out
}

/// The runs per grade (spec/protocol.md, *Grades*), and the verdict of each in a sentence:
/// "conforms to the semantics; exact on 97.1% of its runs; PyTorch-compatible except 4".
fn grades(out: &mut String, r: &Report) {
    let grades = r.grades();
    let _ = writeln!(out, "\nBy grade:");
    for (g, c) in &grades {
        let _ = writeln!(
            out,
            "  {:<10} {} judged: {} passed, {} failed, {} documented",
            g.as_str(),
            c.judged,
            c.passed(),
            c.failed,
            c.documented
        );
    }
    let diverging = |c: &GradeCounts| c.failed + c.documented;
    let sentence: Vec<String> = (grades.iter())
        .filter(|(_, c)| c.judged > 0)
        .map(|(g, c)| match (g, diverging(c)) {
            (Grade::Semantics, 0) => "conforms to the semantics".to_string(),
            (Grade::Semantics, n) => format!("diverges from the semantics in {n} runs"),
            (Grade::Exact, _) => format!(
                "exact on {:.1}% of the runs with an exact claim ({} of {})",
                100.0 * c.passed() as f64 / c.judged as f64,
                c.passed(),
                c.judged
            ),
            (Grade::Pytorch, 0) => "PyTorch-compatible".to_string(),
            (Grade::Pytorch, n) => format!("PyTorch-compatible except {n} runs"),
        })
        .collect();
    if !sentence.is_empty() {
        let _ = writeln!(out, "  {}", sentence.join("; "));
    }
}

/// The request line a failing run sent, and a command that sends it again.
fn replay(v: &Verdict, replay: Option<&Replay>) -> String {
    const SHOWN: usize = 2000;
    let Some(e) = &v.evidence else {
        return String::new();
    };
    let line = e.request.to_json();
    let shown = match line.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}... ({} bytes in all)", &line[..cut], line.len()),
        None => line,
    };
    let (program, command) = match replay {
        Some(r) => (shell_quoted(&r.program), r.command.clone()),
        None => (
            "cross-entropy-spec".into(),
            "cross-entropy-spec eval".into(),
        ),
    };
    let spec = (replay.and_then(|r| r.spec_dir.as_deref()))
        .map(|d| format!(" --spec {}", shell_quoted(d)))
        .unwrap_or_default();
    format!(
        "  request: {shown}\n  replay: {program} request{spec} {} | {command}\n",
        shell_quoted(&e.request.id)
    )
}

/// `text` as one word of `sh`: in single quotes, each quote in it written `'\''`.
fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// How many runs were skipped, by the implementation's reason, most frequent first.
fn skips(out: &mut String, r: &Report) {
    let mut reasons: Vec<(String, usize)> = Vec::new();
    for v in r.runs.iter().filter(|v| v.status == Status::Skipped) {
        let Judgement::Unsupported(why) = &v.judgement else {
            continue;
        };
        match reasons.iter_mut().find(|(w, _)| w == why) {
            Some((_, n)) => *n += 1,
            None => reasons.push((why.clone(), 1)),
        }
    }
    if reasons.is_empty() {
        return;
    }
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let _ = writeln!(out, "\nSkipped, by the implementation's reason:");
    for (why, n) in &reasons {
        let _ = writeln!(out, "  {n:>5}  {}", printable(why));
    }
}

/// Counts per spec file and section, in spec order.
fn sections(out: &mut String, r: &Report) {
    let mut sections: Vec<((&str, &str, &str), Counts)> = Vec::new();
    for v in &r.runs {
        let key = (
            v.run.at.file.as_str(),
            v.run.chapter.as_str(),
            v.run.section.as_str(),
        );
        match sections.iter_mut().find(|(k, _)| *k == key) {
            Some((_, c)) => c.add(v),
            None => sections.push((key, Counts::of([v]))),
        }
    }
    let mut last_file = "";
    for ((file, chapter, section), counts) in &sections {
        if *file != last_file {
            let _ = writeln!(out, "{file}: {chapter}");
            last_file = file;
        }
        let _ = writeln!(out, "  {section:<58} {counts}");
    }
}

/// One run that did not pass, as a block of text.
pub fn failure(v: &Verdict) -> String {
    let run = &v.run;
    let part = match run.part {
        Part::Value => "",
        Part::Gradient => " gradient",
    };
    let label = match v.status {
        Status::Errored => "ERROR",
        Status::UnexpectedPass => "UNEXPECTED PASS",
        _ => "FAIL",
    };
    let mut out = format!(
        "{label} {} [{}]{part}\n  at {} (§ {})\n",
        run.id, run.dtype, run.at, run.section
    );
    if let Some(source) = &v.source {
        let _ = writeln!(out, "  source: {source}");
    }
    if let Some(grade) = v.failed_grade() {
        let why = (v.run.pytorch.as_deref())
            .map(|why| format!(" (the case pins a detail of PyTorch: {})", printable(why)))
            .unwrap_or_default();
        let _ = writeln!(out, "  grade: {grade}{why}");
    }
    if let (Status::Failed, Some(note)) = (v.status, &v.divergence) {
        let _ = writeln!(out, "  {}", printable(note));
    }
    if v.status == Status::UnexpectedPass {
        let why = printable(v.divergence.as_deref().unwrap_or_default());
        let _ = writeln!(
            out,
            "  the expectations file lists it as a divergence: {why}\n  remove it from the file"
        );
        return out;
    }
    for line in printable(&detail(v)).lines() {
        let _ = writeln!(out, "  {line}");
    }
    if let Some(e) = &v.evidence {
        let _ = writeln!(
            out,
            "  reproduce in PyTorch:\n    {}",
            repro::torch_line(&e.request)
        );
    }
    out
}

/// What went wrong, without the heading: the `detail` of the JSON report.
pub fn detail(v: &Verdict) -> String {
    let gradient = v.run.part == Part::Gradient;
    let evidence = v.evidence.as_deref();
    let text = match &v.judgement {
        Judgement::Passed(_) => String::new(),
        Judgement::Mismatch {
            claim, comparison, ..
        } => match evidence {
            Some(e) => mismatch(e, *claim, comparison),
            None => String::from("values differ"),
        },
        Judgement::UnexpectedError { kind, message } => {
            format!("expected values, got an error: {kind}: {message}")
        }
        Judgement::WrongErrorKind { want, got, message } => {
            format!("expected an error of kind `{want}`, got `{got}`: {message}")
        }
        Judgement::MissingError { want } => match evidence.and_then(|e| e.got.as_ref()) {
            Some(got) => format!(
                "expected an error of kind `{want}`, got an output of shape {:?}: [{}]",
                got.shape,
                preview_got(got)
            ),
            _ => format!("expected an error of kind `{want}`, got an output"),
        },
        Judgement::MissingGradient => "asked for `grad_input`, the reply has none".into(),
        Judgement::Unsupported(why) | Judgement::Broken(why) | Judgement::Unjudgeable(why) => {
            why.clone()
        }
    };
    match (gradient, &v.judgement) {
        (true, Judgement::Mismatch { .. }) => {
            format!("the gradient of the sum of the output with respect to input:\n{text}")
        }
        _ => text,
    }
}

/// Expected against got, which elements fail, the worst one, and the tolerance with its reason.
fn mismatch(e: &Evidence, index: usize, c: &Comparison) -> String {
    let Expected::Values(claims) = &e.expected else {
        return "values differ".into();
    };
    let Some(Claim {
        source,
        want,
        select,
        tol,
        yields_to_exact,
        ..
    }) = claims.get(index)
    else {
        return "values differ".into();
    };
    let Some(got) = &e.got else {
        return "values differ".into();
    };
    let mut out = format!(
        "{} ({})\nagainst {}\n",
        e.request.op,
        repro::keyword_args(&e.request.attrs).join(", "),
        source.describe()
    );
    if *yields_to_exact {
        let _ = writeln!(
            out,
            "(an element the exact claim admits, or at least as close to exact as this one, passes it)"
        );
    }
    if let Some(index) = select {
        let _ = writeln!(out, "compared element {index:?} of the output only");
    }
    if let Some(reason) = &c.shape_mismatch {
        let _ = writeln!(out, "mismatch: {reason}");
    }
    let want_text: Vec<String> = want.data.iter().map(|&v| fmt_float(v, false)).collect();
    let _ = writeln!(out, "expected {:?}: [{}]", want.shape, preview(&want_text));
    let _ = writeln!(out, "got      {:?}: [{}]", got.shape, preview_got(got));
    if c.shape_mismatch.is_none() {
        failing_elements(&mut out, got, c);
    }
    let b = c.bounds;
    let roundoff = if b.k > 0.0 {
        format!(", k {} roundoffs of the op's error scale", fmt_bound(b.k))
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "tolerance `{}` (abs {}, rel {}{roundoff}): {}",
        tol.name,
        fmt_bound(b.abs),
        fmt_bound(b.rel),
        tol.why
    );
    out
}

/// How many elements fail, the first few, and the worst with its error in every unit.
fn failing_elements(out: &mut String, got: &Got, c: &Comparison) {
    const LISTED: usize = 8;
    let index = |i: usize| format!("{:?}", unflatten(&got.shape, i));
    let listed: Vec<String> = c.failing.iter().take(LISTED).map(|&i| index(i)).collect();
    let more = if c.failing.len() > LISTED {
        ", ..."
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "{} of {} elements fail: {}{more}",
        c.failing.len(),
        c.compared,
        listed.join(", ")
    );
    if let Some(w) = &c.worst {
        let single = got.dtype == crate::vocab::Dtype::Float32;
        let how = match w.mismatch {
            Some(Mismatch::Nan) => "NaN where a number is expected, or the reverse".to_string(),
            Some(Mismatch::Infinity) => "an infinity that is not the expected one".to_string(),
            Some(Mismatch::ZeroSign) => "the sign of a zero differs".to_string(),
            // An allowance of zero is a claim of exact equality: no ratio to it means anything.
            _ if w.allowance == 0.0 => format!(
                "off by {:.3e} = {} ulps where the claim is exact (no difference allowed)",
                w.abs_error,
                fmt_count(w.ulps),
            ),
            _ => format!(
                "off by {:.3e} = {} ulps = {}× the allowance {:.3e}",
                w.abs_error,
                fmt_count(w.ulps),
                fmt_count(w.ratio),
                w.allowance
            ),
        };
        let _ = writeln!(
            out,
            "worst element {}: got {}, expected {}: {how}",
            index(w.index),
            fmt_float(w.got, single),
            fmt_float(w.want, false)
        );
    }
    let _ = writeln!(
        out,
        "over the finite elements: max abs error {:.3e}, max {} ulps",
        c.max_abs,
        fmt_count(c.max_ulps)
    );
}

/// Text from an implementation (its messages, its stderr) with every control character but the
/// line break escaped, so that it cannot move the cursor, recolour or clear a terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' => "\n".to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// A count or ratio with three significant digits.
fn fmt_count(v: f64) -> String {
    if v.is_infinite() {
        "∞".into()
    } else if v >= 1e4 {
        format!("{v:.2e}")
    } else {
        format!("{}", (v * 100.0).round() / 100.0)
    }
}

fn fmt_bound(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else {
        format!("{v:e}")
    }
}

/// At most 12 values, then an ellipsis with the count.
/// [`preview`] of the values a failing run kept of its reply.
fn preview_got(got: &Got) -> String {
    match got.len() {
        n if n <= got.first.len() => got.first.join(", "),
        n => format!("{}, ... ({n} values)", got.first.join(", ")),
    }
}

pub(crate) fn preview(values: &[String]) -> String {
    const SHOWN: usize = 12;
    if values.len() <= SHOWN {
        values.join(", ")
    } else {
        format!(
            "{}, ... ({} values)",
            values[..SHOWN].join(", "),
            values.len()
        )
    }
}
