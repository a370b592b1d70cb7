//! A run of the suite against one implementation: every verdict, and the counts. Rendering is in
//! [`super::render`].

use std::collections::BTreeMap;

use super::run::Part;
use super::verdict::{Grade, Status, Verdict};

/// The verdicts of a run of the suite.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub implementation: String,
    pub runs: Vec<Verdict>,
    /// Expectations-file ids that name no case of the spec.
    pub stale_expectations: Vec<String>,
    /// The run was interrupted: `runs` holds the runs completed before.
    pub interrupted: bool,
    /// How to replay one run by hand: the command that was checked, and the spec directory
    /// when not the built-in one (`cross-entropy-spec request [--spec DIR] ID | COMMAND`).
    pub replay: Option<Replay>,
}

/// What a replay line needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// The binary the check was run with (`std::env::current_exe`), which need not be on `PATH`.
    pub program: String,
    pub command: String,
    pub spec_dir: Option<String>,
}

/// How many runs ended in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub errored: usize,
    pub skipped: usize,
    pub expected_failures: usize,
    /// Errored runs (a crash, a hang, an unreadable reply) the expectations file lists with
    /// `errored = true`: counted apart from expected failures, since they judged nothing.
    pub expected_errors: usize,
    pub unexpected_passes: usize,
}

impl Counts {
    pub fn add(&mut self, verdict: &Verdict) {
        match verdict.status {
            Status::Passed => self.passed += 1,
            Status::Failed => self.failed += 1,
            Status::Errored => self.errored += 1,
            Status::Skipped => self.skipped += 1,
            Status::ExpectedFailure if verdict.judgement.status() == Status::Errored => {
                self.expected_errors += 1
            }
            Status::ExpectedFailure => self.expected_failures += 1,
            Status::UnexpectedPass => self.unexpected_passes += 1,
        }
    }

    pub fn of<'a>(verdicts: impl IntoIterator<Item = &'a Verdict>) -> Counts {
        let mut c = Counts::default();
        verdicts.into_iter().for_each(|v| c.add(v));
        c
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} errored, {} skipped",
            self.passed, self.failed, self.errored, self.skipped
        )?;
        if self.expected_failures > 0 {
            write!(f, ", {} expected failures", self.expected_failures)?;
        }
        if self.expected_errors > 0 {
            write!(f, ", {} expected errors", self.expected_errors)?;
        }
        if self.unexpected_passes > 0 {
            write!(f, ", {} unexpected passes", self.unexpected_passes)?;
        }
        Ok(())
    }
}

/// How the runs judged in one grade ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GradeCounts {
    /// Runs judged in the grade (a run that failed its semantics never reached its exact claim).
    pub judged: usize,
    /// Runs that failed in this grade, not listed in the expectations file.
    pub failed: usize,
    /// Runs that failed in this grade, listed as known divergences.
    pub documented: usize,
}

impl GradeCounts {
    pub fn passed(&self) -> usize {
        self.judged - self.failed - self.documented
    }
}

impl Report {
    /// The counts of each grade, every grade present.
    pub fn grades(&self) -> BTreeMap<Grade, GradeCounts> {
        let mut out: BTreeMap<Grade, GradeCounts> = Grade::ALL
            .iter()
            .map(|&g| (g, GradeCounts::default()))
            .collect();
        for v in &self.runs {
            for g in v.judged_grades() {
                out.entry(g).or_default().judged += 1;
            }
            if let Some(g) = v.failed_grade() {
                let c = out.entry(g).or_default();
                match v.status {
                    Status::ExpectedFailure => c.documented += 1,
                    Status::Failed | Status::Errored => c.failed += 1,
                    _ => {}
                }
            }
        }
        out
    }

    pub fn counts(&self) -> Counts {
        Counts::of(&self.runs)
    }

    /// The counts of the value runs or of the gradient runs.
    pub fn counts_of(&self, part: Part) -> Counts {
        Counts::of(self.runs.iter().filter(|v| v.run.part == part))
    }

    /// Nothing unexpected happened: no failure, no error, no unexpected pass, no stale entry.
    pub fn success(&self) -> bool {
        self.success_in(&Grade::ALL)
    }

    /// [`Report::success`] where only failures in `grades` count (`check --grade`): a run that
    /// fails another grade alone is reported, not required.
    pub fn success_in(&self, grades: &[Grade]) -> bool {
        let unexpected = self.runs.iter().any(|v| {
            matches!(v.status, Status::Failed | Status::Errored)
                && v.failed_grade().is_none_or(|g| grades.contains(&g))
        });
        !unexpected
            && self.counts().unexpected_passes == 0
            && self.stale_expectations.is_empty()
            && !self.interrupted
    }
}
