//! A tensor of any of the suite's dtypes: what crosses the boundary between the spec, the runner
//! and an implementation, whichever language it is written in.

use half::{bf16, f16};
use ndarray::{ArrayD, IxDyn};

use crate::reference::Real;
use crate::spec::Literal;
use crate::vocab::Dtype;

#[derive(Debug, Clone, PartialEq)]
pub enum Tensor {
    Float32(ArrayD<f32>),
    Float64(ArrayD<f64>),
    Int64(ArrayD<i64>),
    Float16(ArrayD<f16>),
    BFloat16(ArrayD<bf16>),
}

impl Tensor {
    pub fn dtype(&self) -> Dtype {
        match self {
            Tensor::Float32(_) => Dtype::Float32,
            Tensor::Float64(_) => Dtype::Float64,
            Tensor::Int64(_) => Dtype::Int64,
            Tensor::Float16(_) => Dtype::Float16,
            Tensor::BFloat16(_) => Dtype::BFloat16,
        }
    }

    pub fn shape(&self) -> &[usize] {
        match self {
            Tensor::Float32(a) => a.shape(),
            Tensor::Float64(a) => a.shape(),
            Tensor::Int64(a) => a.shape(),
            Tensor::Float16(a) => a.shape(),
            Tensor::BFloat16(a) => a.shape(),
        }
    }

    pub fn numel(&self) -> usize {
        self.shape().iter().product()
    }

