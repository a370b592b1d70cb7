//! A case, the executable example of the spec, and the spec as a whole.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::expr::Expr;
use crate::floats;
use crate::literal::Literal;
use crate::location::Location;
use crate::recorded::Recorded;
use crate::tolerance::Tolerance;
use crate::vocab::{Dtype, ErrorKind, Op, Role};

/// A tensor as a case writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum TensorSpec {
    Literal(Literal),
    Expr { source: String, expr: Expr },
}

impl TensorSpec {
    /// How many literal numbers this tensor carries in the parsed spec.
    pub fn literal_elements(&self) -> usize {
        match self {
            TensorSpec::Literal(lit) => lit.numel(),
            TensorSpec::Expr { expr, .. } => expr.literal_elements(),
        }
    }

    pub fn draws(&self) -> bool {
        matches!(self, TensorSpec::Expr { expr, .. } if expr.draws())
    }

    /// How many elements the tensor has (`None` beyond a `usize`).
    pub fn numel(&self) -> Option<usize> {
        match self {
            TensorSpec::Literal(lit) => Some(lit.numel()),
            TensorSpec::Expr { expr, .. } => expr.numel(),
        }
    }
}

/// The options of a call, with PyTorch's names; `None` means PyTorch's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attrs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dim: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reduction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_index: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "floats::option"
    )]
    pub label_smoothing: Option<f64>,
}

/// What a case claims about the call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
#[expect(
    clippy::large_enum_variant,
    reason = "nearly every case is a Value, and a spec holds a few hundred: boxing would buy nothing"
)]
pub enum Check {
    /// The output equals `expect` (or its element at `select`) within `tol`; the gradient of
    /// the output's sum with respect to `input` equals `grad`, when the case states it.
    Value {
        expect: Literal,
        select: Option<Vec<usize>>,
        tol: Tolerance,
        signed_zeros: bool,
        grad: Option<Box<GradCheck>>,
    },
    /// The call raises an error of this kind; the reference's message contains `message`.
    Error {
        kind: ErrorKind,
        message: Option<String>,
    },
}

/// A stated gradient: `expect_grad` within `grad_tol`, or `expect_grad_error`, the error PyTorch's
/// backward raises where its forward does not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
// A case holds it boxed (`Option<Box<GradCheck>>`), so the variants' sizes cost nothing.
#[allow(clippy::large_enum_variant)]
pub enum GradCheck {
    Value { expect: Literal, tol: Tolerance },
    Error { kind: ErrorKind },
}

/// The most input elements a case has and still runs in the plain test build
/// ([`Case::vocabulary_scale`]).
pub const VOCABULARY_SCALE: usize = 65_536;

/// One executable example of the spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub id: String,
    pub at: Location,
    /// The nearest heading above the case.
    pub section: String,
    /// The file's first-level heading.
    pub chapter: String,
    pub op: Op,
    pub tensors: BTreeMap<Role, TensorSpec>,
    pub attrs: Attrs,
    pub seed: Option<u64>,
    pub dtypes: Vec<Dtype>,
    pub check: Check,
    /// The argument the gradient run differentiates; `None` is `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrt: Option<Role>,
    /// The upstream gradient of the gradient run; `None` is all ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Literal>,
    pub agrees_with: Vec<String>,
    pub differs_from: Vec<String>,
    pub source: Option<String>,
    /// The rules of the prose this case checks (`**Rule <id>.**`).
    #[serde(default)]
    pub rules: Vec<String>,
    /// Set when the case pins a detail of PyTorch's implementation rather than the mathematics
    /// (`pytorch = "why"`; `pytorch_value` or `pytorch_grad` for its value or gradient runs
    /// alone): those runs are judged in the *pytorch* grade, not the *semantics* and *exact* ones.
    #[serde(default)]
    pub pytorch: Option<PytorchDetail>,
}

/// Why a case pins PyTorch rather than what every implementation owes, and which of its runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PytorchDetail {
    pub why: String,
    pub runs: PytorchRuns,
}

/// Which runs of a case pin the PyTorch detail: all of them (`pytorch`), only the value runs
/// (`pytorch_value`) or only the gradient runs (`pytorch_grad`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PytorchRuns {
    All,
    Value,
    Gradient,
}

impl Case {
    /// The identifier of the generated test function: dots become double underscores.
    pub fn test_name(&self) -> String {
        self.id.replace('.', "__")
    }

    /// Whether the case is of vocabulary scale: an input of more than [`VOCABULARY_SCALE`]
    /// elements. Its generated test is ignored by the plain test build, where the reference and
    /// the oracle take seconds over it, and run by `.ci/run` (`-- --ignored`); the release
    /// suite (`cargo run --release`) judges it like every case.
    pub fn vocabulary_scale(&self) -> bool {
        (self.tensors.get(&Role::Input))
            .is_some_and(|t| t.numel().is_none_or(|n| n > VOCABULARY_SCALE))
    }

    /// The key of one run of the case in the recorded data: `<case id>@<dtype>`.
    pub fn run_key(&self, dtype: Dtype) -> String {
        format!("{}@{dtype}", self.id)
    }
}

/// A spec file: its path (`spec/02-cross-entropy.md`) and first-level heading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chapter {
    pub file: String,
    pub title: String,
}

impl Chapter {
    /// The file's name without directory and extension: `02-cross-entropy`.
    pub fn stem(&self) -> &str {
        let name = self.file.rsplit('/').next().unwrap_or(&self.file);
        name.strip_suffix(".md").unwrap_or(name)
    }
}

/// The whole spec: every case in file order, the tolerances, the chapters, and the data recorded
/// for this spec (PyTorch's gradients).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub cases: Vec<Case>,
    pub tolerances: BTreeMap<String, Tolerance>,
    pub chapters: Vec<Chapter>,
    pub recorded: Recorded,
    /// Every rule the prose states, where it is stated.
    #[serde(default)]
    pub rules: BTreeMap<String, Location>,
}

impl Spec {
    /// A spec serialised as JSON (the form the crate embeds), read back. Deserialised here so
    /// that the code doing it is this crate's, which the test build optimises: every spawned
    /// test binary reads the embedded spec.
    pub fn from_json(text: &str) -> Result<Spec, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    pub fn case(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// The chapter a case belongs to.
    pub fn chapter_of(&self, case: &Case) -> Option<&Chapter> {
        self.chapters.iter().find(|c| c.file == case.at.file)
    }
}
