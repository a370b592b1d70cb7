//! The error scale of each element of the gradient of an op's summed output with respect to its
//! input (see `spec/12-exact-values.md`). The gradient itself comes from the reference; here
//! only the sizes of the terms it is made of.

use ndarray::{ArrayD, Axis};

use super::Call;
use super::lanes::{self, Lane, depth};
use super::values::{class_lanes, class_weight, class_weights, targets};
use crate::reference::{Reduction, class_dim};
use crate::vocab::{Op, Role};

pub(super) fn scales(call: &Call) -> Result<Vec<f64>, String> {
    let g = call.gradient()?;
    let scales = match call.op {
        Op::Softmax | Op::LogSoftmax => along_dim(call)?,
        // `y·(1 - y)`: `y` carries its own scale `4|y|`, which `1 - y` keeps absolutely.
        Op::Sigmoid => {
            let y = call.value(None)?;
            (g.iter().zip(&y))
                .map(|(g, y)| 4.0 * g.abs() + 4.0 * y * y)
                .collect()
        }
        Op::NllLoss => nll(call, &g)?,
        Op::CrossEntropy => cross_entropy(call, &g)?,
        Op::BinaryCrossEntropy => g.iter().map(|g| 6.0 * g.abs()).collect(),
        Op::BinaryCrossEntropyWithLogits => with_logits(call, &g)?,
    };
    Ok(scales)
}

/// softmax's gradient of a sum is `p_j (1 - Σ_k p_k)`, exactly 0: what remains is each `p`'s
/// rounding; log_softmax's is `1 - C·p_j`, which cancels near `p_j = 1/C`.
fn along_dim(call: &Call) -> Result<Vec<f64>, String> {
    let rounding = |lane: &Lane| (0..lane.c).map(|k| lane.p_scale(k)).sum::<f64>();
    lanes::along_dim(call, rounding, |lane, rounding, j| match call.op {
        Op::Softmax => lane.p(j) * (rounding + lane.l + 1.0),
        _ => 1.0 + lane.c as f64 * lane.p(j) * (lane.log_p_scale(j) + 2.0),
    })
}

/// The factor on each sample's gradient, `1/D` for 'mean', and the relative scale the mean's
/// denominator adds (`⌈log2 N⌉ Σ|w_n| / |D|`).
fn coefficient(call: &Call, weights: &[f64]) -> Result<(f64, f64), String> {
    if call.reduction()? != Reduction::Mean {
        return Ok((1.0, 0.0));
    }
    let d: f64 = weights.iter().sum();
    let d_abs: f64 = weights.iter().map(|w| w.abs()).sum();
    Ok((1.0 / d.abs(), depth(weights.len()) * d_abs / d.abs()))
}

/// The class weight of each sample's target (0 where ignored).
fn sample_weights(call: &Call) -> Vec<f64> {
    let weight = class_weights(call);
    targets(call)
        .iter()
        .map(|t| t.map_or(0.0, |t| class_weight(weight.as_ref(), t)))
        .collect()
}

/// `nll_loss`: `-w_t / D` at the target, 0 elsewhere.
fn nll(call: &Call, g: &ArrayD<f64>) -> Result<Vec<f64>, String> {
    let (_, denominator) = coefficient(call, &sample_weights(call))?;
    Ok(g.iter().map(|g| g.abs() * (2.0 + denominator)).collect())
}

