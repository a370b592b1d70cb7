//! Half-precision mutants (`spec/14-half-precision.md`): implementations that compute a float16
//! or bfloat16 run the way careless half kernels do. Each answers only half requests of the ops
//! its bug is in, and the reference elsewhere.

use cross_entropy_spec::conformance::protocol::{Reply, Request};
use cross_entropy_spec::eval::evaluate;
use cross_entropy_spec::halves;
use cross_entropy_spec::spec::Attrs;
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::{Dtype, Op, Role};
use ndarray::{ArrayD, Axis};

use super::Mutant;

/// The request's input dtype, if it is a half one.
fn half_input(request: &Request) -> Option<Dtype> {
    let dtype = request.tensors.get(&Role::Input)?.dtype();
    dtype.is_half().then_some(dtype)
}

fn output(dtype: Dtype, shape: &[usize], values: &[f64]) -> Option<Reply> {
    Some(Reply::Output {
        output: Tensor::from_f64(dtype, shape, values).ok()?,
        grad_input: None,
    })
}

/// A binary loss's 'mean' or 'sum': its per-element losses as the reference gives them with
/// `reduction='none'` on the request's tensors cast to `compute`, and whether it is a mean.
fn binary_terms(request: &Request, compute: Dtype) -> Option<(Vec<f64>, bool)> {
    let binary = matches!(
        request.op,
        Op::BinaryCrossEntropy | Op::BinaryCrossEntropyWithLogits
    );
    let reduction = request.attrs.reduction.as_deref().unwrap_or("mean");
    if !binary || !matches!(reduction, "mean" | "sum") {
        return None;
    }
    let attrs = Attrs {
        reduction: Some("none".into()),
        ..request.attrs.clone()
    };
    let tensors = (request.tensors.iter())
        .map(|(&role, t)| {
            (
                role,
                if t.dtype().is_float() {
                    t.cast(compute)
                } else {
                    t.clone()
                },
            )
        })
        .collect();
    let losses = evaluate(request.op, &tensors, &attrs).ok()?;
    Some((losses.to_f64_vec(), reduction == "mean"))
}

/// (h1) Computed in half: every intermediate rounded to the dtype, sums accumulated left to right
/// in the dtype (softmax and log_softmax rows, the binary losses' means and sums).
fn half_running_sums(request: &Request) -> Option<Reply> {
    let dtype = half_input(request)?;
    let r = |v: f64| halves::round(dtype, v);
    if let Some((terms, mean)) = binary_terms(request, dtype) {
        let total = terms.iter().fold(0.0, |s, &t| r(s + t));
        let value = if mean {
            r(total / terms.len() as f64)
        } else {
            total
        };
        return output(dtype, &[], &[value]);
    }
    let log = match request.op {
        Op::Softmax => false,
        Op::LogSoftmax => true,
        _ => return None,
    };
    let mut x: ArrayD<f64> = request.tensors[&Role::Input].float_array();
    let ndim = x.ndim() as i64;
    let dim = request.attrs.dim?;
    let axis = usize::try_from(if dim < 0 { dim + ndim } else { dim }).ok()?;
    if x.ndim() == 0 || axis >= x.ndim() {
        return None;
    }
    for mut lane in x.lanes_mut(Axis(axis)) {
        let m = lane.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let shifted: Vec<f64> = lane.iter().map(|&v| r(v - m)).collect();
        let sum = shifted.iter().fold(0.0, |s, &z| r(s + r(z.exp())));
        let log_sum = r(sum.ln());
        for (o, &z) in lane.iter_mut().zip(&shifted) {
            *o = if log {
                r(z - log_sum)
            } else {
                r(r(z.exp()) / sum)
            };
        }
    }
    let shape = x.shape().to_vec();
    output(dtype, &shape, &x.iter().copied().collect::<Vec<_>>())
}

/// float32 to bfloat16 by dropping the low 16 bits: truncation toward zero.
fn truncate(v: f64) -> f64 {
    f64::from(f32::from_bits((v as f32).to_bits() & 0xFFFF_0000))
}

/// (h2) bfloat16 truncated instead of rounded: the per-element losses computed in float32 and
/// truncated to bfloat16, and so the running sum that reduces them. (A result truncated once,
/// at the end, is within one ulp, `2u·|v|`: inside every allowance, so no case could catch it.)
fn bfloat16_truncated(request: &Request) -> Option<Reply> {
    if half_input(request)? != Dtype::BFloat16 {
        return None;
    }
    let (terms, mean) = binary_terms(request, Dtype::Float32)?;
    let total = terms.iter().fold(0.0, |s, &t| truncate(s + truncate(t)));
    let value = if mean {
        truncate(total / terms.len() as f64)
    } else {
        total
    };
    output(Dtype::BFloat16, &[], &[value])
}

