//! Turns a case's tensors, as the spec writes them (literals, bound names, PyTorch expressions
//! with seeded draws), into concrete tensors of the dtype a run uses.

use ndarray::ArrayD;

use crate::eval::Tensors;
use crate::reference::{self, Real};
use crate::spec::{Case, Expr, Func, Literal, TensorSpec};
use crate::tensor::Tensor;
use crate::torch_rng::{Draw, TorchGenerator};
use crate::vocab::{Dtype, Op, Role};

/// The concrete tensors of `case` when it runs in `dtype`. Draws come from one generator seeded
/// with the case's seed, in the order input, target, weight, pos_weight.
pub fn materialize(case: &Case, dtype: Dtype) -> Result<Tensors, String> {
    let mut generator = case.seed.map(TorchGenerator::manual_seed);
    let mut out = Tensors::new();
    for (&role, spec) in &case.tensors {
        let natural = match spec {
            TensorSpec::Literal(lit) => literal(lit, dtype, role_wants_int(case.op, role, lit))
                .map_err(|m| format!("{role}: {m}"))?,
            TensorSpec::Expr { source, expr } => evaluate(expr, dtype, &mut generator)
                .map_err(|m| format!("{role} = \"{source}\": {m}"))?,
        };
        // A dtype written out in the case is the point of the case (a wrong dtype on purpose).
        let explicit = matches!(spec, TensorSpec::Literal(lit) if lit.dtype.is_some());
        let tensor = if explicit {
            natural
        } else {
            for_role(case.op, role, natural, dtype)
        };
        out.insert(role, tensor);
    }
    Ok(out)
}

/// Whether a literal written for `role` is integer-valued: `cross_entropy` targets written with
/// integers are class indices, `nll_loss` targets always are.
fn role_wants_int(op: Op, role: Role, lit: &Literal) -> bool {
    role == Role::Target
        && match op {
            Op::CrossEntropy => lit.integral && lit.numel() > 0,
            Op::NllLoss => lit.integral,
            _ => false,
        }
}

/// Casts a tensor to what its role takes in a run of `dtype`.
fn for_role(op: Op, role: Role, t: Tensor, dtype: Dtype) -> Tensor {
    match (role, t.dtype()) {
        // Class indices stay int64; anything else floating in the run's dtype.
        (Role::Target, Dtype::Int64) if matches!(op, Op::CrossEntropy | Op::NllLoss) => t,
        (_, Dtype::Int64) => t.cast(dtype),
        _ => t,
    }
}

fn literal(lit: &Literal, run: Dtype, int: bool) -> Result<Tensor, String> {
    let dtype = lit.dtype.unwrap_or(if int { Dtype::Int64 } else { run });
    Tensor::from_f64(dtype, &lit.shape, &lit.data)
}

/// Evaluates an expression; floating results are in the run's dtype (draws are made in the
/// dtype they name and then widened, so a float64 run sees the float32 numbers).
fn evaluate(
    expr: &Expr,
    run: Dtype,
    generator: &mut Option<TorchGenerator>,
) -> Result<Tensor, String> {
    let t = match expr {
        Expr::Literal(lit) => literal(lit, run, lit.integral && lit.dtype.is_none())?,
        Expr::Rand { shape, dtype } => drawing(generator)?.draw(Draw::Rand, shape, *dtype)?,
        Expr::Randn { shape, dtype } => drawing(generator)?.draw(Draw::Randn, shape, *dtype)?,
        Expr::RandomBelow { shape, high, dtype } => {
            drawing(generator)?.draw(Draw::Below(*high), shape, *dtype)?
        }
        Expr::Arange { start, end } => {
            let values: Vec<f64> = (*start..*end).map(|v| v as f64).collect();
            Tensor::from_f64(Dtype::Int64, &[values.len()], &values)?
        }
        Expr::Full { shape, value } => {
            let n: usize = shape.iter().product();
            Tensor::from_f64(run, shape, &vec![*value; n])?
        }
        // A cast sees its argument as PyTorch made it (float32 draws and arithmetic), not
        // rounded to a half run's dtype first: `.bfloat16()` of a float16 run would round twice.
        Expr::Apply {
            func: func @ Func::Cast(_),
            arg,
        } if run.is_half() => apply(func, evaluate(arg, Dtype::Float32, generator)?, run)?,
        Expr::Apply { func, arg } => apply(func, evaluate(arg, run, generator)?, run)?,
    };
    // Floating values live in the run's dtype from here on.
    Ok(if t.dtype().is_float() { t.cast(run) } else { t })
}

