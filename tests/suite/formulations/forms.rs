//! The formulations themselves: each computes one op's value in the request's dtype by a formula
//! other than the reference's, or answers `None` where it does not apply (the reference answers
//! then). They are written for the shapes the suite's cases of their op use: softmax and
//! log_softmax along any `dim`, cross-entropy with class indices on `(N, C)` logits, the binary
//! losses elementwise.

use ndarray::{ArrayD, ArrayViewMut1, Axis};
use num_traits::Float;

use cross_entropy_spec::conformance::protocol::Request;
use cross_entropy_spec::eval::evaluate;
use cross_entropy_spec::spec::Attrs;
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::{Dtype, Op, Role};

/// How a formulation adds up a row or the per-sample losses.
#[derive(Clone, Copy)]
pub enum Sum {
    /// Halves until at most eight terms remain, then left to right.
    Pairwise,
    /// Left to right with a running compensation (Kahan).
    Kahan,
}

impl Sum {
    pub fn of<T: Float>(self, v: &[T]) -> T {
        match self {
            Sum::Pairwise if v.len() > 8 => {
                let (a, b) = v.split_at(v.len() / 2);
                self.of(a) + self.of(b)
            }
            Sum::Pairwise => v.iter().fold(T::zero(), |s, &x| s + x),
            Sum::Kahan => {
                let (mut s, mut c) = (T::zero(), T::zero());
                for &x in v {
                    let y = x - c;
                    let t = s + y;
                    c = (t - s) - y;
                    s = t;
                }
                s
            }
        }
    }
}

/// How a formulation computes the probabilities and log-probabilities of one slice.
#[derive(Clone, Copy)]
pub enum Slice {
    /// `p = exp(x - m) / s`, `log p = (x - m) - log s`, with `s` added up by the given sum.
    Shifted(Sum),
    /// `log p = x - logsumexp(x)`, `p = exp(x - logsumexp(x))`.
    Unshifted,
    /// `log p = log(softmax(x))`.
    LogOfSoftmax,
}

impl Slice {
    fn lse<T: Float>(row: &[T], sum: Sum) -> (T, T) {
        let m = row.iter().fold(T::neg_infinity(), |a, &b| a.max(b));
        let e: Vec<T> = row.iter().map(|&x| (x - m).exp()).collect();
        (m, sum.of(&e).ln())
    }

    /// Rewrites `row` with its probabilities (`log = false`) or log-probabilities.
    fn apply<T: Float>(self, mut row: ArrayViewMut1<T>, log: bool) {
        let x: Vec<T> = row.iter().copied().collect();
        let out = row.iter_mut().zip(&x);
        match self {
            Slice::Shifted(sum) => {
                let (m, log_s) = Self::lse(&x, sum);
                let s = log_s.exp();
                for (o, &v) in out {
                    *o = if log {
                        (v - m) - log_s
                    } else {
                        (v - m).exp() / s
                    };
                }
            }
            Slice::Unshifted => {
                let (m, log_s) = Self::lse(&x, Sum::Pairwise);
                let lse = m + log_s;
                for (o, &v) in out {
                    *o = if log { v - lse } else { (v - lse).exp() };
                }
            }
            Slice::LogOfSoftmax => {
                let (m, log_s) = Self::lse(&x, Sum::Pairwise);
                let s = log_s.exp();
                for (o, &v) in out {
                    let p = (v - m).exp() / s;
                    *o = if log { p.ln() } else { p };
                }
            }
        }
    }

    /// softmax (`log = false`) or log_softmax of `x` along `dim`.
    pub fn along<T: Float>(self, mut x: ArrayD<T>, dim: Option<i64>, log: bool) -> ArrayD<T> {
        let d = dim.unwrap_or(0).rem_euclid(x.ndim() as i64) as usize;
        for lane in x.lanes_mut(Axis(d)) {
            self.apply(lane, log);
        }
        x
    }

    /// softmax's (`log = false`) or log_softmax's vector–Jacobian product with the upstream
    /// `v` along `dim`, from this slice's own probabilities: `p_j (v_j − Σ_k v_k p_k)` or
    /// `v_j − p_j Σ_k v_k` (for `Unshifted`, `p = exp(x − logsumexp(x))`: the exponential of
    /// a rounded log-probability, in every term of the sum).
    pub fn vjp_along<T: Float>(
        self,
        x: ArrayD<T>,
        v: &ArrayD<T>,
        dim: Option<i64>,
        log: bool,
    ) -> ArrayD<T> {
        let d = dim.unwrap_or(0).rem_euclid(x.ndim() as i64) as usize;
        let sum = match self {
            Slice::Shifted(sum) => sum,
            _ => Sum::Pairwise,
        };
        let mut g = self.along(x, dim, false);
        for (mut row, v) in g.lanes_mut(Axis(d)).into_iter().zip(v.lanes(Axis(d))) {
            let p: Vec<T> = row.to_vec();
            let total = match log {
                true => sum.of(&v.to_vec()),
                false => sum.of(&(p.iter().zip(v).map(|(&p, &v)| v * p)).collect::<Vec<_>>()),
            };
            for ((g, &p), &v) in row.iter_mut().zip(&p).zip(v) {
                *g = if log { v - p * total } else { p * (v - total) };
            }
        }
        g
    }
}

