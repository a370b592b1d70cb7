//! `cross-entropy-spec bench`: times the reference on large, deterministic inputs, so that
//! `scripts/bench_pytorch.py` can time PyTorch on the very same tensors and compare.
//!
//! Inputs come from PyTorch's CPU generator ([`crate::torch_rng`]) after `manual_seed(seed)`,
//! in this order (the script draws them in the same order):
//!
//! 1. logits `x = rand(shape) * 8 - 4` in the dtype (uniform in `[-4, 4)`; in float16 and
//!    bfloat16 the draw is PyTorch's half `rand`, and `* 8 - 4` is exact);
//! 2. the target: class indices `randint(0, C, shape without dim 1)` for `cross_entropy`
//!    (dim 0 for a 1-D shape), `rand(shape)` for probability targets and for
//!    `binary_cross_entropy_with_logits`; none for `softmax` and `log_softmax` (along dim 1,
//!    dim 0 for a 1-D shape).
//!
//! `--grad` times the gradient of the output's sum instead of the output (the reference's
//! `*_grad` functions, which start from the logits: the script times PyTorch's forward plus
//! backward). In float16 and bfloat16 the reference computes as its half runs do
//! (`spec/14-half-precision.md`): in float32 on the half inputs, the result rounded to the dtype
//! once, the rounding included in the time. The time is the median of `reps` calls after one warm-up call;
//! GB/s counts the bytes of every input tensor read once and of the result written once.

use std::time::Instant;

use ndarray::{ArrayD, IxDyn};
use serde::Deserialize;

use crate::error::LossError;
use crate::halves;
use crate::reference::{
    self, BceWithLogitsOptions, CrossEntropyOptions, Real, Reduction, Target, class_dim,
};
use crate::torch_rng::{TorchGenerator, TorchRngError};
use crate::vocab::Dtype;

/// The most elements one benchmark tensor may have: the reference's own limit on any tensor,
/// 2^28 (e.g. 4096×32000 logits, 500 MiB of f32).
pub const MAX_BENCH_ELEMENTS: usize = reference::MAX_ELEMENTS;
/// The most repetitions and threads accepted.
pub const MAX_REPS: usize = 10_000;
pub const MAX_THREADS: usize = 256;

/// A benchmark that cannot run, said plainly.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(
        "unknown op `{0}`: softmax, log_softmax, cross_entropy or binary_cross_entropy_with_logits"
    )]
    UnknownOp(String),
    #[error("unknown dtype `{0}`: float32, float64, float16 or bfloat16")]
    UnknownDtype(String),
    #[error("bad shape {shape:?}: {why}")]
    BadShape { shape: Vec<usize>, why: String },
    #[error("shape {shape:?} has more than {MAX_BENCH_ELEMENTS} elements, the benchmark's limit")]
    TooLarge { shape: Vec<usize> },
    #[error("--options is not valid: {0}")]
    BadOptions(String),
    #[error("--{name} must be between 1 and {max}, not {value}")]
    OutOfRange {
        name: &'static str,
        value: usize,
        max: usize,
    },
    #[error("cannot start {0} threads: {1}")]
    Threads(usize, String),
    #[error("drawing the inputs: {0}")]
    Rng(#[from] TorchRngError),
    #[error("the op rejected its inputs: {0}")]
    Loss(#[from] LossError),
}

/// The operations the benchmark times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchOp {
    Softmax,
    LogSoftmax,
    CrossEntropy,
    BinaryCrossEntropyWithLogits,
}

impl std::str::FromStr for BenchOp {
    type Err = BenchError;
    fn from_str(s: &str) -> Result<Self, BenchError> {
        match s {
            "softmax" => Ok(BenchOp::Softmax),
            "log_softmax" => Ok(BenchOp::LogSoftmax),
            "cross_entropy" => Ok(BenchOp::CrossEntropy),
            "binary_cross_entropy_with_logits" => Ok(BenchOp::BinaryCrossEntropyWithLogits),
            _ => Err(BenchError::UnknownOp(s.to_string())),
        }
    }
}

impl BenchOp {
    pub fn name(self) -> &'static str {
        match self {
            BenchOp::Softmax => "softmax",
            BenchOp::LogSoftmax => "log_softmax",
            BenchOp::CrossEntropy => "cross_entropy",
            BenchOp::BinaryCrossEntropyWithLogits => "binary_cross_entropy_with_logits",
        }
    }
}

