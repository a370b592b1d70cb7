//! The closed-form gradients against central finite differences of the forward functions, in
//! float64, on random inputs from fixed seeds, for every function and option combination.
//!
//! A central difference `(f(x + h) - f(x - h)) / 2h` with `h = 1e-6` has a truncation error of
//! order `h²·f''' ≈ 1e-12` and a rounding error of order `ε·|f| / h ≈ 1e-10·|f|`; the losses
//! here are sums of at most a few dozen terms of order 1, so `1e-7 + 1e-5·|g|` is far above
//! both and far below any wrong formula (a missing `1/D` or weight is off by 10% or more).
//! Inputs stay away from the non-differentiable points: BCE probabilities in `[0.05, 0.95]`
//! (where neither the `EPS` guard nor the `-100` clamp acts), finite logits.

use cross_entropy_spec::error::LossError;
use cross_entropy_spec::reference::*;
use ndarray::{ArrayD, IxDyn};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::{Rng, SeedableRng};
use ndarray_rand::rand_distr::Uniform;

const H: f64 = 1e-6;

/// The elements of a tensor, for messages.
fn list<T: Copy>(a: Option<&ArrayD<T>>) -> Option<Vec<T>> {
    a.map(|a| a.iter().copied().collect())
}

fn uniform(rng: &mut StdRng, shape: &[usize], lo: f64, hi: f64) -> ArrayD<f64> {
    let dist = Uniform::new(lo, hi).expect("lo < hi");
    ArrayD::random_using(IxDyn(shape), dist, rng)
}

/// Checks `grad` against central differences of `x ↦ Σ f(x)`; `what` names the call.
fn check(
    what: &str,
    x: &ArrayD<f64>,
    f: impl Fn(&ArrayD<f64>) -> Result<ArrayD<f64>, LossError>,
    grad: Result<ArrayD<f64>, LossError>,
) {
    let grad = grad.unwrap_or_else(|e| panic!("{what}: {e:?}"));
    assert_eq!(grad.shape(), x.shape(), "{what}");
    let total = |x: &ArrayD<f64>| f(x).unwrap_or_else(|e| panic!("{what}: {e:?}")).sum();
    for (i, &g) in grad.iter().enumerate() {
        let (mut up, mut down) = (x.clone(), x.clone());
        up.as_slice_mut().expect("standard layout")[i] += H;
        down.as_slice_mut().expect("standard layout")[i] -= H;
        let numeric = (total(&up) - total(&down)) / (2.0 * H);
        assert!(
            (g - numeric).abs() <= 1e-7 + 1e-5 * numeric.abs(),
            "{what}: element {i} (flat): closed form {g}, finite difference {numeric}\ninput {:?}",
            list(Some(x))
        );
    }
}

/// Input shape with `classes` at the class dimension: `(C)` for rank 1, `(N, C, d1..)` above.
fn class_shape(rng: &mut StdRng, rank: usize, classes: usize) -> Vec<usize> {
    let mut shape: Vec<usize> = (0..rank).map(|_| rng.random_range(1..=3)).collect();
    shape[if rank == 1 { 0 } else { 1 }] = classes;
    shape
}

const REDUCTIONS: [Reduction; 3] = [Reduction::None, Reduction::Mean, Reduction::Sum];

#[test]
fn softmax_log_softmax_and_sigmoid() {
    for seed in 0..24 {
        let mut rng = StdRng::seed_from_u64(seed);
        let rank = rng.random_range(0..=4);
        let shape: Vec<usize> = (0..rank).map(|_| rng.random_range(1..=4)).collect();
        let x = uniform(&mut rng, &shape, -5.0, 5.0);
        let n = rank.max(1) as i64;
        let dim = rng.random_range(-n..n) as isize;
        let what = |f: &str| format!("{f} seed {seed} shape {shape:?} dim {dim}");
        check(
            &what("softmax"),
            &x,
            |x| softmax(x, dim),
            softmax_grad(&x, dim),
        );
        check(
            &what("log_softmax"),
            &x,
            |x| log_softmax(x, dim),
            log_softmax_grad(&x, dim),
        );
        check(
            &what("sigmoid"),
            &x,
            |x| Ok(sigmoid(x)),
            Ok(sigmoid_grad(&x)),
        );
    }
}