/// Runs `f` on the input in its own dtype and wraps the result.
fn in_dtype(
    input: &Tensor,
    f32: impl FnOnce(ArrayD<f32>) -> Option<ArrayD<f32>>,
    f64: impl FnOnce(ArrayD<f64>) -> Option<ArrayD<f64>>,
) -> Option<Tensor> {
    match input {
        Tensor::Float32(a) => f32(a.clone()).map(Tensor::Float32),
        Tensor::Float64(a) => f64(a.clone()).map(Tensor::Float64),
        // A half dtype's formulation is its float32 one, rounded once (float32 opmath).
        half @ (Tensor::Float16(_) | Tensor::BFloat16(_)) => {
            f32(half.float_array()).map(|r| Tensor::Float32(r).cast(half.dtype()))
        }
        Tensor::Int64(_) => None,
    }
}

/// softmax or log_softmax by `slice`.
pub fn softmax(request: &Request, slice: Slice) -> Option<Tensor> {
    let log = match request.op {
        Op::Softmax => false,
        Op::LogSoftmax => true,
        _ => return None,
    };
    let dim = request.attrs.dim;
    if request.tensors.get(&Role::Input)?.shape().is_empty() {
        return None;
    }
    in_dtype(
        request.tensors.get(&Role::Input)?,
        |a| Some(slice.along(a, dim, log)),
        |a| Some(slice.along(a, dim, log)),
    )
}

/// softmax's or log_softmax's product with respect to the input by `slice`, in float32 or
/// float64 (the reference answers a half dtype): the upstream as the request states it, or ones.
pub fn softmax_vjp(request: &Request, slice: Slice) -> Option<Tensor> {
    let log = match request.op {
        Op::Softmax => false,
        Op::LogSoftmax => true,
        _ => return None,
    };
    let input = request.tensors.get(&Role::Input)?;
    if !request.grad || request.vjp.wrt != Role::Input || input.shape().is_empty() {
        return None;
    }
    let ones = || Tensor::from_f64(input.dtype(), input.shape(), &vec![1.0; input.numel()]);
    let v = match &request.vjp.upstream {
        Some(v) => v.clone(),
        None => ones().ok()?,
    };
    let dim = request.attrs.dim;
    match (input, v) {
        (Tensor::Float32(x), Tensor::Float32(v)) => {
            Some(Tensor::Float32(slice.vjp_along(x.clone(), &v, dim, log)))
        }
        (Tensor::Float64(x), Tensor::Float64(v)) => {
            Some(Tensor::Float64(slice.vjp_along(x.clone(), &v, dim, log)))
        }
        _ => None,
    }
}

/// Cross-entropy with class indices on `(N, C)` logits, without weights or smoothing: each
/// sample's `-log p_t` from `slice`, reduced with `sum`.
pub fn cross_entropy(request: &Request, slice: Slice, sum: Sum) -> Option<Tensor> {
    let plain = request.attrs.label_smoothing.is_none_or(|e| e == 0.0)
        && !request.tensors.contains_key(&Role::Weight);
    let Some(Tensor::Int64(t)) = request.tensors.get(&Role::Target) else {
        return None;
    };
    let input = request.tensors.get(&Role::Input)?;
    if request.op != Op::CrossEntropy || !plain || input.shape().len() != 2 || t.ndim() != 1 {
        return None;
    }
    let ignore = request.attrs.ignore_index.unwrap_or(-100);
    let targets: Vec<i64> = t.iter().copied().collect();
    let c = input.shape()[1] as i64;
    if targets.iter().any(|&t| t != ignore && !(0..c).contains(&t)) {
        return None;
    }
    let reduction = request.attrs.reduction.clone();
    in_dtype(
        input,
        |a| {
            Some(losses(
                slice.along(a, Some(1), true),
                &targets,
                ignore,
                &reduction,
                sum,
            ))
        },
        |a| {
            Some(losses(
                slice.along(a, Some(1), true),
                &targets,
                ignore,
                &reduction,
                sum,
            ))
        },
    )
}

/// The reduced `-log p_t` of each sample of `log_p` (`(N, C)`).
fn losses<T: Float>(
    log_p: ArrayD<T>,
    targets: &[i64],
    ignore: i64,
    reduction: &Option<String>,
    sum: Sum,
) -> ArrayD<T> {
    let each: Vec<T> = (log_p.outer_iter().zip(targets))
        .map(|(row, &t)| match t == ignore {
            true => T::zero(),
            false => -row[t as usize],
        })
        .collect();
    let counted = targets.iter().filter(|&&t| t != ignore).count();
    reduce(each, reduction, counted, sum)
}

