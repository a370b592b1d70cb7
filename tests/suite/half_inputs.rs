//! Chapter 14's inputs are seeded draws rounded to bfloat16 (`.bfloat16()`), which every dtype of
//! a run holds exactly, so one exact value serves the four runs: each run of a chapter-14 case
//! materialises the same numbers. (A float16 run once rounded the float32 draws to float16
//! before `.bfloat16()`, rounding twice: 60 of 1,024 inputs of `half.ce.indices.mean` differed.)

use cross_entropy_spec::bundle;
use cross_entropy_spec::conformance::materialize::materialize;
use cross_entropy_spec::vocab::Dtype;

#[test]
fn every_dtype_of_a_half_case_holds_the_same_inputs() {
    let spec = bundle::spec().expect("the bundled spec parses");
    let mut compared = 0;
    for case in (spec.cases.iter()).filter(|c| c.at.file.ends_with("14-half-precision.md")) {
        if case.seed.is_none() || !case.dtypes.contains(&Dtype::BFloat16) {
            continue;
        }
        let widest = materialize(case, Dtype::Float64).expect("the case materialises");
        for &dtype in &case.dtypes {
            let tensors = materialize(case, dtype).expect("the case materialises");
            for (role, t) in &tensors {
                let want = widest[role].to_f64_vec();
                let got = t.to_f64_vec();
                let differ = (got.iter().zip(&want)).filter(|(g, w)| g != w).count();
                assert_eq!(
                    differ, 0,
                    "{}@{dtype}: {differ} values of {role:?} differ",
                    case.id
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 20, "only {compared} tensors compared");
}
