//! Draws one call from the whole option surface: every op, option and reduction the spec
//! states; shapes from scalars to a 256,000-class row within the element bound; logits from
//! tiny to 1e4, with large common offsets, near-ties, results that underflow, and ±inf/NaN;
//! class targets that are ignored or out of range; weights with zeros; and the occasional input
//! PyTorch rejects (a dimension or target out of range, a size mismatch, smoothing above 1).

use std::collections::BTreeMap;

use super::rng::{Rng, pow2};
use crate::conformance::protocol::{Request, Vjp};
use crate::eval::Mode;
use crate::spec::Attrs;
use crate::tensor::Tensor;
use crate::vocab::{Dtype, Op, Role};

/// A tensor of a drawn call: its shape and values (already rounded to its dtype).
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
    /// Class indices (int64) rather than floats of the call's dtype.
    pub int: bool,
}

impl Array {
    pub fn float(shape: Vec<usize>, data: Vec<f64>, dtype: Dtype) -> Array {
        let data = match dtype {
            Dtype::Float32 => data.into_iter().map(|v| f64::from(v as f32)).collect(),
            Dtype::Float16 | Dtype::BFloat16 => (data.into_iter())
                .map(|v| crate::halves::round(dtype, v))
                .collect(),
            _ => data,
        };
        Array {
            shape,
            data,
            int: false,
        }
    }

    fn tensor(&self, dtype: Dtype) -> Result<Tensor, String> {
        let dtype = if self.int { Dtype::Int64 } else { dtype };
        Tensor::from_f64(dtype, &self.shape, &self.data)
    }
}

/// One drawn call, in a form the shrinker can edit.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    pub op: Op,
    pub dtype: Dtype,
    pub tensors: BTreeMap<Role, Array>,
    pub attrs: Attrs,
    /// What its gradient run differentiates, and with which upstream gradient.
    pub grad: GradDraw,
}

/// The vector–Jacobian product a drawn call's gradient run asks for: the argument it
/// differentiates, and the seed of its upstream gradient (`None`: all ones, the gradient of the
/// sum). The upstream is made when the request is ([`Drawn::request`]), of the output's shape
/// then, so that it follows the shrinker's cuts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradDraw {
    pub wrt: Role,
    pub upstream: Option<u64>,
}

impl Default for GradDraw {
    fn default() -> GradDraw {
        GradDraw {
            wrt: Role::Input,
            upstream: None,
        }
    }
}

impl Drawn {
    /// The request of this call, for its value or the gradient of its sum.
    pub fn request(&self, id: String, grad: bool) -> Result<Request, String> {
        let tensors = (self.tensors.iter())
            .map(|(&role, a)| Ok((role, a.tensor(self.dtype)?)))
            .collect::<Result<_, String>>()?;
        let vjp = match grad {
            true => self.vjp(&tensors),
            false => Vjp::default(),
        };
        Ok(Request {
            id,
            op: self.op,
            tensors,
            attrs: self.attrs.clone(),
            grad,
            vjp,
        })
    }

    /// The gradient run's `wrt` (the input, if the shrinker dropped the drawn one) and its
    /// upstream, drawn from its seed in the output's shape and dtype, which the reference's value
    /// gives (a call whose value is an error keeps all ones: its gradient run expects that error).
    fn vjp(&self, tensors: &crate::eval::Tensors) -> Vjp {
        let wrt = Some(self.grad.wrt)
            .filter(|r| tensors.contains_key(r))
            .unwrap_or(Role::Input);
        let value = crate::eval::evaluate_in::<f64>(self.op, tensors, &self.attrs, Mode::Value);
        let upstream = (self.grad.upstream.zip(value.ok())).and_then(|(seed, (dtype, out))| {
            let data = upstream_values(&mut Rng::for_case(seed, 0), out.len());
            let a = Array::float(out.shape().to_vec(), data, dtype);
            Tensor::from_f64(dtype, &a.shape, &a.data).ok()
        });
        Vjp { wrt, upstream }
    }

    pub fn input(&self) -> &Array {
        &self.tensors[&Role::Input]
    }
}

