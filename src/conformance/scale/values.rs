//! The error scale of each element of an op's output (see `spec/12-exact-values.md`).

use ndarray::{ArrayD, Axis, IxDyn};

use super::Call;
use super::lanes::{self, Lane, depth};
use crate::reference::{Reduction, class_dim};
use crate::vocab::{Op, Role};

/// One sample's loss before the reduction: its value, its error scale, and its share of the
/// 'mean' denominator (its class weight, 1, or 0 when ignored).
struct Term {
    loss: f64,
    scale: f64,
    weight: f64,
}

pub(super) fn scales(call: &Call) -> Result<Vec<f64>, String> {
    match call.op {
        Op::Softmax | Op::LogSoftmax => along_dim(call),
        // `1 / (1 + exp(-x))`: the exp (2, damped by e/(1+e) <= 1), the sum and the division.
        Op::Sigmoid => Ok(call.value(None)?.iter().map(|y| 4.0 * y.abs()).collect()),
        Op::NllLoss => reduce(call, nll_terms(call)?),
        Op::CrossEntropy if call.indices().is_some() => reduce(call, class_terms(call)?),
        Op::CrossEntropy => reduce(call, probability_terms(call)?),
        Op::BinaryCrossEntropy | Op::BinaryCrossEntropyWithLogits => {
            reduce(call, binary_terms(call)?)
        }
    }
}

/// softmax's relative scale `p_j (|z_j| + L + 3)`, log_softmax's absolute one.
fn along_dim(call: &Call) -> Result<Vec<f64>, String> {
    lanes::along_dim(
        call,
        |_| (),
        |lane, _, j| match call.op {
            Op::Softmax => lane.p_scale(j),
            _ => lane.log_p_scale(j),
        },
    )
}

/// The per-sample losses (reduction 'none'), flat.
fn losses(call: &Call) -> Result<Vec<f64>, String> {
    Ok(call.value(Some("none"))?.iter().copied().collect())
}

/// The class weights, flat (`None`: all ones).
pub(super) fn class_weights(call: &Call) -> Option<Vec<f64>> {
    call.float(Role::Weight)
        .map(|w| w.iter().copied().collect())
}

/// The weight of class `t` (1 without weights).
pub(super) fn class_weight(weight: Option<&Vec<f64>>, t: usize) -> f64 {
    weight.and_then(|w| w.get(t).copied()).unwrap_or(1.0)
}

/// Each sample's target class, `None` where ignored.
pub(super) fn targets(call: &Call) -> Vec<Option<usize>> {
    let ignore = call.ignore_index();
    (call.indices().into_iter().flatten())
        .map(|&t| (t != ignore).then(|| usize::try_from(t).unwrap_or(0)))
        .collect()
}

/// `nll_loss`: one product per sample.
fn nll_terms(call: &Call) -> Result<Vec<Term>, String> {
    let weight = class_weights(call);
    let terms = losses(call)?
        .into_iter()
        .zip(targets(call))
        .map(|(loss, t)| Term {
            loss,
            scale: loss.abs(),
            weight: t.map_or(0.0, |t| class_weight(weight.as_ref(), t)),
        });
    Ok(terms.collect())
}

/// The input's class slices, in the order of the samples.
pub(super) fn class_lanes(x: &ArrayD<f64>) -> Vec<ndarray::ArrayView1<'_, f64>> {
    x.lanes(Axis(class_dim(x.ndim().max(1))))
        .into_iter()
        .collect()
}

/// `cross_entropy` with class indices: `(1-ε)·w_t·(-log p_t) + (ε/C)·Σ_j w_j·(-log p_j)`.
fn class_terms(call: &Call) -> Result<Vec<Term>, String> {
    let (x, weight, eps) = (call.input(), class_weights(call), call.smoothing());
    let w = |j| class_weight(weight.as_ref(), j);
    let mut terms = Vec::new();
    for ((lane, t), loss) in class_lanes(&x)
        .into_iter()
        .zip(targets(call))
        .zip(losses(call)?)
    {
        let (Some(t), Some(lane)) = (t, Lane::of(lane)) else {
            terms.push(Term {
                loss,
                scale: 0.0,
                weight: t.map_or(0.0, w),
            });
            continue;
        };
        let smooth: f64 = match eps {
            0.0 => 0.0,
            _ => (0..lane.c)
                .map(|j| w(j).abs() * (lane.log_p_scale(j) + lane.l * lane.log_p(j).abs()))
                .sum(),
        };
        let scale = (1.0 - eps) * w(t).abs() * lane.log_p_scale(t)
            + eps / lane.c as f64 * smooth
            + loss.abs();
        terms.push(Term {
            loss,
            scale,
            weight: w(t),
        });
    }
    Ok(terms)
}

