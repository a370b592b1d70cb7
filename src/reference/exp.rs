//! `exp` and `log(1 + exp)` over whole slices: the transcendental functions of the kernels.
//!
//! float64 uses the C library's `exp`, element by element. float32 is computed in float64 and
//! rounded once, which makes it the *correctly rounded* float32 `exp`: with `k = round(8x/ln 2)`,
//! `exp(x) = 2^(k/8) · e^r` where `|r| ≤ ln 2/16`, and `e^r` is its Taylor polynomial of degree 7
//! (truncation below 3e-16, so the float64 result is within a few float64 ulps of `exp(x)`, a
//! hundred million times finer than float32's half ulp). `scripts/exp-exhaustive.sh` checks every
//! float32 against the C library's float64 `exp` rounded to float32: all 4 278 190 075 agree, and
//! 7 are not checked because that float64 value lies within four float64 ulps of a float32 tie.
//! The C library's `expf` rounds 170 645 of them the other way (about 1 in 25 000), so the new
//! values differ from the old only where the old ones were off by that last bit.
//!
//! `log(1 + exp(x))` for `x ≤ 0` (softplus, the heart of `log σ` and BCE-with-logits) is made the
//! same way: float64 uses the C library's `exp` then `log1p`; float32 rounds once a float64
//! `log1p` of the float64 `exp`. That `log1p` is `ln(1 + u)` on `s = 1 + u` corrected by the
//! part of `u` the sum lost, `c = u − (s − 1)`: `ln s + c/s`, with `ln s` reduced to
//! `[1/√2, √2]` and summed as `2·atanh(z)`, `z = (s − 1)/(s + 1)`, to `z^21`. It too is the float64
//! result rounded to float32 on all 2 139 095 040 non-positive inputs checked (2 are too close to
//! a tie); `log1pf(expf(x))` rounds 47 644 848 of them otherwise.
//!
//! The loops have no call in them, so the compiler vectorises them; on x86-64 each is compiled three
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
    exp_wide(x) as f32
}

/// `exp(x)` in float64, to a few float64 ulps (exact at 0), for a float32 `x`.
#[inline(always)]
pub(crate) fn exp_wide(x: f32) -> f64 {
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
    e_r * (power * TWO_TO_EIGHTHS[(bits & 7) as usize])
}

/// The correctly rounded float32 `log(1 + exp(x))` for `x ≤ 0` (and NaN for NaN).
#[inline(always)]
pub(crate) fn log1p_exp_f32(x: f32) -> f32 {
    log1p_wide(exp_wide(x)) as f32
}

/// `log(1 + u)` in float64 for `0 ≤ u ≤ 1`, to a few float64 ulps.
#[inline(always)]
fn log1p_wide(u: f64) -> f64 {
    let s = 1.0 + u;
    let lost = u - (s - 1.0); // exact: what rounding 1 + u dropped
    let halve = s > std::f64::consts::SQRT_2;
    let (m, k) = if halve { (s * 0.5, 1.0) } else { (s, 0.0) };
    let z = (m - 1.0) / (m + 1.0); // |z| ≤ 0.172, and m − 1 is exact
    let z2 = z * z;
    // ln m = 2·atanh z = 2z·Σ z^(2j)/(2j + 1); z^22 < 2^-56 is where it stops.
    let series = ATANH.iter().rev().fold(0.0, |p, &c| p * z2 + c);
    k * std::f64::consts::LN_2 + (2.0 * z * series + lost / s)
}

/// `1/(2j + 1)` for `j = 0..=10`: the series of `atanh(z)/z` in `z²`.
const ATANH: [f64; 11] = {
    let mut c = [1.0f64; 11];
    let mut j = 1;
    while j < 11 {
        c[j] = 1.0 / (2 * j + 1) as f64;
        j += 1;
    }
    c
};

/// `v = exp(v)` for every element, float32.
pub(crate) fn exp_f32_in_place(v: &mut [f32]) {
    map_in_place(v, exp_f32)
}

/// `v = log(1 + exp(v))` for every element (each `≤ 0` or NaN), float32.
pub(crate) fn log1p_exp_f32_in_place(v: &mut [f32]) {
    map_in_place(v, log1p_exp_f32)
}

