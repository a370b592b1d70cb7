//! Precision mutants: implementations that compute the right thing not precisely enough. Each
//! matches every eight-digit figure of the spec; only the claims against the exact values (and a
//! case that sums many terms) can catch them.

use cross_entropy_spec::conformance::Implementation;
use cross_entropy_spec::conformance::protocol::{Reply, Request};
use cross_entropy_spec::eval::{Reference, evaluate};
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::{Dtype, Op, Role};

use super::Mutant;

/// The reference's reply, with each floating output transformed.
fn transformed(request: &Request, change: fn(&Tensor) -> Option<Tensor>) -> Option<Reply> {
    match Reference.evaluate(request) {
        Reply::Output { output, .. } => change(&output).map(|output| Reply::Output {
            output,
            grad_input: None,
        }),
        _ => None,
    }
}

/// Whether a result is one a careful implementation gets exactly (a clamp at 100, 0.5, an
/// integer): at most 20 significant bits. The mutants leave those alone, so that they are caught
/// by their precision, not by an exact constant.
fn short(v: f64) -> bool {
    let (mantissa, _) = frexp(v);
    (mantissa * f64::from(1 << 20)).fract() == 0.0
}

fn frexp(v: f64) -> (f64, i32) {
    if v == 0.0 || !v.is_finite() {
        return (v, 0);
    }
    let e = v.abs().log2().floor() as i32 + 1;
    (v / 2f64.powi(e), e)
}

/// (a) A float64 request computed in float32: the inputs rounded to float32, the output widened.
fn float64_in_float32(request: &Request) -> Option<Reply> {
    if !request
        .tensors
        .values()
        .any(|t| t.dtype() == Dtype::Float64)
    {
        return None;
    }
    let narrowed = (request.tensors.iter())
        .map(|(&role, t)| {
            (
                role,
                if t.dtype() == Dtype::Float64 {
                    t.cast(Dtype::Float32)
                } else {
                    t.clone()
                },
            )
        })
        .collect();
    let output = evaluate(request.op, &narrowed, &request.attrs).ok()?;
    Some(Reply::Output {
        output: output.cast(Dtype::Float64),
        grad_input: None,
    })
}

/// (b) A float64 result off by a relative 1e-11.
fn float64_relative_1e11(request: &Request) -> Option<Reply> {
    transformed(request, |t| match t {
        Tensor::Float64(a) => Some(Tensor::Float64(
            a.mapv(|v| if short(v) { v } else { v * (1.0 + 1e-11) }),
        )),
        _ => None,
    })
}

/// (c) A float32 result off by twelve ulps.
fn float32_twelve_ulps(request: &Request) -> Option<Reply> {
    transformed(request, |t| match t {
        Tensor::Float32(a) => Some(Tensor::Float32(a.mapv(|v| {
            if short(f64::from(v)) {
                return v;
            }
            let bits = v.to_bits();
            f32::from_bits(if v > 0.0 { bits + 12 } else { bits - 12 })
        }))),
        _ => None,
    })
}

/// (d) The 'mean' and 'sum' of the binary losses accumulated naively, left to right, in
/// float32.
fn naive_float32_sum(request: &Request) -> Option<Reply> {
    let binary = matches!(
        request.op,
        Op::BinaryCrossEntropy | Op::BinaryCrossEntropyWithLogits
    );
    let input = request.tensors.get(&Role::Input)?;
    let reduction = request.attrs.reduction.as_deref().unwrap_or("mean");
    if !binary || input.dtype() != Dtype::Float32 || !matches!(reduction, "mean" | "sum") {
        return None;
    }
    let attrs = cross_entropy_spec::spec::Attrs {
        reduction: Some("none".into()),
        ..request.attrs.clone()
    };
    let Tensor::Float32(losses) = evaluate(request.op, &request.tensors, &attrs).ok()? else {
        return None;
    };
    let total = losses.iter().fold(0.0f32, |s, &l| s + l);
    let value = if reduction == "sum" {
        total
    } else {
        total / losses.len() as f32
    };
    let output = Tensor::from_f64(Dtype::Float32, &[], &[f64::from(value)]).ok()?;
    Some(Reply::Output {
        output,
        grad_input: None,
    })
}

pub fn precision_mutants() -> Vec<Mutant> {
    vec![
        Mutant {
            name: "(p1) float64 computed in float32",
            bug: float64_in_float32,
        },
        Mutant {
            name: "(p2) float64 off by a relative 1e-11",
            bug: float64_relative_1e11,
        },
        Mutant {
            name: "(p3) float32 off by twelve ulps",
            bug: float32_twelve_ulps,
        },
        Mutant {
            name: "(p4) binary losses reduced by a naive float32 sum",
            bug: naive_float32_sum,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn short_values_are_the_exactly_representable_constants() {
        assert!(short(100.0) && short(0.5) && short(-0.0) && short(3.0517578125e-05));
        assert!(!short(std::f64::consts::LN_2) && !short(0.1));
    }
}
