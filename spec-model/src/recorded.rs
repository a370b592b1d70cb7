//! Data recorded for a spec, kept beside the spec files it belongs to (`<spec dir>/recorded/`),
//! so that a spec directory carries everything its cases are judged by: PyTorch's gradient of
//! every value case (`scripts/observe_torch_gradients.py`), and the exact value and gradient of
//! every value case on its inputs as stored in each dtype (`scripts/exact_values.py`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::floats;
use crate::literal::Literal;
use crate::vocab::Dtype;

/// The recorded gradients' file, relative to the spec directory.
pub const GRADIENTS_FILE: &str = "recorded/pytorch-gradients.json";

/// The exact values' file, relative to the spec directory.
pub const EXACT_FILE: &str = "recorded/exact.json";

/// A recorded tensor: `{dtype, shape, data}` with the protocol's spelling of non-finite values.
/// A tensor of vocabulary scale is recorded as a *sample*: `indices` lists flat (row-major)
/// offsets in increasing order and `data` holds the elements at those offsets only
/// (`spec/12-exact-values.md`, *At vocabulary scale*).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedTensor {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indices: Option<Vec<usize>>,
    #[serde(with = "floats::many")]
    pub data: Vec<f64>,
}

impl RecordedTensor {
    /// The recorded values as a literal of the tensor's shape; for a sample, the literal holds
    /// the sampled elements only, and the offsets come back beside it.
    pub fn to_literal(&self) -> (Literal, Option<Vec<usize>>) {
        let literal = Literal {
            dtype: Some(self.dtype),
            shape: self.shape.clone(),
            data: self.data.clone(),
            integral: false,
        };
        (literal, self.indices.clone())
    }

    /// A float32 decimal read as a float64 and then rounded to float32 rounds twice, and lands
    /// one ulp off exactly when the float64 falls halfway between two float32s (the shortest
    /// decimal of `0x15AE43FD`, `7.038531e-26`, does): such a record is refused, not read wrong.
    /// Write those values as their float64 decimal.
    fn check_stored(&self) -> Result<(), String> {
        let halfway = (self.dtype == Dtype::Float32)
            .then(|| self.data.iter().find(|&&v| halfway_between_float32s(v)))
            .flatten();
        match halfway {
            Some(v) => Err(format!(
                "{v:e} lies halfway between two float32s, so its float32 is ambiguous: write the float32 as its float64 decimal"
            )),
            None => Ok(()),
        }
    }

    fn check(&self) -> Result<(), String> {
        let numel = crate::shape::checked_numel(&self.shape).ok();
        match (&self.indices, numel) {
            (None, Some(n)) if n == self.data.len() => Ok(()),
            (Some(at), Some(n)) if at.len() == self.data.len() => {
                let increasing = at.windows(2).all(|w| w[0] < w[1]);
                match increasing && at.last().is_none_or(|&last| last < n) {
                    true => Ok(()),
                    false => Err(format!(
                        "the sampled offsets must increase and lie below the {n} elements of shape {:?}",
                        self.shape
                    )),
                }
            }
            (Some(at), Some(_)) => Err(format!(
                "{} sampled offsets but {} values",
                at.len(),
                self.data.len()
            )),
            _ => Err(format!(
                "shape {:?} does not hold the {} values given",
                self.shape,
                self.data.len()
            )),
        }
    }
}

/// Whether `v` is the midpoint of two adjacent float32s (computed exactly: a float32 and its
/// neighbour have at most 24 significant bits, their mean at most 25).
fn halfway_between_float32s(v: f64) -> bool {
    let near = v as f32;
    if !v.is_finite() || f64::from(near) == v || near.is_infinite() {
        return false;
    }
    // The float32 on v's other side: one step of the bit pattern away from zero or towards it.
    let away = (v.abs() > f64::from(near).abs()) as i64 * 2 - 1;
    let bits = near.abs().to_bits() as i64 + away;
    let other = f32::from_bits(bits as u32).copysign(v as f32);
    (f64::from(near) + f64::from(other)) / 2.0 == v
}

/// PyTorch's gradients, as `scripts/observe_torch_gradients.py` writes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedGradients {
    pub torch_version: String,
    pub generated_by: String,
    pub command: String,
    /// By `<case id>@<dtype>`.
    pub gradients: BTreeMap<String, RecordedTensor>,
}

/// The exact result of one run's call: its output and the gradient of its sum, each correctly
/// rounded from 60-digit arithmetic and written with 25 significant digits; `digest` identifies
/// the request it was computed for (see the runner's `request_digest`), so a record whose case
/// changed is stale, not silently wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExactRecord {
    pub digest: Option<String>,
    pub output: RecordedTensor,
    #[serde(default)]
    pub grad_input: Option<RecordedTensor>,
}

/// The exact values, as `scripts/exact_values.py` writes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExactValues {
    pub tool: String,
    pub mpmath: String,
    pub python: String,
    pub digits: u32,
    pub generated: String,
    /// By `<case id>@<dtype>`.
    pub values: BTreeMap<String, ExactRecord>,
}

/// Everything recorded for one spec. A file that is absent is `None`: each run that needs it then
/// says so (an error of the run, never a silent skip).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    pub gradients: Option<RecordedGradients>,
    #[serde(default)]
    pub exact: Option<ExactValues>,
}

