//! The judgement of one run, as data: what was expected, what came back, and how they compare.
//! Renderers (text, JSON, PyTorch reproduction, expectations) turn verdicts into text; nothing
//! here does.

use super::compare::{Comparison, compare_yielding};
use super::protocol::{Reply, Request};
use super::run::{Claim, Expected, Run, Source};
use crate::tensor::Tensor;
use crate::vocab::{Dtype, ErrorKind};

/// The grade of a claim a run makes (spec/protocol.md, *Grades*): what any implementation of
/// these ops owes (*semantics*: the case's stated value or error, PyTorch's recorded gradient),
/// accuracy (*exact*: within the allowance of the exact value), or compatibility with a detail of
/// PyTorch's implementation that the spec marks (*pytorch*: every claim of such a run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grade {
    Semantics,
    Exact,
    Pytorch,
}

impl Grade {
    pub const ALL: [Grade; 3] = [Grade::Semantics, Grade::Exact, Grade::Pytorch];

    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Semantics => "semantics",
            Grade::Exact => "exact",
            Grade::Pytorch => "pytorch",
        }
    }

    pub fn parse(name: &str) -> Option<Grade> {
        Grade::ALL.into_iter().find(|g| g.as_str() == name)
    }

    /// The grade of a claim from `source` in a run that is not a PyTorch detail.
    fn of_source(source: Source) -> Grade {
        match source {
            Source::Stated | Source::Pytorch => Grade::Semantics,
            Source::Exact | Source::Oracle => Grade::Exact,
        }
    }
}

impl std::fmt::Display for Grade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a reply compares with what the run expects.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// The reply matches; for values, each claim's comparison, which shows by how much.
    Passed(Vec<(Source, Comparison)>),
    /// Values outside the tolerance, or of another shape.
    Mismatch {
        claim: usize,
        source: Source,
        comparison: Comparison,
    },
    /// Values expected, an error came back.
    UnexpectedError { kind: ErrorKind, message: String },
    /// An error of one kind expected, an error of another came back.
    WrongErrorKind {
        want: ErrorKind,
        got: ErrorKind,
        message: String,
    },
    /// An error expected, values came back.
    MissingError { want: ErrorKind },
    /// A gradient was asked for and the reply has none.
    MissingGradient,
    /// The implementation does not support what the run needs.
    Unsupported(String),
    /// The implementation crashed, hung or answered something unreadable.
    Broken(String),
    /// The run could not be judged: its request could not be built, or the spec has nothing to
    /// judge it by (a gradient neither stated nor recorded).
    Unjudgeable(String),
}

/// A run's status in the report, after the implementation's expectations file is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Passed,
    Failed,
    Errored,
    Skipped,
    /// A failure the expectations file lists.
    ExpectedFailure,
    /// A pass the expectations file says should be a failure: the list is out of date.
    UnexpectedPass,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Errored => "errored",
            Status::Skipped => "skipped",
            Status::ExpectedFailure => "expected_failure",
            Status::UnexpectedPass => "unexpected_pass",
        }
    }
}

impl Judgement {
    /// The status before expectations.
    pub fn status(&self) -> Status {
        match self {
            Judgement::Passed(_) => Status::Passed,
            Judgement::Unsupported(_) => Status::Skipped,
            Judgement::Broken(_) | Judgement::Unjudgeable(_) => Status::Errored,
            _ => Status::Failed,
        }
    }

    /// How many times its allowance the reply is off: 0 for a pass within the tolerance's
    /// smallest margin, infinite for a structural failure (an error, a shape, a NaN).
    pub fn ratio(&self) -> f64 {
        match self {
            Judgement::Passed(checked) => (checked.iter())
                .map(|(_, c)| c.worst_ratio())
                .fold(0.0, f64::max),
            Judgement::Mismatch { comparison, .. } => comparison.worst_ratio(),
            Judgement::Unsupported(_) | Judgement::Broken(_) | Judgement::Unjudgeable(_) => 0.0,
            _ => f64::INFINITY,
        }
    }
}

/// What a failing run keeps for its report: the request it sent (the spec's size), what it
/// expected, and of the reply only the tensor it judged, reduced to [`Got`].
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub request: Request,
    pub expected: Expected,
    pub got: Option<Got>,
}

/// What a failing run keeps of the tensor it judged: its shape, dtype and first values. The
/// reply itself is dropped as soon as it is judged, since an implementation may answer 2^24
/// elements for every run.
#[derive(Debug, Clone, PartialEq)]
pub struct Got {
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    /// The first [`Got::KEPT`] elements, formatted.
    pub first: Vec<String>,
}

impl Got {
    pub const KEPT: usize = 12;

