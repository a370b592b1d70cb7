//! The spec as a test suite: `build.rs` generates one rstest test per case of `spec/*.md`, each
//! a one-line call of [`run_case`], which runs the case against the reference implementation,
//! checks the identities and documents it names, and snapshots the result with insta.

use cross_entropy_spec::conformance::spec_test;
use cross_entropy_spec::vocab::Dtype;

fn run_case(id: &str, dtype: Dtype) {
    match spec_test(id, dtype) {
        Ok(outcome) => insta::with_settings!({
            snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(outcome.name, outcome.snapshot);
        }),
        Err(report) => panic!("\n{report}"),
    }
}

#[allow(non_snake_case)]
mod spec {
    use super::*;
    include!(concat!(env!("OUT_DIR"), "/spec_cases.rs"));
}

/// A snapshot whose case was renamed or removed would linger unreviewed: every file in
/// `snapshots/` must belong to a case and dtype of the spec.
#[test]
fn every_snapshot_belongs_to_a_case() {
    let spec = cross_entropy_spec::bundle::spec().expect("the bundled spec parses");
    let expected: std::collections::BTreeSet<String> = spec
        .cases
        .iter()
        .flat_map(|c| c.dtypes.iter().map(move |d| format!("{}.{d}.snap", c.id)))
        .collect();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots");
    let stale: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".snap") && !expected.contains(name))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        stale.is_empty(),
        "snapshots without a case (delete them, or restore the case): {stale:?}"
    );
}
