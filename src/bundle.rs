//! The spec as it was when the crate was built: parsed once by the build script (with the spec
//! model crate) and embedded as JSON, so that the binary and the tests carry their own suite,
//! recorded data included, and need no source tree at run time.

use std::sync::OnceLock;

use crate::spec::Spec;

const SPEC_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/spec.json"));

/// The bundled spec. It was validated when the crate was built; reading it back fails only if
/// the embedded text was damaged.
pub fn spec() -> Result<&'static Spec, &'static str> {
    static SPEC: OnceLock<Result<Spec, String>> = OnceLock::new();
    match SPEC.get_or_init(|| Spec::from_json(SPEC_JSON)) {
        Ok(spec) => Ok(spec),
        Err(e) => Err(e),
    }
}
