//! What the suite's modules share: the spec's `identity` tolerance, comparisons under it, random
//! shapes of class problems, and the command line with a copy of the runner's fixture spec.
//! (Each concern uses a part of it.)
#![allow(dead_code)]

use approx::relative_eq;
use cross_entropy_spec::bundle;
use cross_entropy_spec::reference::Real;
use cross_entropy_spec::spec::{Bounds, Spec};
use cross_entropy_spec::vocab::Dtype;
use ndarray::ArrayD;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand::rngs::StdRng;

/// The spec's own tolerance for two computations of one quantity.
pub fn identity_bounds(dtype: Dtype) -> Bounds {
    let spec = bundle::spec().expect("the bundled spec parses");
    spec.tolerances["identity"].bounds(dtype)
}

/// The bundled spec without its vocabulary-scale cases ([`Case::vocabulary_scale`]): what a
/// test that runs every case judges in the plain `cargo test`, whose debug build spends seconds
/// on each row of 32,000 classes and more. Those cases are judged by their own ignored tests in
/// `tests/spec_cases`, by the ignored twins of the tests here (both run by `.ci/run`), and by
/// `cargo run --release`.
///
/// [`Case::vocabulary_scale`]: cross_entropy_spec::spec::Case::vocabulary_scale
pub fn everyday_spec() -> &'static Spec {
    &split().0
}

/// The bundled spec's vocabulary-scale cases alone (the other half of [`everyday_spec`]).
pub fn vocabulary_spec() -> &'static Spec {
    &split().1
}

fn split() -> &'static (Spec, Spec) {
    static SPLIT: std::sync::OnceLock<(Spec, Spec)> = std::sync::OnceLock::new();
    SPLIT.get_or_init(|| {
        let spec = bundle::spec().expect("the bundled spec parses");
        let only = |large: bool| Spec {
            cases: (spec.cases.iter())
                .filter(|c| c.vocabulary_scale() == large)
                .cloned()
                .collect(),
            ..spec.clone()
        };
        (only(false), only(true))
    })
}

/// Whether two values agree within `bounds` (NaN agrees with NaN only).
pub fn close(x: f64, y: f64, bounds: Bounds) -> bool {
    (x.is_nan() && y.is_nan())
        || relative_eq!(x, y, epsilon = bounds.abs, max_relative = bounds.rel)
}

/// Asserts that two arrays agree element by element, naming `context` and the element if not.
pub fn assert_close<T: Real>(a: &ArrayD<T>, b: &ArrayD<T>, bounds: Bounds, context: &str) {
    assert_eq!(a.shape(), b.shape(), "{context}: shapes differ");
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        let (x, y) = (Real::to_f64(*x), Real::to_f64(*y));
        assert!(
            close(x, y, bounds),
            "{context}: element {i}: {x} vs {y} (bounds {bounds:?})"
        );
    }
}

/// A random shape for a class problem: `(C)`, `(N, C)`, `(N, C, d1)` or `(N, C, d1, d2)`, with
/// `N` possibly 0.
pub fn class_shape(rng: &mut StdRng) -> Vec<usize> {
    let classes = rng.random_range(1..7);
    let batch = rng.random_range(0..5);
    match rng.random_range(0..4) {
        0 => vec![classes],
        1 => vec![batch, classes],
        2 => vec![batch, classes, rng.random_range(1..4)],
        _ => vec![
            batch,
            classes,
            rng.random_range(1..3),
            rng.random_range(1..4),
        ],
    }
}

/// The command line under test.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_cross-entropy-spec"))
}

/// The command line run with `args`, to completion.
pub fn run(args: &[&str]) -> std::process::Output {
    bin().args(args).output().expect("the binary runs")
}

/// A copy of the runner's fixture spec in a fresh temporary directory (`name` tells the tests
/// of one process apart).
pub fn spec_copy(name: &str) -> std::path::PathBuf {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/runner-spec");
    let to = std::env::temp_dir().join(format!("ces-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&to);
    std::fs::create_dir_all(to.join("recorded")).expect("a temporary directory");
    for file in [
        "01-runner.md",
        "recorded/pytorch-gradients.json",
        "recorded/exact.json",
    ] {
        std::fs::copy(from.join(file), to.join(file)).expect("copied");
    }
    to
}

/// Waits until `path` exists: the mark an implementation leaves when the runner has reached the
/// point a test needs (say, it sent the second request, so the first run is recorded).
pub fn wait_for(path: &std::path::Path) {
    let limit = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < limit,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Whether a process still runs: it exists and is not a zombie waiting to be reaped.
pub fn alive(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Ok(stat) => stat
            .rsplit(") ")
            .next()
            .is_some_and(|rest| !rest.starts_with('Z')),
        Err(_) => false,
    }
}
