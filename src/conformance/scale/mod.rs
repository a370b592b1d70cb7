//! The roundoff scale of every element of a result: the dtype's unit roundoff `u` times the
//! op's error scale `M` at the case's inputs, so that a claim against the exact value allows
//! `k · u · M` (with `k` from the spec's `rounding` tolerance). `M` counts, with coefficient 1,
//! the magnitude of every quantity a careful evaluation rounds on the way to the result —
//! `spec/12-exact-values.md` derives each op's, and this module is its one implementation.
//!
//! Scales are computed in f64 from the request's own tensors, with the reference for the
//! quantities the loss defines (the per-sample losses, the output, the gradient), so no formula
//! of a loss is restated here, only the sizes of the terms it adds.

mod gradients;
mod lanes;
mod values;

use ndarray::ArrayD;

use super::protocol::{Request, Vjp};
use super::run::Part;
use crate::eval::{self, Tensors};
use crate::reference::Reduction;
use crate::spec::Attrs;
use crate::tensor::Tensor;
use crate::vocab::{Dtype, Op, Role};

/// The unit roundoff of a dtype: half the distance from 1 to the next number.
pub fn unit_roundoff(dtype: Dtype) -> f64 {
    match dtype {
        Dtype::Float64 => f64::EPSILON / 2.0,
        Dtype::Float16 => 2f64.powi(-11),
        Dtype::BFloat16 => 2f64.powi(-8),
        _ => f64::from(f32::EPSILON) / 2.0,
    }
}

/// The gradual-underflow spacing of a dtype: the distance between adjacent subnormals (the
/// smallest positive number), the most a rounding below the normal range can be off by twice.
pub fn underflow_spacing(dtype: Dtype) -> f64 {
    match dtype {
        Dtype::Float64 => f64::from_bits(1),
        Dtype::Float16 => half::f16::from_bits(1).to_f64(),
        Dtype::BFloat16 => half::bf16::from_bits(1).to_f64(),
        _ => f64::from(f32::from_bits(1)),
    }
}

/// `u · M + 2η` for each element of the run's result (the output, or the gradient of its sum),
/// row-major, with `η` the dtype's [`underflow_spacing`]: a result below the normal range is
/// good to a spacing or so, whatever its relative error (`spec/12-exact-values.md`, *Underflow*).
/// `M` already holds the larger floors of results that scale an underflowed quantity up.
/// Elements whose scale is not finite get 0: they are compared exactly.
pub fn roundoff(request: &Request, part: Part) -> Result<Vec<f64>, String> {
    let dtype = match part {
        Part::Value => eval::result_dtype(request.op, &request.tensors),
        Part::Gradient => input_dtype(request),
    };
    let call = Call::new(request, dtype);
    let scales = match part {
        Part::Value => values::scales(&call)?,
        Part::Gradient => gradients::scales(&call)?,
    };
    let (u, eta) = (unit_roundoff(dtype), underflow_spacing(dtype));
    Ok(scales
        .into_iter()
        .map(|m| {
            if m.is_finite() {
                u * m + 2.0 * eta
            } else {
                0.0
            }
        })
        .collect())
}

/// The exact value `v` as a run in `dtype` is judged against it: rounded to float32 (or the half
/// dtype) for such a run (the answer a correctly rounded implementation gives, which then passes even where it
/// underflows), as it is for float64. Pair it with [`roundoff`].
pub fn exact_in_dtype(dtype: Dtype, v: f64) -> f64 {
    match dtype {
        Dtype::Float32 => f64::from(v as f32),
        _ => crate::halves::round(dtype, v),
    }
}

/// The dtype of the argument the gradient run differentiates (`input`, unless it names another).
fn input_dtype(request: &Request) -> Dtype {
    request
        .tensors
        .get(&request.vjp.wrt)
        .map_or(Dtype::Float32, Tensor::dtype)
}

