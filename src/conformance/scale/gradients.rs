//! The error scale of each element of a gradient run's result: the gradient of an op's summed
//! output with respect to its input, or a vector–Jacobian product with an upstream gradient or
//! with respect to another argument (see `spec/12-exact-values.md`). The gradient itself comes from the reference; here
//! only the sizes of the terms it is made of.

use ndarray::{ArrayD, Axis};

use super::Call;
use super::lanes::{self, Lane, depth};
use super::values::{class_lanes, class_weight, class_weights, targets};
use crate::reference::{Reduction, class_dim};
use crate::vocab::{Op, Role};

/// The scale of each element of a gradient run's result: of the gradient of the sum, or, with an
/// upstream gradient `u`, of the vector–Jacobian product. A loss element depends on its own row
/// alone, so every term of its row's gradient scales with that row's `|u_n|`, its underflow
/// floor `2η` too (`2η/u` here), and the product by `u_n` rounds once more (`2|g|`); softmax
/// and log_softmax mix a lane's `u` (`with_upstream`).
pub(super) fn scales(call: &Call) -> Result<Vec<f64>, String> {
    if call.vjp.wrt != Role::Input {
        return other_argument(call);
    }
    let Some(u) = call.upstream() else {
        return sum_scales(call);
    };
    if matches!(call.op, Op::Softmax | Op::LogSoftmax) {
        return with_upstream(call, &u);
    }
    let g = call.product()?;
    let factor = row_upstream(call, &u)?;
    let ones = sum_scales(call)?;
    let floor = 2.0 * call.tiny;
    let scales =
        (ones.iter().zip(&factor).zip(&g)).map(|((m, f), g)| f * (m + floor) + 2.0 * g.abs());
    Ok(scales.collect())
}

/// `|u|` of the output element each input element's gradient belongs to: the element itself
/// (sigmoid, the binary losses), its row's (a class loss with `"none"`), or the one upstream of
/// a reduced loss.
fn row_upstream(call: &Call, u: &ArrayD<f64>) -> Result<Vec<f64>, String> {
    let x = call.input();
    let shape = ndarray::IxDyn(x.shape());
    let rows = match (call.op, u.ndim()) {
        (Op::CrossEntropy | Op::NllLoss, n) if n > 0 => {
            u.clone().insert_axis(Axis(class_dim(x.ndim().max(1))))
        }
        _ => u.clone(),
    };
    let spread = rows.broadcast(shape).ok_or_else(|| {
        format!(
            "an upstream of shape {:?} does not fit an input of shape {:?}",
            u.shape(),
            x.shape()
        )
    })?;
    Ok(spread.iter().map(|v| v.abs()).collect())
}

/// softmax's product `s_j (u_j − Σ_k u_k s_k)`: each `s`'s rounding times `2 max|u|`, and the
/// rounding of the sum `Σ_k |u_k| (p_scale_k + L·s_k)`, times `s_j`; log_softmax's
/// `u_j − s_j Σ_k u_k`: `|u_j|`, `|Σ u|` times `log p_j`'s scale as in the sum's case, and the
/// sum's own rounding, `L·Σ|u|`, times `s_j`. A probability that underflows is good to its
/// floor `2η` only, times what multiplies it: `2 max|u|` (`|Σ u|` for log_softmax) for `s_j`,
/// `|u_k|` for each `s_k` of the sum, whose products may underflow too (`η/2` each).
fn with_upstream(call: &Call, u: &ArrayD<f64>) -> Result<Vec<f64>, String> {
    let x = call.input();
    if x.shape() != u.shape() {
        return Err(format!(
            "an upstream of shape {:?} for an input of shape {:?}",
            u.shape(),
            x.shape()
        ));
    }
    let (x, u) = match x.ndim() {
        0 => (x.insert_axis(Axis(0)), u.clone().insert_axis(Axis(0))),
        _ => (x, u.clone()),
    };
    let dim = call.attrs.dim.unwrap_or(0);
    let d = usize::try_from(dim.rem_euclid(x.ndim() as i64)).map_err(|e| e.to_string())?;
    let mut out = ArrayD::<f64>::zeros(x.raw_dim());
    let lanes = (x.lanes(Axis(d)).into_iter())
        .zip(u.lanes(Axis(d)))
        .zip(out.lanes_mut(Axis(d)));
    for ((lane, u), mut o) in lanes {
        let Some(lane) = Lane::of(lane) else { continue };
        let abs: f64 = u.iter().map(|v| v.abs()).sum();
        let total: f64 = u.sum();
        let max = u.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let floor = 2.0 * call.tiny;
        let sum_rounding: f64 = (0..lane.c)
            .map(|k| u[k].abs() * (lane.p_scale(k) + lane.l * lane.p(k) + floor) + call.tiny / 2.0)
            .sum();
        for (j, slot) in o.iter_mut().enumerate() {
            *slot = match call.op {
                Op::Softmax => {
                    2.0 * max * (lane.p_scale(j) + floor) + lane.p(j) * (sum_rounding + 2.0 * max)
                }
                _ => {
                    let p = lane.p(j);
                    let lp = p * (lane.log_p_scale(j) + 2.0) + floor;
                    u[j].abs() + total.abs() * lp + p * lane.l * abs
                }
            };
        }
    }
    Ok(out.iter().copied().collect())
}

