//! Double-double numbers: an unevaluated sum `hi + lo` of two float64s with `|lo| ≤ ulp(hi)/2`,
//! about 106 bits of precision over float64's exponent range. The arithmetic is the classical
//! error-free one (Dekker 1971; Knuth's two-sum; the product's error by a fused multiply-add);
//! `exp`, `ln`, `ln_1p` and `exp_m1` are made here to ~1e-30 relative, so that the reference,
//! evaluated in this type, is the oracle of `super` (the module doc says why that choice).
//!
//! Only what the reference calls is made to double-double accuracy: the arithmetic, `exp`,
//! `exp_m1`, `ln`, `ln_1p`, `log`, `powi`, `floor`, `abs`, `max`, `min`, the tests and the
//! constants. The rest of `num_traits::Float` (trigonometry and the like) is float64 accurate
//! only, on `hi`: the reference never calls it, and the type is private to the crate.

use std::cmp::Ordering;
use std::fmt;
use std::num::FpCategory;
use std::ops::{Add, Div, Mul, Neg, Rem, Sub};

use num_traits::{Float, FloatConst, Num, NumCast, One, ToPrimitive, Zero};

/// A double-double number.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dd {
    pub hi: f64,
    pub lo: f64,
}

/// `a + b` exactly, as a rounded sum and its error.
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// `a + b` exactly when `|a| ≥ |b|`.
fn quick_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

/// `a · b` exactly, as a rounded product and its error.
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

/// ln 2 to 160 bits, as three float64s.
const LN2: [f64; 3] = [
    f64::from_bits(0x3fe6_2e42_fefa_39ef),
    f64::from_bits(0x3c7a_bc9e_3b39_803f),
    f64::from_bits(0x3907_b57a_079a_1934),
];

impl Dd {
    pub const fn new(hi: f64) -> Dd {
        Dd { hi, lo: 0.0 }
    }

    /// A non-finite `hi` stands alone (its `lo` would be a NaN of the error terms).
    fn special(hi: f64) -> Dd {
        Dd { hi, lo: 0.0 }
    }

    /// `hi + lo` normalised, a zero keeping the sign of `hi`.
    fn norm(hi: f64, lo: f64) -> Dd {
        if !hi.is_finite() {
            return Dd::special(hi);
        }
        let (h, l) = quick_two_sum(hi, lo);
        if h == 0.0 {
            return Dd::new(hi + lo);
        }
        Dd { hi: h, lo: l }
    }

    /// The nearest float64.
    pub fn to_f64(self) -> f64 {
        if self.lo == 0.0 {
            self.hi
        } else {
            self.hi + self.lo
        }
    }

    fn mul_f64(self, b: f64) -> Dd {
        let (p, e) = two_prod(self.hi, b);
        if !p.is_finite() {
            return Dd::special(p);
        }
        Dd::norm(p, e + self.lo * b)
    }

    /// `self · 2^k`, exact unless it leaves the exponent range.
    fn ldexp(self, k: i32) -> Dd {
        let (a, b) = (k / 2, k - k / 2);
        let (sa, sb) = (2f64.powi(a), 2f64.powi(b));
        Dd::norm(self.hi * sa * sb, self.lo * sa * sb)
    }

    /// `k · ln 2` to about 2^-150 of its size.
    fn ln2_times(k: f64) -> Dd {
        let (p, e) = two_prod(LN2[0], k);
        let (q, f) = two_prod(LN2[1], k);
        let (s, t) = two_sum(e, q);
        Dd::norm(p, s + (t + f + LN2[2] * k))
    }

    /// `e^r − 1` for `|r| ≤ 0.35`: the Taylor series of `s = r / 2^10` to `s^9` (the rest is
    /// below 1e-33 of it), by Horner's rule, then ten doublings `m ← m (2 + m)`, which never
    /// subtract 1 and so keep the digits of a small result.
    fn expm1_reduced(r: Dd) -> Dd {
        let s = r.ldexp(-10);
        let inverse = inverse_factorials();
        let mut sum = inverse[9];
        for k in (1..9).rev() {
            sum = sum * s + inverse[k];
        }
        sum = sum * s;
        for _ in 0..10 {
            sum = sum * (Dd::new(2.0) + sum);
        }
        sum
    }

