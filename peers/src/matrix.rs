//! The conformance matrix: per feature row and implementation column, how many runs passed,
//! failed and were unsupported, rendered as the Markdown of `peers/MATRIX.md`. The file is
//! generated only from the spec, the reports and the expectations files, with no dates or
//! timings, so that regenerating it gives the same bytes and CI can compare.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use cross_entropy_spec::conformance::{Expectations, Grade, Part, Report, Status};
use cross_entropy_spec::spec::Spec;
use cross_entropy_spec::vocab::Dtype;
use serde_json::Value;

use crate::features::{Feature, features};

/// How one run came out, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// Failed or errored; `documented` when the peer's expectations file lists it.
    Failed {
        documented: bool,
    },
    Unsupported,
}

impl Outcome {
    pub fn of(status: &Status) -> Outcome {
        match status {
            // An unexpected pass is a pass; `--check` fails on it separately.
            Status::Passed | Status::UnexpectedPass => Outcome::Passed,
            Status::Failed | Status::Errored => Outcome::Failed { documented: false },
            Status::ExpectedFailure => Outcome::Failed { documented: true },
            Status::Skipped => Outcome::Unsupported,
        }
    }

    /// The same, from a `status` of `Report::to_json`.
    fn of_json(status: &str) -> Option<Outcome> {
        Some(match status {
            "passed" | "unexpected_pass" => Outcome::Passed,
            "failed" | "errored" => Outcome::Failed { documented: false },
            "expected_failure" => Outcome::Failed { documented: true },
            "skipped" => Outcome::Unsupported,
            _ => return None,
        })
    }
}

/// One implementation's runs: case id, part, dtype, outcome, and for a run that did not pass the grade
/// it failed in (spec/protocol.md, *Grades*; absent from reports recorded before grades).
pub struct Column {
    pub name: String,
    pub runs: Vec<(String, Part, Dtype, Outcome, Option<Grade>)>,
}

impl Column {
    pub fn of_report(name: &str, report: &Report) -> Column {
        Column {
            name: name.into(),
            runs: report
                .runs
                .iter()
                .map(|r| {
                    let grade = r.failed_grade();
                    let (id, part, dtype) = (r.run.id.clone(), r.run.part, r.run.dtype);
                    (id, part, dtype, Outcome::of(&r.status), grade)
                })
                .collect(),
        }
    }

    /// A column from a committed `Report::to_json` file (the PyTorch adapter's run).
    pub fn of_json(name: &str, json: &str) -> Result<Column, String> {
        let v: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let runs = v["runs"]
            .as_array()
            .ok_or("the report has no `runs` array")?
            .iter()
            .map(|r| {
                let id = r["id"].as_str().ok_or("a run without `id`")?;
                let part = match r["part"].as_str() {
                    Some("gradient") => Part::Gradient,
                    _ => Part::Value,
                };
                let status = r["status"].as_str().unwrap_or_default();
                let outcome = Outcome::of_json(status)
                    .ok_or_else(|| format!("unknown status `{status}` for {id}"))?;
                let grade = r["grade"].as_str().and_then(Grade::parse);
                let dtype = (r["dtype"].as_str())
                    .and_then(Dtype::parse)
                    .ok_or_else(|| format!("a run of {id} without a float `dtype`"))?;
                Ok((id.to_string(), part, dtype, outcome, grade))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Column {
            name: name.into(),
            runs,
        })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cell {
    passed: usize,
    failed: usize,
    documented: usize,
    unsupported: usize,
}

impl Cell {
    fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed { documented } => {
                self.failed += 1;
                self.documented += usize::from(documented);
            }
            Outcome::Unsupported => self.unsupported += 1,
        }
    }

    /// The failed runs alone, with how many are documented.
    fn failures(self) -> String {
        match (self.failed, self.documented) {
            (0, _) => "0".to_string(),
            (f, d) if f == d => format!("**{f}** (doc.)"),
            (f, d) => format!("**{f}** ({d} doc.)"),
        }
    }

    fn text(self) -> String {
        let failed = if self.failed == 0 {
            "0".to_string()
        } else if self.documented == self.failed {
            format!("**{}** (doc.)", self.failed)
        } else {
            format!("**{}** ({} doc.)", self.failed, self.documented)
        };
        format!("{} / {failed} / {}", self.passed, self.unsupported)
    }
}

/// One peer's expectations file, for the notes under the table.
pub struct Documented<'a> {
    pub peer: &'a str,
    pub file: &'a str,
    pub expectations: &'a Expectations,
}

/// The whole `MATRIX.md`.
pub fn render(
    spec: &Spec,
    header: &str,
    columns: &[Column],
    documented: &[Documented],
    notes: &str,
) -> String {
    let mut out = String::new();
    out.push_str(header);
    let _ = writeln!(
        out,
        "\nEach cell is **passed / failed / unsupported** runs. A run is one case in one dtype, \
         for its value or (row *gradients*) for the gradient of its sum. *failed* counts failures \
         and errors (a peer that panicked); *(doc.)* says how many of them the peer's \
         expectations file lists as known divergences — those are failed-but-documented, and \
         `cargo run -p peers -- --check` fails only on the others. *unsupported* runs are \
         requests the peer has no way to express (an option, reduction, rank or dtype it \
         lacks); they are never counted as passed. The last three rows split the failed runs \
         by the grade they fail in (spec/protocol.md, *Grades*): *semantics* (a stated value or \
         error: what every implementation owes), *exact* (accuracy alone: outside the exact \
         value's allowance) and *pytorch* (a case that pins a detail of PyTorch's \
         implementation); — marks a report recorded before grades, whose failed runs carry \
         none.\n"
    );
    table(&mut out, spec, columns);
    rules(&mut out);
    out.push_str(notes);
    divergences(&mut out, documented);
    out
}