    /// The elements in row-major order, widened to `f64` (exact for every f32 and for integers
    /// up to 2^53).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match self {
            Tensor::Float32(a) => a.iter().map(|&v| f64::from(v)).collect(),
            Tensor::Float64(a) => a.iter().copied().collect(),
            Tensor::Int64(a) => a.iter().map(|&v| v as f64).collect(),
            Tensor::Float16(a) => a.iter().map(|v| v.to_f64()).collect(),
            Tensor::BFloat16(a) => a.iter().map(|v| v.to_f64()).collect(),
        }
    }

    /// Builds a tensor of `dtype` from row-major `f64` values (rounding to f32 or a half dtype,
    /// truncating to int64 only values that are integers: anything else is an error).
    pub fn from_f64(dtype: Dtype, shape: &[usize], data: &[f64]) -> Result<Tensor, String> {
        let numel = checked_numel(shape)?;
        if numel != data.len() {
            return Err(format!(
                "shape {shape:?} holds {numel} elements, but {} were given",
                data.len()
            ));
        }
        let shape = IxDyn(shape);
        let bad = |e: ndarray::ShapeError| e.to_string();
        Ok(match dtype {
            Dtype::Float32 => Tensor::Float32(
                ArrayD::from_shape_vec(shape, data.iter().map(|&v| v as f32).collect())
                    .map_err(bad)?,
            ),
            Dtype::Float64 => {
                Tensor::Float64(ArrayD::from_shape_vec(shape, data.to_vec()).map_err(bad)?)
            }
            Dtype::Float16 => Tensor::Float16(
                ArrayD::from_shape_vec(
                    shape,
                    data.iter().map(|&v| crate::halves::to_f16(v)).collect(),
                )
                .map_err(bad)?,
            ),
            Dtype::BFloat16 => Tensor::BFloat16(
                ArrayD::from_shape_vec(
                    shape,
                    data.iter().map(|&v| crate::halves::to_bf16(v)).collect(),
                )
                .map_err(bad)?,
            ),
            Dtype::Int64 => {
                let ints = data
                    .iter()
                    .map(|&v| {
                        if v.fract() == 0.0 && v.abs() <= 9_007_199_254_740_992.0 {
                            Ok(v as i64)
                        } else {
                            Err(format!("{v} is not an int64 value"))
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Tensor::Int64(ArrayD::from_shape_vec(shape, ints).map_err(bad)?)
            }
        })
    }

    /// The same values in another dtype (PyTorch's `.to(dtype)`: floats to int64 truncate, to
    /// a narrower float round to nearest-even once).
    pub fn cast(&self, dtype: Dtype) -> Tensor {
        if self.dtype() == dtype {
            return self.clone();
        }
        match (self, dtype) {
            (Tensor::Int64(a), Dtype::Float32) => Tensor::Float32(a.mapv(|v| v as f32)),
            (Tensor::Int64(a), _) => Tensor::Float64(a.mapv(|v| v as f64)).cast(dtype),
            (_, Dtype::Int64) => Tensor::Int64(self.wide().mapv(|v| v as i64)),
            (_, Dtype::Float64) => Tensor::Float64(self.wide()),
            (_, Dtype::Float32) => Tensor::Float32(self.wide().mapv(|v| v as f32)),
            (_, Dtype::Float16) => Tensor::Float16(self.wide().mapv(crate::halves::to_f16)),
            (_, Dtype::BFloat16) => Tensor::BFloat16(self.wide().mapv(crate::halves::to_bf16)),
        }
    }

    /// A floating tensor's values widened to f64 (exact).
    fn wide(&self) -> ArrayD<f64> {
        match self {
            Tensor::Float32(a) => a.mapv(f64::from),
            Tensor::Float64(a) => a.clone(),
            Tensor::Int64(a) => a.mapv(|v| v as f64),
            Tensor::Float16(a) => a.mapv(f16::to_f64),
            Tensor::BFloat16(a) => a.mapv(bf16::to_f64),
        }
    }

    /// A floating tensor as an array of `T`, converting if needed.
    pub fn float_array<T: Real>(&self) -> ArrayD<T> {
        match self {
            Tensor::Float32(a) => a.mapv(|v| T::from_f64(f64::from(v))),
            Tensor::Float64(a) => a.mapv(T::from_f64),
            Tensor::Int64(a) => a.mapv(|v| T::from_f64(v as f64)),
            Tensor::Float16(a) => a.mapv(|v| T::from_f64(v.to_f64())),
            Tensor::BFloat16(a) => a.mapv(|v| T::from_f64(v.to_f64())),
        }
    }

    /// Wraps an array of `T` (f32 or f64) as a tensor of its dtype.
    pub fn from_real<T: Real>(a: ArrayD<T>) -> Tensor {
        match T::DTYPE_NAME {
            "float32" => Tensor::Float32(a.mapv(|v| v.to_f64() as f32)),
            _ => Tensor::Float64(a.mapv(|v| v.to_f64())),
        }
    }

    /// Formats one element as the shortest decimal that reads back to the same value in the
    /// tensor's dtype, with `nan`, `inf` and `-inf` spelled out.
    pub fn format_element(&self, index: usize) -> String {
        match self {
            Tensor::Float32(a) => a.iter().nth(index).map(|v| fmt_float(f64::from(*v), true)),
            Tensor::Float64(a) => a.iter().nth(index).map(|v| fmt_float(*v, false)),
            Tensor::Int64(a) => a.iter().nth(index).map(|v| v.to_string()),
            Tensor::Float16(_) | Tensor::BFloat16(_) => {
                (self.to_f64_vec().get(index)).map(|&v| fmt_half(self.dtype(), v))
            }
        }
        .unwrap_or_default()
    }

    /// Every element formatted as by [`Tensor::format_element`], row-major.
    pub fn formatted(&self) -> Vec<String> {
        match self {
            Tensor::Float32(a) => a.iter().map(|v| fmt_float(f64::from(*v), true)).collect(),
            Tensor::Float64(a) => a.iter().map(|v| fmt_float(*v, false)).collect(),
            Tensor::Int64(a) => a.iter().map(|v| v.to_string()).collect(),
            Tensor::Float16(_) | Tensor::BFloat16(_) => (self.to_f64_vec().into_iter())
                .map(|v| fmt_half(self.dtype(), v))
                .collect(),
        }
    }
}

impl From<&Tensor> for Literal {
    /// The tensor's values as an expectation (exact: every f32 and int64 up to 2^53 is an f64).
    fn from(t: &Tensor) -> Literal {
        Literal {
            dtype: Some(t.dtype()),
            shape: t.shape().to_vec(),
            data: t.to_f64_vec(),
            integral: t.dtype() == Dtype::Int64,
        }
    }
}

pub use spec_model::shape::{MAX_ELEMENTS, checked_numel};

/// Shortest round-trip decimal of a float (as f32 when `single`), `nan`/`inf`/`-inf` spelled out.
pub fn fmt_float(v: f64, single: bool) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else if single {
        format!("{:?}", v as f32)
    } else {
        format!("{v:?}")
    }
}

/// A half value's shortest decimal (`crate::halves::shortest`), non-finite values spelled out.
fn fmt_half(dtype: Dtype, v: f64) -> String {
    if v.is_finite() {
        format!("{:?}", crate::halves::shortest(dtype, v))
    } else {
        fmt_float(v, false)
    }
}
