//! A re-implementation of PyTorch's CPU random number generator.
//!
//! Several source documents build their examples from `torch.manual_seed(s)` followed by
//! `torch.rand`, `torch.randn` or `random_`, and print the resulting tensors only rounded (or not
//! at all: one of them survives only as a lost image). To check those examples the suite must
//! draw the very same numbers PyTorch drew, so this module reproduces the CPU generator of
//! PyTorch 2.x bit for bit, using nothing but `std`. (For `float32` `randn` of 16 or more
//! elements PyTorch has two kernels that round differently; see [`NormalKernel`].)
//!
//! What PyTorch does, as verified against PyTorch 2.15.0 (see `scripts/observe_torch_rng.py` and
//! `tests/suite/torch_rng.rs`):
//!
//! * The engine is the standard 32-bit Mersenne Twister MT19937 (the sequence of C++
//!   `std::mt19937`), seeded with the low 32 bits of the `u64` given to `torch.manual_seed`.
//! * A 64-bit draw is two 32-bit draws, the first one in the high half.
//! * `torch.rand` fills row-major, one draw per element, keeping as many random bits as the
//!   dtype has significand bits (24 or 53) and scaling them into `[0, 1)`.
//! * `torch.randn` has two paths: fewer than 16 elements use a scalar Box–Muller transform in
//!   `f64` that caches its second value in the generator; 16 or more fill the tensor with
//!   uniforms and transform them in blocks of 16, in the tensor's own dtype (for `float32`,
//!   with the vectorised or the portable kernel depending on the CPU). `float16` and
//!   `bfloat16` draw and transform in `float32` and round once
//!   ([`TorchGenerator::randn_half_with`]).
//! * `random_(n)` and `randint(0, n)` reduce one draw per element modulo `n`: a 32-bit draw
//!   when `n < 2^28`, a 64-bit draw otherwise.
//!
//! The generator state, including the cached normal value, carries over from one call to the
//! next exactly as it does in a Python session, so a sequence of calls on one
//! [`TorchGenerator`] reproduces a notebook that seeds once and then draws several tensors.
//!
//! `002_f6634e5dba301c05.txt`'s input, which the document shows only as a lost image, and the
//! first normals after `torch.manual_seed(0)`, as PyTorch prints them:
//!
//! ```
//! use cross_entropy_spec::torch_rng::TorchGenerator;
//!
//! let four = |v: &[f32]| v.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>().join(", ");
//!
//! // torch.manual_seed(100); torch.rand(4, 5)[0]
//! let predict = TorchGenerator::manual_seed(100).rand_f32(20).unwrap();
//! assert_eq!(four(&predict[..5]), "0.1117, 0.8158, 0.2626, 0.4839, 0.6765");
//!
//! // torch.manual_seed(0); torch.randn(3)
//! let normals = TorchGenerator::manual_seed(0).randn_f32(3).unwrap();
//! assert_eq!(four(&normals), "1.5410, -0.2934, -2.1788");
//! ```

use thiserror::Error;

mod draw;

pub use draw::Draw;

/// Number of 32-bit words in the MT19937 state.
const MT_N: usize = 624;
/// Offset of the word mixed into each twisted word.
const MT_M: usize = 397;
/// The twist matrix's last row (the "A" coefficient of the recurrence).
const MT_MATRIX_A: u32 = 0x9908_b0df;
/// Mask of the top bit of a word, the part taken from `state[i]` in the twist.
const MT_UPPER_MASK: u32 = 0x8000_0000;
/// Mask of the low 31 bits, the part taken from `state[i + 1]` in the twist.
const MT_LOWER_MASK: u32 = 0x7fff_ffff;
/// Multiplier of the seeding recurrence (Knuth's, as in the 2002 reference code).
const MT_INIT_MULTIPLIER: u32 = 1_812_433_253;

/// Significand bits of `f32` (including the implicit bit): the bits `rand` keeps per `f32`.
const F32_DIGITS: u32 = f32::MANTISSA_DIGITS;
/// Significand bits of `f64`: the bits `rand` keeps per `f64`.
const F64_DIGITS: u32 = f64::MANTISSA_DIGITS;

/// `randn` uses the vectorisable block path from this many elements on.
const NORMAL_BLOCK: usize = 16;
/// Half a block: element `j` of a block is paired with element `j + NORMAL_HALF`.
const NORMAL_HALF: usize = NORMAL_BLOCK / 2;

/// From this range on, `random_` reduces a 64-bit draw instead of a 32-bit one. PyTorch's public
/// builds switch at `2^28` (for every dtype) to keep the modulo bias of `r % n` small.
const RANDOM_64_BIT_THRESHOLD: u64 = 1 << 28;

