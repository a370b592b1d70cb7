//! One run of the suite: a case, in one dtype, for its value or for the gradient of its sum. What
//! the run sends (its request, with an id unique to the run) and what it expects back.

use serde::Serialize;

use super::materialize::materialize;
use super::protocol::Request;
use crate::spec::{Case, Check, Literal, Location, Spec, Tolerance};
use crate::vocab::{Dtype, ErrorKind};

/// What a run checks: the value of the call, or the gradient of its sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Value,
    Gradient,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Value => "value",
            Part::Gradient => "gradient",
        }
    }
}

/// Which run: a case, a dtype, a part, and where the case is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub id: String,
    pub dtype: Dtype,
    pub part: Part,
    pub at: Location,
    pub chapter: String,
    pub section: String,
}

impl Run {
    pub fn new(case: &Case, dtype: Dtype, part: Part) -> Run {
        Run {
            id: case.id.clone(),
            dtype,
            part,
            at: case.at.clone(),
            chapter: case.chapter.clone(),
            section: case.section.clone(),
        }
    }

    /// The request id, unique per run: `<case>@<dtype>` for the value run, `<case>@<dtype>/grad`
    /// for the gradient run, so that a reply can only answer the run that asked.
    pub fn request_id(&self) -> String {
        match self.part {
            Part::Value => format!("{}@{}", self.id, self.dtype),
            Part::Gradient => format!("{}@{}/grad", self.id, self.dtype),
        }
    }
}

/// What a run expects back.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// These values (or the element at `select`) within `tol`.
    Value {
        want: Literal,
        select: Option<Vec<usize>>,
        tol: Tolerance,
        signed_zeros: bool,
    },
    /// An error of this kind.
    Error(ErrorKind),
}

/// The request a run sends.
pub fn request_for(case: &Case, dtype: Dtype, part: Part) -> Result<Request, String> {
    Ok(Request {
        id: Run::new(case, dtype, part).request_id(),
        op: case.op,
        tensors: materialize(case, dtype)?,
        attrs: case.attrs.clone(),
        grad: part == Part::Gradient,
    })
}

/// The parts a case runs for: its value, and the gradient of a case that expects a value.
pub fn parts(case: &Case) -> &'static [Part] {
    match case.check {
        Check::Value { .. } => &[Part::Value, Part::Gradient],
        Check::Error { .. } => &[Part::Value],
    }
}

/// What a run expects. A gradient run expects the gradient the case states (`expect_grad`,
/// within `grad_tol`), or else the one recorded for this spec from PyTorch, within the spec's
/// `gradient` tolerance; when neither exists the run cannot be judged, which is an error of the
/// spec, never a skip.
pub fn expected_for(
    spec: &Spec,
    case: &Case,
    dtype: Dtype,
    part: Part,
) -> Result<Expected, String> {
    match (&case.check, part) {
        (Check::Error { kind, .. }, _) => Ok(Expected::Error(*kind)),
        (
            Check::Value {
                expect,
                select,
                tol,
                signed_zeros,
                ..
            },
            Part::Value,
        ) => Ok(Expected::Value {
            want: expect.clone(),
            select: select.clone(),
            tol: tol.clone(),
            signed_zeros: *signed_zeros,
        }),
        (Check::Value { grad: Some(g), .. }, Part::Gradient) => Ok(Expected::Value {
            want: g.expect.clone(),
            select: None,
            tol: g.tol.clone(),
            signed_zeros: false,
        }),
        (Check::Value { grad: None, .. }, Part::Gradient) => {
            let want = spec.recorded.gradient(&case.run_key(dtype))?;
            let tol = spec.tolerances.get("gradient").cloned().ok_or(
                "the spec defines no `gradient` tolerance, which recorded gradients are checked with",
            )?;
            Ok(Expected::Value {
                want,
                select: None,
                tol,
                signed_zeros: false,
            })
        }
    }
}
