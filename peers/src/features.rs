//! The rows of the conformance matrix: which spec features a case exercises, read off the case's
//! operation, tensors and options. A case may count in several rows (a weighted K-dim
//! cross-entropy counts under "weight" and "K-dim"); an error case counts only under "errors on
//! bad input", and every gradient run only under "gradients"; a run in float16 or bfloat16 counts
//! under "float16 / bfloat16" as well.

use cross_entropy_spec::conformance::protocol::Request;
use cross_entropy_spec::conformance::{Part, request_for};
use cross_entropy_spec::reference::Reduction;
use cross_entropy_spec::spec::{Case, Check};
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::{Dtype, Op, Role};

/// A row of the matrix, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    Softmax,
    LogSoftmax,
    Sigmoid,
    CrossEntropyMean,
    CrossEntropyNoneSum,
    Weight,
    IgnoreIndex,
    LabelSmoothing,
    ProbabilityTargets,
    KDim,
    Nll,
    Bce,
    BceWithLogits,
    PosWeight,
    ExtremeLogits,
    Errors,
    Gradients,
    HalfPrecision,
}

impl Feature {
    pub const ALL: [Feature; 18] = [
        Feature::Softmax,
        Feature::LogSoftmax,
        Feature::Sigmoid,
        Feature::CrossEntropyMean,
        Feature::CrossEntropyNoneSum,
        Feature::Weight,
        Feature::IgnoreIndex,
        Feature::LabelSmoothing,
        Feature::ProbabilityTargets,
        Feature::KDim,
        Feature::Nll,
        Feature::Bce,
        Feature::BceWithLogits,
        Feature::PosWeight,
        Feature::ExtremeLogits,
        Feature::Errors,
        Feature::Gradients,
        Feature::HalfPrecision,
    ];

    /// The row's label and what puts a case in it.
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            Feature::Softmax => ("softmax", "op `softmax`"),
            Feature::LogSoftmax => ("log_softmax", "op `log_softmax`"),
            Feature::Sigmoid => ("sigmoid", "op `sigmoid`"),
            Feature::CrossEntropyMean => ("CE, mean", "`cross_entropy`, reduction mean"),
            Feature::CrossEntropyNoneSum => {
                ("CE, none / sum", "`cross_entropy`, reduction none or sum")
            }
            Feature::Weight => (
                "weight",
                "a `weight` tensor (CE, NLL, BCE, BCE-with-logits)",
            ),
            Feature::IgnoreIndex => (
                "ignore_index",
                "`ignore_index` given, or a class-index target holding the default −100",
            ),
            Feature::LabelSmoothing => ("label smoothing", "`label_smoothing` given"),
            Feature::ProbabilityTargets => {
                ("probability targets", "`cross_entropy` with a float target")
            }
            Feature::KDim => ("K-dim", "`cross_entropy` / `nll_loss` input of rank ≥ 3"),
            Feature::Nll => ("NLL", "op `nll_loss`"),
            Feature::Bce => ("BCE", "op `binary_cross_entropy`"),
            Feature::BceWithLogits => ("BCE-with-logits", "op `binary_cross_entropy_with_logits`"),
            Feature::PosWeight => ("pos_weight", "a `pos_weight` tensor"),
            Feature::ExtremeLogits => (
                "extreme logits",
                "softmax, log_softmax, sigmoid, CE or BCE-with-logits with some |input| ≥ 20",
            ),
            Feature::Errors => ("errors on bad input", "the case expects an error"),
            Feature::Gradients => ("gradients", "every gradient run"),
            Feature::HalfPrecision => (
                "float16 / bfloat16",
                "every run, value or gradient, in a half dtype (chapter 14), besides its other rows",
            ),
        }
    }
}

/// The rows one run of `case` in `dtype` counts in.
pub fn features(case: &Case, part: Part, dtype: Dtype) -> Vec<Feature> {
    let mut rows = of_part(case, part);
    if matches!(dtype, Dtype::Float16 | Dtype::BFloat16) {
        rows.push(Feature::HalfPrecision);
    }
    rows
}

/// The rows of a run by what it runs, whatever its dtype.
fn of_part(case: &Case, part: Part) -> Vec<Feature> {
    if part == Part::Gradient {
        return vec![Feature::Gradients];
    }
    if matches!(case.check, Check::Error { .. }) {
        return vec![Feature::Errors];
    }
    match case
        .dtypes
        .first()
        .map(|&d| request_for(case, d, Part::Value))
    {
        Some(Ok(request)) => of_request(&request),
        _ => Vec::new(),
    }
}

/// The rows of a value request.
fn of_request(r: &Request) -> Vec<Feature> {
    let has = |role| r.tensors.contains_key(&role);
    let input = r.tensors.get(&Role::Input);
    let target = r.tensors.get(&Role::Target);
    let mut rows = Vec::new();
    let mut add = |f, yes: bool| {
        if yes {
            rows.push(f);
        }
    };
    let class_loss = matches!(r.op, Op::CrossEntropy | Op::NllLoss);
    let reduction = r.attrs.reduction.as_deref().unwrap_or("mean");
    let mean = reduction.parse::<Reduction>() == Ok(Reduction::Mean);
    let int_target = matches!(target, Some(Tensor::Int64(_)));
    add(Feature::Softmax, r.op == Op::Softmax);
    add(Feature::LogSoftmax, r.op == Op::LogSoftmax);
    add(Feature::Sigmoid, r.op == Op::Sigmoid);
    add(Feature::CrossEntropyMean, r.op == Op::CrossEntropy && mean);
    add(
        Feature::CrossEntropyNoneSum,
        r.op == Op::CrossEntropy && !mean,
    );
    add(Feature::Weight, has(Role::Weight));
    let default_ignored = matches!(target, Some(Tensor::Int64(t)) if t.iter().any(|&v| v == -100));
    add(
        Feature::IgnoreIndex,
        class_loss && (r.attrs.ignore_index.is_some() || default_ignored),
    );
    add(Feature::LabelSmoothing, r.attrs.label_smoothing.is_some());
    add(
        Feature::ProbabilityTargets,
        r.op == Op::CrossEntropy && target.is_some() && !int_target,
    );
    add(
        Feature::KDim,
        class_loss && input.is_some_and(|t| t.shape().len() >= 3),
    );
    add(Feature::Nll, r.op == Op::NllLoss);
    add(Feature::Bce, r.op == Op::BinaryCrossEntropy);
    add(
        Feature::BceWithLogits,
        r.op == Op::BinaryCrossEntropyWithLogits,
    );
    add(Feature::PosWeight, has(Role::PosWeight));
    let on_logits = !matches!(r.op, Op::NllLoss | Op::BinaryCrossEntropy);
    let extreme = input.is_some_and(|t| t.to_f64_vec().iter().any(|v| v.abs() >= 20.0));
    add(Feature::ExtremeLogits, on_logits && extreme);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run counts under "float16 / bfloat16" by its dtype alone, besides the rows of what it runs.
    #[test]
    fn a_half_run_counts_in_the_half_row_too() {
        let spec = cross_entropy_spec::bundle::spec().expect("the embedded spec");
        let case = (spec.cases.iter())
            .find(|c| c.id == "half.ce.indices.mean")
            .expect("chapter 14's case");
        for part in [Part::Value, Part::Gradient] {
            let half = features(case, part, Dtype::BFloat16);
            let single = features(case, part, Dtype::Float32);
            assert_eq!(half.last(), Some(&Feature::HalfPrecision));
            assert!(!single.contains(&Feature::HalfPrecision));
            assert_eq!(half[..half.len() - 1], single[..]);
        }
    }
}