    /// `(k, r)` with `x = k ln 2 + r`, `|r| ≤ ln 2 / 2` (plus a rounding).
    fn reduce(self) -> (i32, Dd) {
        let k = (self.hi / LN2[0]).round();
        (k as i32, self - Dd::ln2_times(k))
    }

    fn exp_dd(self) -> Dd {
        match self.hi {
            h if h.is_nan() => self,
            h if h > 709.8 => Dd::special(f64::INFINITY),
            h if h < -746.0 => Dd::new(0.0),
            0.0 => Dd::new(1.0),
            _ => {
                let (k, r) = self.reduce();
                (Dd::new(1.0) + Dd::expm1_reduced(r)).ldexp(k)
            }
        }
    }

    /// `e^x` to about 2^-89 of its value, several times faster than [`Dd::exp_dd`], for the
    /// reference's float64 elements that are recomputed wider (`src/reference/wider.rs`, which
    /// needs some 2^-70): `x = k·ln 2/1024 + t` with `|t| ≤ ln 2/2048`, `e^x = 2^(k/1024)·e^t`,
    /// the powers of two from a table, `e^t - 1` as `t + t²/2` in double-double plus the rest of
    /// its series (below 7e-12) in float64. Near the ends of the range, and for NaN or an
    /// infinity, it is [`Dd::exp_dd`].
    pub(crate) fn exp_fast(self) -> Dd {
        if self.hi.is_nan() || self.hi.abs() >= 700.0 {
            return self.exp_dd();
        }
        let k = (self.hi * (1024.0 / LN2[0])).round();
        let t = self - Dd::ln2_times(k).ldexp(-10);
        let th = t.hi;
        let rest = th * th * th * (1.0 / 6.0 + th * (1.0 / 24.0 + th * (1.0 / 120.0 + th / 720.0)));
        let em1 = t + (t * t).mul_f64(0.5) + Dd::new(rest);
        let k = k as i64;
        let f = two_to_the_fractions()[k.rem_euclid(1024) as usize];
        (f + f * em1).ldexp(k.div_euclid(1024) as i32)
    }

    fn expm1_dd(self) -> Dd {
        if self.hi.is_nan() || self.hi == 0.0 || self.hi > 709.8 {
            return if self.hi > 709.8 {
                Dd::special(f64::INFINITY)
            } else {
                self
            };
        }
        if self.hi < -40.0 {
            return self.exp_dd() - Dd::new(1.0);
        }
        // Below 2^-600, `x²/2` is under 2^-600 of `x`, far past double-double's precision, and
        // the reduction's `r / 2^10` would round away the low bits of a subnormal `x`.
        if self.hi.abs() < 2f64.powi(-600) {
            return self;
        }
        let (k, r) = self.reduce();
        let m = Dd::expm1_reduced(r);
        match k {
            0 => m,
            _ => (Dd::new(1.0) + m).ldexp(k) - Dd::new(1.0),
        }
    }

    fn ln_dd(self) -> Dd {
        match self.hi {
            h if h.is_nan() || h < 0.0 => Dd::special(f64::NAN),
            0.0 => Dd::special(f64::NEG_INFINITY),
            f64::INFINITY => self,
            _ => {
                // self = m · 2^e with m in [1, 2), so exp(−y) below never overflows.
                let e = exponent(self.hi);
                let m = self.ldexp(-e);
                let y = Dd::new(m.hi.ln());
                let y = y + m * (-y).exp_dd() - Dd::new(1.0);
                y + Dd::ln2_times(<f64 as From<i32>>::from(e))
            }
        }
    }

    fn ln_1p_dd(self) -> Dd {
        if self.hi.is_nan() || self.hi.abs() >= 0.5 {
            return (Dd::new(1.0) + self).ln_dd();
        }
        if self.hi == 0.0 {
            return self;
        }
        // Newton's step on expm1(y) = self, from float64's log1p.
        let y = Dd::new(self.hi.ln_1p());
        let m = y.expm1_dd();
        y - (m - self) / (Dd::new(1.0) + m)
    }
}