/// A request with every floating tensor widened to f64, evaluated by the reference.
pub(crate) struct Call<'a> {
    pub op: Op,
    pub attrs: &'a Attrs,
    /// `η / u` of the result's dtype: a floor of `η` expressed in units of `u`, for the scales
    /// that multiply a possibly underflowed quantity by a factor above one.
    pub tiny: f64,
    /// What a reduction's accumulation costs, in units of the result dtype's `u`: 1, except in a
    /// half dtype, whose sums the spec asks to accumulate in float32 at least (float32's `u`
    /// over the half dtype's; `spec/14-half-precision.md`).
    pub accumulate: f64,
    wide: Tensors,
    /// The gradient run's product, its upstream widened to f64.
    vjp: Vjp,
}

impl<'a> Call<'a> {
    fn new(request: &'a Request, dtype: Dtype) -> Call<'a> {
        let wide = (request.tensors.iter())
            .map(|(&role, t)| match t {
                Tensor::Int64(_) => (role, t.clone()),
                float => (role, float.cast(Dtype::Float64)),
            })
            .collect();
        let vjp = Vjp {
            wrt: request.vjp.wrt,
            upstream: (request.vjp.upstream.as_ref()).map(|u| u.cast(Dtype::Float64)),
        };
        Call {
            op: request.op,
            attrs: &request.attrs,
            tiny: underflow_spacing(dtype) / unit_roundoff(dtype),
            accumulate: match dtype.is_half() {
                true => unit_roundoff(Dtype::Float32) / unit_roundoff(dtype),
                false => 1.0,
            },
            wide,
            vjp,
        }
    }

    /// A floating argument in f64.
    pub fn float(&self, role: Role) -> Option<ArrayD<f64>> {
        self.wide
            .get(&role)
            .filter(|t| t.dtype().is_float())
            .map(Tensor::float_array::<f64>)
    }

    /// A floating argument broadcast to the input's shape, ones when it is absent.
    pub fn broadcast(&self, role: Role) -> Result<ArrayD<f64>, String> {
        let shape = self.input().shape().to_vec();
        match self.float(role) {
            None => Ok(ArrayD::ones(ndarray::IxDyn(&shape))),
            Some(a) => (a.broadcast(ndarray::IxDyn(&shape)).map(|v| v.to_owned()))
                .ok_or_else(|| format!("{role} does not broadcast to {shape:?}")),
        }
    }

    pub fn input(&self) -> ArrayD<f64> {
        self.float(Role::Input)
            .unwrap_or_else(|| ArrayD::zeros(ndarray::IxDyn(&[0])))
    }

    /// Class indices, when the target holds them.
    pub fn indices(&self) -> Option<&ArrayD<i64>> {
        match self.wide.get(&Role::Target) {
            Some(Tensor::Int64(t)) => Some(t),
            _ => None,
        }
    }

    /// The reference's output in f64, with the request's options or another reduction.
    pub fn value(&self, reduction: Option<&str>) -> Result<ArrayD<f64>, String> {
        let attrs = Attrs {
            reduction: reduction
                .map(str::to_string)
                .or_else(|| self.attrs.reduction.clone()),
            ..self.attrs.clone()
        };
        let out = eval::evaluate(self.op, &self.wide, &attrs).map_err(|e| e.to_string())?;
        Ok(out.float_array())
    }

    /// The upstream gradient of a gradient run that states one, in f64.
    pub fn upstream(&self) -> Option<ArrayD<f64>> {
        self.vjp.upstream.as_ref().map(Tensor::float_array::<f64>)
    }

    /// The reference's vector–Jacobian product of the run, in f64.
    pub fn product(&self) -> Result<ArrayD<f64>, String> {
        let g = eval::vjp(self.op, &self.wide, self.attrs, &self.vjp).map_err(|e| e.to_string())?;
        Ok(g.float_array())
    }

    /// The reference's gradient of the sum of the output, in f64.
    pub fn gradient(&self) -> Result<ArrayD<f64>, String> {
        let g = eval::gradient(self.op, &self.wide, self.attrs).map_err(|e| e.to_string())?;
        Ok(g.float_array())
    }

    /// The reduction, read by the reference's rule (so `"elementwise_mean"` is `Mean`).
    pub fn reduction(&self) -> Result<Reduction, String> {
        let name = self.attrs.reduction.as_deref().unwrap_or("mean");
        name.parse().map_err(|e: crate::error::LossError| e.message)
    }

    /// `label_smoothing` as PyTorch applies it: only a positive value smooths.
    pub fn smoothing(&self) -> f64 {
        self.attrs
            .label_smoothing
            .filter(|&e| e > 0.0)
            .unwrap_or(0.0)
    }

    pub fn ignore_index(&self) -> i64 {
        self.attrs.ignore_index.unwrap_or(-100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(reduction: &str) -> Request {
        let input = Tensor::from_f64(Dtype::Float64, &[2, 3], &[1.0, 2.0, 3.0, 1.0, -1.0, 0.5])
            .expect("a tensor");
        let target = Tensor::from_f64(Dtype::Int64, &[2], &[0.0, 1.0]).expect("a tensor");
        Request {
            id: "x@float64".into(),
            op: Op::CrossEntropy,
            tensors: Tensors::from([(Role::Input, input), (Role::Target, target)]),
            attrs: Attrs {
                reduction: Some(reduction.into()),
                ..Attrs::default()
            },
            grad: false,
            vjp: Default::default(),
        }
    }

    /// `σ(-100)` is 26.5 float32 spacings: the relative scale is far below one spacing, the
    /// floor is two, and the exact value is judged as its float32, 27 spacings.
    #[test]
    fn a_result_below_the_normal_range_is_allowed_two_spacings() {
        let input = Tensor::from_f64(Dtype::Float32, &[2], &[-100.0, 0.0]).expect("a tensor");
        let r = Request {
            id: "s@float32".into(),
            op: Op::Sigmoid,
            tensors: Tensors::from([(Role::Input, input)]),
            attrs: Attrs::default(),
            grad: false,
            vjp: Default::default(),
        };
        let eta = underflow_spacing(Dtype::Float32);
        let allowed = roundoff(&r, Part::Value).unwrap();
        assert!(
            allowed[0] >= 2.0 * eta && allowed[0] < 2.01 * eta,
            "{allowed:?}"
        );
        assert!(allowed[1] > 1e-7, "{allowed:?}");
        assert_eq!(
            exact_in_dtype(Dtype::Float32, 3.720075976020836e-44),
            27.0 * eta
        );
        assert_eq!(
            exact_in_dtype(Dtype::Float64, 3.720075976020836e-44),
            3.720075976020836e-44
        );
    }

    /// A K-dim input's class slices are strided: the target product's scales follow the
    /// product's row-major order (`check --random`, seed 7, call 13084: the scale of `-35.9`
    /// was another element's before), and each holds the product's own `3|g|`.
    #[test]
    fn a_k_dim_target_product_is_scaled_in_its_own_order() {
        let f = |shape: &[usize], v: &[f64]| Tensor::from_f64(Dtype::Float32, shape, v).unwrap();
        let request = Request {
            id: "kdim@float32".into(),
            op: Op::CrossEntropy,
            tensors: Tensors::from([
                (Role::Input, f(&[1, 2, 2], &[0.4543407, 0.0, -110.0, 0.0])),
                (Role::Target, f(&[1, 2, 2], &[0.0; 4])),
            ]),
            attrs: Attrs::default(),
            grad: true,
            vjp: Vjp {
                wrt: Role::Target,
                upstream: Some(f(&[], &[-0.65])),
            },
        };
        let allowed = roundoff(&request, Part::Gradient).unwrap();
        let g = Call::new(&request, Dtype::Float32).product().unwrap();
        let u = unit_roundoff(Dtype::Float32);
        for (a, g) in allowed.iter().zip(&g) {
            assert!(*a >= 3.0 * u * g.abs(), "{allowed:?} for {g}");
        }
    }

    #[test]
    fn a_reduction_is_read_by_the_reference_rule() {
        // PyTorch's deprecated name of 'mean' gets the mean's allowance, value and gradient alike.
        for part in [Part::Value, Part::Gradient] {
            let mean = roundoff(&request("mean"), part).unwrap();
            assert_eq!(roundoff(&request("elementwise_mean"), part).unwrap(), mean);
            assert_ne!(roundoff(&request("sum"), part).unwrap(), mean);
        }
        let e = roundoff(&request("avg"), Part::Value).unwrap_err();
        assert!(e.contains("avg is not a valid value for reduction"), "{e}");
    }
}
