//! One run of the suite: a case, in one dtype, for its value or for the gradient of its sum. What
//! the run sends (its request, with an id unique to the run) and what it expects back.

use serde::Serialize;

use super::materialize::materialize;
use super::protocol::{Request, Vjp};
use super::scale::{exact_in_dtype, roundoff};
use crate::spec::case::PytorchRuns;
use crate::spec::{Case, Check, GradCheck, Literal, Location, Spec, Tolerance};
use crate::tensor::Tensor;
use crate::vocab::{Dtype, ErrorKind, Role};

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
    /// Why the run pins a detail of PyTorch's implementation (the case's `pytorch` or, for a
    /// gradient run, `pytorch_grad`): such a run is judged in the pytorch grade.
    pub pytorch: Option<String>,
}

impl Run {
    pub fn new(case: &Case, dtype: Dtype, part: Part) -> Run {
        let pytorch = (case.pytorch.as_ref())
            .filter(|p| match p.runs {
                PytorchRuns::All => true,
                PytorchRuns::Value => part == Part::Value,
                PytorchRuns::Gradient => part == Part::Gradient,
            })
            .map(|p| p.why.clone());
        Run {
            id: case.id.clone(),
            dtype,
            part,
            at: case.at.clone(),
            chapter: case.chapter.clone(),
            section: case.section.clone(),
            pytorch,
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

/// Where a claim about a run's values comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The case states it (`expect`, `expect_grad`): a document's figure, or PyTorch's value to
    /// eight digits, within the case's tolerance.
    Stated,
    /// The gradient PyTorch computed for the case, recorded beside the spec.
    Pytorch,
    /// The exact result on the case's inputs as stored in the run's dtype, recorded beside the
    /// spec, within `k` roundoffs of the op's error scale.
    Exact,
    /// The exact result on a randomly drawn call's inputs, from the crate's own oracle
    /// (`check --random`), within `k` roundoffs of the op's error scale.
    Oracle,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::Stated => "the value the case states",
            Source::Pytorch => "PyTorch's recorded gradient",
            Source::Exact => "the exact value (the spec's recorded/exact.json)",
            Source::Oracle => "the exact value (the crate's double-double oracle)",
        }
    }
}

/// One claim about a run's values: these values (or the element at `select`), within `tol`,
/// plus `tol.k` times the element's roundoff scale where the claim has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub source: Source,
    pub want: Literal,
    pub select: Option<Vec<usize>>,
    /// A recorded sample: `want.data` holds only the elements at these flat offsets of
    /// `want.shape`, and only they are compared.
    pub at: Option<Vec<usize>>,
    pub tol: Tolerance,
    pub signed_zeros: bool,
    /// Per element of the result: the dtype's unit roundoff times the op's error scale.
    pub roundoff: Option<Vec<f64>>,
    /// Whether the claim is one implementation's rounding of the exact result (PyTorch's
    /// recorded gradient) and so gives way to the run's exact claim: an element that the exact
    /// claim admits, or that is at least as close to exact as the claim's own, passes it
    /// whatever the tolerance says (`spec/13-appendix-tolerances.md`).
    pub yields_to_exact: bool,
}

/// What a run expects back.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// Values, judged by every claim.
    Values(Vec<Claim>),
    /// An error of this kind.
    Error(ErrorKind),
}

/// The case, dtype and part a request id names (`<case>@<dtype>` or `<case>@<dtype>/grad`).
pub fn find_run<'a>(spec: &'a Spec, request_id: &str) -> Result<(&'a Case, Dtype, Part), String> {
    let (case_id, rest) = request_id
        .rsplit_once('@')
        .ok_or_else(|| format!("`{request_id}` is not a request id (`<case>@<dtype>[/grad]`)"))?;
    let (dtype, part) = match rest.strip_suffix("/grad") {
        Some(dtype) => (dtype, Part::Gradient),
        None => (rest, Part::Value),
    };
    let case = spec
        .case(case_id)
        .ok_or_else(|| format!("no case `{case_id}`"))?;
    let dtype = Dtype::parse(dtype)
        .filter(|d| case.dtypes.contains(d))
        .ok_or_else(|| format!("case `{case_id}` does not run in `{dtype}`"))?;
    if !parts(case).contains(&part) {
        return Err(format!(
            "case `{case_id}` expects an error: it has no gradient run"
        ));
    }
    Ok((case, dtype, part))
}