/// `cross_entropy`: `c·[(1-ε)·w_t·(p_j - [j = t]) + (ε/C)·(Σ_k w_k·p_j - w_j)]` with index
/// targets, `c·(p_j·Σ_k w_k q'_k - w_j q'_j)` with probabilities.
fn cross_entropy(call: &Call, g: &ArrayD<f64>) -> Result<Vec<f64>, String> {
    let x = call.input();
    let (weight, eps) = (class_weights(call), call.smoothing());
    let w = |j| class_weight(weight.as_ref(), j);
    let per_sample = match call.indices() {
        Some(_) => sample_weights(call),
        None => vec![1.0; class_lanes(&x).len()],
    };
    let (c, denominator) = coefficient(call, &per_sample)?;
    let q = call.float(Role::Target);
    let q_lanes = q.as_ref().map(|q| class_lanes(q));
    let target = targets(call);
    let c_len = x
        .shape()
        .get(class_dim(x.ndim().max(1)))
        .copied()
        .unwrap_or(1);
    let all: f64 = (0..c_len).map(|k| w(k).abs()).sum();
    let mut out = ArrayD::<f64>::zeros(x.raw_dim());
    let cd = class_dim(x.ndim().max(1));
    let lanes = x.lanes(Axis(cd)).into_iter().zip(out.lanes_mut(Axis(cd)));
    for (n, (lane, mut o)) in lanes.enumerate() {
        let Some(lane) = Lane::of(lane) else { continue };
        // `p_j`'s rounding, by either form (`exp(z_j) / s` or `exp(x_j − logsumexp(x))`), and
        // its floor: `p_j` may underflow and the factor it is scaled by may exceed one.
        let p_scale = |j: usize| match lane.p(j) {
            0.0 => call.tiny,
            p => {
                p * (lane.z(j).abs() + lane.offset() + lane.log_s + 2.0 * lane.l + 3.0) + call.tiny
            }
        };
        let qs = |k: usize| {
            q_lanes
                .as_ref()
                .map_or(0.0, |q| (1.0 - eps) * q[n][k] + eps / lane.c as f64)
        };
        // Once per lane: the sum over the classes that each element's scale holds.
        let total: f64 = (0..lane.c).map(|k| (w(k) * qs(k)).abs()).sum();
        for (j, slot) in o.iter_mut().enumerate() {
            *slot = match (&q_lanes, target.get(n).copied().flatten()) {
                (Some(_), _) => c * (total * p_scale(j) + (w(j) * qs(j)).abs()),
                (None, Some(t)) => {
                    let hit = if j == t { 1.0 } else { 0.0 };
                    let smooth = match eps {
                        0.0 => 0.0,
                        _ => eps / lane.c as f64 * (all * p_scale(j) + w(j).abs()),
                    };
                    c * ((1.0 - eps) * w(t).abs() * (p_scale(j) + hit) + smooth)
                }
                (None, None) => 0.0,
            };
        }
    }
    let scales = (out.iter().zip(g)).map(|(m, g)| m + g.abs() * (2.0 + denominator));
    Ok(scales.collect())
}

/// BCE-with-logits: `c·w·(lw·σ(x) - pw·t)`, or equally `c·w·((1 - t) - lw·σ(-x))`: whichever
/// form an implementation evaluates, the larger of their terms bounds its cancellation.
fn with_logits(call: &Call, g: &ArrayD<f64>) -> Result<Vec<f64>, String> {
    let x = call.input();
    let (t, w, pw) = (
        call.broadcast(Role::Target)?,
        call.broadcast(Role::Weight)?,
        call.broadcast(Role::PosWeight)?,
    );
    let (c, _) = coefficient(call, &vec![1.0; x.len()])?;
    let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
    let scales = (x.iter().zip(&t).zip(&w).zip(&pw).zip(g)).map(|((((&x, &t), &w), &pw), &g)| {
        // `lw` to the size of its parts, as in the value (PyTorch: `(pw·t + 1) − t`).
        let lw = super::values::lw_size(pw, t);
        let terms = ((1.0 - t).abs() + lw * sigmoid(-x)).max(lw * sigmoid(x) + (pw * t).abs());
        // σ itself (exp, sum, division: 4), the product and the difference; σ's floor, scaled.
        6.0 * c * w.abs() * (terms + lw * call.tiny) + 2.0 * g.abs()
    });
    Ok(scales.collect())
}