/// `cross_entropy` with class probabilities: `-Σ_j w_j·q'_j·log p_j`.
fn probability_terms(call: &Call) -> Result<Vec<Term>, String> {
    let (x, weight, eps) = (call.input(), class_weights(call), call.smoothing());
    let q = call
        .float(Role::Target)
        .unwrap_or_else(|| ArrayD::zeros(IxDyn(&[0])));
    let lanes = class_lanes(&x).into_iter().zip(class_lanes(&q));
    let mut terms = Vec::new();
    for ((lane, q), loss) in lanes.zip(losses(call)?) {
        let scale = Lane::of(lane).map_or(0.0, |lane| {
            let q = |j: usize| (1.0 - eps) * q[j] + eps / lane.c as f64;
            let each = |j| class_weight(weight.as_ref(), j).abs() * q(j).abs();
            let sum: f64 = (0..lane.c)
                .map(|j| each(j) * (lane.log_p_scale(j) + (lane.l + 1.0) * lane.log_p(j).abs()))
                .sum();
            sum + loss.abs()
        });
        terms.push(Term {
            loss,
            scale,
            weight: 1.0,
        });
    }
    Ok(terms)
}

/// The binary losses, element by element, with `weight` and `pos_weight` broadcast.
fn binary_terms(call: &Call) -> Result<Vec<Term>, String> {
    let x = call.input();
    let (t, w, pw) = (
        call.broadcast(Role::Target)?,
        call.broadcast(Role::Weight)?,
        call.broadcast(Role::PosWeight)?,
    );
    let terms = (x.iter().zip(&t).zip(&w).zip(&pw).zip(losses(call)?)).map(
        |((((&x, &t), &w), &pw), loss)| {
            let scale = match call.op {
                // Each clamped log (2), `1 - x` (1 absolute in its log), the products and the sum.
                Op::BinaryCrossEntropy => {
                    let (l1, l2) = (x.ln().max(-100.0), (1.0 - x).ln().max(-100.0));
                    let positive = t.abs() * (2.0 * l1.abs() + 1.0);
                    w.abs() * (positive + (1.0 - t).abs() * (2.0 * l2.abs() + 2.0))
                }
                // `(1 - t)·x + lw·softplus(-x)`: the terms' sizes, which may cancel, and the
                // exp and log1p of the softplus (2 each); or `max(x, 0) − x·t + …`, which
                // rounds `x·t` and the difference (`|x t| + |max(x, 0) − x t|`). `lw` is held
                // to the size of its parts (`lw_size`), not its own: PyTorch's `1 + (pw − 1)·t`
                // cancels for a small `pw` and `t` near 1, as a relative `u` in `t` would.
                _ => {
                    let softplus = (-x).max(0.0) + (-x.abs()).exp().ln_1p();
                    let unshifted = (x * t).abs() + (x.max(0.0) - x * t).abs();
                    let terms = (1.0 - t).abs() * x.abs() + unshifted;
                    2.0 * w.abs() * (terms + lw_size(pw, t) * (softplus + 2.0))
                }
            };
            Term {
                loss,
                scale: scale + 2.0 * loss.abs(),
                weight: 1.0,
            }
        },
    );
    Ok(terms.collect())
}

/// The size of `lw = 1 + (pw − 1)·t`'s parts, `1 + |pw t| + |t|`: what rounding its sum
/// leaves in any order (`1 + (pw − 1)·t`, `(pw·t + 1) − t`, `(1 − t) + pw·t`), at least `|lw|`.
pub(super) fn lw_size(pw: f64, t: f64) -> f64 {
    1.0 + (pw * t).abs() + t.abs()
}

/// The scales of the reduced output: per sample for 'none'; for 'sum' and 'mean' the samples'
/// scales plus a pairwise sum's (`⌈log2 N⌉ Σ|l_n|`, at float32's roundoff in a half dtype), and
/// for 'mean' the denominator's.
fn reduce(call: &Call, terms: Vec<Term>) -> Result<Vec<f64>, String> {
    let n = terms.len();
    let scales: f64 = terms.iter().map(|t| t.scale).sum();
    let magnitude: f64 = terms.iter().map(|t| t.loss.abs()).sum();
    let total: f64 = terms.iter().map(|t| t.loss).sum();
    let depth = depth(n) * call.accumulate;
    let summed = scales + depth * magnitude;
    Ok(match call.reduction()? {
        Reduction::None => terms.iter().map(|t| t.scale).collect(),
        Reduction::Sum => vec![summed + total.abs()],
        Reduction::Mean => {
            let d: f64 = terms.iter().map(|t| t.weight).sum();
            let d_abs: f64 = terms.iter().map(|t| t.weight.abs()).sum();
            let y = total / d;
            vec![summed / d.abs() + y.abs() * (2.0 + depth * d_abs / d.abs())]
        }
    })
}