/// The matrix itself: a row per feature, then the totals.
fn table(out: &mut String, spec: &Spec, columns: &[Column]) {
    let _ = write!(out, "| feature |");
    for c in columns {
        let _ = write!(out, " {} |", c.name);
    }
    let _ = write!(out, "\n|---|");
    for _ in columns {
        out.push_str("---|");
    }
    out.push('\n');
    let cases: BTreeMap<&str, _> = spec.cases.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut cells: BTreeMap<(Feature, usize), Cell> = BTreeMap::new();
    let mut totals: BTreeMap<(Part, usize), Cell> = BTreeMap::new();
    let mut graded: BTreeMap<(Grade, usize), Cell> = BTreeMap::new();
    // Columns with a failed run that has no grade: reports recorded before grades.
    let mut ungraded = std::collections::BTreeSet::new();
    for (i, column) in columns.iter().enumerate() {
        for (id, part, dtype, outcome, grade) in &column.runs {
            totals.entry((*part, i)).or_default().add(*outcome);
            match (grade, outcome) {
                (Some(g), _) => graded.entry((*g, i)).or_default().add(*outcome),
                (None, Outcome::Failed { .. }) => {
                    ungraded.insert(i);
                }
                (None, _) => {}
            }
            let Some(case) = cases.get(id.as_str()) else {
                continue;
            };
            for f in features(case, *part, *dtype) {
                cells.entry((f, i)).or_default().add(*outcome);
            }
        }
    }
    for f in Feature::ALL {
        let _ = write!(out, "| {} |", f.describe().0);
        for i in 0..columns.len() {
            let _ = write!(
                out,
                " {} |",
                cells.get(&(f, i)).copied().unwrap_or_default().text()
            );
        }
        out.push('\n');
    }
    for (part, label) in [
        (Part::Value, "**all value runs**"),
        (Part::Gradient, "**all gradient runs**"),
    ] {
        let _ = write!(out, "| {label} |");
        for i in 0..columns.len() {
            let cell = totals.get(&(part, i)).copied().unwrap_or_default();
            let _ = write!(out, " {} |", cell.text());
        }
        out.push('\n');
    }
    for grade in Grade::ALL {
        let _ = write!(out, "| *failed, {grade} grade* |");
        for i in 0..columns.len() {
            let cell = graded.get(&(grade, i)).copied().unwrap_or_default();
            match ungraded.contains(&i) {
                true => out.push_str(" — |"),
                false => {
                    let _ = write!(out, " {} |", cell.failures());
                }
            }
        }
        out.push('\n');
    }
}

/// What puts a case in each row.
fn rules(out: &mut String) {
    let _ = writeln!(out, "\n## What puts a case in a row\n");
    for f in Feature::ALL {
        let (label, rule) = f.describe();
        let _ = writeln!(out, "- **{label}**: {rule}.");
    }
    let _ = writeln!(
        out,
        "\nA value case may count in several rows; an error case counts only under *errors on \
         bad input*; the totals count every run once (`peers/src/features.rs`).\n"
    );
}

/// Each peer's documented divergences, grouped by reason.
fn divergences(out: &mut String, documented: &[Documented]) {
    let _ = writeln!(out, "\n## Known divergences\n");
    for d in documented {
        let _ = writeln!(out, "### {} (`{}`)\n", d.peer, d.file);
        let mut by_reason: BTreeMap<(&str, Option<&str>), Vec<String>> = BTreeMap::new();
        for e in &d.expectations.divergence {
            let id = match e.part.as_deref() {
                Some(p) => format!("`{}` ({p})", e.id),
                None => format!("`{}`", e.id),
            };
            by_reason
                .entry((e.reason.as_str(), e.link.as_deref()))
                .or_default()
                .push(id);
        }
        if by_reason.is_empty() {
            let _ = writeln!(out, "None.\n");
        }
        for ((reason, link), ids) in by_reason {
            let link = link.map(|l| format!(" ({l})")).unwrap_or_default();
            let _ = writeln!(out, "- {reason}{link}: {}.", ids.join(", "));
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The grade rows count a column's failed runs by the grade each failed in, documented or
    /// not, and show — for a report recorded before grades, rather than a misleading 0.
    #[test]
    fn grade_rows_split_failures_and_mark_reports_without_grades() {
        let spec = cross_entropy_spec::bundle::spec().expect("the embedded spec");
        let json = |grade: &str| {
            format!(
                r#"{{"runs":[{{"id":"ce.doc001.batch3x5.mean","part":"value","dtype":"float32","status":"expected_failure"{grade}}},{{"id":"ce.doc001.batch3x5.mean","part":"gradient","dtype":"float32","status":"failed","grade":"pytorch"}}]}}"#
            )
        };
        let graded = Column::of_json("graded", &json(r#","grade":"exact""#)).unwrap();
        let old = Column::of_json("old", &json("")).unwrap();
        let mut out = String::new();
        table(&mut out, spec, &[graded, old]);
        assert!(
            out.contains("| *failed, semantics grade* | 0 | — |"),
            "{out}"
        );
        assert!(
            out.contains("| *failed, exact grade* | **1** (doc.) | — |"),
            "{out}"
        );
        assert!(
            out.contains("| *failed, pytorch grade* | **1** (0 doc.) | — |"),
            "{out}"
        );
    }
}
