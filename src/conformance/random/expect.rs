//! Known divergences in the random mode. A drawn call has no stable case id, so an
//! expectations file names a divergence by what the failing runs have in common: the op, and
//! optionally the dtype and part, and a *condition* from a closed list ([`Condition`]) that every
//! failing element of the run must meet. A run is absorbed only when all of it is explained: one
//! element outside the condition leaves the run a failure. `within` caps how far off an absorbed
//! run may be, in allowances.

use serde::Deserialize;

use super::draw::Drawn;
use crate::conformance::protocol::Request;
use crate::conformance::run::Expected;
use crate::conformance::verdict::{Judgement, Status, Verdict};
use crate::tensor::Tensor;
use crate::vocab::{Dtype, Op};

/// One `[[random]]` table of an expectations file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub op: String,
    /// `float32` or `float64`; both when absent.
    #[serde(default)]
    pub dtype: Option<String>,
    /// `value` or `gradient`; both when absent.
    #[serde(default)]
    pub part: Option<String>,
    /// A [`Condition`]'s name.
    pub when: String,
    /// The most allowances an absorbed run may be off.
    #[serde(default)]
    pub within: Option<f64>,
    pub reason: String,
    #[serde(default)]
    pub link: Option<String>,
}

/// What every failing element of an absorbed run must meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The exact value, rounded to the dtype, is below the smallest normal number in magnitude
    /// (subnormal or zero): an implementation that flushes gradual underflow. In a product with
    /// an upstream gradient, below the smallest normal number times the upstream's largest
    /// magnitude (when above one): what a flushed subnormal intermediate is once scaled up.
    ExactBelowNormal,
    /// softmax, log_softmax or cross_entropy over at least [`LONG_ROW`] classes: a row sum
    /// accumulated in a few lanes left to right, not pairwise, whose error grows with the row
    /// faster than the `⌈log2 C⌉` of chapter 12.
    LongRow,
    /// softmax, log_softmax or cross_entropy summing along a dimension that is not the input's
    /// last (softmax's `dim`, cross-entropy's class dimension of an input with more after it):
    /// a row sum accumulated one term after another per position of the dimensions after it,
    /// whose error grows with the row as `C`, not `⌈log2 C⌉`.
    NotLastDim,
}

/// How many classes make a [`Condition::LongRow`]: PyTorch's lane sums show from 4,096 on
/// (`adapters/pytorch/README.md`: a float64 softmax over 4,096 near-ties, 1.07 allowances).
pub const LONG_ROW: usize = 4_096;

impl Condition {
    pub const ALL: [Condition; 3] = [
        Condition::ExactBelowNormal,
        Condition::LongRow,
        Condition::NotLastDim,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Condition::ExactBelowNormal => "exact_below_normal",
            Condition::LongRow => "long_row",
            Condition::NotLastDim => "not_last_dim",
        }
    }

    pub fn parse(name: &str) -> Option<Condition> {
        Condition::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Whether an element of the judged tensor, of exact value `exact`, meets the condition;
    /// `scale` is what may have multiplied an underflowed intermediate ([`upstream_scale`]).
    fn holds(self, drawn: &Drawn, exact: f64, scale: f64) -> bool {
        match self {
            Condition::ExactBelowNormal => exact.abs() < smallest_normal(drawn.dtype) * scale,
            Condition::LongRow => classes(drawn).is_some_and(|c| c >= LONG_ROW),
            Condition::NotLastDim => summed_dim(drawn).is_some_and(|d| d + 1 < rank(drawn)),
        }
    }
}

/// The input's rank, a 0-d input counting as one element along one dimension.
fn rank(drawn: &Drawn) -> usize {
    drawn.input().shape.len().max(1)
}

/// The length of the rows an op sums over (see [`summed_dim`]).
fn classes(drawn: &Drawn) -> Option<usize> {
    let shape = &drawn.input().shape;
    summed_dim(drawn).and_then(|d| shape.get(d).copied())
}