/// `v = f(v)` for every element, with the widest vector instructions the processor has.
fn map_in_place(v: &mut [f32], f: impl Fn(f32) -> f32 + Copy) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has just been found to support AVX-512F.
            return unsafe { map_avx512(v, f) };
        }
        if is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has just been found to support AVX2.
            return unsafe { map_avx2(v, f) };
        }
    }
    map(v, f)
}

/// A plain loop (not `for_each`, which the compiler may leave out of line, compiled without the
/// caller's vector instructions).
#[inline(always)]
fn map(v: &mut [f32], f: impl Fn(f32) -> f32) {
    for x in v {
        *x = f(*x);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn map_avx512(v: &mut [f32], f: impl Fn(f32) -> f32) {
    map(v, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn map_avx2(v: &mut [f32], f: impl Fn(f32) -> f32) {
    map(v, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `wide(x)` rounded to float32, unless it lies within four float64 ulps of a float32 tie
    /// (then the rounding direction is not known without more precision).
    fn rounded(wide: f64) -> Option<f32> {
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
        ((wide - tie).abs() > 4.0 * ulp).then_some(narrow)
    }

    /// One function of the module against the C library's float64 version rounded once.
    struct Check {
        ours: fn(f32) -> f32,
        /// The C library in float64.
        wide: fn(f64) -> f64,
        /// What the reference computed before: the C library in float32.
        before: fn(f32) -> f32,
        /// Only `x ≤ 0` (or every float32).
        non_positive: bool,
    }

    const EXP: Check = Check {
        ours: exp_f32,
        wide: f64::exp,
        before: f32::exp,
        non_positive: false,
    };

    const LOG1P_EXP: Check = Check {
        ours: log1p_exp_f32,
        wide: |x| x.exp().ln_1p(),
        before: |x| x.exp().ln_1p(),
        non_positive: true,
    };

    impl Check {
        /// How many of the float32s `bits` steps through were checked, how many were too
        /// close to a tie to check, and how many `before` rounds differently; panics on a
        /// misrounding.
        fn every(&self, step: usize) -> (u64, u64, u64) {
            let (mut checked, mut ties, mut before_off) = (0, 0, 0);
            let bits = (0..=u32::MAX).step_by(step);
            for x in bits.map(f32::from_bits) {
                if self.non_positive && x > 0.0 {
                    continue;
                }
                if x.is_nan() {
                    assert!((self.ours)(x).is_nan());
                    continue;
                }
                let Some(want) = rounded((self.wide)(f64::from(x))) else {
                    ties += 1;
                    continue;
                };
                let got = (self.ours)(x);
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "{x:e}: {got:e}, not {want:e}"
                );
                checked += 1;
                before_off += u64::from((self.before)(x).to_bits() != want.to_bits());
            }
            (checked, ties, before_off)
        }
    }

    /// Every 1021st float32 (about four million, of both signs and every exponent).
    #[test]
    fn rounds_like_the_float64_functions() {
        assert!(EXP.every(1021).0 > 4_000_000);
        assert!(LOG1P_EXP.every(1021).0 > 2_000_000);
    }

    /// Every float32: about two minutes in release (`scripts/exp-exhaustive.sh`).
    #[test]
    #[ignore = "every float32; run by scripts/exp-exhaustive.sh"]
    fn every_float32_rounds_like_the_float64_functions() {
        for (name, check) in [("exp", EXP), ("log1p(exp)", LOG1P_EXP)] {
            let (checked, ties, before_off) = check.every(1);
            println!(
                "{name}: {checked} float32s rounded like the float64 function; {ties} within \
                 a float64 rounding of a tie not checked; the C library's float32 differs on \
                 {before_off}"
            );
        }
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
        let mut sp = [0.0, -0.0, f32::NEG_INFINITY, f32::NAN, -1e-30, -200.0];
        log1p_exp_f32_in_place(&mut sp);
        assert_eq!(sp[0], std::f32::consts::LN_2);
        assert_eq!(&sp[1..3], &[std::f32::consts::LN_2, 0.0]);
        assert!(sp[3].is_nan());
        assert_eq!(&sp[4..], &[std::f32::consts::LN_2, 0.0]);
        let x: Vec<f32> = (0..100).map(|i| -(i as f32) * 0.731).collect();
        let mut plain = x.clone();
        map(&mut plain, exp_f32);
        let mut dispatched = x.clone();
        exp_f32_in_place(&mut dispatched);
        assert_eq!(plain, dispatched);
    }
}
