//! The float types the reference is generic over.

use ndarray::ArrayD;

/// A PyTorch floating dtype the reference computes in: `f32` or `f64`.
///
/// A float32 result is computed in float64 ([`Real::Wide`]) and rounded once
/// ([`Real::ROUNDED_ONCE`]): every public function of the reference widens its float32
/// arguments (exactly), runs its float64 self and narrows the result, so a float32 value carries
/// float64's few roundings, 2^-29 of a float32 ulp each, and lands within about half an ulp of
/// exact. PyTorch's CPU kernels compute float32 in float32 instead, so a float32 result need not
/// be theirs bit for bit; where a formula cancels (a sum of a few terms, `1 − σ` at `σ` near 1,
/// a log-probability near 0) theirs is the less accurate (README, "Accuracy"). Float64 is
/// computed in float64, its cancelling steps rearranged (`cancel.rs`) or recomputed in
/// [`Real::Wider`] (`wider.rs`).
///
/// Note: `num_traits::ToPrimitive` (a supertrait of `Float`) also has a
/// `to_f64`; call this one as `Real::to_f64(x)`.
pub trait Real:
    num_traits::Float
    + num_traits::FloatConst
    + ndarray::ScalarOperand
    + std::fmt::Debug
    + std::fmt::Display
    + std::iter::Sum
    + Send
    + Sync
    + 'static
{
    /// Name of the dtype as PyTorch spells it: "float32" / "float64".
    const DTYPE_NAME: &'static str;
    /// Round-to-nearest conversion (how PyTorch turns a Python float scalar into this dtype).
    fn from_f64(x: f64) -> Self;
    /// Exact widening conversion.
    fn to_f64(self) -> f64;
    /// `out[i] = exp(arg(i))` for every `i`: the C library's `exp` in float64, called as each
    /// argument is made; in float32 the correctly rounded `exp` of `src/reference/exp.rs`, on the
    /// whole slice of arguments at once, in vector registers.
    fn exp_of(out: &mut [Self], arg: impl Fn(usize) -> Self);
    /// `log(1 + exp(x))` for `x ≤ 0` (softplus of a non-positive argument): the C library's
    /// `exp` then `log1p` in float64, the correctly rounded one in float32.
    fn log1p_exp(self) -> Self;
    /// `out[i] = log1p_exp(arg(i))` for every `i`, as [`Real::exp_of`] does it.
    fn log1p_exp_of(out: &mut [Self], arg: impl Fn(usize) -> Self);
    /// Label smoothing's `(1 − ε, ε / C)`: computed in float64 and rounded once, as PyTorch
    /// computes them; a wider type (the oracle's) makes them exactly.
    fn smoothing_weights(eps: f64, classes: usize) -> (Self, Self) {
        (
            Self::from_f64(1.0 - eps),
            Self::from_f64(eps / classes as f64),
        )
    }
    /// The type a formula that must not cancel is evaluated in before it is rounded once to
    /// `Self` (`src/reference/cancel.rs`): f64 for f32 and f64, and a wider type (the oracle's)
    /// itself, so that the oracle keeps its own precision there too.
    type Wide: Real;
    /// Exact widening to [`Real::Wide`].
    fn to_wide(self) -> Self::Wide;
    /// Round-to-nearest from [`Real::Wide`].
    fn from_wide(w: Self::Wide) -> Self;
    /// `out[i] = exp(x[i])` in [`Real::Wide`]: the C library's `exp` in float64; in float32
    /// the float64 value behind [`Real::exp_of`] (a few float64 ulps from exact), as a vector
    /// loop.
    fn exp_wide_of(out: &mut [Self::Wide], x: &[Self]);
    /// The type the few elements that still cancel in [`Real::Wide`] are recomputed in
    /// (`src/reference/wider.rs`), where [`Real::REFINES`]: double-double for f64.
    type Wider: Real;
    /// Whether a result of this dtype is computed in [`Real::Wide`] and rounded once: for f32,
    /// whose float64 evaluation costs little and removes every cancellation a float32 formula
    /// has. The other dtypes are their own [`Real::Wide`].
    const ROUNDED_ONCE: bool = false;
    /// Whether any element is recomputed in [`Real::Wider`]: for f64 only (a float32 run is
    /// the float64 one rounded, [`Real::ROUNDED_ONCE`], refinements included); the oracle's
    /// type is the double-double itself.
    const REFINES: bool = false;
    /// Exact widening to [`Real::Wider`].
    fn to_wider(self) -> Self::Wider;
    /// Round-to-nearest from [`Real::Wider`].
    fn from_wider(w: Self::Wider) -> Self;
    /// `exp` as `src/reference/wider.rs` makes it in this type: the type's own, but for the
    /// double-double a faster one good to about 2^-89, ample for a float64 result (the oracle's
    /// own values keep the full one).
    fn exp_refine(self) -> Self {
        self.exp()
    }
}