/// What the random mode may draw.
#[derive(Debug, Clone)]
pub struct Surface {
    pub ops: Vec<Op>,
    pub dtypes: Vec<Dtype>,
    /// The most elements the input may have.
    pub max_elements: usize,
}

/// Every op the spec states (the vocabulary's own list).
pub const ALL_OPS: [Op; 7] = Op::ALL;

/// Draws one call.
pub fn draw(rng: &mut Rng, surface: &Surface) -> Drawn {
    let op = rng.pick(&surface.ops);
    let dtype = rng.pick(&surface.dtypes);
    let mut d = Drawn {
        op,
        dtype,
        tensors: BTreeMap::new(),
        attrs: Attrs::default(),
        grad: GradDraw::default(),
    };
    let budget = surface.max_elements.max(1);
    match op {
        Op::Softmax | Op::LogSoftmax => normalisation(rng, &mut d, budget),
        Op::Sigmoid => {
            let shape = free_shape(rng, budget);
            d.tensors.insert(Role::Input, logits(rng, &shape, dtype));
        }
        Op::CrossEntropy | Op::NllLoss => classification(rng, &mut d, budget),
        Op::BinaryCrossEntropy | Op::BinaryCrossEntropyWithLogits => binary(rng, &mut d, budget),
    }
    if op.is_loss() && rng.chance(0.9) {
        d.attrs.reduction = Some(rng.pick(&["none", "sum", "mean"]).to_string());
    }
    d.grad = grad_draw(rng, &d);
    d
}

/// The gradient run's product: in three calls of four a drawn upstream (the rest keep the
/// gradient of the sum), and in two of five, where PyTorch differentiates another argument
/// than the input (a probability target and its class weight, the binary losses' target),
/// that argument. Drawn after everything else, so the calls' other draws are as they were.
fn grad_draw(rng: &mut Rng, d: &Drawn) -> GradDraw {
    let upstream = rng.chance(0.75).then(|| rng.next_u64());
    let soft = |r: &Role| d.tensors.get(r).is_some_and(|a| !a.int);
    let others: Vec<Role> = match d.op {
        Op::CrossEntropy if soft(&Role::Target) => [Role::Target, Role::Weight]
            .into_iter()
            .filter(|r| d.tensors.contains_key(r))
            .collect(),
        Op::BinaryCrossEntropy | Op::BinaryCrossEntropyWithLogits => vec![Role::Target],
        _ => vec![],
    };
    let wrt = match !others.is_empty() && rng.chance(0.4) {
        true => rng.pick(&others),
        false => Role::Input,
    };
    GradDraw { wrt, upstream }
}

/// An upstream gradient: zeros, ±1, negatives and positives of any size from 2^-8 to 2^8, and
/// now and then all of one value (a scalar for a reduction is one such value).
fn upstream_values(rng: &mut Rng, n: usize) -> Vec<f64> {
    let one = |rng: &mut Rng| match rng.below(6) {
        0 => 0.0,
        1 => rng.pick(&[1.0, -1.0]),
        _ => rng.pick(&[1.0, -1.0]) * rng.magnitude(-8, 8),
    };
    match rng.chance(0.1) {
        true => vec![one(rng); n],
        false => (0..n).map(|_| one(rng)).collect(),
    }
}

/// A number of elements, about log-uniform in `1..=budget`, favouring small ones; now and then
/// a vocabulary-sized row.
fn numel(rng: &mut Rng, budget: usize) -> usize {
    let cap = budget.min(4096);
    let bits = usize::BITS - cap.leading_zeros();
    let (high, low) = (rng.below(bits as usize), rng.below(bits as usize));
    let n = (1usize << high) + rng.below(1 << low);
    n.clamp(1, cap)
}

/// A shape of rank 0 to 3 with at most `numel(budget)` elements, now and then one with a zero.
fn free_shape(rng: &mut Rng, budget: usize) -> Vec<usize> {
    let rank = rng.below(4);
    if rng.chance(0.02) {
        return vec![0; rank.max(1)];
    }
    let mut left = numel(rng, budget);
    let mut shape = Vec::new();
    for i in 0..rank {
        let d = if i + 1 == rank {
            left
        } else {
            1 + rng.below(left.min(16))
        };
        shape.push(d.max(1));
        left = (left / d.max(1)).max(1);
    }
    shape
}

