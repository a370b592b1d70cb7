//! Shape validation shared by the losses, in PyTorch's order of checks.

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use crate::error::{ErrorKind, LossError};

/// `dim` wrapped into `[0, ndim)`. A 0-d tensor behaves as if it had one axis,
/// so it accepts `-1` and `0`, as in PyTorch.
pub(crate) fn normalize_dim(dim: isize, ndim: usize) -> Result<usize, LossError> {
    let n = ndim.max(1) as isize;
    if dim < -n || dim >= n {
        return Err(LossError::new(
            ErrorKind::DimOutOfRange,
            format!(
                "Dimension out of range (expected to be in range of [{}, {}], but got {dim})",
                -n,
                n - 1
            ),
        ));
    }
    Ok(if dim < 0 { dim + n } else { dim } as usize)
}

/// `[2, 3]`, as PyTorch prints sizes.
pub(crate) fn fmt_shape(shape: &[usize]) -> String {
    format!("{shape:?}")
}

/// `torch.Size([2, 3])`.
pub(crate) fn fmt_torch_size(shape: &[usize]) -> String {
    format!("torch.Size({shape:?})")
}

/// A double as C++'s `operator<<` prints it (like `%g`: 6 significant digits),
/// which is how PyTorch formats `label_smoothing` in its error message.
pub(crate) fn fmt_g(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{x:.5e}"); // d.ddddde±x, already rounded to 6 digits
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: String| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa.to_string()), exp.abs())
    } else {
        let decimals = (5 - exp).max(0) as usize;
        trim(format!("{x:.decimals$}"))
    }
}

/// Why a weight cannot be broadcast to a target shape without changing it.
pub(crate) enum BroadcastIssue {
    /// Sizes differ and neither is 1, at position `from_right` (1 = last axis).
    Incompatible {
        from_right: usize,
        weight_len: usize,
        target_len: usize,
        result_ndim: usize,
        /// The broadcast shape built so far (target, then weight from the right), as
        /// PyTorch's Python `_broadcast_shapes` reports it.
        partial: Vec<usize>,
    },
    /// Broadcastable, but the result `shape` is larger than the target.
    Enlarges { shape: Vec<usize> },
}

/// Broadcast `weight` to `target` by trailing-dimension rules; the result must be
/// exactly `target` (PyTorch multiplies in place, so the loss cannot grow).
pub(crate) fn broadcast_weight<'a, T>(
    weight: &'a ArrayD<T>,
    target: &[usize],
) -> Result<ArrayViewD<'a, T>, BroadcastIssue> {
    let w = weight.shape();
    let ndim = w.len().max(target.len());
    // Size `i` places from the right, 1 where the shape is shorter.
    let from_right = |s: &[usize], i: usize| {
        s.len()
            .checked_sub(i)
            .and_then(|k| s.get(k))
            .copied()
            .unwrap_or(1)
    };
    let mut result: Vec<usize> = (1..=ndim).rev().map(|i| from_right(target, i)).collect();
    for i in 1..=ndim {
        let (a, b) = (from_right(w, i), from_right(target, i));
        let merged = match (a, b) {
            _ if a == b => a,
            (1, _) => b,
            (_, 1) => a,
            _ => {
                return Err(BroadcastIssue::Incompatible {
                    from_right: i,
                    weight_len: a,
                    target_len: b,
                    result_ndim: ndim,
                    partial: result,
                });
            }
        };
        if let Some(slot) = result.get_mut(ndim - i) {
            *slot = merged;
        }
    }
    if result != target {
        return Err(BroadcastIssue::Enlarges { shape: result });
    }
    weight
        .broadcast(IxDyn(target))
        .ok_or(BroadcastIssue::Enlarges {
            shape: target.to_vec(),
        })
}

/// PyTorch's message when an in-place op would have to grow its output.
pub(crate) fn enlarge_message(target: &[usize], shape: &[usize]) -> String {
    format!(
        "output with shape {} doesn't match the broadcast shape {}",
        fmt_shape(target),
        fmt_shape(shape)
    )
}

/// Which message the class-weight length check uses: PyTorch's 1-D/2-D kernel, its
/// spatial kernel (used for 3-D and more, with a shorter text), or the probability path.
#[derive(Clone, Copy)]
pub(crate) enum WeightCheck {
    Flat,
    Spatial,
    Probabilities,
}

/// The class weight must be 1-D of length `classes` (for 3-D and larger index-target
/// inputs, any shape with `classes` elements); returns it flattened.
pub(crate) fn class_weight<T: Copy>(
    weight: Option<&ArrayD<T>>,
    classes: usize,
    check: WeightCheck,
) -> Result<Option<Vec<T>>, LossError> {
    let Some(w) = weight else { return Ok(None) };
    // PyTorch's spatial kernel only compares the element count.
    let accepted = match check {
        WeightCheck::Spatial => w.len() == classes,
        WeightCheck::Flat | WeightCheck::Probabilities => w.ndim() == 1 && w.len() == classes,
    };
    if accepted {
        return Ok(Some(w.iter().copied().collect()));
    }
    let full = format!(
        "weight tensor should be defined either for all {classes} classes or no classes but got weight tensor of shape: {}",
        fmt_shape(w.shape())
    );
    let message = match check {
        WeightCheck::Flat => full,
        WeightCheck::Probabilities => format!("cross_entropy: {full}"),
        WeightCheck::Spatial => format!(
            "weight tensor should be defined either for all or no classes ({classes} classes, got weight tensor of shape: {})",
            fmt_shape(w.shape())
        ),
    };
    Err(LossError::new(ErrorKind::WeightShape, message))
}