/// The request a run sends.
pub fn request_for(case: &Case, dtype: Dtype, part: Part) -> Result<Request, String> {
    let tensors = materialize(case, dtype)?;
    let gradient = part == Part::Gradient;
    // The upstream gradient in the output's dtype (the run's, unless the op promotes).
    let out_dtype = crate::eval::result_dtype(case.op, &tensors);
    let upstream = (case.upstream.as_ref().filter(|_| gradient))
        .map(|u| Tensor::from_f64(out_dtype, &u.shape, &u.data))
        .transpose()?;
    Ok(Request {
        id: Run::new(case, dtype, part).request_id(),
        op: case.op,
        tensors,
        attrs: case.attrs.clone(),
        grad: gradient,
        vjp: Vjp {
            wrt: case.wrt.filter(|_| gradient).unwrap_or(Role::Input),
            upstream,
        },
    })
}

/// The parts a case runs for: its value, and the gradient of a case that expects a value.
pub fn parts(case: &Case) -> &'static [Part] {
    match case.check {
        Check::Value { .. } => &[Part::Value, Part::Gradient],
        Check::Error { .. } => &[Part::Value],
    }
}

/// What a run expects. A value run expects the value the case states and the exact value; a
/// gradient run the gradient the case states (`expect_grad`) or else PyTorch's recorded one
/// (within the spec's `gradient` tolerance; not in a half dtype), and the exact gradient. A claim the spec cannot
/// make (nothing recorded, or a record made for other inputs) leaves the run unjudgeable: an
/// error of the spec, never a skip.
pub fn expected_for(
    spec: &Spec,
    case: &Case,
    dtype: Dtype,
    part: Part,
    request: &Request,
) -> Result<Expected, String> {
    let Check::Value {
        expect,
        select,
        tol,
        signed_zeros,
        grad,
    } = &case.check
    else {
        let Check::Error { kind, .. } = &case.check else {
            unreachable!("two kinds of check")
        };
        return Ok(Expected::Error(*kind));
    };
    let claim =
        |source, want: Literal, select: Option<Vec<usize>>, tol: &Tolerance, signed_zeros| Claim {
            source,
            want,
            select,
            at: None,
            tol: tol.clone(),
            signed_zeros,
            roundoff: None,
            yields_to_exact: false,
        };
    let first = match (part, grad) {
        (Part::Value, _) => claim(
            Source::Stated,
            expect.clone(),
            select.clone(),
            tol,
            *signed_zeros,
        ),
        (Part::Gradient, Some(g)) => match g.as_ref() {
            GradCheck::Value { expect, tol } => {
                claim(Source::Stated, expect.clone(), None, tol, false)
            }
            GradCheck::Error { kind } => return Ok(Expected::Error(*kind)),
        },
        (Part::Gradient, None) => {
            let (want, at) = spec.recorded.gradient(&case.run_key(dtype))?;
            let tol = named(spec, "gradient")?;
            Claim {
                at,
                ..claim(Source::Pytorch, want, None, &tol, false)
            }
        }
    };
    let mut first = first;
    if first.tol.bounds(dtype).k > 0.0 {
        // A stated value with roundoffs in its tolerance (the exact value printed: chapter 14).
        first.roundoff = Some(roundoff(request, part)?);
    }
    let exact = exact_claim(spec, case, dtype, part, request)?;
    // PyTorch's half gradients are recorded, not claimed: they round in half where the exact
    // gradient needs none (spec/14-half-precision.md), so a half gradient is judged exactly.
    // Elsewhere PyTorch's gradient is one rounding of the exact one: it gives way to a closer
    // answer and to any the exact claim admits.
    let claims = match first.source {
        Source::Pytorch if dtype.is_half() => vec![exact],
        Source::Pytorch => vec![
            Claim {
                yields_to_exact: true,
                ..first
            },
            exact,
        ],
        _ => vec![first, exact],
    };
    agreeing_shapes(&claims, request, part).map_err(|why| {
        format!(
            "the spec's data for {} disagree: {why}",
            case.run_key(dtype)
        )
    })?;
    Ok(Expected::Values(claims))
}

