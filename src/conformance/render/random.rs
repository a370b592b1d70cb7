//! The text of a random run (`check --random`): the counts, the failures grouped by op, dtype,
//! part and kind, and each shrunk failure with its spec `case` block, a PyTorch line and the
//! command that draws the same call again.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::text;
use crate::conformance::compare::Mismatch;
use crate::conformance::random::expect::Rule;
use crate::conformance::random::{Options, Outcome};
use crate::conformance::run::Part;
use crate::conformance::verdict::{Judgement, Status, Verdict};

/// The whole text. `command` is the `--impl` command, if any; `rules` the expectations' random
/// rules the run applied.
pub fn outcome(o: &Outcome, options: &Options, rules: &[Rule], command: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cross-entropy-spec: {} random calls (seed {}, from {}; {}) against {}",
        options.count,
        options.seed,
        options.from,
        surface_args(options).trim(),
        o.report.implementation
    );
    for part in [Part::Value, Part::Gradient] {
        let c = o.report.counts_of(part);
        let _ = writeln!(out, "  {} runs: {c}", part.as_str());
    }
    for (rule, n) in rules.iter().zip(&o.absorbed) {
        let dtype = rule.dtype.as_deref().unwrap_or("any dtype");
        let part = rule.part.as_deref().unwrap_or("value and gradient");
        let _ = writeln!(
            out,
            "  expected ({} {dtype} {part}, {}): {n} runs",
            rule.op, rule.when
        );
    }
    let groups = groups(&o.report.runs);
    if !groups.is_empty() {
        let _ = writeln!(out, "\nruns that did not pass, by kind:");
        for (key, (n, worst)) in &groups {
            let worst = match worst {
                r if r.is_finite() && *r > 0.0 => format!(" (worst {r:.3} allowances)"),
                _ => String::new(),
            };
            let _ = writeln!(out, "  {n:>7}  {key}{worst}");
        }
    }
    for f in &o.findings {
        let _ = writeln!(out, "\ncase {} shrunk in {} calls:", f.index, f.tried);
        out.push_str(&text::failure(&f.verdict));
        let _ = writeln!(out, "  as a spec case:\n\n{}\n", f.block);
        let impl_arg = command.map_or(String::new(), |c| format!(" --impl '{c}'"));
        let _ = writeln!(
            out,
            "  draw it again: cross-entropy-spec check{impl_arg} --random 1 --seed {} --from {}{}",
            options.seed,
            f.index,
            surface_args(options)
        );
    }
    let c = o.report.counts();
    let _ = writeln!(
        out,
        "\n{c}{}",
        if o.report.interrupted {
            " (interrupted)"
        } else {
            ""
        }
    );
    out
}

/// The options that decide what is drawn, as arguments.
fn surface_args(options: &Options) -> String {
    let s = &options.surface;
    let mut args = String::new();
    if s.ops.len() == 1 {
        let _ = write!(args, " --op {}", s.ops[0]);
    }
    if s.dtypes.len() == 1 {
        let _ = write!(args, " --dtype {}", s.dtypes[0]);
    }
    let _ = write!(args, " --max-elements {}", s.max_elements);
    args
}

/// Runs that did not pass, counted by `op dtype part: kind`, with the worst ratio of each.
fn groups(runs: &[Verdict]) -> BTreeMap<String, (usize, f64)> {
    let mut groups = BTreeMap::new();
    for v in runs.iter().filter(|v| v.status != Status::Passed) {
        let expected = match v.status {
            Status::ExpectedFailure => "expected, ",
            _ => "",
        };
        let key = format!(
            "{} {} {}: {expected}{}",
            v.run.section,
            v.run.dtype,
            v.run.part.as_str(),
            kind(&v.judgement)
        );
        let entry = groups.entry(key).or_insert((0, 0.0f64));
        entry.0 += 1;
        entry.1 = entry.1.max(v.judgement.ratio());
    }
    groups
}

/// A short name for what went wrong.
pub fn kind(j: &Judgement) -> String {
    match j {
        Judgement::Passed(_) => "passed".into(),
        Judgement::Mismatch { comparison, .. } => {
            match (
                &comparison.shape_mismatch,
                comparison.worst.and_then(|w| w.mismatch),
            ) {
                (Some(_), _) => "shape differs".into(),
                (_, Some(Mismatch::Nan)) => "NaN where a number is, or a number where NaN".into(),
                (_, Some(Mismatch::Infinity)) => "an infinity differs".into(),
                (_, Some(Mismatch::ZeroSign)) => "zero sign".into(),
                _ if comparison.worst.is_some_and(|w| w.allowance == 0.0) => {
                    "off where the allowance is 0 (an underflowed error scale)".into()
                }
                _ => "outside the allowance".into(),
            }
        }
        Judgement::UnexpectedError { kind, .. } => format!("error {kind} where a value is"),
        Judgement::WrongErrorKind { want, got, .. } => format!("error {got}, expected {want}"),
        Judgement::MissingError { want } => format!("a value, expected error {want}"),
        Judgement::MissingGradient => "no gradient".into(),
        Judgement::Unsupported(_) => "unsupported".into(),
        Judgement::Broken(_) => "broken".into(),
        Judgement::Unjudgeable(why) => format!("unjudgeable: {why}"),
    }
}
