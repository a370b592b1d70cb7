//! An expectations file drafted from a run's failures, one `[[divergence]]` per failing case where
//! the case fails as a whole, per part or per dtype where only those fail, per run otherwise; each
//! with a reason drafted from the divergence itself (what came back against what was expected,
//! where) for the author to rewrite, and a link to be found. A run that errored gets
//! `errored = true`, without which `--expect` would not absorb it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::text::{detail, printable};
use crate::conformance::compare::unflatten;
use crate::conformance::report::Report;
use crate::conformance::run::Part;
use crate::conformance::verdict::{Grade, Judgement, Status, Verdict};
use crate::tensor::fmt_float;

/// One drafted entry: its id, its part when only one part diverges, and its runs.
struct Entry<'a> {
    id: String,
    part: Option<Part>,
    runs: Vec<&'a Verdict>,
}

/// The TOML text of the draft.
pub fn skeleton(r: &Report) -> String {
    let mut by_case: BTreeMap<&str, Vec<&Verdict>> = BTreeMap::new();
    for v in &r.runs {
        by_case.entry(v.run.id.as_str()).or_default().push(v);
    }
    let mut out = format!(
        "# Known divergences of {}, drafted by `check --write-expectations`: give each a\n# reason that says what the implementation does and what PyTorch does, and a link where\n# one exists.\n",
        printable(&r.implementation)
    );
    for (id, runs) in by_case {
        for entry in entries(id, &runs) {
            let _ = write!(out, "\n[[divergence]]\nid = {}\n", toml_string(&entry.id));
            if let Some(part) = entry.part {
                let _ = writeln!(out, "part = \"{}\"", part.as_str());
            }
            let reason = drafted_reason(&entry.runs);
            let _ = writeln!(out, "reason = {}", toml_string(&format!("TODO: {reason}")));
            // The entry's grade, when its runs all fail in one: an entry with a grade absorbs
            // only runs that fail in it, so runs of two grades leave it out.
            let grades: BTreeSet<Grade> =
                entry.runs.iter().filter_map(|v| v.failed_grade()).collect();
            if let [grade] = Vec::from_iter(grades).as_slice() {
                let _ = writeln!(out, "grade = \"{grade}\"");
            }
            if entry.runs.iter().any(|v| v.status == Status::Errored) {
                // A crash, a hang or garbage is only expected when the entry says so.
                let _ = writeln!(out, "errored = true");
            }
        }
    }
    out
}

fn failing(v: &Verdict) -> bool {
    matches!(v.status, Status::Failed | Status::Errored)
}

/// The fewest entries that cover exactly a case's failing runs: the case, one part of it, one
/// dtype of it, or a run.
fn entries<'a>(id: &str, runs: &[&'a Verdict]) -> Vec<Entry<'a>> {
    let bad: Vec<&Verdict> = runs.iter().copied().filter(|v| failing(v)).collect();
    if bad.is_empty() {
        return Vec::new();
    }
    let all_of = |keep: &dyn Fn(&Verdict) -> bool| {
        runs.iter().all(|v| keep(v) == failing(v)) && runs.iter().any(|v| keep(v))
    };
    if bad.len() == runs.len() {
        return vec![Entry {
            id: id.into(),
            part: None,
            runs: bad,
        }];
    }
    for part in [Part::Value, Part::Gradient] {
        if all_of(&|v| v.run.part == part) {
            return vec![Entry {
                id: id.into(),
                part: Some(part),
                runs: bad,
            }];
        }
    }
    let mut out: Vec<Entry> = Vec::new();
    let mut dtypes: Vec<_> = bad.iter().map(|v| v.run.dtype).collect();
    dtypes.dedup();
    for dtype in dtypes {
        let of_dtype: Vec<&Verdict> = runs
            .iter()
            .copied()
            .filter(|v| v.run.dtype == dtype)
            .collect();
        let bad_here: Vec<&Verdict> = of_dtype.iter().copied().filter(|v| failing(v)).collect();
        if bad_here.len() == of_dtype.len() {
            out.push(Entry {
                id: format!("{id}@{dtype}"),
                part: None,
                runs: bad_here,
            });
        } else {
            out.extend(bad_here.into_iter().map(|v| Entry {
                id: format!("{id}@{dtype}"),
                part: Some(v.run.part),
                runs: vec![v],
            }));
        }
    }
    out
}

/// The first run's divergence, and how many other runs the entry covers.
fn drafted_reason(runs: &[&Verdict]) -> String {
    let first = runs.first().map(|v| divergence(v)).unwrap_or_default();
    match runs.len() {
        0 | 1 => first,
        n => format!("{first} (and {} more runs)", n - 1),
    }
}

/// One line saying how a run diverges: for values, the worst element got against expected and
/// where (`log_softmax: got -64, expected -1001 at [0, 2] [float32]`); for errors, the kinds.
pub fn divergence(v: &Verdict) -> String {
    let e = v.evidence.as_deref();
    let op = e.map_or(String::new(), |e| e.request.op.to_string());
    let what = match v.run.part {
        Part::Value => op,
        Part::Gradient => format!("{op} gradient"),
    };
    let dtype = v.run.dtype;
    let text = match &v.judgement {
        Judgement::Mismatch {
            source, comparison, ..
        } => match (
            &comparison.shape_mismatch,
            &comparison.worst,
            e.and_then(|e| e.got.as_ref()),
        ) {
            (Some(why), _, _) => format!("{what}: {why}"),
            (None, Some(w), Some(got)) => format!(
                "{what}: got {}, expected {} at {:?} [{dtype}], against {}",
                fmt_float(w.got, dtype == crate::vocab::Dtype::Float32),
                fmt_float(w.want, false),
                unflatten(&got.shape, w.index),
                source.describe()
            ),
            _ => format!("{what}: values differ"),
        },
        Judgement::UnexpectedError { kind, message } => {
            format!("{what}: refuses with `{kind}`: {message}")
        }
        Judgement::WrongErrorKind { want, got, message } => {
            format!("{what}: refuses with `{got}` where PyTorch's is `{want}`: {message}")
        }
        Judgement::MissingGradient => format!("{what}: no `grad_input` in the reply"),
        Judgement::MissingError { want } => {
            format!("{what}: answers where PyTorch refuses with `{want}`")
        }
        _ => detail(v),
    };
    printable(text.lines().next().unwrap_or_default())
}

/// A TOML basic string: JSON's escapes are TOML's.
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}