    pub fn of(t: &Tensor) -> Got {
        let n: usize = t.shape().iter().product();
        Got {
            shape: t.shape().to_vec(),
            dtype: t.dtype(),
            first: (0..n.min(Got::KEPT)).map(|i| t.format_element(i)).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Evidence {
    /// The evidence of a judged run, keeping of the reply only what the report shows.
    pub fn new(request: Request, expected: Expected, reply: &Reply) -> Evidence {
        let got = judged_tensor(&request, reply).map(Got::of);
        Evidence {
            request,
            expected,
            got,
        }
    }
}

/// The tensor of a reply that a run judges: the gradient for a gradient request (the output
/// when there is none), else the output.
fn judged_tensor<'a>(request: &Request, reply: &'a Reply) -> Option<&'a Tensor> {
    match reply {
        Reply::Output {
            grad_input: Some(g),
            ..
        } if request.grad => Some(g),
        Reply::Output { output, .. } => Some(output),
        _ => None,
    }
}

/// One run judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub run: Run,
    pub source: Option<String>,
    pub judgement: Judgement,
    pub status: Status,
    /// The expectations file's reason, for an expected failure or an unexpected pass.
    pub divergence: Option<String>,
    /// Kept for runs that did not pass (a passing run's tensors are not needed again).
    pub evidence: Option<Box<Evidence>>,
}

impl Verdict {
    /// The grade the run failed in, for a run that failed or errored (before expectations): a
    /// run that pins a PyTorch detail fails the pytorch grade; otherwise a value outside the
    /// exact allowance alone fails the exact grade, and anything else (a stated value, an error
    /// kind, a crash) the semantics.
    pub fn failed_grade(&self) -> Option<Grade> {
        if !matches!(self.judgement.status(), Status::Failed | Status::Errored) {
            return None;
        }
        if self.run.pytorch.is_some() {
            return Some(Grade::Pytorch);
        }
        Some(match &self.judgement {
            Judgement::Mismatch { source, .. } => Grade::of_source(*source),
            _ => Grade::Semantics,
        })
    }

    /// The grades a run was judged in: the pytorch grade alone for a PyTorch detail; else the
    /// semantics, and the exact grade when the run has an exact claim that was reached (a run
    /// that failed its semantics never reached it). None for a skipped or unjudgeable run.
    pub fn judged_grades(&self) -> Vec<Grade> {
        match (&self.judgement, self.run.pytorch.is_some()) {
            (Judgement::Unsupported(_), _) => Vec::new(),
            (_, true) => vec![Grade::Pytorch],
            (Judgement::Passed(checked), false) => {
                let exact = (checked.iter()).any(|(s, _)| Grade::of_source(*s) == Grade::Exact);
                match exact {
                    true => vec![Grade::Semantics, Grade::Exact],
                    false => vec![Grade::Semantics],
                }
            }
            (Judgement::Mismatch { source, .. }, false)
                if Grade::of_source(*source) == Grade::Exact =>
            {
                vec![Grade::Semantics, Grade::Exact]
            }
            _ => vec![Grade::Semantics],
        }
    }

    pub fn new(
        run: Run,
        source: Option<String>,
        judgement: Judgement,
        evidence: Option<Evidence>,
    ) -> Verdict {
        let status = judgement.status();
        let evidence = evidence.filter(|_| status != Status::Passed).map(Box::new);
        Verdict {
            run,
            source,
            judgement,
            status,
            divergence: None,
            evidence,
        }
    }
}

/// Judges a reply against what a run in `dtype` expects (the tolerance is the dtype's).
pub fn judge(expected: &Expected, dtype: Dtype, request: &Request, reply: &Reply) -> Judgement {
    match (expected, reply) {
        (_, Reply::Unsupported(why)) => Judgement::Unsupported(why.clone()),
        (_, Reply::Broken(why)) => Judgement::Broken(why.clone()),
        (Expected::Values(_), Reply::Error { kind, message }) => Judgement::UnexpectedError {
            kind: *kind,
            message: message.clone(),
        },
        (
            Expected::Values(_),
            Reply::Output {
                grad_input: None, ..
            },
        ) if request.grad => Judgement::MissingGradient,
        (Expected::Values(claims), Reply::Output { output, grad_input }) => {
            let got = if request.grad {
                grad_input.as_ref().unwrap_or(output)
            } else {
                output
            };
            judge_claims(claims, got, dtype)
        }
        (Expected::Error(want), Reply::Error { kind, .. }) if kind == want => {
            Judgement::Passed(Vec::new())
        }
        (Expected::Error(want), Reply::Error { kind, message }) => Judgement::WrongErrorKind {
            want: *want,
            got: *kind,
            message: message.clone(),
        },
        (Expected::Error(want), Reply::Output { .. }) => Judgement::MissingError { want: *want },
    }
}

/// Every claim must hold; the first that does not is the mismatch. A pass keeps every claim's
/// comparison.
fn judge_claims(claims: &[Claim], got: &Tensor, dtype: Dtype) -> Judgement {
    let exact = claims.iter().find(|c| c.source == Source::Exact);
    let mut checked = Vec::new();
    for (i, claim) in claims.iter().enumerate() {
        let c = compare_yielding(got, claim, exact, dtype);
        if !c.passed() {
            return Judgement::Mismatch {
                claim: i,
                source: claim.source,
                comparison: c,
            };
        }
        checked.push((claim.source, c));
    }
    Judgement::Passed(checked)
}
