//! Which arguments PyTorch differentiates: read from what PyTorch answered
//! (`spec/recorded/pytorch-differentiability.json`, `scripts/observe_differentiability.py`), the
//! one source of the rule, so that the reference refuses exactly where PyTorch 2.15.0 refused.
//! The recorded answer does not depend on the reduction, the dtype or label smoothing (chapter
//! 10 states it and `tests/suite/differentiability.rs` checks it), so the first row of an
//! (op, target kind, argument) decides.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::error::{ErrorKind, LossError};
use crate::vocab::{Op, Role};

const RECORDED: &str = include_str!("../../spec/recorded/pytorch-differentiability.json");

#[derive(Deserialize)]
struct File {
    rows: Vec<Row>,
}

#[derive(Deserialize)]
struct Row {
    op: Op,
    variant: String,
    wrt: Role,
    float32: Outcome,
}

#[derive(Deserialize)]
struct Outcome {
    result: String,
    #[serde(default)]
    message: Option<String>,
}

/// The recorded rows, read once; an unreadable file (a broken build, not user input) has none,
/// so every gradient but none is refused and the tests say why.
fn rows() -> &'static [Row] {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| {
        serde_json::from_str::<File>(RECORDED)
            .map(|f| f.rows)
            .unwrap_or_default()
    })
}

/// `Ok` when PyTorch differentiates `op` with respect to `wrt` (for `cross_entropy`, with
/// class `probabilities` or indices); otherwise the refusal, `not_differentiable`, with
/// PyTorch's message.
pub(crate) fn check(op: Op, probabilities: bool, wrt: Role) -> Result<(), LossError> {
    let kind = |variant: &str| match op {
        Op::CrossEntropy if probabilities => variant.starts_with("probability targets"),
        Op::CrossEntropy => variant.starts_with("class indices"),
        _ => true,
    };
    let row = rows()
        .iter()
        .find(|r| r.op == op && r.wrt == wrt && kind(&r.variant));
    match row {
        Some(r) if r.float32.result == "differentiable" => Ok(()),
        Some(r) => Err(LossError::new(
            ErrorKind::NotDifferentiable,
            r.float32.message.clone().unwrap_or_default(),
        )),
        None => Err(LossError::new(
            ErrorKind::NotDifferentiable,
            format!("`{op}` has no argument `{wrt}` to differentiate"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_table_is_read() {
        assert!(rows().len() > 40, "{}", rows().len());
        assert!(check(Op::Softmax, false, Role::Input).is_ok());
        assert!(check(Op::CrossEntropy, true, Role::Weight).is_ok());
        assert!(check(Op::BinaryCrossEntropy, false, Role::Target).is_ok());
        let e = check(Op::CrossEntropy, false, Role::Weight).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotDifferentiable);
        assert!(
            e.message
                .contains("'nll_loss_forward' is not differentiable")
        );
        let e = check(Op::NllLoss, false, Role::Target).unwrap_err();
        assert!(e.message.contains("floating point dtype"), "{}", e.message);
        assert!(check(Op::BinaryCrossEntropyWithLogits, false, Role::PosWeight).is_err());
        assert!(check(Op::Sigmoid, false, Role::Target).is_err());
    }

    /// The tensors of one call of `op` that has every argument `op` takes.
    fn call(op: Op, probabilities: bool) -> (crate::eval::Tensors, crate::spec::Attrs) {
        use crate::tensor::Tensor;
        use crate::vocab::Dtype::{Float64, Int64};
        let t =
            |dtype, shape: &[usize], data: &[f64]| Tensor::from_f64(dtype, shape, data).unwrap();
        let x = t(Float64, &[2, 3], &[0.5, -1.0, 2.0, 0.0, 1.0, 0.25]);
        let p = t(Float64, &[3], &[0.25, 0.5, 0.75]);
        let mut tensors = crate::eval::Tensors::from([(Role::Input, x.clone())]);
        let mut attrs = crate::spec::Attrs::default();
        match op {
            Op::Softmax | Op::LogSoftmax => attrs.dim = Some(1),
            Op::Sigmoid => {}
            Op::CrossEntropy | Op::NllLoss => {
                let target = match probabilities {
                    true => t(Float64, &[2, 3], &[0.2, 0.3, 0.5, 1.0, 0.0, 0.0]),
                    false => t(Int64, &[2], &[2.0, 0.0]),
                };
                tensors.extend([(Role::Target, target), (Role::Weight, p.clone())]);
            }
            Op::BinaryCrossEntropy | Op::BinaryCrossEntropyWithLogits => {
                tensors = [Role::Input, Role::Target, Role::Weight, Role::PosWeight]
                    .into_iter()
                    .filter(|r| op.tensor_args().contains(r))
                    .map(|r| (r, p.clone()))
                    .collect();
            }
        }
        (tensors, attrs)
    }

    /// The reference computes every product PyTorch computes and refuses every other one, as
    /// `not_differentiable`, before the op's own checks.
    #[test]
    fn the_reference_answers_every_recorded_row() {
        use crate::conformance::protocol::Vjp;
        for row in rows() {
            let probabilities = row.variant.starts_with("probability targets");
            let (tensors, attrs) = call(row.op, probabilities);
            let vjp = Vjp {
                wrt: row.wrt,
                upstream: None,
            };
            let got = crate::eval::vjp(row.op, &tensors, &attrs, &vjp);
            let what = format!("{} {} {}", row.op, row.variant, row.wrt);
            match row.float32.result.as_str() {
                "differentiable" => {
                    let g = got.unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!(g.shape(), tensors[&row.wrt].shape(), "{what}");
                }
                _ => assert_eq!(
                    got.map_err(|e| e.kind).unwrap_err(),
                    ErrorKind::NotDifferentiable,
                    "{what}"
                ),
            }
        }
    }
}
