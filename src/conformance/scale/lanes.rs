//! What the error analysis needs of one slice along the class (or softmax) dimension: the shift
//! `m = max x`, the log-normaliser `log s = log Σ exp(x_j − m)`, the slice length `C` and
//! `L = ⌈log2 C⌉`, the depth of a pairwise sum over it.

use ndarray::{ArrayD, ArrayView1, Axis};

use super::Call;

/// One slice's statistics, in f64; `None` when the slice holds a NaN or `+inf`, or only `-inf`
/// (then every result of the slice is NaN or infinite, compared exactly, with no allowance). A
/// `-inf` beside finite values masks its class: its `p` is 0 and its `log p` is `-inf`.
pub struct Lane<'a> {
    x: ArrayView1<'a, f64>,
    m: f64,
    pub log_s: f64,
    pub c: usize,
    pub l: f64,
}

/// `⌈log2 n⌉` for `n ≥ 2`, 1 below: the depth of a pairwise sum of `n` terms.
pub fn depth(n: usize) -> f64 {
    (n.max(2) as f64).log2().ceil()
}

impl<'a> Lane<'a> {
    pub fn of(x: ArrayView1<'a, f64>) -> Option<Lane<'a>> {
        if x.iter().any(|v| v.is_nan() || *v == f64::INFINITY) {
            return None;
        }
        let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !m.is_finite() {
            return None;
        }
        let log_s = x.iter().map(|&v| (v - m).exp()).sum::<f64>().ln();
        Some(Lane {
            x,
            m,
            log_s,
            c: x.len(),
            l: depth(x.len()),
        })
    }

    /// `z_j = x_j − m`.
    pub fn z(&self, j: usize) -> f64 {
        self.x[j] - self.m
    }

    /// `y_j = log p_j = z_j − log s`.
    pub fn log_p(&self, j: usize) -> f64 {
        self.z(j) - self.log_s
    }

    pub fn p(&self, j: usize) -> f64 {
        self.log_p(j).exp()
    }

    /// `|m|`, what the unshifted forms round: `x_j − logsumexp(x)` rounds `logsumexp(x) =
    /// m + log s`, a number the size of the largest logit, however small `log p_j` is.
    pub fn offset(&self) -> f64 {
        self.m.abs()
    }

    /// The error scale of `log p_j` (absolute): the rounding of `z_j`; of `s`, relatively `L`
    /// for the pairwise sum and 2 for each `exp` (an elementary function is good to about one
    /// ulp, two roundoffs), absolutely the same in `log s`; of the `log` (`2 |log s|`); of the
    /// final subtraction (`|log p_j|`); and of `m + log s`, where a backward-stable form
    /// rounds it (`|m|`).
    pub fn log_p_scale(&self, j: usize) -> f64 {
        self.log_p(j).abs()
            + self.z(j).abs()
            + 2.0 * self.log_s.abs()
            + self.offset()
            + self.l
            + 2.0
    }

    /// The error scale of `p_j` (relative, times `p_j`): the rounding of `z_j` amplified by
    /// `exp`, of `exp` itself (2), of the sum (`L`) and of the division (1); or, for
    /// `exp(x_j − logsumexp(x))`, the rounding of its argument (`|m| + |log p_j|`, within
    /// `|m| + |z_j| + log s`) and of the `log s` it holds (`L + 2`).
    pub fn p_scale(&self, j: usize) -> f64 {
        match self.p(j) {
            0.0 => 0.0,
            p => p * (self.z(j).abs() + self.offset() + self.log_s + self.l + 3.0),
        }
    }
}

/// A scale for every element of a softmax or log_softmax call: `scale(lane, &once, j)` for
/// element `j` of each lane along `dim` (a 0-d input is one lane of one), `once` being what
/// `per_lane` computed for the lane; a lane with no [`Lane`] gets 0, its results being compared
/// exactly.
pub fn along_dim<S>(
    call: &Call,
    per_lane: impl Fn(&Lane) -> S,
    scale: impl Fn(&Lane, &S, usize) -> f64,
) -> Result<Vec<f64>, String> {
    let x = call.input();
    let x = if x.ndim() == 0 {
        x.insert_axis(Axis(0))
    } else {
        x
    };
    let dim = call.attrs.dim.unwrap_or(0);
    let d = usize::try_from(dim.rem_euclid(x.ndim() as i64)).map_err(|e| e.to_string())?;
    let mut out = ArrayD::<f64>::zeros(x.raw_dim());
    for (lane, mut o) in x.lanes(Axis(d)).into_iter().zip(out.lanes_mut(Axis(d))) {
        let Some(lane) = Lane::of(lane) else { continue };
        let once = per_lane(&lane);
        for (j, slot) in o.iter_mut().enumerate() {
            *slot = scale(&lane, &once, j);
        }
    }
    Ok(out.iter().copied().collect())
}