/// Cross-entropy with class indices and label smoothing as PyTorch 2.15.0 computes it for a half
/// input (`spec/14-half-precision.md`): the log-probabilities rounded to the dtype, the nll term
/// reduced in float32, and the smoothing term `−Σ_c lp_c` a half tensor: each sample's sum rounded
/// to the dtype, and its reduction again. `half_sums = false` sums the smoothing term in float32
/// and rounds once (mutant h3).
fn smoothing_like_pytorch(request: &Request, half_sums: bool) -> Option<Reply> {
    let dtype = half_input(request)?;
    let eps = request.attrs.label_smoothing.filter(|e| *e > 0.0)?;
    let target = match request.tensors.get(&Role::Target)? {
        Tensor::Int64(t) => t.clone(),
        _ => return None,
    };
    let input = &request.tensors[&Role::Input];
    let ignore = request.attrs.ignore_index.unwrap_or(-100);
    if request.op != Op::CrossEntropy
        || input.shape().len() != 2
        || request.tensors.contains_key(&Role::Weight)
        || target.iter().any(|&t| t == ignore)
    {
        return None;
    }
    let r = |v: f64| halves::round(dtype, v);
    let sums = |v: f64| if half_sums { r(v) } else { v };
    let attrs = Attrs {
        dim: Some(1),
        ..Attrs::default()
    };
    let mut only_input = request.tensors.clone();
    only_input.retain(|&role, _| role == Role::Input);
    let lp = evaluate(Op::LogSoftmax, &only_input, &attrs).ok()?; // rounded to the dtype
    let lp: ArrayD<f64> = lp.float_array();
    let (n, c) = (input.shape()[0], input.shape()[1]);
    let nll: Vec<f64> = (0..n).map(|i| -lp[[i, target[[i]] as usize]]).collect();
    let smooth: Vec<f64> = (0..n)
        .map(|i| sums(-(0..c).map(|j| lp[[i, j]]).sum::<f64>()))
        .collect();
    let (a, b) = (1.0 - eps, eps / c as f64);
    let values: Vec<f64> = match request.attrs.reduction.as_deref().unwrap_or("mean") {
        "none" => (0..n).map(|i| r(a * nll[i] + b * smooth[i])).collect(),
        reduction => {
            let div = if reduction == "mean" { n as f64 } else { 1.0 };
            let nll = nll.iter().sum::<f64>() / div;
            let smooth = sums(smooth.iter().sum::<f64>()) / div;
            vec![r(a * nll + b * smooth)]
        }
    };
    let shape = if values.len() == 1 && request.attrs.reduction.as_deref() != Some("none") {
        vec![]
    } else {
        vec![n]
    };
    output(dtype, &shape, &values)
}

/// (h3) The log-probabilities rounded to the half dtype before the smoothing sum, which is then
/// taken in float32: one rounding per term, which the error scale counts.
fn log_softmax_rounded_before_smoothing(request: &Request) -> Option<Reply> {
    smoothing_like_pytorch(request, false)
}

/// (h4) float16 computed through float32 but overflowing where PyTorch does: the smoothing sums
/// held in float16.
fn float16_overflows_like_pytorch(request: &Request) -> Option<Reply> {
    if half_input(request)? != Dtype::Float16 {
        return None;
    }
    smoothing_like_pytorch(request, true)
}

/// The mutants a value run must catch by ten allowances or more: h1 and h2 by a finite factor.
pub fn half_precision_mutants() -> Vec<Mutant> {
    vec![
        Mutant {
            name: "(h1) half computed in half with running sums",
            bug: half_running_sums,
        },
        Mutant {
            name: "(h2) bfloat16 truncated instead of rounded",
            bug: bfloat16_truncated,
        },
    ]
}

/// h4: caught by the infinity it returns where the exact loss is finite.
pub fn overflow_mutant() -> Mutant {
    Mutant {
        name: "(h4) float16 through float32, overflowing where PyTorch does",
        bug: float16_overflows_like_pytorch,
    }
}

/// h3: an evaluation the error model admits (PyTorch's, without the overflow).
pub fn admitted_mutant() -> Mutant {
    Mutant {
        name: "(h3) log-softmax rounded to half before the smoothing sum",
        bug: log_softmax_rounded_before_smoothing,
    }
}