/// Where the classes are in an index-target problem, once its shapes are accepted.
pub(crate) struct ClassLayout {
    /// 1, or 0 for an unbatched `(C)` input.
    pub class_dim: usize,
    pub classes: usize,
    /// Shape of the 'none' output: the target's shape, or `[]` for an unbatched input.
    pub out_shape: Vec<usize>,
}

/// The most elements the reference takes in one tensor: 2^28, e.g. 4096 × 65536 logits (1 GiB of
/// float32). Sixteen times the suite's own limit on a case's or a request's tensor
/// (`spec_model::shape::MAX_ELEMENTS`), so that the reference can be the oracle, and be
/// benchmarked, at vocabulary scale; still a bound on memory and on the time to walk an empty
/// tensor's slices.
pub const MAX_ELEMENTS: usize = 1 << 28;

/// A tensor given to the reference, even an empty one, may not have a dimension (or non-zero
/// dimensions whose product) above [`MAX_ELEMENTS`]: the work per slice, and a result over the
/// other dimensions, must stay bounded (the rule of `spec_model::shape`).
pub(crate) fn check_size(shape: &[usize]) -> Result<(), LossError> {
    spec_model::shape::checked_numel_within(shape, MAX_ELEMENTS)
        .map(|_| ())
        .map_err(|m| LossError::new(ErrorKind::TooLarge, m))
}

/// The class dimension of an input of rank `ndim >= 1`: 1 for a batch `(N, C, d1..dk)`, 0 for an
/// unbatched `(C)`. The one statement of PyTorch's class-dim rule.
///
/// ```
/// use cross_entropy_spec::reference::class_dim;
///
/// assert_eq!(class_dim(1), 0); // (C)
/// assert_eq!(class_dim(2), 1); // (N, C)
/// assert_eq!(class_dim(4), 1); // (N, C, H, W): 000's per-pixel batch
/// ```
pub fn class_dim(ndim: usize) -> usize {
    if ndim >= 2 { 1 } else { 0 }
}

/// Accept `(C)`+`()`/`(1,)`, `(N,C)`+`(N)`, `(N,C,d1..dk)`+`(N,d1..dk)` and check the class
/// weight, in the order PyTorch's `nll_loss_nd` does (so the same error wins).
pub(crate) fn index_target_layout<T: Copy>(
    input: &[usize],
    target: &[usize],
    weight: Option<&ArrayD<T>>,
) -> Result<(ClassLayout, Option<Vec<T>>), LossError> {
    check_size(input)?;
    let Some((&batch, rest)) = input.split_first() else {
        return Err(LossError::new(
            ErrorKind::InvalidRank,
            "Expected 1 or more dimensions (got 0)",
        ));
    };
    let nd = input.len();
    if nd >= 2 {
        check_batch(input, target)?;
    }
    let classes = if nd == 1 {
        batch
    } else {
        rest.first().copied().unwrap_or(0)
    };
    let weight = match nd {
        1 => {
            unbatched_target(target)?;
            class_weight(weight, classes, WeightCheck::Flat)?
        }
        2 if target.len() != 1 => return Err(shape_error(MULTI_TARGET.into())),
        2 => class_weight(weight, classes, WeightCheck::Flat)?,
        4 => {
            if target.len() != 3 {
                return Err(shape_error(format!(
                    "only batches of spatial targets supported (3D tensors) but got targets of dimension: {}",
                    target.len()
                )));
            }
            let w = class_weight(weight, classes, WeightCheck::Spatial)?;
            if target.get(1..) != input.get(2..) {
                return Err(shape_error(format!(
                    "size mismatch (got input: {} , target: {}",
                    fmt_shape(input),
                    fmt_shape(target)
                )));
            }
            w
        }
        _ => spatial_target(input, target, classes, weight)?,
    };
    let out_shape = if nd == 1 { vec![] } else { target.to_vec() };
    let layout = ClassLayout {
        class_dim: class_dim(nd),
        classes,
        out_shape,
    };
    Ok((layout, weight))
}

const MULTI_TARGET: &str = "0D or 1D target tensor expected, multi-target not supported";

fn shape_error(message: String) -> LossError {
    LossError::new(ErrorKind::ShapeMismatch, message)
}

