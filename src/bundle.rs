//! The spec as it was when the crate was built, so that the binary and the tests carry their
//! own suite and need no source tree at run time.

use std::sync::OnceLock;

use std::collections::BTreeMap;

use crate::protocol::tensor_from_json;
use crate::spec::{Literal, Spec, SpecError, parse_spec};

mod files {
    include!(concat!(env!("OUT_DIR"), "/bundled_spec.rs"));
}

/// The bundled spec files, `(path, text)`.
pub fn files() -> Vec<(String, String)> {
    files::FILES
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

/// The bundled spec, parsed once. The build script has already parsed the same text, so this
/// only fails if the parser changed without a rebuild.
pub fn spec() -> Result<&'static Spec, &'static [SpecError]> {
    static SPEC: OnceLock<Result<Spec, Vec<SpecError>>> = OnceLock::new();
    match SPEC.get_or_init(|| parse_spec(&files())) {
        Ok(spec) => Ok(spec),
        Err(errors) => Err(errors),
    }
}

/// PyTorch's gradient of the sum of each case's output with respect to its input, recorded by
/// `scripts/observe_torch_gradients.py`, by `<case id>@<dtype>`.
pub fn recorded_gradients() -> Result<&'static BTreeMap<String, Literal>, &'static str> {
    static RECORDED: OnceLock<Result<BTreeMap<String, Literal>, String>> = OnceLock::new();
    match RECORDED.get_or_init(|| parse_gradients(files::RECORDED_GRADIENTS)) {
        Ok(map) => Ok(map),
        Err(e) => Err(e),
    }
}

/// The recorded gradient of one case in one dtype (`<case id>@<dtype>`).
pub fn recorded_gradient(key: &str) -> Option<Literal> {
    recorded_gradients().ok()?.get(key).cloned()
}

fn parse_gradients(text: &str) -> Result<BTreeMap<String, Literal>, String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("spec/recorded/pytorch-gradients.json: {e}"))?;
    let gradients = value
        .get("gradients")
        .and_then(serde_json::Value::as_object)
        .ok_or("spec/recorded/pytorch-gradients.json: no `gradients` object")?;
    gradients
        .iter()
        .map(|(key, t)| {
            tensor_from_json(t)
                .map(|t| (key.clone(), Literal::from(&t)))
                .map_err(|e| format!("spec/recorded/pytorch-gradients.json: {key}: {e}"))
        })
        .collect()
}
