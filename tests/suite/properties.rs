//! Properties of the reference implementation on random inputs: many shapes, both dtypes, inputs
//! drawn with ndarray-rand from fixed seeds (a failure prints the seed, dtype and shape). Two
//! computations of the same quantity are held to the spec's own `identity` tolerance;
//! `tests/suite/identities.rs` covers CE = NLL∘log_softmax and BCE-with-logits = BCE∘sigmoid, so they
//! are not repeated here. Where PyTorch's weighted means part ways with the textbook identity, the
//! property pins the relation that does hold instead.

use cross_entropy_spec::reference::{
    BceWithLogitsOptions, CrossEntropyOptions, Real, Reduction, Target,
    binary_cross_entropy_with_logits, cross_entropy, log_softmax, softmax,
};
use cross_entropy_spec::vocab::Dtype;
use ndarray::{Array1, ArrayD, Axis, Dimension, IxDyn};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::{Rng, SeedableRng};
use ndarray_rand::rand_distr::Uniform;

use crate::common::{assert_close, class_shape, close, identity_bounds};

const SEEDS: u64 = 40;
const REDUCTIONS: [Reduction; 3] = [Reduction::None, Reduction::Mean, Reduction::Sum];

fn scalar<T: Real>(a: &ArrayD<T>) -> f64 {
    assert_eq!(a.ndim(), 0, "a reduced loss is 0-d");
    Real::to_f64(a[IxDyn(&[])])
}

/// The class dimension of a class-problem shape.
fn class_dim(shape: &[usize]) -> usize {
    cross_entropy_spec::reference::class_dim(shape.len())
}

/// Logits on a grid of 2^-10 in `[-scale, scale]`: adding an integer shift of up to 2^12 to them
/// is exact in f32 as in f64, so a shift-invariance failure is the implementation's, not the
/// rounding of the shifted input.
fn grid_logits<T: Real>(shape: &[usize], scale: f64, rng: &mut StdRng) -> ArrayD<T> {
    let steps = (scale * 1024.0) as i64;
    ArrayD::from_shape_fn(IxDyn(shape), |_| {
        T::from_f64(rng.random_range(-steps..=steps) as f64 / 1024.0)
    })
}

/// Class indices for `shape` (the input's shape without its class dimension); about one in five
/// is `ignore_index` when `ignore` is given.
fn targets(shape: &[usize], classes: usize, ignore: Option<i64>, rng: &mut StdRng) -> ArrayD<i64> {
    let mut target_shape = shape.to_vec();
    target_shape.remove(class_dim(shape));
    ArrayD::from_shape_fn(IxDyn(&target_shape), |_| match ignore {
        Some(i) if rng.random_bool(0.2) => i,
        _ => rng.random_range(0..classes as i64),
    })
}

fn class_weight<T: Real>(classes: usize, rng: &mut StdRng) -> ArrayD<T> {
    Array1::random_using(classes, Uniform::new(0.1, 3.0).expect("a valid range"), rng)
        .mapv(T::from_f64)
        .into_dyn()
}

/// The probability target `(1 - ε)·onehot(t) + ε/C`, shaped like the input.
fn smoothed_one_hot<T: Real>(shape: &[usize], target: &ArrayD<i64>, eps: f64) -> ArrayD<T> {
    let (dim, classes) = (class_dim(shape), shape[class_dim(shape)]);
    let mut q = ArrayD::from_elem(IxDyn(shape), T::from_f64(eps / classes as f64));
    for (index, &t) in target.indexed_iter() {
        let mut at = index.slice().to_vec();
        at.insert(dim, t as usize);
        q[IxDyn(&at)] = T::from_f64(1.0 - eps + eps / classes as f64);
    }
    q
}

fn ce<T: Real>(
    input: &ArrayD<T>,
    target: Target<'_, T>,
    weight: Option<&ArrayD<T>>,
    ignore_index: i64,
    reduction: Reduction,
    label_smoothing: f64,
    context: &str,
) -> ArrayD<T> {
    let opts = CrossEntropyOptions {
        weight,
        ignore_index,
        reduction,
        label_smoothing,
    };
    cross_entropy(input, target, &opts)
        .unwrap_or_else(|e| panic!("{context}: cross_entropy failed: {e}"))
}