/// `--options`, a JSON object; every key is optional and unknown keys are refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchOptions {
    /// "mean" (default), "sum" or "none" (the losses only).
    pub reduction: Option<String>,
    /// cross_entropy's `label_smoothing` (default 0).
    pub label_smoothing: Option<f64>,
    /// cross_entropy's target: "indices" (default) or "probabilities".
    pub target: Option<String>,
}

/// One benchmark: what to time, on what, how often.
#[derive(Debug, Clone)]
pub struct BenchSpec {
    pub op: BenchOp,
    pub grad: bool,
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    pub threads: usize,
    pub reps: usize,
    pub seed: u64,
    pub options: BenchOptions,
}

/// What one benchmark measured.
#[derive(Debug, Clone)]
pub struct BenchResult {
    pub median_ms: f64,
    pub gbps: f64,
    /// The sum of the result's elements in f64 (a check that PyTorch computed the same thing).
    pub checksum: f64,
    /// The first and last logits and target elements drawn, as f64 (to check the inputs).
    pub inputs: [f64; 4],
}

impl BenchSpec {
    /// The one-line summary the benchmark prints last.
    pub fn summary(&self, r: &BenchResult) -> String {
        let dims: Vec<String> = self.shape.iter().map(usize::to_string).collect();
        format!(
            "{}{} {} [{}]: median {:.1} ms, {:.2} GB/s ({} reps, {} threads)",
            self.op.name(),
            if self.grad { ".grad" } else { "" },
            self.dtype.as_str(),
            dims.join(", "),
            r.median_ms,
            r.gbps,
            self.reps,
            self.threads
        )
    }
}

/// Parses `float32`, `float64`, `float16` or `bfloat16`.
pub fn parse_dtype(s: &str) -> Result<Dtype, BenchError> {
    match Dtype::parse(s) {
        Some(d) if d.is_float() => Ok(d),
        _ => Err(BenchError::UnknownDtype(s.to_string())),
    }
}

/// Parses `--options` (empty means defaults).
pub fn parse_options(json: Option<&str>) -> Result<BenchOptions, BenchError> {
    json.map_or(Ok(BenchOptions::default()), |j| {
        serde_json::from_str(j).map_err(|e| BenchError::BadOptions(e.to_string()))
    })
}

/// Checks the spec and runs it on a pool of `threads` threads.
///
/// A small cross-entropy on two threads, and a shape beyond the reference's limit, refused
/// before anything is drawn:
///
/// ```
/// use cross_entropy_spec::bench::{BenchError, BenchSpec, parse_options, run};
///
/// let mut spec = BenchSpec {
///     op: "cross_entropy".parse().unwrap(),
///     grad: false,
///     shape: vec![64, 100],
///     dtype: cross_entropy_spec::vocab::Dtype::Float32,
///     threads: 2,
///     reps: 3,
///     seed: 0,
///     options: parse_options(Some(r#"{"label_smoothing": 0.1}"#)).unwrap(),
/// };
/// let result = run(&spec).unwrap();
/// assert!(result.median_ms >= 0.0 && result.checksum.is_finite());
/// assert!(spec.summary(&result).starts_with("cross_entropy float32 [64, 100]: median "));
///
/// spec.shape = vec![1 << 15, 1 << 14];
/// assert!(matches!(run(&spec), Err(BenchError::TooLarge { .. })));
/// ```
pub fn run(spec: &BenchSpec) -> Result<BenchResult, BenchError> {
    check(spec)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(spec.threads)
        .build()
        .map_err(|e| BenchError::Threads(spec.threads, e.to_string()))?;
    pool.install(|| match spec.dtype {
        Dtype::Float64 => run_typed::<f64>(spec),
        _ => run_typed::<f32>(spec),
    })
}