/// Why [`TorchGenerator::random_below`] refused a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TorchRngError {
    /// `random_(0)` / `randint(0, 0)`: PyTorch raises because the range `[0, 0)` is empty.
    #[error("random_below: the range [0, 0) is empty; PyTorch requires high >= 1")]
    EmptyRange,
    /// The exclusive bound does not fit an `int64`, which is how PyTorch receives it.
    #[error("random_below: high = {high} does not fit in int64, the type PyTorch takes it as")]
    HighTooLarge {
        /// The rejected exclusive upper bound.
        high: u64,
    },
    /// More elements than the suite's limit on any tensor (`spec_model::shape::MAX_ELEMENTS`).
    #[error("{numel} elements is more than the {max} a draw may make")]
    TooMany { numel: usize, max: usize },
}

/// Refuses a draw of more elements than any tensor of the suite may hold.
fn bounded(numel: usize) -> Result<usize, TorchRngError> {
    let max = crate::tensor::MAX_ELEMENTS;
    if numel > max {
        Err(TorchRngError::TooMany { numel, max })
    } else {
        Ok(numel)
    }
}

/// The 32-bit Mersenne Twister, MT19937 (Matsumoto & Nishimura, 1998).
///
/// Kept private: the suite only needs it through [`TorchGenerator`], whose raw draws
/// ([`TorchGenerator::random_u32`]) expose the same sequence.
#[derive(Clone)]
struct Mt19937 {
    state: [u32; MT_N],
    /// Index of the next state word to temper; `MT_N` means "twist before the next draw".
    next: usize,
}

impl Mt19937 {
    /// Seeds the state the way `std::mt19937(seed)` does: the first word is the seed and each
    /// following word is `1812433253 * (prev ^ (prev >> 30)) + i` modulo `2^32`.
    fn new(seed: u32) -> Self {
        let mut state = [0u32; MT_N];
        state[0] = seed;
        for i in 1..MT_N {
            let prev = state[i - 1];
            // `i < 624`, so the cast to u32 is lossless.
            state[i] = MT_INIT_MULTIPLIER
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Self { state, next: MT_N }
    }

    /// Regenerates all 624 words at once (the "twist"): each new word combines the top bit of
    /// word `i` with the low 31 bits of word `i + 1`, shifts that right by one, conditionally
    /// xors the twist matrix in (when the shifted-out bit was set), and xors word `i + 397`.
    fn twist(&mut self) {
        for i in 0..MT_N {
            let y = (self.state[i] & MT_UPPER_MASK) | (self.state[(i + 1) % MT_N] & MT_LOWER_MASK);
            let mag = if y & 1 == 1 { MT_MATRIX_A } else { 0 };
            self.state[i] = self.state[(i + MT_M) % MT_N] ^ (y >> 1) ^ mag;
        }
        self.next = 0;
    }

    /// Returns the next 32-bit output: a state word passed through the tempering transform,
    /// which improves the equidistribution of the output bits.
    fn next_u32(&mut self) -> u32 {
        if self.next >= MT_N {
            self.twist();
        }
        let mut y = self.state[self.next];
        self.next += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }
}

/// PyTorch's default CPU generator: an MT19937 engine plus the cached second value of the
/// scalar Box–Muller transform.
///
/// Create one with [`TorchGenerator::manual_seed`], then call the drawing methods in the order
/// the Python code calls the corresponding functions; each method consumes exactly the engine
/// outputs PyTorch consumes, so later calls see the same state as in PyTorch.
#[derive(Clone)]
pub struct TorchGenerator {
    engine: Mt19937,
    /// The `r sin(theta)` half of the last scalar Box–Muller pair, not yet handed out.
    /// PyTorch keeps it in the generator (`next_double_normal_sample`), so it survives from one
    /// `randn` call to the next; `manual_seed` starts without one.
    next_normal: Option<f64>,
}

impl std::fmt::Debug for TorchGenerator {
    /// The 624-word state is noise in a debug print; show where the generator stands instead.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorchGenerator")
            .field("state_index", &self.engine.next)
            .field("next_normal", &self.next_normal)
            .finish_non_exhaustive()
    }
}

impl TorchGenerator {
    /// The generator after `torch.manual_seed(seed)`. Only the low 32 bits reach the engine
    /// (PyTorch truncates the seed the same way), and the normal cache is empty.
    pub fn manual_seed(seed: u64) -> Self {
        // Truncation to the low 32 bits is PyTorch's behaviour, not an accident.
        let low = (seed & u64::from(u32::MAX)) as u32;
        Self {
            engine: Mt19937::new(low),
            next_normal: None,
        }
    }

    /// One raw 32-bit output of the engine (PyTorch's `random()`).
    pub fn random_u32(&mut self) -> u32 {
        self.engine.next_u32()
    }

    /// One raw 64-bit value (PyTorch's `random64()`): two 32-bit outputs, the first drawn in the
    /// high half.
    pub fn random_u64(&mut self) -> u64 {
        let high = u64::from(self.random_u32());
        let low = u64::from(self.random_u32());
        (high << 32) | low
    }

