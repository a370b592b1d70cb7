//! The spec as a test suite. `build.rs` generates one rstest test per case of `spec/*.md`, in one
//! module per chapter (`cargo test ch02` runs chapter 2), each a one-line call of [`run_case`]:
//! the case's value and gradient runs against the reference (the same verdicts as
//! `cross-entropy-spec check`), then the reference-only checks ([`checks`]), then the snapshot of
//! the result ([`snapshot`]) in `snapshots/<chapter>/`.

mod checks;
mod documents;
mod identities;
mod snapshot;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cross_entropy_spec::bundle;
use cross_entropy_spec::spec::Spec;
use cross_entropy_spec::vocab::Dtype;

fn spec() -> &'static Spec {
    bundle::spec().expect("the embedded spec reads back")
}

fn snapshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots")
}

fn run_case(id: &str, dtype: Dtype) {
    let spec = spec();
    let case = spec
        .case(id)
        .expect("the generated test names a case of the embedded spec");
    let chapter = spec.chapter_of(case).expect("a case belongs to a chapter");
    let (folder, name) = snapshot::path(chapter.stem(), case, dtype);
    match checks::check_case(spec, case, dtype) {
        Ok(outcome) => insta::with_settings!({
            snapshot_path => snapshots().join(folder),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_yaml_snapshot!(name, outcome);
        }),
        Err(report) => panic!("\n{report}"),
    }
}

#[allow(non_snake_case)]
mod spec {
    use super::*;
    include!(concat!(env!("OUT_DIR"), "/spec_cases.rs"));
}

/// Every snapshot belongs to a case and dtype of the spec, and every case and dtype has one
/// (`cargo insta test --unreferenced=reject`'s rule, without cargo-insta): a renamed or removed
/// case cannot leave its snapshot behind, and a missing folder is an error, not a pass.
#[test]
fn snapshots_and_cases_match_one_to_one() {
    let spec = spec();
    let expected: BTreeSet<PathBuf> = (spec.cases.iter())
        .flat_map(|case| {
            let stem = spec.chapter_of(case).expect("a chapter").stem().to_string();
            (case.dtypes.iter()).map(move |&d| {
                let (folder, name) = snapshot::path(&stem, case, d);
                folder.join(format!("{name}.snap"))
            })
        })
        .collect();
    let found = snapshot_files(&snapshots()).expect("the snapshots/ folder is readable");
    let stale: Vec<_> = found.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&found).collect();
    assert!(
        stale.is_empty(),
        "snapshots without a case (delete them, or restore the case): {stale:?}"
    );
    assert!(
        missing.is_empty(),
        "cases without a snapshot (run `cargo insta test --review`): {missing:?}"
    );
}

/// Every `*.snap` under `dir`, relative to it.
fn snapshot_files(dir: &Path) -> std::io::Result<BTreeSet<PathBuf>> {
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            let sub = path.file_name().map(PathBuf::from).unwrap_or_default();
            found.extend(snapshot_files(&path)?.into_iter().map(|p| sub.join(p)));
        } else if path.extension().is_some_and(|e| e == "snap") {
            found.insert(path.file_name().map(PathBuf::from).unwrap_or_default());
        }
    }
    Ok(found)
}