/// Rows × classes (`(C)`, `(N, C)` or `(N, C, d...)`) within the budget; 1 in 100 calls is a
/// vocabulary row of 1,000 to 256,000 classes.
fn class_shape(rng: &mut Rng, budget: usize) -> Vec<usize> {
    let vocab = [1000, 32000, 128_256, 256_000];
    let fits: Vec<usize> = vocab.into_iter().filter(|&c| c <= budget).collect();
    if !fits.is_empty() && rng.chance(0.01) {
        let c = rng.pick(&fits);
        let n = 1 + rng.below((budget / c).min(2));
        return vec![n, c];
    }
    let total = numel(rng, budget);
    let classes = 1 + rng.below(total.min(64));
    let rows = (total / classes).max(1);
    match rng.below(6) {
        0 => vec![classes],
        1 => vec![rows.min(4), classes, (rows / 4).clamp(1, 8)],
        _ => vec![rows, classes],
    }
}

fn normalisation(rng: &mut Rng, d: &mut Drawn, budget: usize) {
    let shape = match rng.chance(0.5) {
        true => class_shape(rng, budget),
        false => free_shape(rng, budget),
    };
    let rank = shape.len().max(1) as i64;
    let dim = match rng.chance(0.01) {
        true => rank,
        false => rng.between(-rank, rank - 1),
    };
    d.attrs.dim = Some(dim);
    d.tensors.insert(Role::Input, logits(rng, &shape, d.dtype));
}

/// Logits of one style: plain of a random scale (2^-10 to 1e4), around a large common offset,
/// near-ties of a few ulps, spread far enough that exponentials underflow, or small integers;
/// then, in one call in twenty, a few NaNs and infinities.
pub fn logits(rng: &mut Rng, shape: &[usize], dtype: Dtype) -> Array {
    let n = shape.iter().product::<usize>();
    let far = if dtype == Dtype::Float32 { 88.0 } else { 708.0 };
    let style = rng.below(5);
    let scale = rng.magnitude(-10, 14).min(1e4);
    let offset = rng.pick(&[100.0, -100.0, 1000.0, -1000.0, 1e4, -1e4]);
    let base = rng.symmetric(8.0);
    let mut data: Vec<f64> = (0..n)
        .map(|_| match style {
            0 => rng.symmetric(scale),
            1 => offset + rng.symmetric(8.0),
            2 => base * (1.0 + rng.between(-4, 4) as f64 * pow2(-23)),
            3 => match rng.chance(0.3) {
                true => -far - rng.unit() * 40.0,
                false => rng.symmetric(2.0),
            },
            _ => rng.between(-5, 5) as f64,
        })
        .collect();
    if n > 0 && rng.chance(0.05) {
        for _ in 0..1 + rng.below(2) {
            let at = rng.below(n);
            data[at] = rng.pick(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN]);
        }
    }
    Array::float(shape.to_vec(), data, dtype)
}

/// Values in `[0, 1]`: uniform, extremes within 2^-60 of 0 or 1, or exactly 0 and 1.
fn probabilities(rng: &mut Rng, shape: &[usize], dtype: Dtype) -> Array {
    let n = shape.iter().product::<usize>();
    let style = rng.below(3);
    let data = (0..n)
        .map(|_| match style {
            0 => rng.unit(),
            1 => {
                let tiny = rng.magnitude(-60, -1);
                if rng.chance(0.5) { tiny } else { 1.0 - tiny }
            }
            _ => {
                let u = rng.unit();
                rng.pick(&[0.0, 1.0, 0.5, u])
            }
        })
        .collect();
    Array::float(shape.to_vec(), data, dtype)
}

