//! The verdicts of `check --json` reports, by case: what the site shows beside each card.
//! Only the fields the site needs are read; anything else in a report is ignored.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::SiteError;

#[derive(Deserialize)]
struct ReportFile {
    implementation: String,
    runs: Vec<RunEntry>,
}

#[derive(Deserialize)]
struct RunEntry {
    id: String,
    request: String,
    status: String,
    detail: Option<String>,
}

/// One run's verdict: its request id (`<case>@<dtype>` or `.../grad`), status and detail.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub request: String,
    pub status: String,
    pub detail: Option<String>,
}

/// Every report's verdicts: per implementation (in the order given), per case id.
#[derive(Debug, Clone, Default)]
pub struct Verdicts {
    pub implementations: Vec<(String, BTreeMap<String, Vec<Verdict>>)>,
}

impl Verdicts {
    /// Reads each report; a report that cannot be read or is not a `check --json` report is
    /// an error naming the file.
    pub fn read(paths: &[impl AsRef<Path>]) -> Result<Verdicts, SiteError> {
        let mut verdicts = Verdicts::default();
        for path in paths {
            let path = path.as_ref();
            let text = std::fs::read_to_string(path).map_err(super::io(path))?;
            verdicts.add(&text).map_err(|message| SiteError::Report {
                path: path.to_path_buf(),
                message,
            })?;
        }
        Ok(verdicts)
    }

    /// Adds one report's text.
    pub fn add(&mut self, text: &str) -> Result<(), String> {
        let report: ReportFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut by_case: BTreeMap<String, Vec<Verdict>> = BTreeMap::new();
        for run in report.runs {
            by_case.entry(run.id).or_default().push(Verdict {
                request: run.request,
                status: run.status,
                detail: run.detail,
            });
        }
        self.implementations.push((report.implementation, by_case));
        Ok(())
    }

    /// Each implementation's verdicts for one case (implementations without any are left out).
    pub fn of_case<'a>(&'a self, id: &str) -> Vec<(&'a str, &'a [Verdict])> {
        (self.implementations.iter())
            .filter_map(|(name, runs)| runs.get(id).map(|v| (name.as_str(), v.as_slice())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_grouped_by_case_and_a_malformed_report_is_an_error() {
        let mut v = Verdicts::default();
        let report = r#"{"implementation": "X", "runs": [
            {"id": "a.b", "request": "a.b@float32", "status": "passed", "detail": null},
            {"id": "a.b", "request": "a.b@float32/grad", "status": "failed", "detail": "off"}]}"#;
        v.add(report).unwrap();
        let of = v.of_case("a.b");
        assert_eq!(of.len(), 1);
        assert_eq!(of[0].1[1].status, "failed");
        assert!(v.of_case("c.d").is_empty());
        assert!(v.add(r#"{"implementation": "X"}"#).is_err());
        assert!(v.add("not json").is_err());
    }
}