/// The scale of the gradient of the sum (an upstream of ones).
fn sum_scales(call: &Call) -> Result<Vec<f64>, String> {
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
    let depth = depth(weights.len()) * call.accumulate;
    Ok((1.0 / d.abs(), depth * d_abs / d.abs()))
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

/// A product with respect to another argument than `input` (`spec/12-exact-values.md`, *Products
/// with respect to other arguments*): `c·u_n` (`c` the mean's `1/N`, `u_n` the element's or
/// row's upstream) times `w·(log σ(-x) - p·log σ(x))` (BCE-with-logits' target),
/// `-w·logit(x)` (BCE's), `-(1-ε)·w_c·log p_nc` (probability cross-entropy's target) or
/// `-Σ_n q'_nc·log p_nc` (its weight). Each logarithm is good to twice its size (`2|log|`),
/// `log p` to its lane's scale, and either, where it underflows (`log σ(-x) ≈ -e^(-x)`), to
/// its floor `2η`, times the factors above; the difference of two logarithms keeps their absolute errors;
/// the products round once each (`|g|` apiece), and the weight's sum over `N` rows adds
/// `⌈log2 N⌉` times the sum of its terms' sizes.
fn other_argument(call: &Call) -> Result<Vec<f64>, String> {
    let g = call.product()?;
    let u: Vec<f64> = call
        .upstream()
        .map(|u| u.iter().map(|v| v.abs()).collect())
        .unwrap_or_default();
    let u_at = |n: usize| match u.len() {
        0 => 1.0,
        1 => u[0],
        _ => u.get(n).copied().unwrap_or(0.0),
    };
    let mean = call.reduction()? == Reduction::Mean;
    let (tiny, floor) = (call.tiny, 2.0 * call.tiny);
    let x = call.input();
    let log_sigmoid = |v: f64| match v {
        v if v >= 0.0 => -(-v).exp().ln_1p(),
        v => v - v.exp().ln_1p(),
    };
    let scales: Vec<f64> = match (call.op, call.vjp.wrt) {
        (Op::BinaryCrossEntropy | Op::BinaryCrossEntropyWithLogits, Role::Target) => {
            let (w, pw) = (
                call.broadcast(Role::Weight)?,
                call.broadcast(Role::PosWeight)?,
            );
            let c = if mean { 1.0 / x.len() as f64 } else { 1.0 };
            (x.iter().zip(&w).zip(&pw).zip(&g).enumerate())
                .map(|(k, (((&x, &w), &pw), &g))| {
                    let logs = match call.op {
                        Op::BinaryCrossEntropy => (-x).ln_1p().abs() + x.ln().abs() + 2.0 * tiny,
                        _ => {
                            let floors = (1.0 + pw.abs()) * tiny;
                            log_sigmoid(-x).abs() + (pw * log_sigmoid(x)).abs() + floors
                        }
                    };
                    2.0 * c * u_at(k) * w.abs() * logs + 3.0 * g.abs()
                })
                .collect()
        }
        (Op::CrossEntropy, Role::Target | Role::Weight) => {
            let lanes = class_lanes(&x);
            let c = if mean { 1.0 / lanes.len() as f64 } else { 1.0 };
            let (weight, eps) = (class_weights(call), call.smoothing());
            let q = call.float(Role::Target).ok_or("probability targets")?;
            let q_lanes = class_lanes(&q);
            let classes = lanes.first().map_or(0, |l| l.len());
            let mut per_class = vec![0.0; classes];
            // The target's elements in the product's (row-major) order: a K-dim input's class
            // slices are strided, so each is written through its own lane.
            let mut per_element = ArrayD::<f64>::zeros(x.raw_dim());
            let cd = class_dim(x.ndim().max(1));
            let slots = per_element.lanes_mut(Axis(cd)).into_iter();
            for (n, ((lane, q), mut slot)) in lanes.into_iter().zip(&q_lanes).zip(slots).enumerate()
            {
                let Some(lane) = Lane::of(lane) else { continue };
                for (j, total) in per_class.iter_mut().enumerate() {
                    let w = class_weight(weight.as_ref(), j);
                    let lp = lane.log_p(j).abs();
                    match call.vjp.wrt {
                        Role::Target => {
                            let size = c * u_at(n) * (1.0 - eps) * w.abs();
                            slot[j] = size * (lane.log_p_scale(j) + 4.0 * lp + floor);
                        }
                        _ => {
                            let q = ((1.0 - eps) * q[j] + eps / classes as f64).abs();
                            let size = c * u_at(n) * q;
                            let rounding = (4.0 + depth(q_lanes.len())) * lp;
                            *total += size * (lane.log_p_scale(j) + rounding + floor);
                        }
                    }
                }
            }
            match call.vjp.wrt {
                Role::Target => per_element.iter().copied().collect(),
                _ => per_class,
            }
        }
        (op, wrt) => {
            return Err(format!(
                "`{op}` is not differentiated with respect to `{wrt}`"
            ));
        }
    };
    // Elements are laid out as the product is (the target's order is the input's).
    if scales.len() != g.len() {
        return Err(format!(
            "{} scales for a product of {} elements",
            scales.len(),
            g.len()
        ));
    }
    Ok(scales)
}