#[test]
fn nll_and_cross_entropy_with_index_targets() {
    let mut seed = 0;
    for reduction in REDUCTIONS {
        for weighted in [false, true] {
            for ignore in [false, true] {
                for rank in [1, 2, 3, 4] {
                    for label_smoothing in [0.0, 0.2, 1.0] {
                        seed += 1;
                        let mut rng = StdRng::seed_from_u64(seed);
                        let classes = rng.random_range(2..=4);
                        let shape = class_shape(&mut rng, rank, classes);
                        let x = uniform(&mut rng, &shape, -4.0, 4.0);
                        let weight = uniform(&mut rng, &[classes], 0.2, 3.0);
                        let target_shape: Vec<usize> = match rank {
                            1 => vec![],
                            _ => [&shape[..1], &shape[2..]].concat(),
                        };
                        let mut target = ArrayD::from_shape_simple_fn(IxDyn(&target_shape), || {
                            rng.random_range(0..classes as i64)
                        });
                        // Ignore every other target but the first, so 'mean' stays finite.
                        if ignore {
                            target.iter_mut().skip(1).step_by(2).for_each(|t| *t = -100);
                        }
                        let weight = weighted.then_some(&weight);
                        let what = format!(
                            "seed {seed} shape {shape:?} target {:?} weight {:?} {reduction:?} ε {label_smoothing}",
                            list(Some(&target)),
                            list(weight)
                        );
                        let o = CrossEntropyOptions {
                            weight,
                            reduction,
                            label_smoothing,
                            ..Default::default()
                        };
                        let t = Target::Indices(&target);
                        check(
                            &format!("cross_entropy {what}"),
                            &x,
                            |x| cross_entropy(x, t, &o),
                            cross_entropy_grad(&x, t, &o),
                        );
                        if label_smoothing == 0.0 {
                            let o = NllOptions {
                                weight,
                                reduction,
                                ..Default::default()
                            };
                            check(
                                &format!("nll_loss {what}"),
                                &x,
                                |x| nll_loss(x, &target, &o),
                                nll_loss_grad(&x, &target, &o),
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn cross_entropy_with_probability_targets() {
    let mut seed = 1000;
    for reduction in REDUCTIONS {
        for weighted in [false, true] {
            for rank in [1, 2, 4] {
                for label_smoothing in [0.0, 0.3] {
                    seed += 1;
                    let mut rng = StdRng::seed_from_u64(seed);
                    let classes = rng.random_range(2..=4);
                    let shape = class_shape(&mut rng, rank, classes);
                    let x = uniform(&mut rng, &shape, -4.0, 4.0);
                    // Any reals: the gradient does not assume a distribution.
                    let q = uniform(&mut rng, &shape, -0.2, 1.0);
                    let weight = uniform(&mut rng, &[classes], 0.2, 3.0);
                    let weight = weighted.then_some(&weight);
                    let o = CrossEntropyOptions {
                        weight,
                        reduction,
                        label_smoothing,
                        ..Default::default()
                    };
                    let t = Target::Probabilities(&q);
                    check(
                        &format!(
                            "cross_entropy seed {seed} shape {shape:?} weight {:?} {reduction:?} ε {label_smoothing}",
                            list(weight)
                        ),
                        &x,
                        |x| cross_entropy(x, t, &o),
                        cross_entropy_grad(&x, t, &o),
                    );
                }
            }
        }
    }
}

#[test]
fn binary_losses() {
    let mut seed = 2000;
    for reduction in REDUCTIONS {
        for weighted in [false, true] {
            for with_pos_weight in [false, true] {
                seed += 1;
                let mut rng = StdRng::seed_from_u64(seed);
                let rank = rng.random_range(0..=3);
                let shape: Vec<usize> = (0..rank).map(|_| rng.random_range(1..=4)).collect();
                let y = uniform(&mut rng, &shape, 0.0, 1.0);
                // weight and pos_weight broadcast along the last dimension, as (C,) does.
                let last = shape.last().map_or(vec![], |&c| vec![c]);
                let weight = uniform(&mut rng, &last, 0.2, 2.0);
                let pos_weight = uniform(&mut rng, &last, 0.2, 3.0);
                let weight = weighted.then_some(&weight);
                let what = format!(
                    "seed {seed} shape {shape:?} weight {:?} {reduction:?}",
                    list(weight)
                );
                let p = uniform(&mut rng, &shape, 0.05, 0.95);
                let o = BceOptions { weight, reduction };
                check(
                    &format!("binary_cross_entropy {what}"),
                    &p,
                    |p| binary_cross_entropy(p, &y, &o),
                    binary_cross_entropy_grad(&p, &y, &o),
                );
                let x = uniform(&mut rng, &shape, -4.0, 4.0);
                let o = BceWithLogitsOptions {
                    weight,
                    pos_weight: with_pos_weight.then_some(&pos_weight),
                    reduction,
                };
                check(
                    &format!(
                        "binary_cross_entropy_with_logits {what} pos_weight {with_pos_weight}"
                    ),
                    &x,
                    |x| binary_cross_entropy_with_logits(x, &y, &o),
                    binary_cross_entropy_with_logits_grad(&x, &y, &o),
                );
            }
        }
    }
}
