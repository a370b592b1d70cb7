//! The two identities of the suite on random inputs of many shapes, in both dtypes:
//! CE = NLL∘log_softmax (with weights, ignored targets and every reduction, unbatched to K-dim)
//! and BCE-with-logits = BCE∘sigmoid where sigmoid does not saturate. Inputs are drawn with
//! ndarray-rand from fixed seeds; a failure prints the seed and the shape. Both sides are held to
//! the spec's own `identity` tolerance.

use cross_entropy_spec::reference::{
    BceOptions, BceWithLogitsOptions, CrossEntropyOptions, NllOptions, Real, Reduction, Target,
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, log_softmax, nll_loss,
    sigmoid,
};
use cross_entropy_spec::vocab::Dtype;
use ndarray::{Array1, ArrayD, IxDyn};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::{Rng, SeedableRng};
use ndarray_rand::rand_distr::Uniform;

use crate::common::{assert_close, class_shape, close, identity_bounds};

const SEEDS: u64 = 40;
const REDUCTIONS: [Reduction; 3] = [Reduction::None, Reduction::Mean, Reduction::Sum];

fn ce_is_nll_of_log_softmax<T: Real>(dtype: Dtype) {
    let bounds = identity_bounds(dtype);
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(seed);
        let shape = class_shape(&mut rng);
        let classes = shape[if shape.len() == 1 { 0 } else { 1 }];
        let scale = [1.0, 10.0, 100.0][rng.random_range(0..3)];
        let range = Uniform::new(-scale, scale).expect("a valid range");
        let input: ArrayD<T> =
            ArrayD::random_using(IxDyn(&shape), range, &mut rng).mapv(T::from_f64);
        let mut target_shape = shape.clone();
        target_shape.remove(if shape.len() == 1 { 0 } else { 1 });
        let ignore_index = if rng.random_bool(0.5) {
            -100
        } else {
            rng.random_range(0..classes as i64)
        };
        let target: ArrayD<i64> = ArrayD::from_shape_fn(IxDyn(&target_shape), |_| {
            if rng.random_bool(0.2) {
                ignore_index
            } else {
                rng.random_range(0..classes as i64)
            }
        });
        let weight: Option<ArrayD<T>> = rng.random_bool(0.5).then(|| {
            Array1::random_using(
                classes,
                Uniform::new(0.1, 3.0).expect("a valid range"),
                &mut rng,
            )
            .mapv(T::from_f64)
            .into_dyn()
        });
        let class_dim = cross_entropy_spec::reference::class_dim(shape.len()) as isize;
        let log_probs = log_softmax(&input, class_dim).expect("log_softmax of a valid input");
        for reduction in REDUCTIONS {
            let context = format!(
                "seed {seed}, {dtype}, shape {shape:?}, ignore_index {ignore_index}, weight {}, {reduction:?}",
                weight.is_some()
            );
            let ce = cross_entropy(
                &input,
                Target::Indices(&target),
                &CrossEntropyOptions {
                    weight: weight.as_ref(),
                    ignore_index,
                    reduction,
                    label_smoothing: 0.0,
                },
            )
            .unwrap_or_else(|e| panic!("{context}: cross_entropy failed: {e}"));
            let nll = nll_loss(
                &log_probs,
                &target,
                &NllOptions {
                    weight: weight.as_ref(),
                    ignore_index,
                    reduction,
                },
            )
            .unwrap_or_else(|e| panic!("{context}: nll_loss failed: {e}"));
            assert_close(&ce, &nll, bounds, &context);
        }
    }
}