/// `log_softmax(x) = log(softmax(x))` where no probability underflows: logits within ±20 keep
/// every probability above e^-40, far from the subnormals of either dtype.
fn log_softmax_is_log_of_softmax_in<T: Real>(dtype: Dtype) {
    let bounds = identity_bounds(dtype);
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(seed);
        let rank: i64 = rng.random_range(1..5);
        let shape: Vec<usize> = (0..rank).map(|_| rng.random_range(1..6)).collect();
        let dim = rng.random_range(-rank..rank) as isize;
        let scale = [1.0, 5.0, 20.0][rng.random_range(0..3)];
        let x = grid_logits::<T>(&shape, scale, &mut rng);
        let context = format!("seed {seed}, {dtype}, shape {shape:?}, dim {dim}");
        let direct = log_softmax(&x, dim).expect("a valid dim");
        let two_steps = softmax(&x, dim).expect("a valid dim").mapv(T::ln);
        assert_close(&direct, &two_steps, bounds, &context);
    }
}

#[test]
fn log_softmax_is_log_of_softmax() {
    log_softmax_is_log_of_softmax_in::<f32>(Dtype::Float32);
    log_softmax_is_log_of_softmax_in::<f64>(Dtype::Float64);
}

/// Softmax sums to one along `dim`, for every slice, whatever the scale of the logits.
fn softmax_sums_to_one_in<T: Real>(dtype: Dtype) {
    let bounds = identity_bounds(dtype);
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(100 + seed);
        let rank = rng.random_range(1..5);
        let shape: Vec<usize> = (0..rank).map(|_| rng.random_range(1..8)).collect();
        let dim = rng.random_range(0..rank);
        let scale = [1.0, 30.0, 1000.0][rng.random_range(0..3)];
        let x = grid_logits::<T>(&shape, scale, &mut rng);
        let context = format!("seed {}, {dtype}, shape {shape:?}, dim {dim}", 100 + seed);
        let sums = softmax(&x, dim as isize)
            .expect("a valid dim")
            .mapv(Real::to_f64)
            .sum_axis(Axis(dim));
        for (i, s) in sums.iter().enumerate() {
            assert!(close(*s, 1.0, bounds), "{context}: slice {i} sums to {s}");
        }
    }
}

#[test]
fn softmax_sums_to_one() {
    softmax_sums_to_one_in::<f32>(Dtype::Float32);
    softmax_sums_to_one_in::<f64>(Dtype::Float64);
}

/// One integer shift per slice along `dim`, up to ±2^12 (far past where `exp` overflows, so an
/// implementation that does not subtract the maximum fails here).
fn row_shifts<T: Real>(shape: &[usize], dim: usize, rng: &mut StdRng) -> ArrayD<T> {
    let mut shift_shape = shape.to_vec();
    shift_shape[dim] = 1;
    ArrayD::from_shape_fn(IxDyn(&shift_shape), |_| {
        T::from_f64(rng.random_range(-4096..=4096) as f64)
    })
}

/// `softmax(x + c) = softmax(x)` for a constant `c` per slice along `dim`.
fn softmax_is_shift_invariant_in<T: Real>(dtype: Dtype) {
    let bounds = identity_bounds(dtype);
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(200 + seed);
        let rank = rng.random_range(1..5);
        let shape: Vec<usize> = (0..rank).map(|_| rng.random_range(1..6)).collect();
        let dim = rng.random_range(0..rank);
        let x = grid_logits::<T>(&shape, 8.0, &mut rng);
        let shifted = &x + &row_shifts::<T>(&shape, dim, &mut rng);
        let context = format!("seed {}, {dtype}, shape {shape:?}, dim {dim}", 200 + seed);
        let (a, b) = (softmax(&x, dim as isize), softmax(&shifted, dim as isize));
        assert_close(
            &a.expect("a valid dim"),
            &b.expect("a valid dim"),
            bounds,
            &context,
        );
    }
}

