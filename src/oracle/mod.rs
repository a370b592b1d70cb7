//! The oracle in the crate: the exact result of any request, for the random differential mode
//! (`check --random`), where no recorded value exists.
//!
//! **The choice.** It is the reference evaluated in double-double arithmetic ([`dd::Dd`], about
//! 106 bits), with every input read exactly. The reference's formulas are the careful ones whose
//! error chapter 12 bounds by `u · M` (`M` the op's error scale); in a format with unit roundoff
//! `2^-106` the same analysis bounds the oracle's error by `2^-106 · M`, some `2^-53` of the
//! float64 allowance `k · 2^-53 · M`. An arbitrary-precision crate (`dashu-float`,
//! `astro-float`) would be exact to any digits, but an `exp` there costs microseconds, so one
//! 256,000-class row would take about a second, and the suite's whole semantics (special values,
//! errors, every option) would have to be written a second time; here they are the reference's,
//! so a request the reference rejects is rejected by the oracle with the same kind. The price is
//! independence: the oracle shares the reference's definitions. That is what `scripts/exact_values.py`
//! (60-digit mpmath, written from the mathematics) is for: a test holds this oracle to it on every
//! recorded run (`tests/suite/oracle.rs`), within a small fraction of the allowance.
//!
//! Results are rounded to float64, and to infinity where the exact value overflows the result's
//! dtype (as `scripts/exact_values.py` writes them); a value below the dtype's range stays as it
//! is. Zeros carry no reliable sign here: claims made from the oracle do not count signs of zero.

pub mod dd;

use dd::Dd;

use crate::conformance::protocol::Request;
use crate::error::LossError;
use crate::eval::{self, Mode};
use crate::spec::Literal;
use crate::vocab::Dtype;

/// The exact result of `request`'s call in double-double: its output, or with `request.grad`
/// the vector–Jacobian product it asks for, with the dtype the result has and its shape.
pub fn exact_wide(request: &Request) -> Result<(Dtype, Vec<usize>, Vec<Dd>), LossError> {
    let mode = match request.grad {
        true => Mode::Gradient(&request.vjp),
        false => Mode::Value,
    };
    let (dtype, values) =
        eval::evaluate_in::<Dd>(request.op, &request.tensors, &request.attrs, mode)?;
    let shape = values.shape().to_vec();
    Ok((dtype, shape, values.iter().copied().collect()))
}

/// [`exact_wide`] rounded to float64, infinite where the exact value overflows the result's
/// dtype: the values a claim compares with.
pub fn exact(request: &Request) -> Result<Literal, LossError> {
    let (dtype, shape, values) = exact_wide(request)?;
    let limit = overflow_threshold(dtype);
    let data = (values.iter())
        .map(|v| {
            let x = v.to_f64();
            match x.abs() >= limit {
                true => f64::INFINITY.copysign(x),
                false => x,
            }
        })
        .collect();
    Ok(Literal {
        dtype: Some(dtype),
        shape,
        data,
        integral: false,
    })
}

/// The smallest magnitude that rounds to infinity in `dtype`: `MAX + ulp(MAX)/2`.
pub fn overflow_threshold(dtype: Dtype) -> f64 {
    match dtype {
        Dtype::Float64 => f64::INFINITY,
        Dtype::Float16 => 65504.0 + 16.0,
        Dtype::BFloat16 => half::bf16::MAX.to_f64() + 2f64.powi(119),
        _ => f64::from(f32::MAX) + 2f64.powi(103),
    }
}