    /// One `f32` uniform in `[0, 1)`: the low 24 bits of a 32-bit draw times `2^-24`. Every such
    /// value is exactly representable, so there is no rounding to reproduce.
    fn uniform_f32(&mut self) -> f32 {
        let bits = self.random_u32() & ((1u32 << F32_DIGITS) - 1);
        // `bits < 2^24` converts exactly, and scaling by a power of two is exact.
        bits as f32 * (-(F32_DIGITS as f32)).exp2()
    }

    /// One `f64` uniform in `[0, 1)`: the low 53 bits of a 64-bit draw times `2^-53`, exact for
    /// the same reason as [`Self::uniform_f32`].
    fn uniform_f64(&mut self) -> f64 {
        let bits = self.random_u64() & ((1u64 << F64_DIGITS) - 1);
        bits as f64 * (-f64::from(F64_DIGITS)).exp2()
    }

    /// `torch.rand(numel)` in `float32`: one 32-bit draw per element, in row-major order.
    pub fn rand_f32(&mut self, numel: usize) -> Result<Vec<f32>, TorchRngError> {
        Ok((0..bounded(numel)?).map(|_| self.uniform_f32()).collect())
    }

    /// `torch.rand(numel, dtype=torch.float64)`: one 64-bit draw (two engine outputs) per
    /// element, in row-major order.
    pub fn rand_f64(&mut self, numel: usize) -> Result<Vec<f64>, TorchRngError> {
        Ok((0..bounded(numel)?).map(|_| self.uniform_f64()).collect())
    }

    /// One standard normal value from the scalar path of `randn` (tensors of fewer than 16
    /// elements, in any floating dtype). This is the Box–Muller transform in `f64`:
    ///
    /// * from two fresh uniforms `u1`, `u2` (in that order), `r = sqrt(-2 ln(1 - u2))` and
    ///   `theta = 2 pi u1`; `1 - u2` lies in `(0, 1]`, so the logarithm is finite, and PyTorch
    ///   computes `ln(1 - u2)` as `log1p(-u2)`, which we copy because the roundings differ;
    /// * it returns `r cos(theta)` and keeps `r sin(theta)` for the next call, so a pair of
    ///   normals costs two uniforms (four engine outputs).
    fn normal_f64(&mut self) -> f64 {
        let standard = match self.next_normal.take() {
            Some(cached) => cached,
            None => {
                let u1 = self.uniform_f64();
                let u2 = self.uniform_f64();
                let radius = (-2.0 * (-u2).ln_1p()).sqrt();
                let theta = 2.0 * std::f64::consts::PI * u1;
                self.next_normal = Some(radius * theta.sin());
                radius * theta.cos()
            }
        };
        // PyTorch applies `x * std + mean` with std = 1 and mean = 0; the addition turns a
        // -0.0 into +0.0, so keep it.
        standard * 1.0 + 0.0
    }

    /// `torch.randn(numel)` in `float32`, as PyTorch computes it on x86-64 CPUs with AVX2 or
    /// AVX-512 (every x86-64 CPU of the last decade). Same as
    /// `randn_f32_with(numel, NormalKernel::Vectorized)`.
    pub fn randn_f32(&mut self, numel: usize) -> Result<Vec<f32>, TorchRngError> {
        self.randn_f32_with(numel, NormalKernel::Vectorized)
    }

    /// `torch.randn(numel)` in `float32`, with the block transform of the given kernel.
    ///
    /// Below 16 elements each value is the scalar `f64` Box–Muller value (see
    /// `normal_f64`) rounded to `f32`, whatever the kernel. From 16 elements on, PyTorch
    /// fills the whole tensor with `f32` uniforms first and then transforms it in place, block
    /// by block (see [`NormalKernel`]); when the length is not a multiple of 16, the last 16
    /// elements (which overlap the previous block) are overwritten with fresh uniforms and
    /// transformed once more. That path never touches the normal cache.
    pub fn randn_f32_with(
        &mut self,
        numel: usize,
        kernel: NormalKernel,
    ) -> Result<Vec<f32>, TorchRngError> {
        if bounded(numel)? < NORMAL_BLOCK {
            // Rounding the f64 normal to f32 is exactly PyTorch's `static_cast<float>`.
            return Ok((0..numel).map(|_| self.normal_f64() as f32).collect());
        }
        let transform = match kernel {
            NormalKernel::Vectorized => normal_block_f32_vectorized,
            NormalKernel::Portable => normal_block_f32_portable,
        };
        let mut data = self.rand_f32(numel)?;
        for block in data.chunks_exact_mut(NORMAL_BLOCK) {
            transform(block);
        }
        if numel % NORMAL_BLOCK != 0 {
            let tail = &mut data[numel - NORMAL_BLOCK..];
            for value in tail.iter_mut() {
                *value = self.uniform_f32();
            }
            transform(tail);
        }
        Ok(data)
    }