impl Dd {
    /// A decimal (`-4.248354255291588977280721e-18`, `nan`, `inf`, `-0`) of up to 38
    /// significant digits, to double-double precision; `None` if it is not one.
    pub fn parse_decimal(text: &str) -> Option<Dd> {
        match text {
            "nan" => return Some(Dd::special(f64::NAN)),
            "inf" => return Some(Dd::special(f64::INFINITY)),
            "-inf" => return Some(Dd::special(f64::NEG_INFINITY)),
            _ => {}
        }
        let (negative, rest) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let (mantissa, exp) = match rest.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i32>().ok()?),
            None => (rest, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 38 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u128 = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        let hi = n as f64;
        let lo = (n as i128 - hi as i128) as f64;
        let magnitude = Dd::norm(hi, lo).scale10(exp - frac.len() as i32);
        Some(match negative {
            true => -magnitude,
            false => magnitude,
        })
    }

    /// `self · 10^e`, in steps that stay inside the exponent range.
    fn scale10(self, e: i32) -> Dd {
        let (mut x, mut e) = (self, e);
        while e != 0 {
            let step = e.clamp(-280, 280);
            let p = Dd::new(10.0).powi(step.abs());
            x = if step < 0 { x / p } else { x * p };
            e -= step;
        }
        x
    }
}

/// `1/k!` for `k = 0..=9`, each to double-double precision.
fn inverse_factorials() -> &'static [Dd; 10] {
    static TABLE: std::sync::OnceLock<[Dd; 10]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [Dd::new(1.0); 10];
        for k in 1..10 {
            t[k] = t[k - 1] / Dd::new(k as f64);
        }
        t
    })
}

/// `2^(j/1024)` for `j` in `0..1024`, made once by [`Dd::exp_dd`].
fn two_to_the_fractions() -> &'static [Dd; 1024] {
    static TABLE: std::sync::OnceLock<[Dd; 1024]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|j| Dd::ln2_times(j as f64).ldexp(-10).exp_dd()))
}

/// The binary exponent of a finite non-zero float64: `2^e ≤ |x| < 2^(e+1)`.
fn exponent(x: f64) -> i32 {
    let biased = ((x.to_bits() >> 52) & 0x7ff) as i32;
    match biased {
        0 => exponent(x * 2f64.powi(64)) - 64,
        b => b - 1023,
    }
}

impl PartialEq for Dd {
    fn eq(&self, other: &Dd) -> bool {
        self.hi == other.hi && self.lo == other.lo
    }
}

impl PartialOrd for Dd {
    fn partial_cmp(&self, other: &Dd) -> Option<Ordering> {
        match self.hi.partial_cmp(&other.hi)? {
            Ordering::Equal => self.lo.partial_cmp(&other.lo),
            o => Some(o),
        }
    }
}

impl Add for Dd {
    type Output = Dd;
    fn add(self, b: Dd) -> Dd {
        let (s, e) = two_sum(self.hi, b.hi);
        if !s.is_finite() {
            return Dd::special(s);
        }
        if s == 0.0 && e == 0.0 && self.lo == 0.0 && b.lo == 0.0 {
            return Dd::new(s);
        }
        let (t, f) = two_sum(self.lo, b.lo);
        let (s, e) = quick_two_sum(s, e + t);
        Dd::norm(s, e + f)
    }
}

impl Neg for Dd {
    type Output = Dd;
    fn neg(self) -> Dd {
        Dd {
            hi: -self.hi,
            lo: -self.lo,
        }
    }
}

impl Sub for Dd {
    type Output = Dd;
    fn sub(self, b: Dd) -> Dd {
        self + (-b)
    }
}

impl Mul for Dd {
    type Output = Dd;
    fn mul(self, b: Dd) -> Dd {
        let (p, e) = two_prod(self.hi, b.hi);
        if !p.is_finite() || p == 0.0 {
            return Dd::special(p);
        }
        Dd::norm(p, e + (self.hi * b.lo + self.lo * b.hi))
    }
}