fn check(spec: &BenchSpec) -> Result<(), BenchError> {
    let bad = |why: &str| BenchError::BadShape {
        shape: spec.shape.clone(),
        why: why.to_string(),
    };
    if spec.shape.is_empty() || spec.shape.contains(&0) {
        return Err(bad("give one to three positive dimensions, e.g. 512,32000"));
    }
    if spec.shape.len() > 3 {
        return Err(bad("at most three dimensions (N, C, K)"));
    }
    let numel = spec.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if numel.is_none_or(|n| n > MAX_BENCH_ELEMENTS) {
        return Err(BenchError::TooLarge {
            shape: spec.shape.clone(),
        });
    }
    for (name, value, max) in [
        ("reps", spec.reps, MAX_REPS),
        ("threads", spec.threads, MAX_THREADS),
    ] {
        if value == 0 || value > max {
            return Err(BenchError::OutOfRange { name, value, max });
        }
    }
    let o = &spec.options;
    reduction(o)?;
    if let Some(t) = o
        .target
        .as_deref()
        .filter(|t| !["indices", "probabilities"].contains(t))
    {
        return Err(BenchError::BadOptions(format!(
            "target must be \"indices\" or \"probabilities\", not \"{t}\""
        )));
    }
    let ce_only = o.label_smoothing.is_some() || o.target.is_some();
    if ce_only && spec.op != BenchOp::CrossEntropy {
        return Err(BenchError::BadOptions(
            "label_smoothing and target are options of cross_entropy".into(),
        ));
    }
    if o.reduction.is_some() && matches!(spec.op, BenchOp::Softmax | BenchOp::LogSoftmax) {
        return Err(BenchError::BadOptions(format!(
            "{} has no reduction",
            spec.op.name()
        )));
    }
    Ok(())
}

fn reduction(o: &BenchOptions) -> Result<Reduction, BenchError> {
    o.reduction.as_deref().map_or(Ok(Reduction::Mean), |r| {
        r.parse()
            .map_err(|e: LossError| BenchError::BadOptions(e.message))
    })
}

/// `numel` uniforms of `dtype` from `rng`, drawn in chunks the generator accepts (the same
/// stream), as `T` (which holds every value of `dtype`).
fn uniforms<T: Real>(
    rng: &mut TorchGenerator,
    numel: usize,
    dtype: Dtype,
) -> Result<Vec<T>, BenchError> {
    const CHUNK: usize = 1 << 24;
    let mut out = Vec::with_capacity(numel);
    let round = |v: f32| halves::round(dtype, f64::from(v)) as f32;
    while out.len() < numel {
        let n = CHUNK.min(numel - out.len());
        let widen = |v: f32| T::from_f64(f64::from(v));
        match dtype {
            Dtype::Float64 => out.extend(rng.rand_f64(n)?.into_iter().map(T::from_f64)),
            Dtype::Float16 | Dtype::BFloat16 => {
                out.extend(rng.rand_half_with(n, round)?.into_iter().map(widen));
            }
            _ => out.extend(rng.rand_f32(n)?.into_iter().map(widen)),
        }
    }
    Ok(out)
}

/// The benchmark's inputs: logits and a target of either kind.
struct Inputs<T> {
    x: ArrayD<T>,
    indices: Option<ArrayD<i64>>,
    reals: Option<ArrayD<T>>,
}

fn inputs<T: Real>(spec: &BenchSpec) -> Result<Inputs<T>, BenchError> {
    let mut rng = TorchGenerator::manual_seed(spec.seed);
    let shape = IxDyn(&spec.shape);
    let numel: usize = spec.shape.iter().product();
    let (eight, four) = (T::from_f64(8.0), T::from_f64(4.0));
    let x: Vec<T> = uniforms::<T>(&mut rng, numel, spec.dtype)?;
    let x = ArrayD::from_shape_vec(
        shape.clone(),
        x.into_iter().map(|u| u * eight - four).collect(),
    )
    .map_err(|e| BenchError::BadShape {
        shape: spec.shape.clone(),
        why: e.to_string(),
    })?;
    let probabilities = spec.options.target.as_deref() == Some("probabilities");
    let mut out = Inputs {
        x,
        indices: None,
        reals: None,
    };
    match spec.op {
        BenchOp::CrossEntropy if !probabilities => {
            let cd = class_dim(spec.shape.len());
            let classes = spec.shape[cd];
            let mut tshape = spec.shape.clone();
            tshape.remove(cd);
            let t = rng.random_below(classes as u64, tshape.iter().product())?;
            out.indices = ArrayD::from_shape_vec(IxDyn(&tshape), t).ok();
        }
        BenchOp::CrossEntropy | BenchOp::BinaryCrossEntropyWithLogits => {
            let q = uniforms::<T>(&mut rng, numel, spec.dtype)?;
            out.reals = ArrayD::from_shape_vec(shape, q).ok();
        }
        BenchOp::Softmax | BenchOp::LogSoftmax => {}
    }
    Ok(out)
}

