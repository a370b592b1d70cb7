//! Softmax applied to its own output again and again (`003_0000eef0f73501b5.txt`, In [109]):
//! each iteration pulls the distribution towards uniform.

use super::svg::{Chart, Corner, PALETTE};
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
    let classes = rows.first().map_or(0, Vec::len);
    let uniform = 1.0 / classes.max(1) as f64;
    let title = "softmax applied k times to document 003's scores X: distance from uniform";
    let mut chart = Chart::new(
        title,
        (0.5, ITERATIONS as f64 + 0.5),
        (-6.0, 0.0),
        ("k", "|p − 1/4|, logarithmic axis"),
    );
    chart.legend_at(Corner::BottomLeft);
    let ticks: Vec<f64> = (1..=ITERATIONS).map(|k| k as f64).collect();
    chart.x_ticks(&ticks);
    for power in -6..=0 {
        chart.y_tick(f64::from(power), &format!("1e{power}").replace('-', "−"));
    }
    for class in 0..classes {
        let points: Vec<(f64, f64)> = rows
            .iter()
            .enumerate()
            .map(|(k, row)| ((k + 1) as f64, (row[class] - uniform).abs().log10()))
            .collect();
        let colour = PALETTE[class % PALETTE.len()];
        chart.series(&format!("class {class}"), colour, "", &points);
        chart.markers("", colour, &points);
    }
    // What "fourfold per iteration" means on this axis: a line falling by log10(4) per step,
    // through the largest distance at the first iteration.
    let start = rows.first().map_or(1.0, |row| {
        row.iter().map(|p| (p - uniform).abs()).fold(0.0, f64::max)
    });
    let guide: Vec<(f64, f64)> = (1..=ITERATIONS)
        .map(|k| (k as f64, start.log10() - (k - 1) as f64 * 4f64.log10()))
        .collect();
    chart.series("÷4 per iteration", "#888", "4 3", &guide);
    Ok(Figure {
        name: NAME,
        svg: chart.finish(),
    })
}