/// A batched input's target starts with the same batch size.
fn check_batch(input: &[usize], target: &[usize]) -> Result<(), LossError> {
    let batch = input[0];
    match target.first() {
        Some(&tb) if tb != batch => Err(shape_error(format!(
            "Expected input batch_size ({batch}) to match target batch_size ({tb})."
        ))),
        None => {
            let torch_text = if batch == 0 {
                "Dimension specified as 0 but tensor has no dimensions".to_string()
            } else {
                format!("Expected input batch_size ({batch}) to match target batch_size (0).")
            };
            Err(shape_error(format!(
                "{torch_text} (a 0-d target for an input of shape {})",
                fmt_shape(input)
            )))
        }
        Some(_) => Ok(()),
    }
}

/// An unbatched `(C)` input takes a `()` or `(1,)` target.
fn unbatched_target(target: &[usize]) -> Result<(), LossError> {
    if target.len() > 1 {
        return Err(shape_error(MULTI_TARGET.into()));
    }
    match target.first() {
        Some(&size) if size != 1 => Err(shape_error(format!(
            "For 1D input, 1D target must have size 1, but got target size: {size}"
        ))),
        _ => Ok(()),
    }
}

/// `(N, C, d1..dk)` with k = 1 or k >= 3 takes `(N, d1..dk)`.
fn spatial_target<T: Copy>(
    input: &[usize],
    target: &[usize],
    classes: usize,
    weight: Option<&ArrayD<T>>,
) -> Result<Option<Vec<T>>, LossError> {
    let batch = input[0];
    let expected: Vec<usize> = std::iter::once(batch)
        .chain(input.iter().skip(2).copied())
        .collect();
    if target != expected {
        return Err(shape_error(format!(
            "Expected target size {}, got {}",
            fmt_shape(&expected),
            fmt_shape(target)
        )));
    }
    let w = class_weight(weight, classes, WeightCheck::Spatial)?;
    // PyTorch reshapes to (N, C, 1, -1); with C = 0 the -1 becomes 0 and its 4-D kernel then
    // rejects a non-empty spatial target.
    let spatial_len: usize = input.iter().skip(2).product();
    if classes == 0 && batch > 0 && spatial_len > 0 {
        return Err(shape_error(format!(
            "size mismatch (got input: [{batch}, 0, 0, 0] , target: [{batch}, 1, {spatial_len}] (no classes, non-empty spatial size)"
        )));
    }
    Ok(w)
}

/// Each target as `Some(class)`, or `None` if it equals `ignore_index`. The first target
/// (row-major) outside `[0, C)` is an error, whatever the reduction.
pub(crate) fn resolve_targets(
    target: &ArrayD<i64>,
    classes: usize,
    ignore_index: i64,
) -> Result<Vec<Option<usize>>, LossError> {
    target
        .iter()
        .map(|&t| {
            if t == ignore_index {
                return Ok(None);
            }
            match usize::try_from(t) {
                Ok(c) if c < classes => Ok(Some(c)),
                _ => Err(LossError::new(
                    ErrorKind::TargetOutOfBounds,
                    format!("Target {t} is out of bounds."),
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dims_wrap_like_torch() {
        assert_eq!(normalize_dim(-1, 2).ok(), Some(1));
        assert_eq!(normalize_dim(-1, 0).ok(), Some(0));
        let e = normalize_dim(2, 2).unwrap_err();
        assert_eq!(
            e.message,
            "Dimension out of range (expected to be in range of [-2, 1], but got 2)"
        );
        let e = normalize_dim(-2, 0).unwrap_err();
        assert_eq!(
            e.message,
            "Dimension out of range (expected to be in range of [-1, 0], but got -2)"
        );
    }

    #[test]
    fn g_format_matches_cpp_stream() {
        for (x, s) in [
            (1.5, "1.5"),
            (2.0, "2"),
            (1.0000001, "1"),
            (f64::INFINITY, "inf"),
            (1e7, "1e+07"),
            (1.25e-5, "1.25e-05"),
            (123456.7, "123457"),
            (0.0001, "0.0001"),
        ] {
            assert_eq!(fmt_g(x), s);
        }
    }

    #[test]
    fn index_layout_errors_follow_torch_order() {
        let w2 = ArrayD::<f32>::zeros(IxDyn(&[2]));
        let msg = |i: &[usize], t: &[usize], w| {
            index_target_layout(i, t, w)
                .map(|_| ())
                .unwrap_err()
                .message
        };
        assert_eq!(
            msg(&[2, 3], &[3], Some(&w2)),
            "Expected input batch_size (2) to match target batch_size (3)."
        );
        assert_eq!(
            msg(&[2, 3, 4, 5], &[2, 4, 6], Some(&w2)),
            "weight tensor should be defined either for all or no classes (3 classes, got weight tensor of shape: [2])"
        );
        assert_eq!(
            msg(&[2, 3, 4], &[2, 5], Some(&w2)),
            "Expected target size [2, 4], got [2, 5]"
        );
        assert_eq!(
            msg(&[3], &[2], None),
            "For 1D input, 1D target must have size 1, but got target size: 2"
        );
    }
}