impl Div for Dd {
    type Output = Dd;
    fn div(self, b: Dd) -> Dd {
        let q1 = self.hi / b.hi;
        if !q1.is_finite() || q1 == 0.0 {
            return Dd::special(q1);
        }
        let r = self - b.mul_f64(q1);
        let q2 = r.hi / b.hi;
        let r = r - b.mul_f64(q2);
        let q3 = r.hi / b.hi;
        let (h, l) = quick_two_sum(q1, q2);
        Dd::norm(h, l + q3)
    }
}

impl Rem for Dd {
    type Output = Dd;
    fn rem(self, b: Dd) -> Dd {
        self - (self / b).trunc() * b
    }
}

impl std::iter::Sum for Dd {
    fn sum<I: Iterator<Item = Dd>>(iter: I) -> Dd {
        iter.fold(Dd::new(0.0), Add::add)
    }
}

impl fmt::Display for Dd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} + {:e}", self.hi, self.lo)
    }
}

impl ndarray::ScalarOperand for Dd {}

impl Zero for Dd {
    fn zero() -> Dd {
        Dd::new(0.0)
    }
    fn is_zero(&self) -> bool {
        self.hi == 0.0
    }
}

impl One for Dd {
    fn one() -> Dd {
        Dd::new(1.0)
    }
}

impl Num for Dd {
    type FromStrRadixErr = num_traits::ParseFloatError;
    fn from_str_radix(s: &str, radix: u32) -> Result<Dd, Self::FromStrRadixErr> {
        f64::from_str_radix(s, radix).map(Dd::new)
    }
}

impl ToPrimitive for Dd {
    fn to_i64(&self) -> Option<i64> {
        let t = self.trunc();
        (t.hi.is_finite() && t.hi.abs() < 9.2e18).then(|| t.hi as i64 + t.lo as i64)
    }
    fn to_u64(&self) -> Option<u64> {
        self.to_i64().and_then(|v| u64::try_from(v).ok())
    }
    fn to_f64(&self) -> Option<f64> {
        Some(Dd::to_f64(*self))
    }
}

impl NumCast for Dd {
    fn from<T: ToPrimitive>(n: T) -> Option<Dd> {
        n.to_f64().map(Dd::new)
    }
}

/// A float64-accurate function of `hi`, for what the reference never calls.
macro_rules! on_hi {
    ($($name:ident),*) => {
        $(fn $name(self) -> Dd { Dd::new(self.hi.$name()) })*
    };
}