/// One call of the op being timed.
fn call<T: Real>(spec: &BenchSpec, i: &Inputs<T>) -> Result<ArrayD<T>, LossError> {
    let reduction = reduction(&spec.options).unwrap_or_default();
    let dim = class_dim(spec.shape.len()) as isize;
    let missing = || LossError::new(crate::error::ErrorKind::MissingArgument, "no target");
    match spec.op {
        BenchOp::Softmax if spec.grad => reference::softmax_grad(&i.x, dim),
        BenchOp::Softmax => reference::softmax(&i.x, dim),
        BenchOp::LogSoftmax if spec.grad => reference::log_softmax_grad(&i.x, dim),
        BenchOp::LogSoftmax => reference::log_softmax(&i.x, dim),
        BenchOp::CrossEntropy => {
            let opts = CrossEntropyOptions {
                reduction,
                label_smoothing: spec.options.label_smoothing.unwrap_or(0.0),
                ..Default::default()
            };
            let target = match (&i.indices, &i.reals) {
                (Some(t), _) => Target::Indices(t),
                (None, Some(q)) => Target::Probabilities(q),
                (None, None) => return Err(missing()),
            };
            match spec.grad {
                true => reference::cross_entropy_grad(&i.x, target, &opts),
                false => reference::cross_entropy(&i.x, target, &opts),
            }
        }
        BenchOp::BinaryCrossEntropyWithLogits => {
            let y = i.reals.as_ref().ok_or_else(missing)?;
            let opts = BceWithLogitsOptions {
                weight: None,
                pos_weight: None,
                reduction,
            };
            match spec.grad {
                true => reference::binary_cross_entropy_with_logits_grad(&i.x, y, &opts),
                false => reference::binary_cross_entropy_with_logits(&i.x, y, &opts),
            }
        }
    }
}

/// One call in the benchmark's dtype: a half dtype's result rounded to it (computed in `T`).
fn call_rounded<T: Real>(spec: &BenchSpec, i: &Inputs<T>) -> Result<ArrayD<T>, LossError> {
    let out = call(spec, i)?;
    Ok(match spec.dtype.is_half() {
        true => out.mapv(|v| T::from_f64(halves::round(spec.dtype, Real::to_f64(v)))),
        false => out,
    })
}

