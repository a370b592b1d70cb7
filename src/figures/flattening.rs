//! Softmax applied to its own output again and again (`003_0000eef0f73501b5.txt`, In [109]):
//! each iteration pulls the distribution towards uniform.

use super::svg::{Chart, PALETTE};
use super::{Figure, FigureError};
use crate::conformance::materialize::materialize;
use crate::reference::softmax;
use crate::spec::Spec;
use crate::vocab::{Dtype, Role};

/// The case whose input is the document's printed scores `X`.
const FIRST_ITERATION: &str = "softmax.doc003.flatten.iter1";
const ITERATIONS: usize = 7;

pub(super) fn softmax_flattening(spec: &Spec) -> Result<Figure, FigureError> {
    const NAME: &str = "softmax-flattening.svg";
    let input = |message: String| FigureError::Input {
        figure: NAME,
        message,
    };
    let case = spec
        .case(FIRST_ITERATION)
        .ok_or_else(|| input(format!("the spec has no case `{FIRST_ITERATION}`")))?;
    let tensors = materialize(case, Dtype::Float64).map_err(input)?;
    let mut x = tensors
        .get(&Role::Input)
        .ok_or_else(|| input(format!("`{FIRST_ITERATION}` has no input")))?
        .float_array::<f64>();
    let mut rows = Vec::new();
    for _ in 0..ITERATIONS {
        x = softmax(&x, -1).map_err(|source| FigureError::Reference {
            figure: NAME,
            source,
        })?;
        rows.push(x.iter().copied().collect::<Vec<f64>>());
    }
    let title = "softmax applied k times to document 003's scores X, float64";
    let mut chart = Chart::new(
        title,
        (0.5, ITERATIONS as f64 + 0.5),
        (0.0, 0.6),
        ("k", "probability"),
    );
    let ticks: Vec<f64> = (1..=ITERATIONS).map(|k| k as f64).collect();
    chart.x_ticks(&ticks);
    chart.y_ticks(&[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    let classes = rows.first().map_or(0, Vec::len);
    chart.h_rule(1.0 / classes.max(1) as f64, "#888", "uniform");
    for class in 0..classes {
        let points: Vec<(f64, f64)> = rows
            .iter()
            .enumerate()
            .map(|(k, row)| ((k + 1) as f64, row[class]))
            .collect();
        let colour = PALETTE[class % PALETTE.len()];
        chart.series(&format!("class {class}"), colour, "", &points);
        chart.markers("", colour, &points);
    }
    Ok(Figure {
        name: NAME,
        svg: chart.finish(),
    })
}