impl Real for f32 {
    const DTYPE_NAME: &'static str = "float32";
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn exp_of(out: &mut [Self], arg: impl Fn(usize) -> Self) {
        out.iter_mut().enumerate().for_each(|(i, o)| *o = arg(i));
        super::exp::exp_f32_in_place(out)
    }
    fn log1p_exp(self) -> Self {
        super::exp::log1p_exp_f32(self)
    }
    fn log1p_exp_of(out: &mut [Self], arg: impl Fn(usize) -> Self) {
        out.iter_mut().enumerate().for_each(|(i, o)| *o = arg(i));
        super::exp::log1p_exp_f32_in_place(out)
    }
    type Wide = f64;
    const ROUNDED_ONCE: bool = true;
    #[inline(always)]
    fn to_wide(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn from_wide(w: f64) -> f32 {
        w as f32
    }
    #[inline(always)]
    fn exp_wide_of(out: &mut [f64], x: &[Self]) {
        out.iter_mut()
            .zip(x)
            .for_each(|(o, &x)| *o = super::exp::exp_wide(x));
        // `exp_wide` clamps its argument to ±150 (enough for a float32 result); past that,
        // which an f64 formula may still scale back into range, the C library's.
        let beyond = out.iter_mut().zip(x).filter(|(_, x)| x.abs() > 150.0);
        beyond.for_each(|(o, &x)| *o = f64::from(x).exp());
    }
    type Wider = f64;
    fn to_wider(self) -> f64 {
        f64::from(self)
    }
    fn from_wider(w: f64) -> f32 {
        w as f32
    }
}

impl Real for f64 {
    const DTYPE_NAME: &'static str = "float64";
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn exp_of(out: &mut [Self], arg: impl Fn(usize) -> Self) {
        out.iter_mut()
            .enumerate()
            .for_each(|(i, o)| *o = arg(i).exp())
    }
    fn log1p_exp(self) -> Self {
        self.exp().ln_1p()
    }
    fn log1p_exp_of(out: &mut [Self], arg: impl Fn(usize) -> Self) {
        out.iter_mut()
            .enumerate()
            .for_each(|(i, o)| *o = arg(i).log1p_exp())
    }
    type Wide = f64;
    #[inline(always)]
    fn to_wide(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_wide(w: f64) -> f64 {
        w
    }
    #[inline(always)]
    fn exp_wide_of(out: &mut [f64], x: &[Self]) {
        out.iter_mut().zip(x).for_each(|(o, &x)| *o = x.exp());
    }
    type Wider = crate::oracle::dd::Dd;
    const REFINES: bool = true;
    fn to_wider(self) -> Self::Wider {
        crate::oracle::dd::Dd::new(self)
    }
    fn from_wider(w: Self::Wider) -> f64 {
        w.to_f64()
    }
}

/// `x` widened exactly to [`Real::Wide`], for a [`Real::ROUNDED_ONCE`] evaluation.
pub(crate) fn widen<T: Real>(x: &ArrayD<T>) -> ArrayD<T::Wide> {
    x.mapv(T::to_wide)
}

/// An array of [`Real::Wide`] results rounded once to `T`.
pub(crate) fn narrow<T: Real>(x: ArrayD<T::Wide>) -> ArrayD<T> {
    x.mapv(T::from_wide)
}

/// `T` from a count (exact for any realistic tensor size in f64; rounded in f32).
pub(crate) fn from_count<T: Real>(n: usize) -> T {
    T::from_f64(n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(<f32 as Real>::from_f64(0.1), 0.1f32);
        assert_eq!(Real::to_f64(0.5f32), 0.5);
        assert_eq!(f32::DTYPE_NAME, "float32");
        assert_eq!(f64::DTYPE_NAME, "float64");
        assert_eq!(from_count::<f64>(3), 3.0);
    }
}