    /// `torch.randn(numel, dtype=torch.float64)`: the same two paths as [`Self::randn_f32`],
    /// with `f64` uniforms and `f64` arithmetic in the block path. PyTorch evaluates that path
    /// with the scalar C library functions, so the result is reproduced bit for bit.
    pub fn randn_f64(&mut self, numel: usize) -> Result<Vec<f64>, TorchRngError> {
        if bounded(numel)? < NORMAL_BLOCK {
            return Ok((0..numel).map(|_| self.normal_f64()).collect());
        }
        let mut data = self.rand_f64(numel)?;
        for block in data.chunks_exact_mut(NORMAL_BLOCK) {
            normal_block_f64(block);
        }
        if numel % NORMAL_BLOCK != 0 {
            let tail = &mut data[numel - NORMAL_BLOCK..];
            for value in tail.iter_mut() {
                *value = self.uniform_f64();
            }
            normal_block_f64(tail);
        }
        Ok(data)
    }

    /// `torch.rand(numel)` in `float16` or `bfloat16`, given `round`, the rounding of an `f32` to
    /// that dtype (to nearest, ties to even, widened back exactly): one [`Self::rand_f32`] draw
    /// per element, rounded, and a uniform that rounds up to 1 becomes 0, so the result stays in
    /// `[0, 1)` (PyTorch 2.15.0 on the CPU: 0 where the float32 draw was within half a spacing of
    /// 1, with probability `2⁻¹²` in float16 and `2⁻⁹` in bfloat16).
    pub fn rand_half_with(
        &mut self,
        numel: usize,
        round: impl Fn(f32) -> f32,
    ) -> Result<Vec<f32>, TorchRngError> {
        let values = self.rand_f32(numel)?.into_iter().map(round);
        Ok(values.map(|v| if v == 1.0 { 0.0 } else { v }).collect())
    }

    /// The `float32` values that `torch.randn(numel, dtype=torch.float16)` and
    /// `dtype=torch.bfloat16` round to their dtype (to nearest, ties to even), as PyTorch 2.15.0
    /// computes them on the CPU (`scripts/observe_torch_rng.py`, `tests/suite/torch_rng.rs`):
    ///
    /// * below 16 elements, the scalar `f64` Box–Muller value rounded to `f32` (PyTorch's
    ///   `c10::Half` and `c10::BFloat16` are built from a `float`), exactly as for `float32`;
    /// * from 16 elements on, the `float32` block path of `kernel` over the length rounded up to
    ///   a multiple of 16, every block transformed in `float32`; when the length is not a
    ///   multiple of 16, the last block (the last 16 values) lands on the last 16 elements,
    ///   overwriting the overlap. So `ceil(numel / 16) · 16` uniforms are drawn, not `numel + 16`
    ///   as for `float32`: the half dtype's tail reuses the `numel mod 16` uniforms already drawn
    ///   for it and draws only the rest.
    ///
    /// For `torch.rand` in a half dtype see [`Self::rand_half_with`].
    pub fn randn_half_with(
        &mut self,
        numel: usize,
        kernel: NormalKernel,
    ) -> Result<Vec<f32>, TorchRngError> {
        if bounded(numel)? < NORMAL_BLOCK {
            return Ok((0..numel).map(|_| self.normal_f64() as f32).collect());
        }
        let padded = numel.div_ceil(NORMAL_BLOCK) * NORMAL_BLOCK;
        let mut data = self.randn_f32_with(padded, kernel)?;
        if numel < padded {
            data.copy_within(padded - NORMAL_BLOCK.., numel - NORMAL_BLOCK);
            data.truncate(numel);
        }
        Ok(data)
    }

    /// `torch.empty(numel, dtype=torch.long).random_(high)`, `torch.randint(0, high, (numel,))`
    /// and, for floating tensors, `torch.empty(numel).random_(high)` (whose elements are these
    /// integers converted to the float dtype).
    ///
    /// Each element is one draw reduced modulo `high` (PyTorch accepts the small modulo bias):
    /// a 32-bit draw when `high < 2^28` and a 64-bit draw (two engine outputs) otherwise. Both
    /// branches were checked bit for bit against PyTorch 2.15.0 (`tests/suite/torch_rng.rs`) for
    /// `high` = 1, 2, 3, 5, 10, 1000, 2^28 - 1, 2^28, 2^32 - 1, 2^32, 2^40 + 3 and 2^63 - 1.
    ///
    /// Note that PyTorch refuses (or warns about) `random_(high)` on a float tensor whose dtype
    /// cannot represent every integer below `high` (`high > 2^24 + 1` for `float32`); that check
    /// belongs to the caller, who knows the dtype.
    ///
    /// # Errors
    ///
    /// [`TorchRngError::EmptyRange`] when `high == 0`, and [`TorchRngError::HighTooLarge`] when
    /// `high > i64::MAX`, which PyTorch cannot be given.
    pub fn random_below(&mut self, high: u64, numel: usize) -> Result<Vec<i64>, TorchRngError> {
        if high == 0 {
            return Err(TorchRngError::EmptyRange);
        }
        let Ok(high_i64) = i64::try_from(high) else {
            return Err(TorchRngError::HighTooLarge { high });
        };
        let numel = bounded(numel)?;
        debug_assert!(high_i64 > 0);
        let values = (0..numel)
            .map(|_| {
                let draw = if high >= RANDOM_64_BIT_THRESHOLD {
                    self.random_u64()
                } else {
                    u64::from(self.random_u32())
                };
                // The remainder is below `high <= i64::MAX`, so it fits in an i64.
                (draw % high) as i64
            })
            .collect();
        Ok(values)
    }
}