fn drawing(generator: &mut Option<TorchGenerator>) -> Result<&mut TorchGenerator, String> {
    generator
        .as_mut()
        .ok_or_else(|| "this expression draws: the case needs `seed`".to_string())
}

fn apply(func: &Func, t: Tensor, run: Dtype) -> Result<Tensor, String> {
    match func {
        Func::Reshape(dims) => reshape(t, dims),
        Func::Squeeze(d) => {
            let mut shape = t.shape().to_vec();
            let d = wrap_dim(*d, shape.len())?;
            if shape[d] == 1 {
                shape.remove(d);
            }
            reshape_to(t, &shape)
        }
        Func::Unsqueeze(d) => {
            let mut shape = t.shape().to_vec();
            let d = wrap_dim(*d, shape.len() + 1)?;
            shape.insert(d, 1);
            reshape_to(t, &shape)
        }
        Func::Cast(Dtype::Int64) => Ok(t.cast(Dtype::Int64)),
        // `.half()`, `.bfloat16()`: rounded to that dtype, then held in the run's (exactly, but
        // for values below float16's range in a bfloat16 cast).
        Func::Cast(half) if half.is_half() => Ok(t.cast(*half).cast(run)),
        Func::Cast(_) => Ok(t.cast(run)),
        _ => match t.cast(run) {
            Tensor::Float64(a) => float_func(func, a).map(Tensor::Float64),
            Tensor::Float32(a) => float_func(func, a).map(Tensor::Float32),
            // A half tensor's function in float32, rounded once (its opmath).
            half @ (Tensor::Float16(_) | Tensor::BFloat16(_)) => {
                float_func(func, half.float_array::<f32>()).map(|a| Tensor::Float32(a).cast(run))
            }
            Tensor::Int64(_) => Err("unreachable: cast to a float dtype".into()),
        },
    }
}

fn float_func<T: Real>(func: &Func, a: ArrayD<T>) -> Result<ArrayD<T>, String> {
    let dim = |d: i64| isize::try_from(d).map_err(|_| format!("dim {d} is out of range"));
    Ok(match func {
        Func::Softmax { dim: d } => reference::softmax(&a, dim(*d)?).map_err(|e| e.to_string())?,
        Func::LogSoftmax { dim: d } => {
            reference::log_softmax(&a, dim(*d)?).map_err(|e| e.to_string())?
        }
        Func::Sigmoid => reference::sigmoid(&a),
        Func::Log => a.mapv(T::ln),
        Func::Exp => a.mapv(T::exp),
        Func::Neg => a.mapv(|v| -v),
        Func::Mul(c) => {
            let c = T::from_f64(*c);
            a.mapv(|v| v * c)
        }
        Func::Add(c) => {
            let c = T::from_f64(*c);
            a.mapv(|v| v + c)
        }
        _ => return Err(format!("{func:?} is not a floating function")),
    })
}

fn wrap_dim(d: i64, ndim: usize) -> Result<usize, String> {
    let n = ndim as i64;
    let w = if d < 0 { d + n } else { d };
    usize::try_from(w)
        .ok()
        .filter(|&w| w < ndim)
        .ok_or_else(|| format!("dimension {d} is out of range for {ndim} dimensions"))
}

fn reshape(t: Tensor, dims: &[i64]) -> Result<Tensor, String> {
    let numel = t.numel();
    let known: usize = dims
        .iter()
        .filter(|&&d| d >= 0)
        .map(|&d| d as usize)
        .product();
    let holes = dims.iter().filter(|&&d| d == -1).count();
    if holes > 1 || dims.iter().any(|&d| d < -1) {
        return Err(format!("cannot reshape to {dims:?}"));
    }
    let shape: Vec<usize> = dims
        .iter()
        .map(|&d| {
            if d == -1 {
                numel.checked_div(known).unwrap_or(0)
            } else {
                d as usize
            }
        })
        .collect();
    reshape_to(t, &shape)
}

fn reshape_to(t: Tensor, shape: &[usize]) -> Result<Tensor, String> {
    if crate::tensor::checked_numel(shape) != Ok(t.numel()) {
        return Err(format!(
            "shape {:?} cannot be reshaped to {shape:?}",
            t.shape()
        ));
    }
    Tensor::from_f64(t.dtype(), shape, &t.to_f64_vec())
}
