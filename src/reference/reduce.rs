//! The `reduction` option and the summation every reduction uses.

use std::str::FromStr;

use ndarray::{ArrayD, IxDyn};

use super::real::{Real, from_count};
use crate::error::{ErrorKind, LossError};

/// How per-element losses are combined; PyTorch's default is `Mean`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// Return the per-element losses.
    None,
    /// Divide the sum by the loss's own normaliser (count, total class weight, ...).
    #[default]
    Mean,
    /// Sum of the per-element losses.
    Sum,
}

impl FromStr for Reduction {
    type Err = LossError;

    /// `"none" | "mean" | "sum"`; `"elementwise_mean"` is PyTorch's deprecated alias of `"mean"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Reduction::None),
            "mean" | "elementwise_mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            _ => Err(LossError::new(
                ErrorKind::InvalidReduction,
                format!("{s} is not a valid value for reduction"),
            )),
        }
    }
}

/// Pairwise (cascade) sum: error grows like O(log n) instead of O(n), close to
/// PyTorch's own cascade sum. The accumulator starts at +0, so a sum of `-0.0`s is `+0.0`
/// as in PyTorch.
pub(crate) fn sum<T: Real>(values: &[T]) -> T {
    sum_range(0, values.len(), 4 * BLOCK, &|lo, hi| {
        bottom(&values[lo..hi])
    })
}

/// A node of at most `4 * BLOCK` terms, in the tree's order but with its blocks' running sums
/// interleaved: each block is a chain of dependent additions, and two or four chains side by
/// side keep the adder busy where one at a time waits on each addition. The bits are the
/// tree's (`reduce.rs`'s unit tests compare every length up to 3000).
fn bottom<T: Real>(v: &[T]) -> T {
    let (left, right) = v.split_at(v.len() / 2);
    match v.len() {
        0..=BLOCK => block(v),
        // Two blocks: the halves.
        9..=16 => {
            let [a, b] = blocks([left, right]);
            a + b
        }
        // Four blocks: the halves' halves, when both halves are split.
        _ if right.len() > BLOCK && left.len() > BLOCK => {
            let (ll, lr) = left.split_at(left.len() / 2);
            let (rl, rr) = right.split_at(right.len() / 2);
            let [a, b, c, d] = blocks([ll, lr, rl, rr]);
            (a + b) + (c + d)
        }
        _ => bottom(left) + bottom(right),
    }
}

/// One block added left to right from `+0`.
fn block<T: Real>(v: &[T]) -> T {
    v.iter().fold(T::zero(), |acc, &x| acc + x)
}

/// [`block`] of each of `N` blocks (each at most `BLOCK` long), step by step together.
fn blocks<T: Real, const N: usize>(v: [&[T]; N]) -> [T; N] {
    let mut acc = [T::zero(); N];
    for k in 0..BLOCK {
        for (a, b) in acc.iter_mut().zip(&v) {
            if let Some(&x) = b.get(k) {
                *a = *a + x;
            }
        }
    }
    acc
}

/// [`sum`] of `term(0), …, term(len - 1)` without storing the terms: the same halving at
/// `len / 2` down to blocks of at most 8 added left to right, so the same bits as [`sum`] of
/// the collected terms. The tree depends on `len` alone, so the two halves of a long sum can
/// run on two threads and still give those bits.
pub(crate) fn sum_by<T: Real>(len: usize, term: &(impl Fn(usize) -> T + Sync)) -> T {
    let leaf = |lo, hi| (lo..hi).fold(T::zero(), |acc, i| acc + term(i));
    sum_range(0, len, BLOCK, &leaf)
}

/// [`sum`] of terms made a chunk at a time: `fill(lo, chunk)` writes terms `lo..lo + chunk.len()`.
/// Every node of the tree no longer than a chunk is filled into a buffer and summed as one
/// slice, whose tree is that node's, so the bits are [`sum`]'s; `fill` can then be a loop
/// the compiler vectorises (the exponentials of a row) instead of one call per term.
pub(crate) fn sum_chunked<T: Real>(len: usize, fill: &(impl Fn(usize, &mut [T]) + Sync)) -> T {
    const CHUNK: usize = 2048;
    let chunk = |lo, hi| {
        let mut buffer = [T::zero(); CHUNK];
        let terms = &mut buffer[..hi - lo];
        fill(lo, terms);
        sum(terms)
    };
    sum_range(0, len, CHUNK, &chunk)
}

/// Terms are added left to right in blocks of at most this many.
const BLOCK: usize = 8;

/// The pairwise tree over `lo..hi`: halves at `len / 2` until a node is at most `leaf_len`
/// long (`leaf_len ≥ BLOCK`), whose sum `leaf(lo, hi)` gives as its own subtree would.
fn sum_range<T: Real>(
    lo: usize,
    hi: usize,
    leaf_len: usize,
    leaf: &(impl Fn(usize, usize) -> T + Sync),
) -> T {
    /// Halves at least this long are summed in parallel (shorter ones are not worth a task).
    const PARALLEL: usize = 1 << 18;
    let len = hi - lo;
    if len <= leaf_len {
        return leaf(lo, hi);
    }
    let mid = lo + len / 2;
    if len >= PARALLEL {
        let (left, right) = rayon::join(
            || sum_range(lo, mid, leaf_len, leaf),
            || sum_range(mid, hi, leaf_len, leaf),
        );
        left + right
    } else {
        sum_range(lo, mid, leaf_len, leaf) + sum_range(mid, hi, leaf_len, leaf)
    }
}

