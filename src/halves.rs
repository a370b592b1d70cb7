//! float16 and bfloat16 elements as the suite stores, writes and reads them
//! (`spec/14-half-precision.md`): values are rounded to nearest-even once, from float64, and
//! written as the shortest decimal that reads back to the same half value whether the reader
//! rounds it to the half dtype from float64 or from float32 (numpy's `float16(float(s))`,
//! `torch.tensor(xs, dtype=torch.float32).to(torch.bfloat16)`).

use half::{bf16, f16};

use crate::vocab::Dtype;

/// `v` rounded to nearest-even in the half dtype `dtype`, widened back (exact); infinity past
/// the largest finite value's rounding range, gradual underflow below the normal range. Any
/// other dtype leaves `v` as it is. (The `half` crate's `from_f64` ignores bits below float32's
/// precision, `1 + 2⁻¹¹ + 2⁻⁴⁰` giving `1` in float16, so the rounding is done here.)
pub fn round(dtype: Dtype, v: f64) -> f64 {
    let (p, emin, max) = match dtype {
        Dtype::Float16 => (11, -14, 65504.0),
        Dtype::BFloat16 => (8, -126, bf16::MAX.to_f64()),
        _ => return v,
    };
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    let e = (((v.abs().to_bits() >> 52) & 0x7ff) as i32 - 1023).max(emin);
    let spacing = 2f64.powi(e - (p - 1));
    let r = (v.abs() / spacing).round_ties_even() * spacing;
    let r = if r > max { f64::INFINITY } else { r };
    r.copysign(v)
}

/// `v` rounded to float16 ([`round`]).
pub fn to_f16(v: f64) -> f16 {
    f16::from_f64(round(Dtype::Float16, v))
}

/// `v` rounded to bfloat16 ([`round`]).
pub fn to_bf16(v: f64) -> bf16 {
    bf16::from_f64(round(Dtype::BFloat16, v))
}

/// `v` as read in the half dtype by a reader that goes through float32 first.
fn round_via_f32(dtype: Dtype, v: f32) -> f64 {
    round(dtype, f64::from(v))
}

/// The shortest decimal (as the float64 it denotes, which prints as that decimal) that reads
/// back to the finite half value `v` both through float64 and through float32.
pub fn shortest(dtype: Dtype, v: f64) -> f64 {
    (0..17)
        .map(|digits| format!("{v:.digits$e}"))
        .find_map(|text| {
            let wide: f64 = text.parse().ok()?;
            let single: f32 = text.parse().ok()?;
            (round(dtype, wide) == v && round_via_f32(dtype, single) == v).then_some(wide)
        })
        .unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ties go to even, and a value just past a tie goes up: one rounding, from float64.
    #[test]
    fn rounds_once_to_nearest_even() {
        let tie = 1.0 + 2f64.powi(-11);
        assert_eq!(round(Dtype::Float16, tie), 1.0);
        assert_eq!(
            round(Dtype::Float16, tie + 2f64.powi(-40)),
            1.0 + 2f64.powi(-10)
        );
        assert_eq!(round(Dtype::BFloat16, 1.0 + 2f64.powi(-8)), 1.0);
        assert_eq!(
            round(Dtype::BFloat16, 1.0 + 3.0 * 2f64.powi(-8)),
            1.0 + 2f64.powi(-6)
        );
        assert_eq!(round(Dtype::Float16, 65520.0), f64::INFINITY);
        assert_eq!(round(Dtype::Float16, 65519.99), 65504.0);
        assert_eq!(round(Dtype::Float16, 2f64.powi(-25)), 0.0);
        assert_eq!(round(Dtype::Float16, 1.5 * 2f64.powi(-25)), 2f64.powi(-24));
        assert_eq!(round(Dtype::Float32, 0.1), 0.1);
        assert_eq!(
            round(Dtype::BFloat16, -3.5e38),
            f64::INFINITY.copysign(-1.0)
        );
        assert_eq!(round(Dtype::Float16, -0.0).to_bits(), (-0.0f64).to_bits());
        // Agrees with the half crate wherever float32 holds the value (its exact cases).
        for bits in (0..u32::MAX).step_by(9973) {
            let v = f32::from_bits(bits);
            if v.is_finite() {
                assert_eq!(
                    to_f16(f64::from(v)).to_bits(),
                    f16::from_f32(v).to_bits(),
                    "{v}"
                );
                assert_eq!(
                    to_bf16(f64::from(v)).to_bits(),
                    bf16::from_f32(v).to_bits(),
                    "{v}"
                );
            }
        }
    }

    /// Every finite half value's decimal reads back to it, through float64 and float32 alike,
    /// and is short: at most 5 significant digits for float16, 4 for bfloat16 … or the
    /// decimal digits a value needs to be unique.
    #[test]
    fn every_finite_half_value_round_trips() {
        for bits in 0..=u16::MAX {
            for (dtype, v) in [
                (Dtype::Float16, f16::from_bits(bits).to_f64()),
                (Dtype::BFloat16, bf16::from_bits(bits).to_f64()),
            ] {
                if !v.is_finite() {
                    continue;
                }
                let text = format!("{:?}", shortest(dtype, v));
                let wide: f64 = text.parse().unwrap();
                let single: f32 = text.parse().unwrap();
                assert_eq!(round(dtype, wide), v, "{dtype} {text}");
                assert_eq!(round_via_f32(dtype, single), v, "{dtype} {text}");
            }
        }
        assert_eq!(shortest(Dtype::Float16, f16::from_f64(0.1).to_f64()), 0.1);
        assert_eq!(shortest(Dtype::BFloat16, bf16::from_f64(0.1).to_f64()), 0.1);
        assert_eq!(shortest(Dtype::Float16, 65504.0), 65500.0);
    }
}
