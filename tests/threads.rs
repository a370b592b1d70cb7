//! The reference's results do not depend on the number of threads: its row loops store each
//! row's result in row order and its sums split at fixed places (`reduce::sum_by`), so a pool
//! of 1, 2 or 3 threads gives the same bits, for per-row outputs and for 'mean' and 'sum' over
//! many rows and elements (the ignored test is large enough that the long sums do run their
//! halves in parallel).

use cross_entropy_spec::reference::{
    self, BceWithLogitsOptions, CrossEntropyOptions, Real, Reduction, Target,
};
use cross_entropy_spec::torch_rng::TorchGenerator;
use ndarray::{ArrayD, IxDyn};

/// Every op and gradient the row kernels serve, on one set of inputs, as bit patterns.
fn all_results<T: Real>(x: &ArrayD<T>, kdim: &ArrayD<T>, q: &ArrayD<T>) -> Vec<Vec<u64>> {
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let t = ArrayD::from_shape_fn(IxDyn(&[n]), |i| ((i[0] * 7919) % c) as i64);
    let tk = ArrayD::from_shape_fn(IxDyn(&[kdim.shape()[0], kdim.shape()[2]]), |i| {
        ((i[0] * 31 + i[1] * 17) % kdim.shape()[1]) as i64
    });
    let bits = |a: ArrayD<T>| a.iter().map(|&v| Real::to_f64(v).to_bits()).collect();
    let mut out = vec![
        bits(reference::softmax(x, 1).unwrap()),
        bits(reference::log_softmax(x, 1).unwrap()),
        bits(reference::softmax(kdim, 1).unwrap()),
        bits(reference::softmax_grad(x, 1).unwrap()),
        bits(reference::log_softmax_grad(x, 1).unwrap()),
    ];
    for reduction in [Reduction::None, Reduction::Mean, Reduction::Sum] {
        for label_smoothing in [0.0, 0.1] {
            let o = CrossEntropyOptions {
                reduction,
                label_smoothing,
                ..Default::default()
            };
            for (input, target) in [
                (x, Target::Indices(&t)),
                (x, Target::Probabilities(q)),
                (kdim, Target::Indices(&tk)),
            ] {
                out.push(bits(reference::cross_entropy(input, target, &o).unwrap()));
                out.push(bits(
                    reference::cross_entropy_grad(input, target, &o).unwrap(),
                ));
            }
        }
        let o = BceWithLogitsOptions {
            weight: None,
            pos_weight: None,
            reduction,
        };
        let y = q.mapv(|v| v / (v + T::one()));
        out.push(bits(
            reference::binary_cross_entropy_with_logits(x, &y, &o).unwrap(),
        ));
        out.push(bits(
            reference::binary_cross_entropy_with_logits_grad(x, &y, &o).unwrap(),
        ));
    }
    out
}

fn check<T: Real>(shape: [usize; 2], draw: impl Fn(&mut TorchGenerator, usize) -> Vec<T>) {
    let mut rng = TorchGenerator::manual_seed(15);
    let len = shape[0] * shape[1];
    let x = ArrayD::from_shape_vec(IxDyn(&shape), draw(&mut rng, len)).unwrap();
    let x = x.mapv(|u| u * T::from_f64(16.0) - T::from_f64(8.0));
    let q = ArrayD::from_shape_vec(IxDyn(&shape), draw(&mut rng, len)).unwrap();
    let kdim = ArrayD::from_shape_vec(IxDyn(&[4, 50, 30]), draw(&mut rng, 6000)).unwrap();
    let on = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| all_results(&x, &kdim, &q))
    };
    let one = on(1);
    assert_eq!(one, on(2), "{}: 1 thread vs 2", T::DTYPE_NAME);
    assert_eq!(one, on(3), "{}: 1 thread vs 3", T::DTYPE_NAME);
}

/// Rows split across threads at any size: 64 rows of 100 classes, in the debug test run.
#[test]
fn row_results_are_bit_identical_for_any_thread_count() {
    check::<f32>([64, 100], |g, n| g.rand_f32(n).unwrap());
    check::<f64>([64, 100], |g, n| g.rand_f64(n).unwrap());
}

/// 600k elements: the element-wise sums of 'mean' and 'sum' are long enough (2^18 terms) that
/// their halves run on other threads too. About 3 s in the test build, so it is ignored by the
/// plain test run and run by `.ci/run` (`cargo test --test threads -- --ignored`).
#[test]
#[ignore = "600k elements per op: run by .ci/run"]
fn long_sums_are_bit_identical_for_any_thread_count() {
    check::<f32>([600, 1000], |g, n| g.rand_f32(n).unwrap());
    check::<f64>([600, 1000], |g, n| g.rand_f64(n).unwrap());
}