/// The claims' shapes must agree, or the fault is the spec's, not the implementation's: every
/// tensor holds as many values as its shape says; a gradient has its `wrt` argument's shape; the exact
/// value has the stated value's shape (or holds the stated element).
fn agreeing_shapes(claims: &[Claim], request: &Request, part: Part) -> Result<(), String> {
    for c in claims {
        let n = match &c.at {
            Some(at) => at.len(),
            None => c.want.shape.iter().product(),
        };
        if n != c.want.data.len() {
            return Err(format!(
                "{} has shape {:?} but {} values",
                c.source.describe(),
                c.want.shape,
                c.want.data.len()
            ));
        }
    }
    let [stated, exact] = claims else {
        return Ok(());
    };
    // A gradient has the shape of the argument it differentiates.
    let wrt = request.tensors.get(&request.vjp.wrt);
    let expected_shape = match (part, &stated.select) {
        (Part::Gradient, _) => wrt.map(|t| t.shape().to_vec()),
        (Part::Value, None) => Some(stated.want.shape.clone()),
        (Part::Value, Some(index)) => {
            return match super::compare::flat_index(&exact.want.shape, index) {
                Some(_) => Ok(()),
                None => Err(format!(
                    "{} of shape {:?} has no element {index:?}",
                    exact.source.describe(),
                    exact.want.shape
                )),
            };
        }
    };
    let Some(shape) = expected_shape else {
        return Ok(());
    };
    match claims.iter().find(|c| c.want.shape != shape) {
        None => Ok(()),
        Some(c) => Err(format!(
            "{} has shape {:?}, not {shape:?}",
            c.source.describe(),
            c.want.shape
        )),
    }
}

/// A tolerance the spec must define.
fn named(spec: &Spec, name: &str) -> Result<Tolerance, String> {
    spec.tolerances
        .get(name)
        .cloned()
        .ok_or_else(|| format!("the spec defines no `{name}` tolerance"))
}

/// The claim of the exact result, within `k` roundoffs of the op's error scale at these inputs
/// (`rounding` for values, `rounding_grad` for gradients). The record must have been made for
/// exactly this request. A record of vocabulary scale holds a sample of the exact values; the
/// claim is then the crate's double-double oracle on every element, the oracle that
/// `tests/suite/oracle.rs` holds to the recorded sample (`spec/12-exact-values.md`).
fn exact_claim(
    spec: &Spec,
    case: &Case,
    dtype: Dtype,
    part: Part,
    request: &Request,
) -> Result<Claim, String> {
    let key = case.run_key(dtype);
    let record = spec.recorded.exact(&key)?;
    let digest = request_digest(request);
    if record.digest.as_deref() != Some(digest.as_str()) {
        return Err(format!(
            "the exact value of {key} was recorded for other inputs (digest {:?}, now {digest}): run scripts/exact_values.py",
            record.digest.as_deref().unwrap_or("none")
        ));
    }
    let (tensor, tol) = match part {
        Part::Value => (&record.output, named(spec, "rounding")?),
        Part::Gradient => match &record.grad_input {
            Some(g) => (g, named(spec, "rounding_grad")?),
            None => return Err(format!("the exact record of {key} has no gradient")),
        },
    };
    let Check::Value { signed_zeros, .. } = &case.check else {
        unreachable!("a value case")
    };
    let mut want = match tensor.indices {
        None => tensor.to_literal().0,
        Some(_) => {
            // The request asks for the gradient exactly when this is the gradient run.
            let exact = crate::oracle::exact(request)
                .map_err(|e| format!("the oracle refuses {key}, a value case: {e}"))?;
            if exact.shape != tensor.shape {
                return Err(format!(
                    "the oracle's {key} has shape {:?}, the recorded sample's {:?}",
                    exact.shape, tensor.shape
                ));
            }
            exact
        }
    };
    want.data = (want.data.iter())
        .map(|&v| exact_in_dtype(dtype, v))
        .collect();
    Ok(Claim {
        source: Source::Exact,
        want,
        select: None,
        at: None,
        tol,
        signed_zeros: *signed_zeros && part == Part::Value,
        roundoff: Some(roundoff(request, part)?),
        yields_to_exact: false,
    })
}

/// What identifies a request's call, whatever its id: FNV-1a (64-bit) of its op, inputs and
/// attributes on the wire, in hex. An exact record carries the digest of the request it was
/// computed for.
pub fn request_digest(request: &Request) -> String {
    let call = Request {
        id: String::new(),
        grad: false,
        vjp: Default::default(),
        ..request.clone()
    };
    let hash = (call.to_json().bytes()).fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}