/// Which implementation of the `float32` block transform of `randn` (16 or more elements) to
/// reproduce. PyTorch picks one at run time from the CPU's capabilities; both pair element `j`
/// of a block of 16 uniforms `x` with element `j + 8` and compute
///
/// `u1 = 1 - x[j]` (moved into `(0, 1]` so the logarithm is finite), `u2 = x[j + 8]`,
/// `r = sqrt(-2 ln u1)`, `theta = 2 pi u2`, then `x[j] = r cos theta`, `x[j + 8] = r sin theta`,
///
/// pairing elements 8 apart so that 8 pairs fill one 256-bit vector. They differ in how they
/// round: near a zero of `cos` or `sin` the two can disagree by thousands of ulps (a few `1e-7`
/// in absolute terms), so the right kernel must be chosen to reproduce PyTorch bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NormalKernel {
    /// The AVX2 kernel, also used by PyTorch's AVX-512 build: `theta` is computed as an `f32`
    /// product with `2 pi` rounded to `f32`, and `ln`, `sin`, `cos` are Cephes-style
    /// single-precision polynomial approximations evaluated with fused multiply-adds.
    /// Bit-identical to PyTorch 2.15.0 under `ATEN_CPU_CAPABILITY=avx2` and `avx512`.
    #[default]
    Vectorized,
    /// The portable C++ kernel (`ATEN_CPU_CAPABILITY=default`, and CPUs without AVX2): `theta`
    /// is computed in `f64` and rounded to `f32`, and `ln`, `sin`, `cos` are the C library's
    /// `logf`, `sinf`, `cosf`. Bit-identical to PyTorch 2.15.0 on glibc 2.36.
    Portable,
}

/// The portable kernel's block transform (see [`NormalKernel::Portable`]).
fn normal_block_f32_portable(block: &mut [f32]) {
    debug_assert_eq!(block.len(), NORMAL_BLOCK);
    let (first, second) = block.split_at_mut(NORMAL_HALF);
    for (a, b) in first.iter_mut().zip(second.iter_mut()) {
        let u1 = 1.0f32 - *a;
        let u2 = *b;
        let radius = (-2.0f32 * u1.ln()).sqrt();
        // The constant `2 pi` is a double there, so the product is formed in f64 and rounded
        // to f32 when stored in the float `theta`.
        let theta = (2.0 * std::f64::consts::PI * f64::from(u2)) as f32;
        // `* std + mean` with std = 1, mean = 0, as in PyTorch (it maps -0.0 to +0.0).
        *a = radius * theta.cos() * 1.0 + 0.0;
        *b = radius * theta.sin() * 1.0 + 0.0;
    }
}

/// The vectorised kernel's block transform (see [`NormalKernel::Vectorized`]), one lane at a
/// time: each lane of the SIMD code is an independent scalar computation, so evaluating the
/// lanes in a loop gives the same bits.
fn normal_block_f32_vectorized(block: &mut [f32]) {
    debug_assert_eq!(block.len(), NORMAL_BLOCK);
    // `2 pi` rounded to f32 once, as a broadcast f32 constant.
    let two_pi = (2.0 * std::f64::consts::PI) as f32;
    let (first, second) = block.split_at_mut(NORMAL_HALF);
    for (a, b) in first.iter_mut().zip(second.iter_mut()) {
        let u1 = 1.0f32 - *a;
        let radius = (-2.0f32 * cephes::ln(u1)).sqrt();
        let theta = two_pi * *b;
        let (sin, cos) = cephes::sin_cos(theta);
        // The kernel ends with fma(n, std, mean) = n * 1 + 0: exact, but -0.0 becomes +0.0.
        *a = radius * cos + 0.0;
        *b = radius * sin + 0.0;
    }
}

