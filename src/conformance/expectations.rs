//! An implementation's known divergences from the spec: which cases it is expected to fail, why,
//! and where that is tracked. Strict both ways: a listed case that passes, or an id that names no
//! case, is itself an error, so the list can never silently rot.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::{Grade, Part, Report, Status};
use crate::spec::Spec;

/// One known divergence.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Divergence {
    /// A case id, or `<case id>@<dtype>` for one dtype only.
    pub id: String,
    pub reason: String,
    /// The implementation's issue or documentation, when there is one.
    #[serde(default)]
    pub link: Option<String>,
    /// `"value"` or `"gradient"` when only that part diverges; both when absent.
    #[serde(default)]
    pub part: Option<String>,
    /// The run is expected to error (crash, hang, answer garbage), not merely to fail: without
    /// it an errored run stays an error, whatever the entry's reason.
    #[serde(default)]
    pub errored: bool,
    /// The grade the run fails in (`semantics`, `exact`, `pytorch`), when the entry says: a run
    /// listed as an exact divergence that fails its semantics is not absorbed.
    #[serde(default)]
    pub grade: Option<String>,
}

/// A case id and, for `<case id>@<dtype>`, the dtype.
fn split_id(id: &str) -> (&str, Option<&str>) {
    match id.rsplit_once('@') {
        Some((case, dtype)) => (case, Some(dtype)),
        None => (id, None),
    }
}

/// The expectations file: `[[divergence]]` tables for the spec's cases, and `[[random]]` rules
/// for the random mode's drawn calls, which have no case id (`random::expect`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    #[serde(default)]
    pub divergence: Vec<Divergence>,
    #[serde(default)]
    pub random: Vec<super::random::expect::Rule>,
}

impl Expectations {
    /// Reads an expectations file (TOML). Two entries that cover the same run are an error:
    /// only one of them could ever apply.
    pub fn parse(text: &str) -> Result<Expectations, String> {
        let parsed: Expectations = toml::from_str(text).map_err(|e| e.to_string())?;
        for (n, rule) in parsed.random.iter().enumerate() {
            if let wrong @ [_, ..] = rule.problems().as_slice() {
                return Err(format!("[[random]] number {}: {}", n + 1, wrong.join("; ")));
            }
        }
        if let ids @ [_, ..] = parsed.invalid_parts().as_slice() {
            return Err(format!(
                "`part` is \"value\" or \"gradient\" (entries {})",
                ids.join(", ")
            ));
        }
        let bad_grades: Vec<&str> = (parsed.divergence.iter())
            .filter(|d| {
                d.grade
                    .as_deref()
                    .is_some_and(|g| Grade::parse(g).is_none())
            })
            .map(|d| d.id.as_str())
            .collect();
        if !bad_grades.is_empty() {
            return Err(format!(
                "`grade` is \"semantics\", \"exact\" or \"pytorch\" (entries {})",
                bad_grades.join(", ")
            ));
        }
        match parsed.overlapping().as_slice() {
            [] => Ok(parsed),
            pairs => Err(format!(
                "a run is listed twice (entries {})",
                pairs.join(", ")
            )),
        }
    }

    /// Pairs of entries that cover a run in common: the same case (one of them for all its
    /// dtypes, or both for the same one) and an overlapping part.
    fn overlapping(&self) -> Vec<String> {
        let d = &self.divergence;
        let covers_same = |a: &Divergence, b: &Divergence| {
            let (case_a, dtype_a) = split_id(&a.id);
            let (case_b, dtype_b) = split_id(&b.id);
            case_a == case_b
                && (dtype_a.is_none() || dtype_b.is_none() || dtype_a == dtype_b)
                && (a.part.is_none() || b.part.is_none() || a.part == b.part)
        };
        (0..d.len())
            .flat_map(|i| (i + 1..d.len()).map(move |j| (i, j)))
            .filter(|&(i, j)| covers_same(&d[i], &d[j]))
            .map(|(i, j)| format!("`{}` and `{}`", d[i].id, d[j].id))
            .collect()
    }

    /// Entries that name a gradient of a case that expects an error: it has no gradient run.
    pub fn unmatchable(&self, spec: &Spec) -> Vec<String> {
        (self.divergence.iter())
            .filter(|d| d.part.as_deref() == Some(Part::Gradient.as_str()))
            .filter(|d| {
                spec.case(split_id(&d.id).0)
                    .is_some_and(|c| !super::run::parts(c).contains(&Part::Gradient))
            })
            .map(|d| {
                format!(
                    "`{}` names a gradient, but the case expects an error: it has no gradient run",
                    d.id
                )
            })
            .collect()
    }

    /// Ids that name no case (or no dtype of it) in `spec`.
    pub fn stale(&self, spec: &Spec) -> Vec<String> {
        let known: BTreeSet<String> = spec
            .cases
            .iter()
            .flat_map(|c| {
                std::iter::once(c.id.clone())
                    .chain(c.dtypes.iter().map(move |d| format!("{}@{d}", c.id)))
            })
            .collect();
        self.divergence
            .iter()
            .filter(|d| !known.contains(&d.id))
            .map(|d| d.id.clone())
            .collect()
    }

    fn find(&self, id: &str, dtype: &str, part: Part) -> Option<&Divergence> {
        let with_dtype = format!("{id}@{dtype}");
        self.divergence.iter().find(|d| {
            (d.id == with_dtype || d.id == id)
                && d.part.as_deref().is_none_or(|p| p == part.as_str())
        })
    }

    /// Entries whose `part` is neither `value` nor `gradient`.
    pub fn invalid_parts(&self) -> Vec<String> {
        self.divergence
            .iter()
            .filter(|d| {
                d.part
                    .as_deref()
                    .is_some_and(|p| !matches!(p, "value" | "gradient"))
            })
            .map(|d| d.id.clone())
            .collect()
    }

    /// Marks the report's runs: listed failures become expected, listed passes unexpected.
    pub fn apply(&self, report: &mut Report) {
        for verdict in &mut report.runs {
            let run = &verdict.run;
            let Some(d) = self.find(&run.id, run.dtype.as_str(), run.part) else {
                continue;
            };
            let note = match &d.link {
                Some(link) => format!("{} ({link})", d.reason),
                None => d.reason.clone(),
            };
            let listed = d.grade.as_deref().and_then(Grade::parse);
            let failed = verdict.failed_grade();
            if let (Some(listed), Some(failed)) = (listed, failed) {
                if listed != failed {
                    // Another divergence than the one listed: not the known one.
                    verdict.divergence = Some(format!(
                        "listed as a divergence in the {listed} grade, but it fails the {failed} grade: {note}"
                    ));
                    continue;
                }
            }
            verdict.status = match verdict.status {
                Status::Failed => Status::ExpectedFailure,
                Status::Errored if d.errored => Status::ExpectedFailure,
                Status::Passed => Status::UnexpectedPass,
                other => other,
            };
            verdict.divergence = Some(note);
        }
    }
}
