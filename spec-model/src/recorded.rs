//! Data recorded for a spec from real implementations, kept beside the spec files it belongs to
//! (`<spec dir>/recorded/`), so that a spec directory carries everything its cases are judged by:
//! PyTorch's gradient of every value case, recorded by `scripts/observe_torch_gradients.py`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::floats;
use crate::literal::Literal;
use crate::vocab::Dtype;

/// The recorded gradients' file, relative to the spec directory.
pub const GRADIENTS_FILE: &str = "recorded/pytorch-gradients.json";

/// A recorded tensor: `{dtype, shape, data}` with the protocol's spelling of non-finite values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedTensor {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    #[serde(with = "floats::many")]
    pub data: Vec<f64>,
}

impl RecordedTensor {
    pub fn to_literal(&self) -> Literal {
        Literal {
            dtype: Some(self.dtype),
            shape: self.shape.clone(),
            data: self.data.clone(),
            integral: false,
        }
    }

    fn check(&self) -> Result<(), String> {
        let numel = self.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        match numel {
            Some(n) if n == self.data.len() => Ok(()),
            _ => Err(format!(
                "shape {:?} does not hold the {} values given",
                self.shape,
                self.data.len()
            )),
        }
    }
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

/// Everything recorded for one spec. A file that is absent is `None`: each run that needs it then
/// says so (an error of the run, never a silent skip).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    pub gradients: Option<RecordedGradients>,
}

impl Recorded {
    /// Reads the recorded gradients from the text of [`GRADIENTS_FILE`].
    pub fn parse_gradients(text: &str) -> Result<RecordedGradients, String> {
        let parsed: RecordedGradients = serde_json::from_str(text).map_err(|e| e.to_string())?;
        for (key, tensor) in &parsed.gradients {
            tensor.check().map_err(|m| format!("{key}: {m}"))?;
        }
        Ok(parsed)
    }

    /// PyTorch's recorded gradient for the run `<case id>@<dtype>`.
    pub fn gradient(&self, key: &str) -> Result<Literal, String> {
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
        };
        assert_eq!(recorded.gradient("a.b@float32").unwrap().shape, vec![2]);
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
    }
}