/// Single-precision `ln` and `sincos` in the style of the Cephes library (S. L. Moshier), as
/// PyTorch's AVX2 kernel evaluates them. Written for bit-compatibility, not for accuracy: they
/// are within a few ulps of the true values on the ranges `randn` uses (`ln` on `(0, 1]`,
/// `sincos` on `[0, 2 pi)`).
///
/// Where the compiled kernel fuses a multiplication into the following addition (GCC contracts
/// `a * b + c` into an FMA when building it for AVX2), we use `mul_add` at the same place;
/// the choice of sites was determined by matching 1.6 million PyTorch outputs bit for bit.
/// At the remaining sites (`z * 0.5`, `e * ln2_high`, the `j * pi/4` pieces) the product is
/// exact, so fusing or not gives the same result.
mod cephes {
    /// `sqrt(1/2)`: mantissas below it are doubled so the polynomial argument stays in
    /// `[sqrt(1/2) - 1, sqrt(2) - 1)`, where the approximation is accurate.
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    /// Minimax coefficients of `ln(1 + x) ≈ x - x²/2 + x³ P(x)`, highest degree first.
    const LOG_P: [f32; 9] = [
        7.037_683_6e-2,
        -1.151_461e-1,
        1.167_699_84e-1,
        -1.242_014_1e-1,
        1.424_932_3e-1,
        -1.666_805_8e-1,
        2.000_071_4e-1,
        -2.499_999_4e-1,
        3.333_333e-1,
    ];
    /// `ln 2` split in two so that `e * LN2_HIGH` is exact for small exponents `e`.
    const LN2_HIGH: f32 = 0.693_359_4;
    const LN2_LOW: f32 = -2.121_944_4e-4;

    /// Natural logarithm of a positive, finite `x`.
    ///
    /// Writes `x = m * 2^e` with `m` in `[0.5, 1)`, folds `m < sqrt(1/2)` into `2m` (and
    /// `e - 1`), and evaluates `ln(1 + t) + e ln 2` for `t = m - 1`.
    pub(super) fn ln(x: f32) -> f32 {
        // Subnormals are flushed to the smallest normal, as the kernel does.
        let bits = x.max(f32::MIN_POSITIVE).to_bits();
        // Biased exponent minus 127, plus one because the mantissa is put in [0.5, 1).
        let mut e = ((bits >> 23) as i32 - 127) as f32 + 1.0;
        let mantissa = f32::from_bits((bits & !0x7f80_0000) | 0.5f32.to_bits());
        let fold = mantissa < SQRT_HALF;
        // `(m - 1) + m` (= 2m - 1) when folding, `(m - 1) + 0` otherwise, in that order.
        let t = (mantissa - 1.0) + if fold { mantissa } else { 0.0 };
        if fold {
            e -= 1.0;
        }
        let t2 = t * t;
        let mut p = LOG_P[0];
        for &c in &LOG_P[1..] {
            p = p.mul_add(t, c);
        }
        p *= t;
        let mut y = p.mul_add(t2, e * LN2_LOW);
        y = (-t2).mul_add(0.5, y);
        (t + y) + e * LN2_HIGH
    }

    /// `4 / pi`, to find the octant of the argument.
    const FOUR_OVER_PI: f32 = 1.273_239_5;
    /// `pi / 4` split in three so that `j * pi/4` can be subtracted with little rounding
    /// ("extended precision modular arithmetic").
    const PI_4_PARTS: [f32; 3] = [0.785_156_25, 2.418_756_5e-4, 3.774_895e-8];
    /// `sin x ≈ x + x³ S(x²)` on `[-pi/4, pi/4]`, highest degree first.
    const SIN_P: [f32; 3] = [-1.951_529_6e-4, 8.332_161e-3, -1.666_665_5e-1];
    /// `cos x ≈ 1 - x²/2 + x⁴ C(x²)` on `[-pi/4, pi/4]`, highest degree first.
    const COS_P: [f32; 3] = [2.443_315_7e-5, -1.388_731_6e-3, 4.166_664_6e-2];

    /// `(sin x, cos x)` for finite `x` of moderate size.
    ///
    /// Reduces `|x|` by the even multiple `j` of `pi/4` nearest above its octant, evaluates
    /// both polynomials on the remainder, and picks and signs them from `j`'s bits.
    pub(super) fn sin_cos(x: f32) -> (f32, f32) {
        const SIGN: u32 = 0x8000_0000;
        let sign_in = x.to_bits() & SIGN;
        let ax = x.abs();
        // Octant index rounded up to even (the Cephes `j = (j + 1) & ~1`); truncation toward
        // zero is the kernel's float-to-int conversion.
        let j = (((ax * FOUR_OVER_PI) as i32) + 1) & !1;
        let jf = j as f32;
        let mut r = ax;
        for part in PI_4_PARTS {
            r = jf.mul_add(-part, r);
        }
        // Bit 2 of j flips the sine, bit 2 of j - 2 (clear) flips the cosine; bit 1 of j says
        // whether the sine polynomial (clear) or the cosine polynomial (set) gives sin.
        let sin_sign = sign_in ^ (((j & 4) as u32) << 29);
        let cos_sign = ((!(j - 2) & 4) as u32) << 29;
        let sin_from_sin_poly = j & 2 == 0;

        let z = r * r;
        let mut c = COS_P[0].mul_add(z, COS_P[1]);
        c = c.mul_add(z, COS_P[2]);
        c *= z;
        c = c.mul_add(z, -(z * 0.5));
        c += 1.0;
        let mut s = SIN_P[0].mul_add(z, SIN_P[1]);
        s = s.mul_add(z, SIN_P[2]);
        s *= z;
        s = s.mul_add(r, r);

        // The kernel selects with bit masks and adds the masked-out lane as +0.0; keep those
        // additions, since they turn a -0.0 into +0.0.
        let (from_c, from_s) = if sin_from_sin_poly {
            (0.0, s)
        } else {
            (c, 0.0)
        };
        let sin = from_c + from_s;
        let cos = (c - from_c) + (s - from_s);
        (
            f32::from_bits(sin.to_bits() ^ sin_sign),
            f32::from_bits(cos.to_bits() ^ cos_sign),
        )
    }
}

