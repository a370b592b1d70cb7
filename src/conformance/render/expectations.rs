//! An expectations file drafted from a run's failures: one `[[divergence]]` per failing case (and
//! dtype and part, where only some of its runs fail), with the failure's first line as a reason
//! to be rewritten and a link to be found; a run that errored gets `errored = true`, without
//! which `--expect` would not absorb it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::text::{detail, printable};
use crate::conformance::report::Report;
use crate::conformance::run::Part;
use crate::conformance::verdict::Status;

/// The TOML text of the draft.
pub fn skeleton(r: &Report) -> String {
    let mut failing: BTreeMap<&str, Vec<(String, Part, String, bool)>> = BTreeMap::new();
    let mut all: BTreeMap<&str, usize> = BTreeMap::new();
    for v in &r.runs {
        *all.entry(v.run.id.as_str()).or_default() += 1;
        if matches!(v.status, Status::Failed | Status::Errored) {
            let first = printable(detail(v).lines().next().unwrap_or_default());
            failing.entry(&v.run.id).or_default().push((
                v.run.dtype.to_string(),
                v.run.part,
                first,
                v.status == Status::Errored,
            ));
        }
    }
    let mut out = format!(
        "# Known divergences of {}, drafted by `check --write-expectations`: give each a\n# reason that says what the implementation does and what PyTorch does, and a link where\n# one exists.\n",
        printable(&r.implementation)
    );
    for (id, runs) in failing {
        let whole = runs.len() == all[id];
        let entries: Vec<(String, Option<Part>, &str, bool)> = if whole {
            let errored = runs.iter().any(|r| r.3);
            vec![(id.to_string(), None, runs[0].2.as_str(), errored)]
        } else {
            runs.iter()
                .map(|(d, p, why, e)| (format!("{id}@{d}"), Some(*p), why.as_str(), *e))
                .collect()
        };
        for (id, part, why, errored) in entries {
            let _ = write!(out, "\n[[divergence]]\nid = {}\n", toml_string(&id));
            if let Some(part) = part {
                let _ = writeln!(out, "part = \"{}\"", part.as_str());
            }
            let _ = writeln!(out, "reason = {}", toml_string(&format!("TODO: {why}")));
            if errored {
                // A crash, a hang or garbage is only expected when the entry says so.
                let _ = writeln!(out, "errored = true");
            }
        }
    }
    out
}

/// A TOML basic string: JSON's escapes are TOML's.
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}