impl Recorded {
    /// Reads the recorded gradients from the text of [`GRADIENTS_FILE`].
    pub fn parse_gradients(text: &str) -> Result<RecordedGradients, String> {
        let parsed: RecordedGradients = serde_json::from_str(text).map_err(|e| e.to_string())?;
        for (key, tensor) in &parsed.gradients {
            tensor.check().map_err(|m| format!("{key}: {m}"))?;
            tensor.check_stored().map_err(|m| format!("{key}: {m}"))?;
        }
        Ok(parsed)
    }

    /// Reads the exact values from the text of [`EXACT_FILE`].
    pub fn parse_exact(text: &str) -> Result<ExactValues, String> {
        let parsed: ExactValues = serde_json::from_str(text).map_err(|e| e.to_string())?;
        for (key, record) in &parsed.values {
            record
                .output
                .check()
                .map_err(|m| format!("{key}: output: {m}"))?;
            if let Some(g) = &record.grad_input {
                g.check().map_err(|m| format!("{key}: grad_input: {m}"))?;
            }
        }
        Ok(parsed)
    }

    /// The exact record of the run `<case id>@<dtype>`.
    pub fn exact(&self, key: &str) -> Result<&ExactRecord, String> {
        let Some(file) = &self.exact else {
            return Err(format!(
                "the spec has no {EXACT_FILE}, so {key} has no exact value to be judged by"
            ));
        };
        file.values.get(key).ok_or_else(|| {
            format!(
                "no exact value is recorded for {key} in {EXACT_FILE}: run scripts/exact_values.py"
            )
        })
    }

    /// PyTorch's recorded gradient for the run `<case id>@<dtype>`, with the sampled offsets
    /// when only a sample is recorded.
    pub fn gradient(&self, key: &str) -> Result<(Literal, Option<Vec<usize>>), String> {
        let Some(file) = &self.gradients else {
            return Err(format!(
                "the spec has no {GRADIENTS_FILE}, so the gradient of {key} cannot be judged"
            ));
        };
        file.gradients.get(key).map(RecordedTensor::to_literal).ok_or_else(|| {
            format!(
                "no gradient is recorded for {key} in {GRADIENTS_FILE}: run scripts/observe_torch_gradients.py"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_are_read_checked_and_looked_up() {
        let text = r#"{"torch_version": "2.15.0", "generated_by": "x", "command": "y",
            "gradients": {"a.b@float32": {"dtype": "float32", "shape": [2], "data": [0.5, "nan"]}}}"#;
        let recorded = Recorded {
            gradients: Some(Recorded::parse_gradients(text).unwrap()),
            exact: None,
        };
        assert_eq!(recorded.gradient("a.b@float32").unwrap().0.shape, vec![2]);
        assert!(
            recorded
                .gradient("a.b@float64")
                .unwrap_err()
                .contains("no gradient")
        );
        assert!(Recorded::default().gradient("a.b@float32").is_err());
        let short = text.replace("[0.5, \"nan\"]", "[0.5]");
        assert!(
            Recorded::parse_gradients(&short)
                .unwrap_err()
                .contains("shape")
        );
        let unknown = text.replace("\"command\"", "\"comand\"");
        assert!(Recorded::parse_gradients(&unknown).is_err());
        // Read through float64, this float32 decimal lands between two float32s.
        let twice = text.replace("[0.5, \"nan\"]", "[0.5, 7.038531e-26]");
        let e = Recorded::parse_gradients(&twice).unwrap_err();
        assert!(e.contains("halfway between two float32s"), "{e}");
        let once = text.replace("[0.5, \"nan\"]", "[0.5, 7.038530691851209e-26]");
        assert!(Recorded::parse_gradients(&once).is_ok());
        // A sample: offsets into the shape, one value each, increasing and in range.
        let sample = |shape: &str, at: &str| {
            text.replace(
                "\"shape\": [2]",
                &format!("\"shape\": {shape}, \"indices\": {at}"),
            )
        };
        let parsed = Recorded::parse_gradients(&sample("[3, 4]", "[0, 11]")).unwrap();
        let (lit, at) = parsed.gradients["a.b@float32"].to_literal();
        assert_eq!(
            (lit.shape, lit.data.len(), at),
            (vec![3, 4], 2, Some(vec![0, 11]))
        );
        for (shape, at, why) in [
            ("[3, 4]", "[0, 12]", "below the 12"),
            ("[3, 4]", "[5, 5]", "must increase"),
            ("[3, 4]", "[1]", "1 sampled offsets but 2 values"),
        ] {
            let e = Recorded::parse_gradients(&sample(shape, at)).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn exact_values_keep_their_digits_and_are_looked_up() {
        let text = r#"{"tool": "t", "mpmath": "1.3.0", "python": "3.11", "digits": 60, "generated": "d",
            "values": {"a.b@float64": {"digest": "00ff", "output": {"dtype": "float64", "shape": [3],
            "data": ["0.1000000000000000055511151231257827", "-0", "1e-435"]}}}}"#;
        let exact = Recorded::parse_exact(text).unwrap();
        let recorded = Recorded {
            gradients: None,
            exact: Some(exact),
        };
        let record = recorded.exact("a.b@float64").unwrap();
        assert_eq!(record.output.data[0], 0.1);
        assert!(record.output.data[1] == 0.0 && record.output.data[1].is_sign_negative());
        assert_eq!(
            (record.output.data[2], record.grad_input.is_none()),
            (0.0, true)
        );
        assert!(
            recorded
                .exact("a.b@float32")
                .unwrap_err()
                .contains("scripts/exact_values.py")
        );
        assert!(
            Recorded::parse_exact(&text.replace("\"-0\", ", ""))
                .unwrap_err()
                .contains("shape")
        );
    }
}