/// The block transform of `randn` for `f64` tensors of 16 or more elements: the same pairing
/// and formulas as [`normal_block_f32_portable`], all in `f64` (the C library's `log`, `sin`,
/// `cos`, which is why the result is exact).
fn normal_block_f64(block: &mut [f64]) {
    debug_assert_eq!(block.len(), NORMAL_BLOCK);
    let (first, second) = block.split_at_mut(NORMAL_HALF);
    for (a, b) in first.iter_mut().zip(second.iter_mut()) {
        let u1 = 1.0 - *a;
        let u2 = *b;
        let radius = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        *a = radius * theta.cos() * 1.0 + 0.0;
        *b = radius * theta.sin() * 1.0 + 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draw_larger_than_any_tensor_is_an_error_not_a_panic() {
        let mut g = TorchGenerator::manual_seed(0);
        assert!(matches!(
            g.rand_f32(usize::MAX),
            Err(TorchRngError::TooMany { .. })
        ));
        assert!(g.randn_f64(usize::MAX).is_err());
        assert!(g.random_below(5, usize::MAX).is_err());
        assert_eq!(g.rand_f32(3).map(|v| v.len()), Ok(3));
    }

    /// The default seed of `std::mt19937` (and of the reference implementation).
    const MT_DEFAULT_SEED: u64 = 5489;

    #[test]
    fn mt19937_first_outputs_for_default_seed() {
        // The reference outputs of `genrand_int32()` after `init_genrand(5489)`.
        let mut g = TorchGenerator::manual_seed(MT_DEFAULT_SEED);
        let first: Vec<u32> = (0..5).map(|_| g.random_u32()).collect();
        assert_eq!(
            first,
            [
                3_499_211_612,
                581_869_302,
                3_890_346_734,
                3_586_334_585,
                545_404_204
            ]
        );
    }

    #[test]
    fn mt19937_ten_thousandth_output_for_default_seed() {
        // C++11 [rand.predef]: the 10000th consecutive invocation of a default-constructed
        // `std::mt19937` produces 4123659995.
        let mut g = TorchGenerator::manual_seed(MT_DEFAULT_SEED);
        let mut last = 0;
        for _ in 0..10_000 {
            last = g.random_u32();
        }
        assert_eq!(last, 4_123_659_995);
    }

    #[test]
    fn seed_keeps_only_low_32_bits() {
        let mut a = TorchGenerator::manual_seed((1 << 32) + 7);
        let mut b = TorchGenerator::manual_seed(7);
        assert_eq!(a.rand_f32(8).unwrap(), b.rand_f32(8).unwrap());
    }

    #[test]
    fn seed_100_rand_4x5_matches_printed_figures() {
        // `torch.manual_seed(100); torch.rand(4, 5)` prints a first row of
        // 0.1117, 0.8158, 0.2626, 0.4839, 0.6765 (four decimals).
        let values = TorchGenerator::manual_seed(100).rand_f32(20).unwrap();
        let printed = [0.1117f32, 0.8158, 0.2626, 0.4839, 0.6765];
        for (got, want) in values.iter().zip(printed) {
            assert!((got - want).abs() <= 5e-5, "got {got}, printed {want}");
        }
    }

    #[test]
    fn rand_f64_uses_two_draws_high_first() {
        let mut raw = TorchGenerator::manual_seed(42);
        let high = u64::from(raw.random_u32());
        let low = u64::from(raw.random_u32());
        let expected = ((high << 32 | low) & ((1 << 53) - 1)) as f64 / (1u64 << 53) as f64;
        assert_eq!(
            TorchGenerator::manual_seed(42).rand_f64(1).unwrap(),
            [expected]
        );
    }

    #[test]
    fn uniforms_lie_in_unit_interval() {
        let mut g = TorchGenerator::manual_seed(0);
        assert!(
            g.rand_f32(1000)
                .unwrap()
                .iter()
                .all(|x| (0.0..1.0).contains(x))
        );
        assert!(
            g.rand_f64(1000)
                .unwrap()
                .iter()
                .all(|x| (0.0..1.0).contains(x))
        );
    }

    #[test]
    fn scalar_normal_cache_carries_across_calls() {
        // Drawing 3 then 3 must equal drawing 6 at once: the 4th value is the cached sine half.
        let mut split = TorchGenerator::manual_seed(1);
        let mut joined = split.clone();
        let mut parts = split.randn_f64(3).unwrap();
        parts.extend(split.randn_f64(3).unwrap());
        assert_eq!(parts, joined.randn_f64(6).unwrap());
    }

    #[test]
    fn block_normal_path_ignores_cache_and_consumes_extra_tail_draws() {
        // 17 elements: 17 uniforms, then 16 more for the redrawn tail.
        let mut g = TorchGenerator::manual_seed(3);
        let _ = g.randn_f32(17).unwrap();
        let mut reference = TorchGenerator::manual_seed(3);
        let _ = reference.rand_f32(17 + 16).unwrap();
        assert_eq!(g.random_u32(), reference.random_u32());
        assert!(g.next_normal.is_none());
    }

    #[test]
    fn random_below_reduces_one_draw_per_element() {
        let mut g = TorchGenerator::manual_seed(9);
        let mut raw = g.clone();
        let got = g.random_below(5, 4).expect("5 is a valid range");
        let want: Vec<i64> = (0..4).map(|_| i64::from(raw.random_u32() % 5)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn random_below_switches_to_64_bit_draws_at_2_pow_28() {
        let high = 1u64 << 28;
        let mut g = TorchGenerator::manual_seed(9);
        let mut raw = g.clone();
        let got = g.random_below(high, 2).expect("2^28 is a valid range");
        let want: Vec<i64> = (0..2).map(|_| (raw.random_u64() % high) as i64).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn random_below_rejects_empty_and_oversized_ranges() {
        let mut g = TorchGenerator::manual_seed(0);
        assert_eq!(g.random_below(0, 3), Err(TorchRngError::EmptyRange));
        let too_big = 1u64 << 63;
        assert_eq!(
            g.random_below(too_big, 3),
            Err(TorchRngError::HighTooLarge { high: too_big })
        );
        assert_eq!(g.random_below(1, 3), Ok(vec![0, 0, 0]));
    }

    #[test]
    fn randn_f32_defaults_to_the_vectorized_kernel() {
        let a = TorchGenerator::manual_seed(11).randn_f32(40).unwrap();
        let b = TorchGenerator::manual_seed(11)
            .randn_f32_with(40, NormalKernel::Vectorized)
            .unwrap();
        assert_eq!(a, b);
        // Below 16 elements the kernel is irrelevant.
        let c = TorchGenerator::manual_seed(11)
            .randn_f32_with(15, NormalKernel::Portable)
            .unwrap();
        assert_eq!(TorchGenerator::manual_seed(11).randn_f32(15).unwrap(), c);
    }

    #[test]
    fn cephes_approximations_are_accurate_where_randn_uses_them() {
        // ln on (0, 1] and sincos on [0, 2 pi): within a few float32 roundings of the truth.
        for k in 1..=4096u32 {
            let u = k as f32 / 4096.0;
            let err = (f64::from(cephes::ln(u)) - f64::from(u).ln()).abs();
            assert!(
                err <= 1e-6 * (1.0 + f64::from(u).ln().abs()),
                "ln({u}) off by {err}"
            );
            let theta = (2.0 * std::f64::consts::PI) as f32 * (k - 1) as f32 / 4096.0;
            let (sin, cos) = cephes::sin_cos(theta);
            let t = f64::from(theta);
            assert!((f64::from(sin) - t.sin()).abs() <= 1e-6, "sin({theta})");
            assert!((f64::from(cos) - t.cos()).abs() <= 1e-6, "cos({theta})");
        }
    }

    #[test]
    fn half_randn_pads_to_whole_blocks_and_moves_the_last_one_to_the_tail() {
        let float32 = TorchGenerator::manual_seed(3)
            .randn_f32_with(32, NormalKernel::Portable)
            .unwrap();
        let mut g = TorchGenerator::manual_seed(3);
        let half = g.randn_half_with(20, NormalKernel::Portable).unwrap();
        assert_eq!(half[..4], float32[..4]);
        assert_eq!(half[4..], float32[16..]);
        // 32 uniforms drawn, not 20 + 16.
        let mut reference = TorchGenerator::manual_seed(3);
        let _ = reference.rand_f32(32).unwrap();
        assert_eq!(g.random_u32(), reference.random_u32());
        // Below 16 elements: the float32 values, cache and all.
        let small = TorchGenerator::manual_seed(3).randn_half_with(5, NormalKernel::Portable);
        let float32 = TorchGenerator::manual_seed(3).randn_f32(5);
        assert_eq!(small, float32);
    }

    #[test]
    fn empty_requests_draw_nothing() {
        let mut g = TorchGenerator::manual_seed(5);
        assert!(g.randn_f32(0).unwrap().is_empty());
        assert!(g.randn_f64(0).unwrap().is_empty());
        assert_eq!(g.random_u32(), TorchGenerator::manual_seed(5).random_u32());
    }
}
