//! The tolerance budget of one case stated from a printed figure: how far from the stated value
//! a result may fall, what that allowance is made of, and where the reference and PyTorch fall.

use serde_json::Value;

use super::svg::{Chart, PALETTE};
use super::{Figure, FigureError};
use crate::conformance::materialize::materialize;
use crate::eval::evaluate;
use crate::spec::{Check, Spec};
use crate::vocab::Dtype;

/// `001_5fb61b878bb4d4ac.txt`'s mean loss, 1.8316, printed to four decimals from scores printed
/// to four decimals.
const CASE: &str = "ce.doc001.batch3x5.mean";
/// The parts of its allowance as its tolerance's `why` states them: the stated value's own
/// half-unit, then the inputs' half-unit times the loss's Lipschitz bound 2.
const PRINTED_HALF_UNIT: f64 = 5e-5;
const INPUTS_TERM: f64 = 2.0 * 5e-5;
const DTYPES: [Dtype; 2] = [Dtype::Float64, Dtype::Float32];
const NAME: &str = "tolerance-budget.svg";

fn input(message: String) -> FigureError {
    FigureError::Input {
        figure: NAME,
        message,
    }
}

/// The case's stated value and its allowance in `dtype`.
fn stated(spec: &Spec, dtype: Dtype) -> Result<(f64, f64), FigureError> {
    let case = spec
        .case(CASE)
        .ok_or_else(|| input(format!("the spec has no case `{CASE}`")))?;
    let Check::Value { expect, tol, .. } = &case.check else {
        return Err(input(format!("`{CASE}` states no value")));
    };
    let want = *expect
        .data
        .first()
        .ok_or_else(|| input(format!("`{CASE}` is empty")))?;
    let bounds = tol.bounds(dtype);
    if bounds.k != 0.0 {
        return Err(input(format!(
            "`{CASE}`'s tolerance has a roundoff term, which this figure does not draw"
        )));
    }
    Ok((want, bounds.allowance(want, 0.0)))
}

/// The reference's distance from the stated value in `dtype`.
fn reference_error(spec: &Spec, dtype: Dtype, want: f64) -> Result<f64, FigureError> {
    let case = spec
        .case(CASE)
        .ok_or_else(|| input(format!("no case `{CASE}`")))?;
    let tensors = materialize(case, dtype).map_err(input)?;
    let got =
        evaluate(case.op, &tensors, &case.attrs).map_err(|source| FigureError::Reference {
            figure: NAME,
            source,
        })?;
    let got = *got
        .to_f64_vec()
        .first()
        .ok_or_else(|| input("an empty result".into()))?;
    Ok((got - want).abs())
}

/// PyTorch's distance from the stated value, as its recorded `check --json` report gives it.
fn recorded_error(report: &Value, dtype: Dtype) -> Result<f64, FigureError> {
    let request = format!("{CASE}@{dtype}");
    let runs = report["runs"]
        .as_array()
        .ok_or_else(|| input("the PyTorch report has no `runs` list".into()))?;
    let run = runs
        .iter()
        .find(|r| r["request"] == request.as_str())
        .ok_or_else(|| input(format!("the PyTorch report has no run `{request}`")))?;
    let claims = run["claims"].as_array().into_iter().flatten();
    claims
        .filter(|c| c["source"] == "stated")
        .find_map(|c| c["max_abs_error"].as_f64())
        .ok_or_else(|| {
            input(format!(
                "the PyTorch report's `{request}` has no stated claim"
            ))
        })
}

pub(super) fn tolerance_budget(spec: &Spec, pytorch: &Value) -> Result<Figure, FigureError> {
    let (want, allowance) = stated(spec, Dtype::Float32)?;
    let right = allowance * 1.08;
    let title = format!("The budget of {CASE} (stated {want}): |result − stated value|");
    let mut chart = Chart::new(
        &title,
        (0.0, right),
        (0.0, 6.0),
        ("|result − stated value|", ""),
    );
    for (v, label) in [
        (0.0, "0"),
        (5e-5, "5e-5"),
        (1e-4, "1e-4"),
        (1.5e-4, "1.5e-4"),
    ] {
        chart.x_tick(v, label);
    }
    let bands = [
        (0.0, PRINTED_HALF_UNIT, PALETTE[5], "printed half-unit"),
        (
            PRINTED_HALF_UNIT,
            PRINTED_HALF_UNIT + INPUTS_TERM,
            PALETTE[4],
            "2 × inputs' half-unit",
        ),
    ];
    for (a, b, colour, label) in bands {
        chart.band((a, b), (0.0, 5.0), colour);
        chart.label((a, 5.0), (4.0, -6.0), label);
    }
    let (x, top, bottom) = (chart.px(allowance), chart.py(6.0), chart.py(0.0));
    chart.line((x, top), (x, bottom), "#b00", "");
    chart.label(
        (allowance, 5.6),
        (-70.0, 0.0),
        &format!("allowance {allowance:e}"),
    );
    let name = pytorch["implementation"].as_str().unwrap_or("PyTorch");
    // "PyTorch 2.15.0 (CPU), adapters/pytorch/adapter.py": the name, without the adapter's path.
    let name = name.split(',').next().unwrap_or(name);
    let mut rows = Vec::new();
    for (i, &dtype) in DTYPES.iter().enumerate() {
        let (want, _) = stated(spec, dtype)?;
        rows.push((
            1.0 + i as f64,
            format!("reference, {dtype}"),
            reference_error(spec, dtype, want)?,
        ));
        rows.push((
            3.0 + i as f64,
            format!("{name}, {dtype}"),
            recorded_error(pytorch, dtype)?,
        ));
    }
    for (row, label, error) in &rows {
        let colour = if *row < 3.0 { PALETTE[0] } else { PALETTE[1] };
        chart.markers("", colour, &[(*error, *row)]);
        chart.label((*error, *row), (8.0, 4.0), &format!("{label}: {error:.3e}"));
    }
    Ok(Figure {
        name: NAME,
        svg: chart.finish(),
    })
}
