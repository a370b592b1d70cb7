//! What the error analysis needs of one slice along the class (or softmax) dimension: the shift
//! `m = max x`, the log-normaliser `log s = log Σ exp(x_j − m)`, the slice length `C` and
//! `L = ⌈log2 C⌉`, the depth of a pairwise sum over it.

use ndarray::ArrayView1;

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

    /// The error scale of `log p_j` (absolute): the rounding of `z_j`; of `s`, relatively `L`
    /// for the pairwise sum and 2 for each `exp` (an elementary function is good to about one
    /// ulp, two roundoffs), absolutely the same in `log s`; of the `log` (`2 |log s|`); of the
    /// final subtraction (`|log p_j|`).
    pub fn log_p_scale(&self, j: usize) -> f64 {
        self.log_p(j).abs() + self.z(j).abs() + 2.0 * self.log_s.abs() + self.l + 2.0
    }

    /// The error scale of `p_j` (relative, times `p_j`): the rounding of `z_j` amplified by
    /// `exp`, of `exp` itself (2), of the sum (`L`) and of the division (1).
    pub fn p_scale(&self, j: usize) -> f64 {
        match self.p(j) {
            0.0 => 0.0,
            p => p * (self.z(j).abs() + self.l + 3.0),
        }
    }
}
