//! Tolerances: how far from a stated value a result may be, per floating dtype, and why.

use serde::{Deserialize, Serialize};

use crate::location::Location;
use crate::vocab::Dtype;

/// `|got - want| <= abs + rel * |want| + k * r`, where `r` is the roundoff scale of the element:
/// the dtype's unit roundoff times the op's error scale at the case's inputs (derived in
/// `spec/12-exact-values.md`; 0 where a claim states no scale). All finite and non-negative.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    pub abs: f64,
    pub rel: f64,
    #[serde(default)]
    pub k: f64,
}

impl Bounds {
    /// How much `want` may be off by, for an element whose roundoff scale is `roundoff`.
    pub fn allowance(&self, want: f64, roundoff: f64) -> f64 {
        self.abs + self.rel * want.abs() + self.k * roundoff
    }
}

/// A named tolerance, with bounds per floating dtype and the reason for its size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tolerance {
    pub name: String,
    pub float32: Bounds,
    pub float64: Bounds,
    pub why: String,
    pub at: Location,
}

impl Tolerance {
    pub fn bounds(&self, dtype: Dtype) -> Bounds {
        match dtype {
            Dtype::Float64 => self.float64,
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
            "abs" | "rel" | "k" | "why" | "float32" | "float64"
        ) {
            return Err(format!("unknown key `{key}` in a tolerance"));
        }
    }
    Ok(Bounds {
        abs: num("abs")?,
        rel: num("rel")?,
        k: num("k")?,
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
    }
}
