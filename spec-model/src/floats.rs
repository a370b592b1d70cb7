//! Floats that may be NaN or infinite, written as JSON numbers when finite and as the strings
//! `"nan"`, `"inf"`, `"-inf"` otherwise: the protocol's spelling, used wherever the model is
//! serialised (the embedded spec, the recorded data). JSON itself has no non-finite numbers.

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// One float in the protocol's spelling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Wire {
    Number(f64),
    Special(String),
}

fn to_wire(v: f64) -> Wire {
    match v {
        v if v.is_nan() => Wire::Special("nan".into()),
        f64::INFINITY => Wire::Special("inf".into()),
        f64::NEG_INFINITY => Wire::Special("-inf".into()),
        v => Wire::Number(v),
    }
}

/// Reads `"nan"`, `"inf"`, `"-inf"`, or a decimal string (the recorded data's exact values keep
/// more digits than an `f64` as text; they read as the nearest `f64`).
pub fn parse_special(s: &str) -> Result<f64, String> {
    match s {
        "nan" => Ok(f64::NAN),
        "inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        _ => s
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                format!(
                    "\"{s}\" is not a number (non-finite values are \"nan\", \"inf\", \"-inf\")"
                )
            }),
    }
}

fn from_wire<E: de::Error>(w: Wire) -> Result<f64, E> {
    match w {
        Wire::Number(v) => Ok(v),
        Wire::Special(s) => parse_special(&s).map_err(E::custom),
    }
}

/// `#[serde(with = "floats::one")]` for an `f64`.
pub mod one {
    use super::*;

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        to_wire(*v).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        from_wire(Wire::deserialize(d)?)
    }
}

/// `#[serde(with = "floats::option")]` for an `Option<f64>`.
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        v.map(to_wire).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Option::<Wire>::deserialize(d)?.map(from_wire).transpose()
    }
}

/// `#[serde(with = "floats::many")]` for a `Vec<f64>`.
pub mod many {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|&x| to_wire(x)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Vec::<Wire>::deserialize(d)?
            .into_iter()
            .map(from_wire)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "super::many")]
        data: Vec<f64>,
        #[serde(with = "super::option")]
        smoothing: Option<f64>,
    }

    #[test]
    fn non_finite_values_round_trip_as_strings() {
        let h = Holder {
            data: vec![1.5, f64::INFINITY, f64::NEG_INFINITY, -0.0],
            smoothing: Some(f64::NAN),
        };
        let text = serde_json::to_string(&h).unwrap();
        assert_eq!(
            text,
            r#"{"data":[1.5,"inf","-inf",-0.0],"smoothing":"nan"}"#
        );
        let back: Holder = serde_json::from_str(&text).unwrap();
        assert_eq!(back.data[..3], h.data[..3]);
        assert!(back.data[3].is_sign_negative());
        assert!(back.smoothing.unwrap().is_nan());
        assert!(serde_json::from_str::<Holder>(r#"{"data":["1e400"],"smoothing":null}"#).is_err());
    }
}