fn bce_with_logits_is_bce_of_sigmoid<T: Real>(dtype: Dtype, limit: f64) {
    let bounds = identity_bounds(dtype);
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(1000 + seed);
        let rank = rng.random_range(0..4);
        let shape: Vec<usize> = (0..rank).map(|_| rng.random_range(1..5)).collect();
        let input: ArrayD<T> = ArrayD::random_using(
            IxDyn(&shape),
            Uniform::new(-limit, limit).expect("a valid range"),
            &mut rng,
        )
        .mapv(T::from_f64);
        let target: ArrayD<T> = ArrayD::random_using(
            IxDyn(&shape),
            Uniform::new(0.0, 1.0).expect("a valid range"),
            &mut rng,
        )
        .mapv(T::from_f64);
        let weight: Option<ArrayD<T>> = (rng.random_bool(0.5) && !shape.is_empty()).then(|| {
            let last = shape[shape.len() - 1];
            Array1::random_using(
                last,
                Uniform::new(0.0, 2.0).expect("a valid range"),
                &mut rng,
            )
            .mapv(T::from_f64)
            .into_dyn()
        });
        let probs = sigmoid(&input);
        for reduction in REDUCTIONS {
            let context = format!(
                "seed {}, {dtype}, shape {shape:?}, weight {}, {reduction:?}",
                1000 + seed,
                weight.is_some()
            );
            let with_logits = binary_cross_entropy_with_logits(
                &input,
                &target,
                &BceWithLogitsOptions {
                    weight: weight.as_ref(),
                    pos_weight: None,
                    reduction,
                },
            )
            .unwrap_or_else(|e| panic!("{context}: binary_cross_entropy_with_logits failed: {e}"));
            let of_sigmoid = binary_cross_entropy(
                &probs,
                &target,
                &BceOptions {
                    weight: weight.as_ref(),
                    reduction,
                },
            )
            .unwrap_or_else(|e| panic!("{context}: binary_cross_entropy failed: {e}"));
            assert_close(&with_logits, &of_sigmoid, bounds, &context);
        }
    }
}

#[test]
fn cross_entropy_is_nll_of_log_softmax_f32() {
    ce_is_nll_of_log_softmax::<f32>(Dtype::Float32);
}

#[test]
fn cross_entropy_is_nll_of_log_softmax_f64() {
    ce_is_nll_of_log_softmax::<f64>(Dtype::Float64);
}

/// In float32, `log(1 - sigmoid(x))` loses `eps * e^|x|` relative accuracy: |x| <= 4 keeps it
/// inside the identity tolerance (see `spec/06-binary-losses.md` for what happens beyond).
#[test]
fn bce_with_logits_is_bce_of_sigmoid_f32() {
    bce_with_logits_is_bce_of_sigmoid::<f32>(Dtype::Float32, 4.0);
}

#[test]
fn bce_with_logits_is_bce_of_sigmoid_f64() {
    bce_with_logits_is_bce_of_sigmoid::<f64>(Dtype::Float64, 8.0);
}

/// Where sigmoid saturates the identity breaks in the documented way (`spec/06-binary-losses.md`):
/// once `sigmoid(x)` rounds to exactly 1, `log(1 - sigmoid(x))` is `log(0)`, which
/// binary_cross_entropy clamps at -100, so a negative label costs exactly 100, while
/// binary_cross_entropy_with_logits keeps the exact `x + log(1 + e^-x)`, which is `x` to the
/// dtype's precision. Sigmoid rounds to 1 from about 16.7 in float32 and 36.8 in float64.
fn saturated_sigmoid_is_clamped<T: Real>(dtype: Dtype, saturates_at: f64) {
    let bounds = identity_bounds(dtype);
    let mut rng = StdRng::seed_from_u64(2000);
    let n = 64;
    let logits = Array1::random_using(
        n,
        Uniform::new(saturates_at, 80.0).expect("a valid range"),
        &mut rng,
    );
    let input: ArrayD<T> = logits.mapv(T::from_f64).into_dyn();
    let target: ArrayD<T> = ArrayD::zeros(IxDyn(&[n]));
    let none = Reduction::None;
    let probs = sigmoid(&input);
    assert!(
        probs.iter().all(|&p| Real::to_f64(p) == 1.0),
        "{dtype}: sigmoid does not round to 1 above {saturates_at}"
    );
    let of_sigmoid = binary_cross_entropy(
        &probs,
        &target,
        &BceOptions {
            weight: None,
            reduction: none,
        },
    )
    .expect("valid");
    let with_logits = binary_cross_entropy_with_logits(
        &input,
        &target,
        &BceWithLogitsOptions {
            weight: None,
            pos_weight: None,
            reduction: none,
        },
    )
    .expect("valid");
    for ((x, a), b) in input.iter().zip(&of_sigmoid).zip(&with_logits) {
        let (x, a, b) = (Real::to_f64(*x), Real::to_f64(*a), Real::to_f64(*b));
        assert_eq!(
            a, 100.0,
            "{dtype}: BCE(sigmoid({x})) against 0 should be clamped at 100"
        );
        assert!(
            close(b, x, bounds),
            "{dtype}: BCE-with-logits({x}) = {b}, expected {x}"
        );
    }
}

#[test]
fn saturated_sigmoid_is_clamped_f32() {
    saturated_sigmoid_is_clamped::<f32>(Dtype::Float32, 17.0);
}

#[test]
fn saturated_sigmoid_is_clamped_f64() {
    saturated_sigmoid_is_clamped::<f64>(Dtype::Float64, 37.0);
}
