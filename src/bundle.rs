//! The spec as it was when the crate was built, so that the binary and the tests carry their
//! own suite and need no source tree at run time.

use std::sync::OnceLock;

use crate::spec::{Spec, SpecError, parse_spec};

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
