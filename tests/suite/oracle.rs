//! The two oracles agree: the crate's double-double oracle (`src/oracle`) and
//! `scripts/exact_values.py` (60-digit mpmath, `spec/recorded/exact.json`), on every element of
//! every recorded value and gradient run, within a small fraction of the run's allowance
//! (`k · u · M`, the allowance a claim of the exact value gets). The recorded decimals are read
//! to double-double precision, so the comparison sees the oracles' own disagreement, not a
//! float64 rounding.

use cross_entropy_spec::conformance::{Part, request_for, scale};
use cross_entropy_spec::oracle::{dd::Dd, exact_wide, overflow_threshold};
use cross_entropy_spec::spec::{Check, GradCheck, Spec};
use cross_entropy_spec::vocab::Dtype;

/// The most either oracle may differ from the other, in units of the run's allowance.
const AGREEMENT: f64 = 1e-6;

/// The recorded file, raw, so that its 25-digit decimals are read in double-double.
fn recorded() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/recorded/exact.json");
    let text = std::fs::read_to_string(path).expect("spec/recorded/exact.json");
    serde_json::from_str(&text).expect("JSON")
}

/// How far apart two values are in units of the allowance (0 for the same special value).
fn ratio(oracle: Dd, exact: Dd, allowance: f64, dtype: Dtype) -> f64 {
    let (o, e) = (oracle.to_f64(), exact.to_f64());
    let overflows = o.abs() >= overflow_threshold(dtype) && e.is_infinite();
    if (o.is_nan() && e.is_nan()) || (o == e && !o.is_finite()) || (overflows && o * e > 0.0) {
        return 0.0;
    }
    let diff = (oracle - exact).to_f64().abs();
    // A double-double's low part is subnormal below 2⁻⁹⁶⁹ (and its high part below 2⁻¹⁰²²):
    // there it holds its value to the subnormal spacing η = 2⁻¹⁰⁷⁴, not to 2⁻¹⁰⁶ of it, and
    // the oracle is within a spacing or two of exact, which the floor `2kη` of a float64
    // allowance covers; such an element is held to 2η, not to a fraction of the floor.
    let eta64 = f64::from_bits(1);
    let lo_subnormal = f64::MIN_POSITIVE * 2f64.powi(53);
    if e != 0.0 && e.abs() < lo_subnormal && diff <= 2.0 * eta64 {
        return 0.0;
    }
    match diff {
        0.0 => 0.0,
        d if d.is_nan() => f64::INFINITY,
        // An element compared exactly: a difference below 1e-25 of the value is the recorded
        // decimal's own rounding.
        d if allowance == 0.0 => match d <= 1e-24 * e.abs() {
            true => 0.0,
            false => f64::INFINITY,
        },
        d => d / allowance,
    }
}

fn gradient_is_an_error(check: &Check) -> bool {
    matches!(check, Check::Value { grad: Some(g), .. } if matches!(**g, GradCheck::Error { .. }))
}

struct Worst {
    ratio: f64,
    at: String,
    runs: usize,
    elements: usize,
}

fn check_run(spec: &Spec, record: &serde_json::Value, worst: &mut Worst, key: &str) {
    let (id, dtype) = key.rsplit_once('@').expect("a run key");
    let case = spec.case(id).expect("a recorded case");
    let dtype = Dtype::parse(dtype).expect("a dtype");
    for (part, field, tol) in [
        (Part::Value, "output", "rounding"),
        (Part::Gradient, "grad_input", "rounding_grad"),
    ] {
        if part == Part::Gradient && gradient_is_an_error(&case.check) {
            continue; // expect_grad_error: the backward raises, there is nothing to compare
        }
        let request = request_for(case, dtype, part).expect("a request");
        let k = spec.tolerances[tol].bounds(dtype).k;
        let allowance = scale::roundoff(&request, part).expect("a scale");
        let (_, shape, got) = exact_wide(&request).expect("the oracle answers a value case");
        let want = &record[field];
        let want_shape: Vec<usize> = serde_json::from_value(want["shape"].clone()).unwrap();
        assert_eq!(shape, want_shape, "{key} {field}");
        let data = want["data"].as_array().expect("data");
        // A sample of a vocabulary-scale tensor: its values at these flat offsets.
        let at: Option<Vec<usize>> = want
            .get("indices")
            .map(|a| serde_json::from_value(a.clone()).expect("offsets"));
        let offsets: Vec<usize> = match &at {
            Some(at) => at.clone(),
            None => (0..got.len()).collect(),
        };
        assert_eq!(offsets.len(), data.len(), "{key} {field}");
        for (&i, w) in offsets.iter().zip(data) {
            let g = &got[i];
            let w = Dd::parse_decimal(w.as_str().expect("a string")).expect("a decimal");
            let r = ratio(*g, w, k * allowance[i], dtype);
            if r > worst.ratio {
                worst.ratio = r;
                worst.at = format!("{key} {field}[{i}]: oracle {g}, recorded {w}");
            }
            worst.elements += 1;
        }
        worst.runs += 1;
    }
}

/// Whether a record holds a sample (a tensor of vocabulary scale, whose oracle is slow in the
/// test build): those are compared by [`the_oracle_agrees_with_the_recorded_samples`].
fn sampled(record: &serde_json::Value) -> bool {
    ["output", "grad_input"]
        .iter()
        .any(|f| record[f].get("indices").is_some())
}

/// The runs of the value cases whose records are (`true`) or are not sampled.
fn value_runs(
    spec: &Spec,
    values: &serde_json::Map<String, serde_json::Value>,
    large: bool,
) -> usize {
    (spec.cases.iter())
        .filter(|c| matches!(c.check, Check::Value { .. }))
        .flat_map(|c| c.dtypes.iter().map(move |&d| (c, d)))
        .filter(|(c, d)| values.get(&c.run_key(*d)).is_some_and(sampled) == large)
        .map(|(c, _)| 2 - usize::from(gradient_is_an_error(&c.check)))
        .sum::<usize>()
}

fn agree_on(large: bool) {
    let spec = cross_entropy_spec::bundle::spec().expect("the spec");
    let file = recorded();
    let values = file["values"].as_object().expect("values");
    let mut worst = Worst {
        ratio: 0.0,
        at: String::new(),
        runs: 0,
        elements: 0,
    };
    for (key, record) in values.iter().filter(|(_, r)| sampled(r) == large) {
        check_run(spec, record, &mut worst, key);
    }
    assert_eq!(
        worst.runs,
        value_runs(spec, values, large),
        "every value case's runs"
    );
    eprintln!(
        "{} runs, {} elements; worst {:.3e} of the allowance at {}",
        worst.runs, worst.elements, worst.ratio, worst.at
    );
    assert!(
        worst.ratio <= AGREEMENT,
        "{:e} at {}",
        worst.ratio,
        worst.at
    );
}

#[test]
fn the_oracle_agrees_with_the_recorded_exact_values() {
    agree_on(false);
}

/// The vocabulary-scale runs, whose recorded sample ties the oracle that judges every element
/// of theirs to the script's 60 digits. Several seconds in the test build: run by `.ci/run`.
#[test]
#[ignore = "vocabulary-scale oracle runs: run by .ci/run"]
fn the_oracle_agrees_with_the_recorded_samples() {
    agree_on(true);
}