/// Non-negative weights, some of them zero.
fn weights(rng: &mut Rng, shape: Vec<usize>, dtype: Dtype, top: f64) -> Array {
    let n = shape.iter().product::<usize>();
    let zeros = rng.chance(0.3);
    let data = (0..n)
        .map(|_| match zeros && rng.chance(0.3) {
            true => 0.0,
            false => rng.unit() * top,
        })
        .collect();
    Array::float(shape, data, dtype)
}

fn classification(rng: &mut Rng, d: &mut Drawn, budget: usize) {
    let shape = class_shape(rng, budget);
    let class_dim = usize::from(shape.len() > 1);
    let classes = shape[class_dim];
    let input = match d.op {
        Op::NllLoss if rng.chance(0.5) => log_probabilities(rng, &shape, d.dtype),
        _ => logits(rng, &shape, d.dtype),
    };
    d.tensors.insert(Role::Input, input);
    let probabilities_target = d.op == Op::CrossEntropy && rng.chance(0.3);
    let target = match probabilities_target {
        true => soft_targets(rng, &shape, d.dtype),
        false => class_targets(rng, d, &shape, class_dim),
    };
    d.tensors.insert(Role::Target, target);
    if rng.chance(0.4) {
        let w = weights(rng, vec![classes], d.dtype, 2.0);
        d.tensors.insert(Role::Weight, w);
    }
    if d.op == Op::CrossEntropy && rng.chance(0.4) {
        d.attrs.label_smoothing = Some(match rng.below(20) {
            0 => 1.0,
            1 => 1.5,
            2 => -0.25,
            _ => rng.unit(),
        });
    }
}

/// Log-probabilities, as `nll_loss` is meant to be given: log_softmax of drawn logits is not
/// needed, any values below 0 will do.
fn log_probabilities(rng: &mut Rng, shape: &[usize], dtype: Dtype) -> Array {
    let n = shape.iter().product::<usize>();
    let data = (0..n).map(|_| -rng.magnitude(-20, 7)).collect();
    Array::float(shape.to_vec(), data, dtype)
}

/// Class probabilities shaped like the input: uniform, one-hot, or rows that sum to one.
fn soft_targets(rng: &mut Rng, shape: &[usize], dtype: Dtype) -> Array {
    let mut a = probabilities(rng, shape, dtype);
    if rng.chance(0.3) && shape.len() == 2 {
        let c = shape[1];
        for row in a.data.chunks_mut(c.max(1)) {
            let total: f64 = row.iter().sum();
            if total > 0.0 {
                row.iter_mut().for_each(|v| *v /= total);
            }
        }
        a = Array::float(a.shape, a.data, dtype);
    }
    a
}

/// Class indices for `input`'s shape: valid ones, ignored ones, and in one call in fifty one out
/// of range; `ignore_index` now and then set to a class or another negative number.
fn class_targets(rng: &mut Rng, d: &mut Drawn, shape: &[usize], class_dim: usize) -> Array {
    let classes = shape[class_dim];
    let target_shape: Vec<usize> = (shape.iter().enumerate())
        .filter(|&(i, _)| i != class_dim || shape.len() == 1)
        .filter(|&(i, _)| shape.len() > 1 || i != 0)
        .map(|(_, &s)| s)
        .collect();
    let ignore = match rng.below(4) {
        0 => {
            let i = rng.below(classes) as i64;
            d.attrs.ignore_index = Some(i);
            i
        }
        1 => {
            d.attrs.ignore_index = Some(-1);
            -1
        }
        _ => -100,
    };
    let n = target_shape.iter().product::<usize>();
    let ignored = rng.chance(0.3);
    let mut data: Vec<f64> = (0..n)
        .map(|_| match ignored && rng.chance(0.3) {
            true => ignore as f64,
            false => rng.below(classes) as f64,
        })
        .collect();
    if n > 0 && rng.chance(0.02) {
        let at = rng.below(n);
        data[at] = rng.pick(&[classes as f64, -2.0]);
    }
    Array {
        shape: target_shape,
        data,
        int: true,
    }
}

