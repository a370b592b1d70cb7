//! An implementation's known divergences from the spec: which cases it is expected to fail, why,
//! and where that is tracked. Strict both ways: a listed case that passes, or an id that names no
//! case, is itself an error, so the list can never silently rot.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::{Part, Report, Status};
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
}

/// The expectations file: `[[divergence]]` tables.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    #[serde(default)]
    pub divergence: Vec<Divergence>,
}

impl Expectations {
    /// Reads an expectations file (TOML).
    pub fn parse(text: &str) -> Result<Expectations, String> {
        let parsed: Expectations = toml::from_str(text).map_err(|e| e.to_string())?;
        match parsed.invalid_parts().as_slice() {
            [] => Ok(parsed),
            ids => Err(format!(
                "`part` is \"value\" or \"gradient\" (entries {})",
                ids.join(", ")
            )),
        }
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
            verdict.status = match verdict.status {
                Status::Failed | Status::Errored => Status::ExpectedFailure,
                Status::Passed => Status::UnexpectedPass,
                other => other,
            };
            verdict.divergence = Some(note);
        }
    }
}