impl Float for Dd {
    fn nan() -> Dd {
        Dd::special(f64::NAN)
    }
    fn infinity() -> Dd {
        Dd::special(f64::INFINITY)
    }
    fn neg_infinity() -> Dd {
        Dd::special(f64::NEG_INFINITY)
    }
    fn neg_zero() -> Dd {
        Dd::new(-0.0)
    }
    fn min_value() -> Dd {
        Dd::new(f64::MIN)
    }
    fn min_positive_value() -> Dd {
        Dd::new(f64::MIN_POSITIVE)
    }
    fn max_value() -> Dd {
        Dd::new(f64::MAX)
    }
    fn epsilon() -> Dd {
        Dd::new(2f64.powi(-104))
    }
    fn is_nan(self) -> bool {
        self.hi.is_nan()
    }
    fn is_infinite(self) -> bool {
        self.hi.is_infinite()
    }
    fn is_finite(self) -> bool {
        self.hi.is_finite()
    }
    fn is_normal(self) -> bool {
        self.hi.is_normal()
    }
    fn classify(self) -> FpCategory {
        self.hi.classify()
    }
    fn floor(self) -> Dd {
        let f = self.hi.floor();
        match f == self.hi {
            true => Dd::norm(f, self.lo.floor()),
            false => Dd::new(f),
        }
    }
    fn ceil(self) -> Dd {
        -(-self).floor()
    }
    fn round(self) -> Dd {
        let f = (self + Dd::new(0.5)).floor();
        match self.hi < 0.0 && f - self == Dd::new(0.5) {
            true => f - Dd::new(1.0),
            false => f,
        }
    }
    fn trunc(self) -> Dd {
        match self.hi < 0.0 {
            true => self.ceil(),
            false => self.floor(),
        }
    }
    fn fract(self) -> Dd {
        self - self.trunc()
    }
    fn abs(self) -> Dd {
        match self.hi.is_sign_negative() {
            true => -self,
            false => self,
        }
    }
    fn signum(self) -> Dd {
        Dd::new(self.hi.signum())
    }
    fn is_sign_positive(self) -> bool {
        self.hi.is_sign_positive()
    }
    fn is_sign_negative(self) -> bool {
        self.hi.is_sign_negative()
    }
    fn mul_add(self, a: Dd, b: Dd) -> Dd {
        self * a + b
    }
    fn recip(self) -> Dd {
        Dd::new(1.0) / self
    }
    fn powi(self, n: i32) -> Dd {
        let mut result = Dd::new(1.0);
        for _ in 0..n.unsigned_abs() {
            result = result * self;
        }
        match n < 0 {
            true => result.recip(),
            false => result,
        }
    }
    fn powf(self, n: Dd) -> Dd {
        (n * self.ln()).exp()
    }
    fn sqrt(self) -> Dd {
        if self.hi <= 0.0 || !self.hi.is_finite() {
            return Dd::special(self.hi.sqrt());
        }
        let y = Dd::new(self.hi.sqrt());
        y + (self - y * y) / (y + y)
    }
    fn exp(self) -> Dd {
        self.exp_dd()
    }
    fn exp2(self) -> Dd {
        (self * Dd::ln2_times(1.0)).exp_dd()
    }
    fn ln(self) -> Dd {
        self.ln_dd()
    }
    fn log(self, base: Dd) -> Dd {
        self.ln_dd() / base.ln_dd()
    }
    fn log2(self) -> Dd {
        self.ln_dd() / Dd::ln2_times(1.0)
    }
    fn log10(self) -> Dd {
        self.ln_dd() / Dd::new(10.0).ln_dd()
    }
    fn max(self, other: Dd) -> Dd {
        match (self.is_nan(), other.is_nan()) {
            (true, _) => other,
            (_, true) => self,
            _ if other > self => other,
            _ => self,
        }
    }
    fn min(self, other: Dd) -> Dd {
        match (self.is_nan(), other.is_nan()) {
            (true, _) => other,
            (_, true) => self,
            _ if other < self => other,
            _ => self,
        }
    }
    fn abs_sub(self, other: Dd) -> Dd {
        (self - other).max(Dd::new(0.0))
    }
    fn hypot(self, other: Dd) -> Dd {
        (self * self + other * other).sqrt()
    }
    fn atan2(self, other: Dd) -> Dd {
        Dd::new(self.hi.atan2(other.hi))
    }
    fn sin_cos(self) -> (Dd, Dd) {
        (Dd::new(self.hi.sin()), Dd::new(self.hi.cos()))
    }
    fn exp_m1(self) -> Dd {
        self.expm1_dd()
    }
    fn ln_1p(self) -> Dd {
        self.ln_1p_dd()
    }
    fn integer_decode(self) -> (u64, i16, i8) {
        self.hi.integer_decode()
    }
    on_hi!(
        cbrt, sin, cos, tan, asin, acos, atan, sinh, cosh, tanh, asinh, acosh, atanh
    );
}

/// A float64 constant to double-double: the float64 nearest and the rest, from `f64::consts`
/// and the stated error term (the reference uses none of these).
macro_rules! consts {
    ($($name:ident),*) => {
        $(fn $name() -> Dd { Dd::new(std::f64::consts::$name) })*
    };
}