/// The dimension an op sums its rows along: softmax's and log_softmax's `dim`, cross-entropy's
/// class dimension (the second of a batch, the only one of a single sample).
fn summed_dim(drawn: &Drawn) -> Option<usize> {
    let shape = &drawn.input().shape;
    let dim = match drawn.op {
        Op::Softmax | Op::LogSoftmax => {
            let d = drawn.attrs.dim?;
            usize::try_from(d.rem_euclid(i64::try_from(shape.len()).ok()?.max(1))).ok()?
        }
        Op::CrossEntropy if shape.len() >= 2 => 1,
        Op::CrossEntropy => 0,
        _ => return None,
    };
    Some(dim)
}

/// The largest magnitude of a request's upstream gradient, and at least 1 (all ones without
/// one): the most an element of the product scales what it multiplies by.
fn upstream_scale(request: &Request) -> f64 {
    (request.vjp.upstream.iter())
        .flat_map(Tensor::to_f64_vec)
        .fold(1.0, |m, v| m.max(v.abs()))
}

fn smallest_normal(dtype: Dtype) -> f64 {
    match dtype {
        Dtype::Float32 => f64::from(f32::MIN_POSITIVE),
        _ => f64::MIN_POSITIVE,
    }
}

impl Rule {
    /// What is wrong with the rule: an unknown op, dtype, part or condition, a `within` that is
    /// not a positive number.
    pub fn problems(&self) -> Vec<String> {
        let mut wrong = Vec::new();
        if Op::parse(&self.op).is_none() {
            wrong.push(format!("unknown op `{}`", self.op));
        }
        if let Some(d) = &self.dtype
            && !matches!(d.as_str(), "float32" | "float64")
        {
            wrong.push(format!("`dtype` is float32 or float64, not `{d}`"));
        }
        if let Some(p) = &self.part
            && !matches!(p.as_str(), "value" | "gradient")
        {
            wrong.push(format!("`part` is value or gradient, not `{p}`"));
        }
        if Condition::parse(&self.when).is_none() {
            let known: Vec<_> = Condition::ALL.iter().map(|c| c.as_str()).collect();
            wrong.push(format!(
                "unknown condition `{}` (one of {})",
                self.when,
                known.join(", ")
            ));
        }
        if self.within.is_some_and(|w| !(w > 0.0 && w.is_finite())) {
            wrong.push("`within` is a positive number of allowances".into());
        }
        wrong
    }

    /// The reason with its link, as the report shows it.
    pub fn note(&self) -> String {
        match &self.link {
            Some(link) => format!("{} ({link})", self.reason),
            None => self.reason.clone(),
        }
    }

    /// Whether the rule explains this failed run of `drawn`: the op, dtype and part match, the
    /// values came back of the right shape, within `within` allowances, and every failing
    /// element meets the condition.
    pub fn absorbs(&self, drawn: &Drawn, verdict: &Verdict) -> bool {
        let run = &verdict.run;
        let Some(condition) = Condition::parse(&self.when) else {
            return false;
        };
        if verdict.status != Status::Failed
            || self.op != drawn.op.as_str()
            || self
                .dtype
                .as_deref()
                .is_some_and(|d| d != run.dtype.as_str())
            || self.part.as_deref().is_some_and(|p| p != run.part.as_str())
        {
            return false;
        }
        let Judgement::Mismatch {
            claim, comparison, ..
        } = &verdict.judgement
        else {
            return false;
        };
        let Some(evidence) = &verdict.evidence else {
            return false;
        };
        let Expected::Values(claims) = &evidence.expected else {
            return false;
        };
        let Some(want) = claims.get(*claim).map(|c| &c.want.data) else {
            return false;
        };
        let scale = upstream_scale(&evidence.request);
        comparison.shape_mismatch.is_none()
            && self.within.is_none_or(|w| comparison.worst_ratio() <= w)
            && (comparison.failing.iter()).all(|&i| {
                want.get(i)
                    .is_some_and(|&exact| condition.holds(drawn, exact, scale))
            })
    }
}