#[test]
fn softmax_is_shift_invariant() {
    softmax_is_shift_invariant_in::<f32>(Dtype::Float32);
    softmax_is_shift_invariant_in::<f64>(Dtype::Float64);
}

/// `cross_entropy(x + c) = cross_entropy(x)` for a constant `c` per sample (per position of a
/// K-dim input), with class indices (weights, ignored targets, smoothing, every reduction) and
/// with probability targets.
fn cross_entropy_is_shift_invariant_in<T: Real>(dtype: Dtype) {
    let bounds = identity_bounds(dtype);
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(300 + seed);
        let shape = class_shape(&mut rng);
        let (dim, classes) = (class_dim(&shape), shape[class_dim(&shape)]);
        let x = grid_logits::<T>(&shape, 8.0, &mut rng);
        let shifted = &x + &row_shifts::<T>(&shape, dim, &mut rng);
        let target = targets(&shape, classes, Some(-100), &mut rng);
        let weight = rng
            .random_bool(0.5)
            .then(|| class_weight::<T>(classes, &mut rng));
        let eps = [0.0, 0.2][rng.random_range(0..2)];
        let probs = softmax(&grid_logits::<T>(&shape, 2.0, &mut rng), dim as isize).expect("dim");
        for reduction in REDUCTIONS {
            let context = format!(
                "seed {}, {dtype}, shape {shape:?}, weight {}, ε {eps}, {reduction:?}",
                300 + seed,
                weight.is_some()
            );
            let loss = |x: &ArrayD<T>, t| ce(x, t, weight.as_ref(), -100, reduction, eps, &context);
            let (a, b) = (
                loss(&x, Target::Indices(&target)),
                loss(&shifted, Target::Indices(&target)),
            );
            assert_close(&a, &b, bounds, &format!("{context}, class indices"));
            let (a, b) = (
                loss(&x, Target::Probabilities(&probs)),
                loss(&shifted, Target::Probabilities(&probs)),
            );
            assert_close(&a, &b, bounds, &format!("{context}, probabilities"));
        }
    }
}

#[test]
fn cross_entropy_is_shift_invariant() {
    cross_entropy_is_shift_invariant_in::<f32>(Dtype::Float32);
    cross_entropy_is_shift_invariant_in::<f64>(Dtype::Float64);
}

/// The total weight of the targets, `Σ_n w[t_n]` (the count without weights).
fn target_weight<T: Real>(target: &ArrayD<i64>, weight: Option<&ArrayD<T>>) -> f64 {
    target
        .iter()
        .map(|&t| weight.map_or(1.0, |w| Real::to_f64(w[t as usize])))
        .sum()
}