fn run_typed<T: Real>(spec: &BenchSpec) -> Result<BenchResult, BenchError> {
    let inputs = inputs::<T>(spec)?;
    let mut result = call_rounded(spec, &inputs)?; // warm-up, and the result checked
    let mut times = Vec::with_capacity(spec.reps);
    for _ in 0..spec.reps {
        let start = Instant::now();
        result = std::hint::black_box(call_rounded(spec, &inputs)?);
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    // Bytes of the benchmark's dtype, whatever `T` computes in.
    let size = match spec.dtype {
        Dtype::Float64 => 8,
        Dtype::Float32 => 4,
        _ => 2,
    };
    let read = inputs.x.len() * size
        + inputs.indices.as_ref().map_or(0, |t| t.len() * 8)
        + inputs.reals.as_ref().map_or(0, |q| q.len() * size);
    let bytes = (read + result.len() * size) as f64;
    let first_last = |a: &[f64]| [a.first().copied(), a.last().copied()];
    let xs = inputs.x.as_slice().unwrap_or(&[]);
    let t_first_last: [Option<f64>; 2] = match (&inputs.indices, &inputs.reals) {
        (Some(t), _) => first_last(&t.iter().map(|&v| v as f64).collect::<Vec<_>>()),
        (None, Some(q)) => [
            q.first().map(|v| Real::to_f64(*v)),
            q.last().map(|v| Real::to_f64(*v)),
        ],
        (None, None) => [None, None],
    };
    Ok(BenchResult {
        median_ms: median * 1e3,
        gbps: bytes / median / 1e9,
        checksum: result.iter().map(|v| Real::to_f64(*v)).sum(),
        inputs: [
            xs.first().map_or(f64::NAN, |v| Real::to_f64(*v)),
            xs.last().map_or(f64::NAN, |v| Real::to_f64(*v)),
            t_first_last[0].unwrap_or(f64::NAN),
            t_first_last[1].unwrap_or(f64::NAN),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(op: BenchOp, shape: &[usize]) -> BenchSpec {
        BenchSpec {
            op,
            grad: false,
            shape: shape.to_vec(),
            dtype: Dtype::Float32,
            threads: 1,
            reps: 1,
            seed: 0,
            options: BenchOptions::default(),
        }
    }

    #[test]
    fn half_runs_draw_half_inputs_and_round_the_result() {
        for dtype in [Dtype::Float16, Dtype::BFloat16] {
            let mut s = spec(BenchOp::CrossEntropy, &[2, 8000]);
            s.dtype = dtype;
            s.options.label_smoothing = Some(0.1);
            let r = run(&s).unwrap();
            let half = |v: f64| halves::round(dtype, v) == v;
            // The first and last logits and targets PyTorch 2.15.0 draws:
            // torch.manual_seed(0); torch.rand((2, 8000), dtype=dtype) * 8 - 4;
            // torch.randint(0, 8000, (2,)).
            let logits = match dtype {
                Dtype::Float16 => [-0.029296875, -0.490234375],
                _ => [-0.03125, -0.484375],
            };
            assert_eq!(r.inputs, [logits[0], logits[1], 6927.0, 4890.0]);
            // The mean loss, rounded to the dtype, and finite: each sample's smoothing sum (about
            // 8,000 × 8) is beyond float16's range, but the reference holds it in float32.
            assert!(half(r.checksum) && r.checksum.is_finite(), "{}", r.checksum);
            assert!(
                s.summary(&r)
                    .starts_with(&format!("cross_entropy {dtype} [2, 8000]"))
            );
        }
        assert_eq!(parse_dtype("bfloat16").unwrap(), Dtype::BFloat16);
    }

    #[test]
    fn bad_arguments_are_typed_errors() {
        let too_big = spec(BenchOp::Softmax, &[1 << 14, 1 << 15]);
        assert!(matches!(run(&too_big), Err(BenchError::TooLarge { .. })));
        let overflow = spec(BenchOp::Softmax, &[usize::MAX, 2]);
        assert!(matches!(run(&overflow), Err(BenchError::TooLarge { .. })));
        let zero = spec(BenchOp::Softmax, &[0, 3]);
        assert!(matches!(run(&zero), Err(BenchError::BadShape { .. })));
        let mut no_reps = spec(BenchOp::Softmax, &[2, 3]);
        no_reps.reps = 0;
        assert!(matches!(
            run(&no_reps),
            Err(BenchError::OutOfRange { name: "reps", .. })
        ));
        assert!(matches!(
            "softmin".parse::<BenchOp>(),
            Err(BenchError::UnknownOp(_))
        ));
        assert!(matches!(
            parse_dtype("int64"),
            Err(BenchError::UnknownDtype(_))
        ));
        assert!(matches!(
            parse_options(Some("{\"eps\": 1}")),
            Err(BenchError::BadOptions(_))
        ));
        let mut smoothing_softmax = spec(BenchOp::Softmax, &[2, 3]);
        smoothing_softmax.options.label_smoothing = Some(0.1);
        assert!(matches!(
            run(&smoothing_softmax),
            Err(BenchError::BadOptions(_))
        ));
        let mut bad_reduction = spec(BenchOp::CrossEntropy, &[2, 3]);
        bad_reduction.options.reduction = Some("avg".into());
        assert!(matches!(
            run(&bad_reduction),
            Err(BenchError::BadOptions(_))
        ));
    }

    /// The inputs are PyTorch's: after `torch.manual_seed(0)`, `torch.rand(2, 3) * 8 - 4`
    /// starts with -0.029947280883789062 and `torch.randint(0, 3, (2,))` is `[1, 1]`
    /// (PyTorch 2.15.0).
    #[test]
    fn runs_and_draws_torch_inputs() {
        let mut s = spec(BenchOp::CrossEntropy, &[2, 3]);
        s.options.reduction = Some("none".into());
        let r = run(&s).unwrap();
        assert_eq!(r.inputs[0], -0.029947280883789062);
        assert_eq!(r.inputs[2..], [1.0, 1.0]);
        assert!(r.checksum.is_finite() && r.checksum > 0.0);
        assert!(
            s.summary(&r)
                .starts_with("cross_entropy float32 [2, 3]: median ")
        );
        s.grad = true;
        s.dtype = Dtype::Float64;
        s.threads = 2;
        assert!(run(&s).unwrap().checksum.abs() < 1e-12);
    }
}
