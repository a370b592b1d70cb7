//! The one rule for how large a tensor of the suite may be, wherever a shape comes from: a
//! case's literal or expression, a protocol request, a seeded draw. Every dimension, and the
//! product of the non-zero dimensions, is at most [`MAX_ELEMENTS`]: so a tensor holds at most that
//! many elements, and an empty tensor cannot have a dimension so large that walking its slices
//! (or allocating a result over its other dimensions) would take hours or exhaust memory.

/// 2^24 elements: far above any example, far below what would exhaust memory.
pub const MAX_ELEMENTS: usize = 1 << 24;

/// The number of elements of `shape`, if the suite accepts it.
pub fn checked_numel(shape: &[usize]) -> Result<usize, String> {
    checked_numel_within(shape, MAX_ELEMENTS)
}

/// The number of elements of `shape` if every dimension, and the product of the non-zero ones,
/// is at most `max`: the same rule with another bound (the reference library's, which takes
/// larger tensors than the suite's cases and requests).
pub fn checked_numel_within(shape: &[usize], max: usize) -> Result<usize, String> {
    let too_large = || {
        format!(
            "shape {shape:?} is too large: every dimension, and the product of the non-zero ones, is at most {max}"
        )
    };
    let mut extent = 1usize;
    for &d in shape.iter().filter(|&&d| d > 0) {
        extent = extent
            .checked_mul(d)
            .filter(|&e| e <= max)
            .ok_or_else(too_large)?;
    }
    Ok(if shape.contains(&0) { 0 } else { extent })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dimension_is_bounded_not_only_the_product() {
        assert_eq!(checked_numel(&[3, 4]), Ok(12));
        assert_eq!(checked_numel(&[]), Ok(1));
        assert_eq!(checked_numel(&[0, 5]), Ok(0));
        assert_eq!(checked_numel(&[MAX_ELEMENTS]), Ok(MAX_ELEMENTS));
        assert!(checked_numel(&[1 << 40, 0]).is_err());
        assert!(checked_numel(&[0, 1 << 40]).is_err());
        assert!(checked_numel(&[1 << 62, 0]).is_err());
        assert!(checked_numel(&[1 << 13, 1 << 12, 0]).is_err());
        assert!(checked_numel(&[usize::MAX, usize::MAX]).is_err());
        assert_eq!(
            checked_numel_within(&[1 << 12, 1 << 14], 1 << 26),
            Ok(1 << 26)
        );
        assert!(checked_numel_within(&[1 << 12, 1 << 14], 1 << 25).is_err());
    }
}