/// 'none', 'sum' or 'mean' (over `n` samples) of per-sample losses.
fn reduce<T: Float>(each: Vec<T>, reduction: &Option<String>, n: usize, sum: Sum) -> ArrayD<T> {
    let shape = [each.len()];
    match reduction.as_deref().unwrap_or("mean") {
        "none" => ArrayD::from_shape_vec(ndarray::IxDyn(&shape), each).expect("one per sample"),
        "sum" => ndarray::arr0(sum.of(&each)).into_dyn(),
        _ => ndarray::arr0(sum.of(&each) / T::from(n).expect("a count")).into_dyn(),
    }
}

/// BCE-with-logits as `w·(max(x, 0) - x·y + log1p(exp(-|x|)))`, without `pos_weight`, on
/// finite logits (at an infinite one the formula gives `inf - inf` or `inf`, where PyTorch's
/// special values are those of `spec/07-edge-values.md`: not a matter of precision).
pub fn bce_with_logits(request: &Request) -> Option<Tensor> {
    let get = |role| request.tensors.get(&role);
    let (x, y) = (get(Role::Input)?, get(Role::Target)?);
    if x.to_f64_vec().iter().any(|v| !v.is_finite()) {
        return None;
    }
    let shape_ok =
        x.shape() == y.shape() && get(Role::Weight).is_none_or(|w| w.shape() == x.shape());
    let ok = request.op == Op::BinaryCrossEntropyWithLogits && get(Role::PosWeight).is_none();
    if !ok || !shape_ok || x.dtype() != y.dtype() {
        return None;
    }
    let n = x.numel();
    let reduction = &request.attrs.reduction;
    let weight = get(Role::Weight);
    match (x, y) {
        (Tensor::Float32(x), Tensor::Float32(y)) => {
            let w = weight.map(Tensor::float_array::<f32>);
            Some(Tensor::Float32(stable_bce(x, y, w, reduction, n)))
        }
        (Tensor::Float64(x), Tensor::Float64(y)) => {
            let w = weight.map(Tensor::float_array::<f64>);
            Some(Tensor::Float64(stable_bce(x, y, w, reduction, n)))
        }
        _ => None,
    }
}

fn stable_bce<T: Float + 'static>(
    x: &ArrayD<T>,
    y: &ArrayD<T>,
    w: Option<ArrayD<T>>,
    reduction: &Option<String>,
    n: usize,
) -> ArrayD<T> {
    let w: Vec<T> = w.map_or(vec![T::one(); n], |w| w.iter().copied().collect());
    let each = (x.iter().zip(y).zip(w))
        .map(|((&x, &y), w)| w * (x.max(T::zero()) - x * y + (-x.abs()).exp().ln_1p()));
    let out = reduce(each.collect(), reduction, n, Sum::Pairwise);
    match reduction.as_deref() {
        Some("none") => out.into_shape_with_order(x.raw_dim()).expect("elementwise"),
        _ => out,
    }
}

/// BCE-with-logits as PyTorch's `binary_cross_entropy(sigmoid(x), y)`: the reference's BCE
/// (logs clamped at -100) of the reference's sigmoid.
pub fn bce_through_sigmoid(request: &Request) -> Option<Tensor> {
    if request.op != Op::BinaryCrossEntropyWithLogits
        || request.tensors.contains_key(&Role::PosWeight)
    {
        return None;
    }
    let mut tensors = request.tensors.clone();
    let x = tensors.get(&Role::Input)?;
    let s = evaluate(
        Op::Sigmoid,
        &[(Role::Input, x.clone())].into(),
        &Attrs::default(),
    )
    .ok()?;
    tensors.insert(Role::Input, s);
    evaluate(Op::BinaryCrossEntropy, &tensors, &request.attrs).ok()
}

/// The reference in another dtype: every floating argument cast to `wide`, the result cast back.
/// `float32` requests in float64 (careful), or `float64` requests in float32 (sloppy).
pub fn in_other_dtype(request: &Request, from: Dtype, wide: Dtype) -> Option<Tensor> {
    // Only requests all in `from`: a mixed one is a dtype error, whatever the arithmetic.
    let floats = request
        .tensors
        .values()
        .filter(|t| t.dtype() != Dtype::Int64);
    if floats.map(Tensor::dtype).any(|d| d != from) {
        return None;
    }
    let cast = (request.tensors.iter())
        .map(|(&role, t)| match t.dtype() {
            d if d == from => (role, t.cast(wide)),
            _ => (role, t.clone()),
        })
        .collect();
    let out = evaluate(request.op, &cast, &request.attrs).ok()?;
    Some(out.cast(from))
}
