//! Tensors as a reader wants them on a card: compact numbers (`4.2e-18`, not eighteen zeros),
//! nested brackets that follow the shape, long dimensions elided, and a tensor that is one number
//! repeated said in words instead of written out.

use std::fmt::Write as _;

use crate::spec::{Dtype, Literal};

/// Dimensions longer than this show their first [`HEAD`] and last [`TAIL`] entries only.
const LONG: usize = 8;
const HEAD: usize = 3;
const TAIL: usize = 2;

/// A number in the fewest characters that still read back to it: the shortest round-trip
/// decimal of its dtype, in scientific notation when that is shorter than the positional form.
pub fn compact(v: f64, dtype: Option<Dtype>) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    // The value as its dtype holds it: a float32's shortest decimal, not its widened float64's.
    let (plain, sci) = match dtype {
        Some(Dtype::Float32) => (format!("{}", v as f32), format!("{:e}", v as f32)),
        _ => (format!("{v}"), format!("{v:e}")),
    };
    if sci.len() < plain.len() { sci } else { plain }
}

/// A literal tensor as nested brackets, with its dtype when the case fixes one.
pub fn literal(lit: &Literal) -> String {
    let shown = tensor(&lit.shape, &lit.data, lit.dtype);
    match lit.dtype {
        Some(d) => format!("{shown}  ({d})"),
        None => shown,
    }
}

/// The values of a tensor of `shape`: in words when every one of many elements is the same
/// number, else nested brackets with long dimensions elided (and the shape said when they are).
pub fn tensor(shape: &[usize], data: &[f64], dtype: Option<Dtype>) -> String {
    let same = data.windows(2).all(|w| w[0].to_bits() == w[1].to_bits());
    if data.len() > LONG && same {
        return format!(
            "every element {} (shape {shape:?})",
            compact(data[0], dtype)
        );
    }
    let mut s = String::new();
    nested(&mut s, shape, data, dtype);
    if shape.iter().any(|&n| n > LONG) {
        let _ = write!(s, "\n(shape {shape:?}; long dimensions elided with …)");
    }
    s
}

fn nested(s: &mut String, shape: &[usize], data: &[f64], dtype: Option<Dtype>) {
    let Some((&n, rest)) = shape.split_first() else {
        s.push_str(&compact(data.first().copied().unwrap_or(f64::NAN), dtype));
        return;
    };
    let inner: usize = rest.iter().product();
    let separator = if rest.is_empty() { ", " } else { ",\n " };
    s.push('[');
    for (k, i) in shown_indices(n).into_iter().enumerate() {
        if k > 0 {
            s.push_str(separator);
        }
        match i {
            Some(i) => {
                let start = (i * inner).min(data.len());
                nested(
                    s,
                    rest,
                    &data[start..(start + inner).min(data.len())],
                    dtype,
                );
            }
            None => s.push('…'),
        }
    }
    s.push(']');
}

/// The indices of a dimension of length `n` that are shown, `None` standing for the elided run.
fn shown_indices(n: usize) -> Vec<Option<usize>> {
    if n <= LONG {
        return (0..n).map(Some).collect();
    }
    let head = (0..HEAD).map(Some);
    let tail = (n - TAIL..n).map(Some);
    head.chain(std::iter::once(None)).chain(tail).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_compact_in_their_dtype() {
        assert_eq!(compact(4.248_354_3e-18, None), "4.2483543e-18");
        assert_eq!(compact(0.25, None), "0.25");
        assert_eq!(compact(1e21, None), "1e21");
        assert_eq!(compact(f64::from(0.1f32), Some(Dtype::Float32)), "0.1");
        assert_eq!(compact(-0.0, None), "-0");
        assert_eq!(compact(f64::NEG_INFINITY, None), "-inf");
    }

    #[test]
    fn nested_brackets_follow_the_shape() {
        assert_eq!(
            tensor(&[2, 2], &[1.0, 2.5, -3.0, 4.0], None),
            "[[1, 2.5],\n [-3, 4]]"
        );
        assert_eq!(tensor(&[], &[0.25], None), "0.25");
    }

    #[test]
    fn a_large_tensor_is_elided_and_a_repeated_one_said_in_words() {
        let data: Vec<f64> = (0..128 * 128).map(f64::from).collect();
        let shown = tensor(&[128, 128], &data, None);
        assert_eq!(shown.lines().count(), 7, "{shown}");
        assert!(shown.contains("[0, 1, 2, …, 126, 127]"), "{shown}");
        assert!(shown.contains("shape [128, 128]"), "{shown}");
        let fill = tensor(&[128, 128], &vec![0.5; 128 * 128], None);
        assert_eq!(fill, "every element 0.5 (shape [128, 128])");
    }
}