/// A 0-d array holding one value (what 'mean' and 'sum' return).
pub(crate) fn scalar<T: Real>(v: T) -> ArrayD<T> {
    ArrayD::from_elem(IxDyn(&[]), v)
}

/// An array of `shape` filled in row-major order from `values` (callers pass exactly
/// `shape`'s element count; any missing tail stays 0).
pub(crate) fn array_from<T: Real>(shape: &[usize], values: Vec<T>) -> ArrayD<T> {
    if values.len() == shape.iter().product::<usize>() {
        if let Ok(array) = ArrayD::from_shape_vec(IxDyn(shape), values) {
            return array;
        }
        return ArrayD::from_elem(IxDyn(shape), T::zero());
    }
    let mut out = ArrayD::from_elem(IxDyn(shape), T::zero());
    out.iter_mut().zip(values).for_each(|(o, v)| *o = v);
    out
}

/// The element-wise reduction shared by BCE and BCE-with-logits: 'mean' divides by the
/// element count, so an empty input gives 0/0 = NaN.
pub(crate) fn reduce_elementwise<T: Real>(
    shape: &[usize],
    losses: Vec<T>,
    reduction: Reduction,
) -> ArrayD<T> {
    match reduction {
        Reduction::None => array_from(shape, losses),
        Reduction::Sum => scalar(sum(&losses)),
        Reduction::Mean => scalar(sum(&losses) / from_count::<T>(losses.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pytorch_strings() {
        assert_eq!("none".parse::<Reduction>(), Ok(Reduction::None));
        assert_eq!("mean".parse::<Reduction>(), Ok(Reduction::Mean));
        assert_eq!("elementwise_mean".parse::<Reduction>(), Ok(Reduction::Mean));
        assert_eq!("sum".parse::<Reduction>(), Ok(Reduction::Sum));
        assert_eq!(Reduction::default(), Reduction::Mean);
        let e = "avg".parse::<Reduction>().unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidReduction);
        assert_eq!(e.message, "avg is not a valid value for reduction");
    }

    #[test]
    fn pairwise_sum_is_accurate_and_signed_zero_like_torch() {
        let v = vec![0.1f32; 1_000_000];
        assert!((sum(&v) - 100_000.0).abs() < 0.05);
        assert!(sum::<f64>(&[-0.0, -0.0]).is_sign_positive());
        assert_eq!(sum::<f64>(&[]), 0.0);
    }

    /// The tree of the pairwise sum, written out serially: halves at `len / 2`, blocks of 8.
    fn serial(v: &[f32]) -> f32 {
        match v.len() {
            0..=8 => v.iter().fold(0.0, |acc, &x| acc + x),
            n => serial(&v[..n / 2]) + serial(&v[n / 2..]),
        }
    }

    /// Long enough that its top halves run in parallel, the sum still gives the serial tree's
    /// bits (terms of many magnitudes, so any other order or combination would show).
    #[test]
    fn parallel_halves_give_the_serial_trees_bits() {
        let v: Vec<f32> = (0..600_001u64)
            .map(|i| ((i * 7919 % 1000) as f32 - 499.5) * 1.37f32.powi((i % 23) as i32))
            .collect();
        assert_eq!(sum(&v).to_bits(), serial(&v).to_bits());
        let power = 1 << 19;
        assert_eq!(sum(&v[..power]).to_bits(), serial(&v[..power]).to_bits());
    }

    /// The interleaved bottom of the tree adds as the tree does, for every length to 3000.
    #[test]
    fn slice_sums_give_the_serial_trees_bits() {
        let v: Vec<f32> = (0..3000u64)
            .map(|i| ((i * 7919 % 1000) as f32 - 499.5) * 1.37f32.powi((i % 23) as i32))
            .collect();
        for len in 0..v.len() {
            assert_eq!(
                sum(&v[..len]).to_bits(),
                serial(&v[..len]).to_bits(),
                "{len}"
            );
        }
    }

    /// Chunked or not, the same tree: for lengths around the chunk and block sizes, and one
    /// long enough to run in parallel.
    #[test]
    fn chunked_sums_give_the_serial_trees_bits() {
        let v: Vec<f32> = (0..600_001u64)
            .map(|i| ((i * 7919 % 1000) as f32 - 499.5) * 1.37f32.powi((i % 23) as i32))
            .collect();
        for len in [
            0, 1, 8, 9, 2047, 2048, 2049, 4095, 4097, 1000, 32_000, 600_001,
        ] {
            let fill = |lo: usize, out: &mut [f32]| out.copy_from_slice(&v[lo..lo + out.len()]);
            let chunked = sum_chunked(len, &fill);
            assert_eq!(chunked.to_bits(), serial(&v[..len]).to_bits(), "{len}");
        }
    }
}