/// Class indices and their one-hot probabilities give the same loss without weights, for every
/// reduction; with weights they agree for 'none' and 'sum', and the weighted means differ by their
/// denominators only: the index path divides the common sum by `Σ w[t_n]`, the probability path by
/// the number of samples `N`. The case pair `ce.torch.one_hot.weight.*` pins one instance.
///
/// Label smoothing is the same relation with the smoothed target `(1 - ε)·onehot + ε/C`: without
/// weights the two agree for every reduction. With weights PyTorch's index path weights the smooth
/// part class by class (`ε/C · Σ_c w_c·(-lp_c)`), which is exactly what the probability path does
/// to the smoothed target, so 'none' and 'sum' still agree; only the mean's denominator differs,
/// `Σ w[t_n]` against `N`.
fn probability_targets_match_class_indices_in<T: Real>(dtype: Dtype) {
    let bounds = identity_bounds(dtype);
    let mut weighted_means_differed = 0;
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(400 + seed);
        let shape = class_shape(&mut rng);
        let classes = shape[class_dim(&shape)];
        let x = grid_logits::<T>(&shape, 5.0, &mut rng);
        let target = targets(&shape, classes, None, &mut rng);
        let weight = rng
            .random_bool(0.6)
            .then(|| class_weight::<T>(classes, &mut rng));
        let eps = [0.0, 0.1, 0.6][rng.random_range(0..3)];
        // The probability path smooths its own target too, so it gets the already smoothed one.
        let q = smoothed_one_hot::<T>(&shape, &target, eps);
        let (samples, total_weight) =
            (target.len() as f64, target_weight(&target, weight.as_ref()));
        for reduction in REDUCTIONS {
            let context = format!(
                "seed {}, {dtype}, shape {shape:?}, weight {}, ε {eps}, {reduction:?}",
                400 + seed,
                weight.is_some()
            );
            let index = ce(
                &x,
                Target::Indices(&target),
                weight.as_ref(),
                -100,
                reduction,
                eps,
                &context,
            );
            let probs = ce(
                &x,
                Target::Probabilities(&q),
                weight.as_ref(),
                -100,
                reduction,
                0.0,
                &context,
            );
            if weight.is_none() || reduction != Reduction::Mean {
                assert_close(&index, &probs, bounds, &context);
                continue;
            }
            let (index, probs) = (scalar(&index), scalar(&probs));
            let rescaled = index * total_weight / samples;
            assert!(
                close(probs, rescaled, bounds),
                "{context}: probabilities' mean {probs} is not the index mean {index} × Σw {total_weight} / N {samples}"
            );
            if (total_weight - samples).abs() > 0.1 * samples && !close(probs, index, bounds) {
                weighted_means_differed += 1;
            }
        }
    }
    assert!(
        weighted_means_differed > 3,
        "{dtype}: the weighted means should differ whenever Σw ≠ N (only {weighted_means_differed} did)"
    );
}

#[test]
fn probability_targets_match_class_indices() {
    probability_targets_match_class_indices_in::<f32>(Dtype::Float32);
    probability_targets_match_class_indices_in::<f64>(Dtype::Float64);
}

/// Without weights, 'sum' = 'mean' × the number of targets that are not ignored (with smoothing
/// too, which shares the denominator); when every target is ignored the mean is NaN and the sum 0.
fn sum_is_mean_times_count_in<T: Real>(dtype: Dtype) {
    let bounds = identity_bounds(dtype);
    let mut all_ignored = 0;
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(500 + seed);
        let shape = class_shape(&mut rng);
        let classes = shape[class_dim(&shape)];
        let x = grid_logits::<T>(&shape, 5.0, &mut rng);
        let ignore_index = [-100, -1, classes as i64, 0][rng.random_range(0..4)];
        let target = targets(&shape, classes, Some(ignore_index), &mut rng);
        let eps = [0.0, 0.3][rng.random_range(0..2)];
        let count = target.iter().filter(|&&t| t != ignore_index).count() as f64;
        let context = format!(
            "seed {}, {dtype}, shape {shape:?}, ignore_index {ignore_index}, ε {eps}, count {count}",
            500 + seed
        );
        let loss = |r| {
            scalar(&ce(
                &x,
                Target::Indices(&target),
                None,
                ignore_index,
                r,
                eps,
                &context,
            ))
        };
        let (sum, mean) = (loss(Reduction::Sum), loss(Reduction::Mean));
        if count == 0.0 {
            all_ignored += 1;
            assert!(
                mean.is_nan() && sum == 0.0,
                "{context}: mean {mean}, sum {sum}"
            );
        } else {
            assert!(
                close(sum, mean * count, bounds),
                "{context}: sum {sum}, mean {mean}"
            );
        }
    }
    assert!(all_ignored > 0, "{dtype}: no draw had every target ignored");
}

#[test]
fn sum_is_mean_times_count() {
    sum_is_mean_times_count_in::<f32>(Dtype::Float32);
    sum_is_mean_times_count_in::<f64>(Dtype::Float64);
}

