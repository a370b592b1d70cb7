//! `exp` over a whole slice: the exponential of every row kernel.
//!
//! float64 uses the C library's `exp`, element by element. float32 is computed in float64 and
//! rounded once, which makes it the *correctly rounded* float32 `exp`: with `k = round(8x/ln 2)`,
//! `exp(x) = 2^(k/8) · e^r` where `|r| ≤ ln 2/16`, and `e^r` is its Taylor polynomial of degree 7
//! (truncation below 3e-16, so the float64 result is within a few float64 ulps of `exp(x)`, a
//! hundred million times finer than float32's half ulp). `scripts/exp-exhaustive.sh` checks every
//! float32 against the float64 `exp` rounded to float32: no difference outside the two inputs
//! whose exact value lies within a float64 rounding of a float32 tie. The C library's `expf`
//! rounds 170 647 of the 4 278 190 080 non-NaN float32s the other way (about 1 in 25 000; it is
//! within 0.502 ulp), so the new values differ from the old only where the old ones were off by
//! that last bit.
//!
//! The loop has no call in it, so the compiler vectorises it; on x86-64 it is compiled three
//! times (AVX-512, AVX2, baseline) and the widest the processor has runs. The arithmetic is the
//! same sequence of IEEE operations in every version (Rust never fuses a multiply and an add), so
//! the bits do not depend on which one runs.

/// `1/k!` for `k = 0..=7`: the Taylor coefficients of `e^r`, each within an ulp or two.
const TAYLOR: [f64; 8] = {
    let mut c = [1.0f64; 8];
    let mut k = 1;
    while k < 8 {
        c[k] = c[k - 1] / k as f64;
        k += 1;
    }
    c
};

/// `2^(j/8)` for `j = 0..8`, each the nearest float64 (from mpmath at 200 bits).
const TWO_TO_EIGHTHS: [f64; 8] = [
    f64::from_bits(0x3ff0000000000000),
    f64::from_bits(0x3ff172b83c7d517b),
    f64::from_bits(0x3ff306fe0a31b715),
    f64::from_bits(0x3ff4bfdad5362a27),
    f64::from_bits(0x3ff6a09e667f3bcd),
    f64::from_bits(0x3ff8ace5422aa0db),
    f64::from_bits(0x3ffae89f995ad3ad),
    f64::from_bits(0x3ffd5818dcfba487),
];

/// `ln 2 / 8` in two parts (Cody and Waite): `HI` has 32 significant bits, so `k·HI` is exact for
/// every `k` here, and `x − k·HI − k·LO` keeps `r` to float64 precision.
const LN2_8_HI: f64 = f64::from_bits(0x3fe62e42fee00000) / 8.0;
const LN2_8_LO: f64 = 1.908_214_929_270_587_7e-10 / 8.0;

/// `1.5·2^52`: adding it rounds a float64 below 2^51 to an integer, kept in the low bits.
const ROUND: f64 = 6_755_399_441_055_744.0;

/// The correctly rounded float32 `exp(x)`; NaN gives NaN, `-inf` 0 and `+inf` `+inf`.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    // Beyond ±150 the float32 result is 0 or +inf either way; clamping keeps 2^k a float64
    // (and `clamp` passes a NaN through).
    let x = f64::from(x).clamp(-150.0, 150.0);
    let t = x * (8.0 * std::f64::consts::LOG2_E) + ROUND;
    let k = t - ROUND;
    let r = (x - k * LN2_8_HI) - k * LN2_8_LO;
    let e_r = TAYLOR.iter().rev().fold(0.0, |p, &c| p * r + c);
    // k's two's complement sits in t's low mantissa bits: k >> 3 is the power of two, k & 7
    // the eighth.
    let bits = t.to_bits();
    let power = f64::from_bits(((bits >> 3) << 52).wrapping_add(1023 << 52));
    (e_r * (power * TWO_TO_EIGHTHS[(bits & 7) as usize])) as f32
}

