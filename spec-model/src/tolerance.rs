//! Tolerances: how far from a stated value a result may be, per floating dtype, and why.

use serde::{Deserialize, Serialize};

use crate::location::Location;
use crate::vocab::Dtype;

/// `|got - want| <= abs + rel * |want| + k * r`, where `r` is the roundoff scale of the element:
/// the dtype's unit roundoff times the op's error scale at the case's inputs (derived in
/// `spec/12-exact-values.md`; 0 where a claim states no scale). All finite and non-negative.
///
/// `cut` is for a figure cut (truncated towards zero) rather than rounded: the exact value lies
/// between the figure and one `cut` further from zero, so that side alone gets `cut` more.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    pub abs: f64,
    pub rel: f64,
    #[serde(default)]
    pub k: f64,
    #[serde(default)]
    pub cut: f64,
}

impl Bounds {
    /// How much `want` may be off by, on either side, for an element whose roundoff scale is
    /// `roundoff` (without `cut`).
    pub fn allowance(&self, want: f64, roundoff: f64) -> f64 {
        self.abs + self.rel * want.abs() + self.k * roundoff
    }

    /// The allowance on the side of `want` where `got` lies: [`Self::allowance`], plus `cut`
    /// when `got` is further from zero than `want`.
    pub fn allowance_for(&self, want: f64, got: f64, roundoff: f64) -> f64 {
        let away_from_zero = if want >= 0.0 { got > want } else { got < want };
        let cut = if away_from_zero { self.cut } else { 0.0 };
        self.allowance(want, roundoff) + cut
    }
}

/// A named tolerance, with bounds per floating dtype and the reason for its size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tolerance {
    pub name: String,
    pub float32: Bounds,
    pub float64: Bounds,
    /// The half dtypes' bounds: given per dtype, or the tolerance's shared ones; a tolerance
    /// written only per float32/float64 has none (zero), so a half run cannot borrow float32's.
    pub float16: Bounds,
    pub bfloat16: Bounds,
    pub why: String,
    pub at: Location,
}

impl Tolerance {
    pub fn bounds(&self, dtype: Dtype) -> Bounds {
        match dtype {
            Dtype::Float64 => self.float64,
            Dtype::Float16 => self.float16,
            Dtype::BFloat16 => self.bfloat16,
            _ => self.float32,
        }
    }
}

/// Reads `{ abs = .., rel = .. }` (other keys of a tolerance block are allowed beside them).
pub fn bounds_from(t: &toml::Table) -> Result<Bounds, String> {
    let num = |k: &str| -> Result<f64, String> {
        let v = match t.get(k) {
            None => return Ok(0.0),
            Some(toml::Value::Float(f)) => *f,
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(_) => f64::NAN,
        };
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(format!(
                "`{k}` must be a finite, non-negative number (a tolerance that lets anything pass is no tolerance)"
            ))
        }
    };
    for key in t.keys() {
        if !matches!(
            key.as_str(),
            "abs" | "rel" | "k" | "cut" | "why" | "float32" | "float64" | "float16" | "bfloat16"
        ) {
            return Err(format!("unknown key `{key}` in a tolerance"));
        }
    }
    Ok(Bounds {
        abs: num("abs")?,
        rel: num("rel")?,
        k: num("k")?,
        cut: num("cut")?,
    })
}

#[cfg(test)]
mod tests {
    use super::bounds_from;

    #[test]
    fn bounds_are_finite_and_non_negative() {
        let t = |s: &str| bounds_from(&toml::from_str(s).unwrap());
        assert_eq!(t("abs = 1e-6\nrel = 2").unwrap().rel, 2.0);
        assert_eq!(t("k = 4").unwrap().k, 4.0);
        assert!(t("k = inf").is_err());
        assert!(t("abs = inf").is_err());
        assert!(t("rel = nan").is_err());
        assert!(t("abs = -1").is_err());
        assert!(t("abs = \"x\"").is_err());
        assert!(t("abz = 1").is_err());
        assert!(t("cut = -1e-3").is_err());
    }

    /// A cut figure allows its unit away from zero only: 0.134 covers [0.134, 0.135] and
    /// -0.134 covers [-0.135, -0.134], each with `abs` of slack on both sides.
    #[test]
    fn a_cut_widens_only_the_side_away_from_zero() {
        let b = bounds_from(&toml::from_str("abs = 1e-6\ncut = 1e-3").unwrap()).unwrap();
        assert!((b.allowance_for(0.134, 0.1349, 0.0) - 1.001e-3).abs() < 1e-15);
        assert!((b.allowance_for(0.134, 0.1339, 0.0) - 1e-6).abs() < 1e-15);
        assert!((b.allowance_for(-0.134, -0.1349, 0.0) - 1.001e-3).abs() < 1e-15);
        assert!((b.allowance_for(-0.134, -0.1339, 0.0) - 1e-6).abs() < 1e-15);
    }
}