/// A `(N, C, d1, d2)` problem is the `(N·d1·d2, C)` problem of its positions: the input with the
/// class dimension moved last and flattened, the target flattened; for every reduction, with
/// weights, `ignore_index` and smoothing. 'none' returns the positions in the same order.
fn k_dim_is_the_flattened_problem_in<T: Real>(dtype: Dtype) {
    let bounds = identity_bounds(dtype);
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(600 + seed);
        let (n, c) = (rng.random_range(1..4), rng.random_range(1..6));
        let (d1, d2) = (rng.random_range(1..4), rng.random_range(1..4));
        let shape = [n, c, d1, d2];
        let x = grid_logits::<T>(&shape, 6.0, &mut rng);
        let ignore_index = [-100, 1][rng.random_range(0..2)];
        let target = targets(&shape, c, Some(ignore_index), &mut rng);
        let weight = rng.random_bool(0.5).then(|| class_weight::<T>(c, &mut rng));
        let eps = [0.0, 0.25][rng.random_range(0..2)];
        let flat_x = x
            .view()
            .permuted_axes(IxDyn(&[0, 2, 3, 1]))
            .as_standard_layout()
            .into_shape_with_order(IxDyn(&[n * d1 * d2, c]))
            .expect("contiguous")
            .into_owned();
        let flat_t = target
            .clone()
            .into_shape_with_order(IxDyn(&[n * d1 * d2]))
            .expect("contiguous");
        for reduction in REDUCTIONS {
            let context = format!(
                "seed {}, {dtype}, shape {shape:?}, ignore_index {ignore_index}, weight {}, ε {eps}, {reduction:?}",
                600 + seed,
                weight.is_some()
            );
            let loss = |x: &ArrayD<T>, t: &ArrayD<i64>| {
                ce(
                    x,
                    Target::Indices(t),
                    weight.as_ref(),
                    ignore_index,
                    reduction,
                    eps,
                    &context,
                )
            };
            let k_dim = loss(&x, &target);
            let k_dim = match reduction {
                Reduction::None => k_dim
                    .into_shape_with_order(IxDyn(&[n * d1 * d2]))
                    .expect("(N, d1, d2) losses"),
                _ => k_dim,
            };
            assert_close(&k_dim, &loss(&flat_x, &flat_t), bounds, &context);
        }
    }
}

#[test]
fn k_dim_is_the_flattened_problem() {
    k_dim_is_the_flattened_problem_in::<f32>(Dtype::Float32);
    k_dim_is_the_flattened_problem_in::<f64>(Dtype::Float64);
}

/// BCE-with-logits with `pos_weight` p is the weighted sum of its two parts:
/// `w·(p·y·ℓ₊ + (1 - y)·ℓ₋)`, where `ℓ₊` is the loss of a positive target (y = 1) and `ℓ₋` of a
/// negative one (y = 0), each computed by the same function without weights.
fn bce_with_logits_splits_into_its_parts_in<T: Real>(dtype: Dtype) {
    let bounds = identity_bounds(dtype);
    let range = |lo: f64, hi: f64| Uniform::new(lo, hi).expect("a valid range");
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(700 + seed);
        let rank = rng.random_range(1..4);
        let shape: Vec<usize> = (0..rank).map(|_| rng.random_range(1..5)).collect();
        let last = shape[rank - 1];
        let draw = |shape: &[usize], lo, hi, rng: &mut StdRng| {
            ArrayD::random_using(IxDyn(shape), range(lo, hi), rng).mapv(T::from_f64)
        };
        let x = draw(&shape, -12.0, 12.0, &mut rng);
        let y = draw(&shape, 0.0, 1.0, &mut rng);
        let pos_weight = draw(&[last], 0.1, 5.0, &mut rng);
        let weight = draw(&shape[rank - 1..], 0.0, 2.0, &mut rng);
        let part = |y: f64| {
            let opts = BceWithLogitsOptions {
                weight: None,
                pos_weight: None,
                reduction: Reduction::None,
            };
            binary_cross_entropy_with_logits(&x, &x.mapv(|_| T::from_f64(y)), &opts)
                .expect("a valid call")
        };
        let (positive, negative) = (part(1.0), part(0.0));
        let p = pos_weight.broadcast(IxDyn(&shape)).expect("per last dim");
        let w = weight.broadcast(IxDyn(&shape)).expect("per last dim");
        let mut parts = y.clone();
        ndarray::Zip::from(&mut parts)
            .and(&positive)
            .and(&negative)
            .and(&p)
            .and(&w)
            .for_each(|out, &l1, &l0, &p, &w| {
                let y = *out;
                *out = w * (p * y * l1 + (T::one() - y) * l0);
            });
        let context = format!("seed {}, {dtype}, shape {shape:?}", 700 + seed);
        let opts = BceWithLogitsOptions {
            weight: Some(&weight),
            pos_weight: Some(&pos_weight),
            reduction: Reduction::None,
        };
        let whole = binary_cross_entropy_with_logits(&x, &y, &opts).expect("a valid call");
        assert_close(&whole, &parts, bounds, &context);
    }
}