/// `v = exp(v)` for every element, float32.
pub(crate) fn exp_f32_in_place(v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has just been found to support AVX-512F.
            return unsafe { avx512(v) };
        }
        if is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has just been found to support AVX2.
            return unsafe { avx2(v) };
        }
    }
    each(v)
}

#[inline(always)]
fn each(v: &mut [f32]) {
    v.iter_mut().for_each(|x| *x = exp_f32(*x));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn avx512(v: &mut [f32]) {
    each(v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn avx2(v: &mut [f32]) {
    each(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The float64 `exp` rounded to float32, unless it lies within two float64 ulps of a float32
    /// tie (then the rounding direction is not known without more precision).
    fn rounded_f64_exp(x: f32) -> Option<f32> {
        let wide = f64::from(x).exp();
        let narrow = wide as f32;
        if narrow == 0.0 || !narrow.is_finite() {
            return Some(narrow);
        }
        let below = if f64::from(narrow) <= wide {
            narrow
        } else {
            f32::from_bits(narrow.to_bits() - 1)
        };
        let above = f32::from_bits(below.to_bits() + 1);
        let tie = (f64::from(below) + f64::from(above)) / 2.0;
        let ulp = f64::from_bits(wide.to_bits() + 1) - wide;
        ((wide - tie).abs() > 2.0 * ulp).then_some(narrow)
    }

    #[test]
    fn the_table_is_two_to_the_eighths() {
        for (j, &t) in TWO_TO_EIGHTHS.iter().enumerate() {
            let libm = (j as f64 / 8.0).exp2();
            assert!(
                (t.to_bits() as i64 - libm.to_bits() as i64).abs() <= 1,
                "{j}"
            );
        }
        assert_eq!(TAYLOR[7], 1.0 / 5040.0);
    }

    /// How many of the float32s `bits` steps through were checked, how many were too close to a
    /// tie to check, and how many the C library's `expf` misrounds; panics on a misrounding.
    fn check_every(step: usize) -> (u64, u64, u64) {
        let (mut checked, mut ties, mut libm_off) = (0, 0, 0);
        for bits in (0..=u32::MAX).step_by(step) {
            let x = f32::from_bits(bits);
            if x.is_nan() {
                assert!(exp_f32(x).is_nan());
                continue;
            }
            let Some(want) = rounded_f64_exp(x) else {
                ties += 1;
                continue;
            };
            let got = exp_f32(x);
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "exp({x:e}): {got:e}, not {want:e}"
            );
            checked += 1;
            libm_off += u64::from(x.exp().to_bits() != want.to_bits());
        }
        (checked, ties, libm_off)
    }

    /// Every 1021st float32 (about four million, of both signs and every exponent).
    #[test]
    fn rounds_like_the_float64_exp() {
        let (checked, _, _) = check_every(1021);
        assert!(checked > 4_000_000);
    }

    /// Every float32: about a minute in release (`scripts/exp-exhaustive.sh`).
    #[test]
    #[ignore = "every float32; run by scripts/exp-exhaustive.sh"]
    fn every_float32_rounds_like_the_float64_exp() {
        let (checked, ties, libm_off) = check_every(1);
        println!(
            "{checked} float32s rounded like the float64 exp; {ties} within a float64 rounding of a tie not checked; the C library's expf differs on {libm_off}"
        );
    }

    #[test]
    fn special_values_and_every_dispatch() {
        let mut v = [
            0.0,
            -0.0,
            f32::NEG_INFINITY,
            f32::INFINITY,
            f32::NAN,
            -103.98,
            88.8,
            1.0,
        ];
        exp_f32_in_place(&mut v);
        assert_eq!(&v[..4], &[1.0, 1.0, 0.0, f32::INFINITY]);
        assert!(v[4].is_nan());
        assert_eq!(v[5], 0.0);
        assert_eq!(v[6], f32::INFINITY);
        assert_eq!(v[7], std::f32::consts::E);
        let x: Vec<f32> = (0..100).map(|i| -(i as f32) * 0.731).collect();
        let mut plain = x.clone();
        each(&mut plain);
        let mut dispatched = x.clone();
        exp_f32_in_place(&mut dispatched);
        assert_eq!(plain, dispatched);
    }
}