impl FloatConst for Dd {
    fn LN_2() -> Dd {
        Dd::ln2_times(1.0)
    }
    consts!(
        E,
        FRAC_1_PI,
        FRAC_1_SQRT_2,
        FRAC_2_PI,
        FRAC_2_SQRT_PI,
        FRAC_PI_2,
        FRAC_PI_3,
        FRAC_PI_4,
        FRAC_PI_6,
        FRAC_PI_8,
        LN_10,
        LOG10_E,
        LOG2_E,
        PI,
        SQRT_2
    );
}

impl crate::reference::Real for Dd {
    const DTYPE_NAME: &'static str = "double-double";
    fn from_f64(x: f64) -> Dd {
        Dd::new(x)
    }
    fn to_f64(self) -> f64 {
        Dd::to_f64(self)
    }
    fn exp_of(out: &mut [Dd], arg: impl Fn(usize) -> Dd) {
        out.iter_mut()
            .enumerate()
            .for_each(|(i, o)| *o = arg(i).exp_dd())
    }
    fn log1p_exp(self) -> Dd {
        self.exp_dd().ln_1p_dd()
    }
    fn log1p_exp_of(out: &mut [Dd], arg: impl Fn(usize) -> Dd) {
        out.iter_mut()
            .enumerate()
            .for_each(|(i, o)| *o = arg(i).log1p_exp())
    }
    fn smoothing_weights(eps: f64, classes: usize) -> (Dd, Dd) {
        let eps = Dd::new(eps);
        (Dd::new(1.0) - eps, eps / Dd::new(classes as f64))
    }
    /// Already the widest: the rearranged formulas are evaluated in double-double.
    type Wide = Dd;
    fn to_wide(self) -> Dd {
        self
    }
    fn from_wide(w: Dd) -> Dd {
        w
    }
    fn exp_wide_of(out: &mut [Dd], x: &[Dd]) {
        out.iter_mut().zip(x).for_each(|(o, &x)| *o = x.exp_dd());
    }
    fn exp_refine(self) -> Dd {
        self.exp_fast()
    }
    type Wider = Dd;
    fn to_wider(self) -> Dd {
        self
    }
    fn from_wider(w: Dd) -> Dd {
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `|a − b| / |b|` with `b` given as two float64s.
    fn rel(a: Dd, hi: f64, lo: f64) -> f64 {
        let b = Dd { hi, lo };
        ((a - b).to_f64() / hi).abs()
    }

    #[test]
    fn the_fast_exp_keeps_88_bits() {
        // Up to ±586: further down the low part of the result is subnormal and keeps fewer bits,
        // in either function.
        for i in -5000..5000 {
            let x = Dd::new(i as f64 * 0.1171875 + 1e-3) + Dd::new(1e-20);
            let (fast, full) = (x.exp_fast(), x.exp_dd());
            let rel = ((fast - full).to_f64() / full.hi).abs();
            assert!(rel < 2f64.powi(-88), "{x}: {rel:e}");
        }
        assert_eq!(Dd::new(0.0).exp_fast().to_f64(), 1.0);
        assert!(Dd::new(f64::NAN).exp_fast().hi.is_nan());
        assert_eq!(Dd::new(-800.0).exp_fast().to_f64(), 0.0);
    }

    /// `log1p(e^-723)`, a float64 subnormal, is `e^-723` to the subnormal spacing: it was 248
    /// spacings off while `expm1` reduced a subnormal argument by `2^10` (`check --random`,
    /// seed 11, call 392).
    #[test]
    fn expm1_and_log1p_of_a_subnormal_keep_its_bits() {
        let x = Dd::new(-723.0).exp_dd();
        assert_eq!(x.to_f64(), (-723.0f64).exp());
        for v in [
            x,
            Dd::new(f64::from_bits(1)),
            Dd::new(-3e-310),
            Dd::new(2f64.powi(-700)),
        ] {
            assert_eq!(v.expm1_dd().to_f64(), v.to_f64(), "{v}");
            assert_eq!(v.ln_1p_dd().to_f64(), v.to_f64(), "{v}");
        }
    }

    #[test]
    fn arithmetic_keeps_106_bits() {
        let third = Dd::new(1.0) / Dd::new(3.0);
        let back = third * Dd::new(3.0) - Dd::new(1.0);
        assert!(back.to_f64().abs() < 1e-31, "{back}");
        let tiny = Dd::new(1.0) + Dd::new(1e-20) - Dd::new(1.0);
        assert!((tiny.to_f64() - 1e-20).abs() < 1e-36);
        assert!(Dd::new(-0.0).to_f64().is_sign_negative());
        assert!((Dd::new(f64::INFINITY) - Dd::new(f64::INFINITY)).is_nan());
    }

    #[test]
    fn transcendentals_match_high_precision_values() {
        // e, e^-1, ln 10, expm1(1e-10), ln1p(-0.25): mpmath at 50 digits, split in two.
        let e = Dd::new(1.0).exp();
        assert!(rel(e, std::f64::consts::E, 1.4456468917292502e-16) < 1e-30);
        let inv_e = Dd::new(-1.0).exp();
        assert!(rel(inv_e, 0.36787944117144233, -1.2428753672788363e-17) < 1e-30);
        let ln10 = Dd::new(10.0).ln();
        assert!(rel(ln10, std::f64::consts::LN_10, -2.1707562233822494e-16) < 1e-30);
        let m = Dd::new(1e-10).exp_m1();
        assert!(rel(m, 1.00000000005e-10, 3.3900133221217734e-27) < 1e-30);
        let l = Dd::new(-0.25).ln_1p();
        assert!(rel(l, -0.2876820724517809, -2.607160616442564e-17) < 1e-30);
        assert!(
            (Dd::new(-0.25).ln_1p().exp() - Dd::new(0.75))
                .to_f64()
                .abs()
                < 1e-31
        );
        let x = Dd::new(-600.0);
        assert!(((x.exp().ln() - x).to_f64() / 600.0).abs() < 1e-30);
        assert_eq!(Dd::new(0.0).ln().to_f64(), f64::NEG_INFINITY);
        assert!(Dd::new(-1.0).ln().is_nan());
        assert_eq!(Dd::new(800.0).exp().to_f64(), f64::INFINITY);
        let sub = Dd::new(5e-324).ln();
        assert!((sub.to_f64() + 744.4400719213812).abs() < 1e-12);
    }

    #[test]
    fn decimals_are_read_to_double_double_precision() {
        let d = Dd::parse_decimal("0.0900305731703804579980221").unwrap();
        assert!(
            rel(d, 0.09003057317038046, -4.368657707928449e-18) < 1e-25,
            "{d}"
        );
        let e = Dd::parse_decimal("-4.248354255291588977280721e-18").unwrap();
        assert!(
            rel(e, -4.248354255291589e-18, -1.0632619424359909e-34) < 1e-25,
            "{e}"
        );
        assert_eq!(
            Dd::parse_decimal("5.075958897549456765291809e-435")
                .unwrap()
                .to_f64(),
            0.0
        );
        assert!(Dd::parse_decimal("-0").unwrap().to_f64().is_sign_negative());
        assert_eq!(Dd::parse_decimal("100").unwrap().to_f64(), 100.0);
        assert!(Dd::parse_decimal("nan").unwrap().is_nan());
        assert!(Dd::parse_decimal("1x").is_none());
    }

    #[test]
    fn inverse_pairs_agree_to_double_double_precision() {
        for x in [-30.0, -3.3, -0.7, -1e-5, 1e-12, 0.3, 1.0, 2.5, 17.0, 88.7] {
            let d = Dd::new(x);
            let e = d.exp();
            let back = (e.ln() - d).to_f64();
            assert!(back.abs() <= 1e-30 * x.abs().max(1.0), "{x}: {back:e}");
            let m = d.exp_m1();
            let back = (m.ln_1p() - d).to_f64();
            // ln1p near −1 is conditioned by 1/(1 + m) = e^−x.
            assert!(
                back.abs() <= 1e-30 * (x.abs() + (-x).exp()),
                "{x}: {back:e}, {m}"
            );
            assert!(
                ((m + Dd::new(1.0) - e).to_f64()).abs() <= 1e-30 * e.hi.max(1.0),
                "{x}"
            );
        }
    }
}