fn binary(rng: &mut Rng, d: &mut Drawn, budget: usize) {
    let shape = free_shape(rng, budget);
    let input = match d.op {
        Op::BinaryCrossEntropy => probabilities(rng, &shape, d.dtype),
        _ => logits(rng, &shape, d.dtype),
    };
    d.tensors.insert(Role::Input, input);
    let mut target_shape = shape.clone();
    if rng.chance(0.01) {
        target_shape.push(2);
    }
    let target = probabilities(rng, &target_shape, d.dtype);
    d.tensors.insert(Role::Target, target);
    if rng.chance(0.4) {
        let keep = rng.below(shape.len() + 1);
        let w_shape = shape[shape.len() - keep..].to_vec();
        d.tensors
            .insert(Role::Weight, weights(rng, w_shape, d.dtype, 2.0));
    }
    if d.op == Op::BinaryCrossEntropyWithLogits && rng.chance(0.4) {
        let last = shape.last().copied().unwrap_or(1);
        let pw = weights(rng, vec![last], d.dtype, 4.0);
        d.tensors.insert(Role::PosWeight, pw);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn surface(max_elements: usize) -> Surface {
        Surface {
            ops: ALL_OPS.to_vec(),
            dtypes: vec![Dtype::Float32, Dtype::Float64],
            max_elements,
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_calls() {
        let s = surface(300_000);
        let a: Vec<Drawn> = (0..50)
            .map(|i| draw(&mut Rng::for_case(3, i), &s))
            .collect();
        let b: Vec<Drawn> = (0..50)
            .map(|i| draw(&mut Rng::for_case(3, i), &s))
            .collect();
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    /// The draws are pinned: FNV-1a of the first 300 calls of seed 0, printed with Rust's
    /// shortest round-trip floats. A change to the generator changes every seed's calls; if it is
    /// meant, say so in the README and update the digest.
    #[test]
    fn the_draws_of_a_seed_are_pinned() {
        let s = surface(300_000);
        let text: String = (0..300)
            .map(|i| format!("{:?}\n", draw(&mut Rng::for_case(0, i), &s)))
            .collect();
        let digest = (text.bytes()).fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        assert_eq!(format!("{digest:016x}"), "fa2da96f0c1eeb2e");
    }

    #[test]
    fn gradient_runs_draw_upstreams_and_other_arguments() {
        let s = surface(64);
        let (mut signs, mut scalars, mut ones, mut wrt) = ([0; 3], 0, 0, BTreeMap::new());
        for i in 0..3000 {
            let d = draw(&mut Rng::for_case(2, i), &s);
            let Ok(r) = d.request(String::new(), true) else {
                continue;
            };
            *wrt.entry(r.vjp.wrt).or_insert(0) += 1;
            let Some(u) = r.vjp.upstream else {
                ones += 1;
                continue;
            };
            scalars += usize::from(u.shape().is_empty());
            for v in u.to_f64_vec() {
                signs[usize::from(v > 0.0) + usize::from(v >= 0.0)] += 1;
            }
            // Of the output's shape: the request's value answers in it.
            let value = r.tensors.clone();
            let out = crate::eval::evaluate_in::<f64>(d.op, &value, &d.attrs, Mode::Value);
            assert_eq!(out.unwrap().1.shape(), u.shape(), "{d:?}");
        }
        assert!(
            signs.iter().all(|&n| n > 50),
            "negative, zero, positive: {signs:?}"
        );
        assert!(
            scalars > 20 && ones > 50,
            "{scalars} scalar upstreams, {ones} all ones"
        );
        for role in [Role::Input, Role::Target, Role::Weight] {
            assert!(wrt.get(&role).is_some_and(|&n| n >= 3), "{wrt:?}");
        }
    }

    #[test]
    fn calls_stay_within_the_bound_and_cover_every_op() {
        let s = surface(64);
        let mut ops = std::collections::BTreeSet::new();
        for i in 0..2000 {
            let d = draw(&mut Rng::for_case(1, i), &s);
            assert!(d.input().data.len() <= 64, "{d:?}");
            for a in d.tensors.values() {
                assert_eq!(a.shape.iter().product::<usize>(), a.data.len(), "{d:?}");
            }
            ops.insert(d.op.as_str());
        }
        assert_eq!(ops.len(), ALL_OPS.len());
    }
}