#[test]
fn bce_with_logits_splits_into_its_parts() {
    bce_with_logits_splits_into_its_parts_in::<f32>(Dtype::Float32);
    bce_with_logits_splits_into_its_parts_in::<f64>(Dtype::Float64);
}

/// The deviation from uniform, `max_i |p_i - 1/C|`.
fn deviation<T: Real>(p: &ArrayD<T>, classes: usize) -> f64 {
    p.iter()
        .map(|&v| (Real::to_f64(v) - 1.0 / classes as f64).abs())
        .fold(0.0, f64::max)
}

/// Repeated softmax flattens towards uniform at rate 1/C, as `spec/01-softmax-and-sigmoid.md`
/// states: near `u = 1/C` the Jacobian of softmax is `(I - u·11ᵀ)/C`, so a deviation that sums to
/// zero is divided by `C` per application. Measured once the deviation is below 1e-2 (where the
/// second-order term is at most about 1%) and while it stays well above the dtype's rounding;
/// every step's ratio must lie in `[0.8/C, 1.2/C]`. Returns the smallest, mean and largest
/// `ratio·C` over all measured steps.
fn repeated_softmax_converges_at_rate_one_over_c_in<T: Real>(dtype: Dtype, floor: f64) -> [f64; 3] {
    let (mut total, mut steps, mut lo, mut hi) = (0.0, 0, f64::INFINITY, 0.0f64);
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(800 + seed);
        let classes = rng.random_range(2..11);
        let scale = [0.5, 2.0, 6.0][rng.random_range(0..3)];
        let mut p = grid_logits::<T>(&[1, classes], scale, &mut rng);
        let mut measured = 0;
        for step in 0..60 {
            let before = deviation(&p, classes);
            p = softmax(&p, 1).expect("dim 1");
            let after = deviation(&p, classes);
            if before >= 1e-2 || before == 0.0 {
                continue;
            }
            if after < floor {
                break;
            }
            let ratio = after / before;
            let context = format!(
                "seed {}, {dtype}, C {classes}, step {step}: deviation {before:.3e} -> {after:.3e}",
                800 + seed
            );
            assert!(
                (0.8..=1.2).contains(&(ratio * classes as f64)),
                "{context}: ratio {ratio:.4} is not within 20% of 1/C = {:.4}",
                1.0 / classes as f64
            );
            total += ratio * classes as f64;
            (lo, hi) = (
                lo.min(ratio * classes as f64),
                hi.max(ratio * classes as f64),
            );
            steps += 1;
            measured += 1;
        }
        // A draw that started exactly uniform has nothing to measure; any other has steps.
        assert!(
            measured > 0 || deviation(&p, classes) == 0.0,
            "seed {}, {dtype}: no step measured",
            800 + seed
        );
    }
    [lo, total / steps as f64, hi]
}

#[test]
fn repeated_softmax_converges_at_rate_one_over_c() {
    // Below these deviations the ratio is dominated by the rounding of the dtype.
    let f32_rate = repeated_softmax_converges_at_rate_one_over_c_in::<f32>(Dtype::Float32, 1e-4);
    let f64_rate = repeated_softmax_converges_at_rate_one_over_c_in::<f64>(Dtype::Float64, 1e-11);
    println!("ratio × C per step (min, mean, max): float32 {f32_rate:.5?}, float64 {f64_rate:.5?}");
    assert!((0.95..=1.05).contains(&f64_rate[1]), "{f64_rate:?}");
}
