//! The figures that are curves of one function over a range: `-log p`, `log(softmax(x))`
//! against `log_softmax(x)`, and BCE of a sigmoid against BCE with logits.

use super::svg::{Chart, Corner, PALETTE};
use super::{Figure, FigureError, grid, vector};
use crate::reference::{
    BceOptions, BceWithLogitsOptions, Reduction, binary_cross_entropy,
    binary_cross_entropy_with_logits, log_softmax, sigmoid, softmax,
};

/// The probabilities `004_8a619d584319f9a0.txt` prints and takes `-log` of by hand.
const DOC004_PROBABILITIES: [f64; 3] = [0.0871, 0.2369, 0.6439];

/// Per-element `binary_cross_entropy(input, target)`, in the input's type.
fn bce<T: crate::reference::Real>(
    figure: &'static str,
    input: &[T],
    target: T,
) -> Result<Vec<T>, FigureError> {
    let targets = vector(&vec![target; input.len()]);
    let opts = BceOptions {
        weight: None,
        reduction: Reduction::None,
    };
    binary_cross_entropy(&vector(input), &targets, &opts)
        .map(|a| a.into_iter().collect())
        .map_err(|source| FigureError::Reference { figure, source })
}

/// `-log p` over (0, 1], as `binary_cross_entropy(p, 1)` (the document's hand computation).
pub(super) fn neg_log_p() -> Result<Figure, FigureError> {
    const NAME: &str = "neg-log-p.svg";
    let ps = grid(0.004, 1.0, 249);
    let losses = bce(NAME, &ps, 1.0)?;
    let marked = bce(NAME, &DOC004_PROBABILITIES, 1.0)?;
    let title = "The loss of one sample, −log p, against the probability p of its true class";
    let mut chart = Chart::new(title, (0.0, 1.0), (0.0, 5.6), ("p", "−log p"));
    chart.legend_at(Corner::TopRight);
    chart.x_ticks(&[0.0, 0.25, 0.5, 0.75, 1.0]);
    chart.y_ticks(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    let curve: Vec<(f64, f64)> = ps.iter().copied().zip(losses).collect();
    chart.series(
        "binary_cross_entropy(p, 1), float64",
        PALETTE[0],
        "",
        &curve,
    );
    let points: Vec<(f64, f64)> = DOC004_PROBABILITIES.iter().copied().zip(marked).collect();
    chart.markers(
        "document 004's softmax of arange(1, 13)",
        PALETTE[1],
        &points,
    );
    for &(p, loss) in &points {
        chart.label(
            (p, loss),
            (8.0, -6.0),
            &format!("p = {p}, −log p = {loss:.4}"),
        );
    }
    Ok(Figure {
        name: NAME,
        svg: chart.finish(),
    })
}

/// The second element of `log(softmax([0, -gap]))` and of `log_softmax([0, -gap])` in float32:
/// the first reaches -inf once `exp(-gap)` underflows, the second stays `-gap`.
pub(super) fn log_softmax_underflow() -> Result<Figure, FigureError> {
    const NAME: &str = "log-softmax-underflow.svg";
    let fail = |source| FigureError::Reference {
        figure: NAME,
        source,
    };
    let gaps = grid(0.0, 120.0, 480);
    let (mut composed, mut fused) = (Vec::new(), Vec::new());
    for &gap in &gaps {
        let x = vector(&[0.0f32, -(gap as f32)]);
        let p = softmax(&x, 0).map_err(fail)?[1];
        let lp = log_softmax(&x, 0).map_err(fail)?[1];
        composed.push((gap, f64::from(p.ln())));
        fused.push((gap, f64::from(lp)));
    }
    let first = composed
        .iter()
        .find(|(_, y)| *y == f64::NEG_INFINITY)
        .map(|p| p.0);
    let title = "log(softmax(x)) against log_softmax(x), float32, x = [0, −gap]";
    let mut chart = Chart::new(
        title,
        (0.0, 120.0),
        (-125.0, 0.0),
        ("gap", "value at the second class"),
    );
    chart.legend_at(Corner::TopRight);
    chart.x_ticks(&[0.0, 20.0, 40.0, 60.0, 80.0, 100.0, 120.0]);
    chart.y_ticks(&[0.0, -25.0, -50.0, -75.0, -100.0, -125.0]);
    chart.series("log_softmax(x)[1]", PALETTE[0], "", &fused);
    chart.series("log(softmax(x))[1]", PALETTE[1], "6 4", &composed);
    if let Some(first) = first {
        let label = format!("log(softmax(x))[1] = −inf from gap = {first:.2} (step 0.25)");
        chart.v_rule(first, "#888", &label, (-8.0, -118.0));
    }
    Ok(Figure {
        name: NAME,
        svg: chart.finish(),
    })
}

/// `binary_cross_entropy(sigmoid(x), y)` against `binary_cross_entropy_with_logits(x, y)` in
/// float32 as |x| grows, for a confidently wrong score of each sign.
pub(super) fn bce_clamp() -> Result<Figure, FigureError> {
    const NAME: &str = "bce-clamp.svg";
    let fail = |source| FigureError::Reference {
        figure: NAME,
        source,
    };
    let sizes = grid(0.0, 120.0, 480);
    let negative: Vec<f32> = sizes.iter().map(|&s| -(s as f32)).collect();
    let positive: Vec<f32> = sizes.iter().map(|&s| s as f32).collect();
    let of_sigmoid_neg = bce(
        NAME,
        &sigmoid(&vector(&negative)).into_iter().collect::<Vec<_>>(),
        1.0,
    )?;
    let of_sigmoid_pos = bce(
        NAME,
        &sigmoid(&vector(&positive)).into_iter().collect::<Vec<_>>(),
        0.0,
    )?;
    let opts = BceWithLogitsOptions {
        weight: None,
        pos_weight: None,
        reduction: Reduction::None,
    };
    let ones = vector(&vec![1.0f32; sizes.len()]);
    let with_logits =
        binary_cross_entropy_with_logits(&vector(&negative), &ones, &opts).map_err(fail)?;
    let pair = |ys: Vec<f32>| -> Vec<(f64, f64)> {
        sizes
            .iter()
            .copied()
            .zip(ys.into_iter().map(f64::from))
            .collect()
    };
    let title = "BCE of sigmoid against BCE with logits, float32, a wrong score of size |x|";
    let mut chart = Chart::new(title, (0.0, 120.0), (0.0, 125.0), ("|x|", "loss"));
    chart.x_ticks(&[0.0, 20.0, 40.0, 60.0, 80.0, 100.0, 120.0]);
    chart.y_ticks(&[0.0, 25.0, 50.0, 75.0, 100.0, 125.0]);
    chart.h_rule_below(100.0, "#888", "clamp: 100");
    // A sigmoid computed as 1 / (1 + exp(−x)) is 0 once exp(|x|) overflows, from
    // |x| = ln(f32::MAX): PyTorch 2.15.0's float32 sigmoid is 0 at −88.73 and subnormal at
    // −88.72 (spec/07-edge-values.md), where this reference keeps subnormal numbers.
    let overflow = f64::from(f32::MAX).ln();
    let note = format!("PyTorch: σ(−|x|) = 0 from |x| ≈ {overflow:.1}, loss 100");
    chart.v_rule(overflow, "#888", &note, (-6.0, 25.0));
    chart.series(
        "with_logits(−|x|, 1)",
        PALETTE[0],
        "",
        &pair(with_logits.into_iter().collect()),
    );
    chart.series(
        "bce(sigmoid(−|x|), 1), reference",
        PALETTE[1],
        "6 4",
        &pair(of_sigmoid_neg),
    );
    chart.series(
        "bce(sigmoid(|x|), 0)",
        PALETTE[2],
        "2 2",
        &pair(of_sigmoid_pos),
    );
    Ok(Figure {
        name: NAME,
        svg: chart.finish(),
    })
}
