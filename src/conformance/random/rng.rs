//! The random mode's generator: SplitMix64 (Steele, Lea and Flood, 2014), written out so that
//! the same seed draws the same cases on every machine and with every version of every
//! dependency. Floats are made from integers with exact operations only (no `exp`, `ln` or
//! `powf`, whose last bit depends on the platform's maths library).

/// A SplitMix64 stream.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// The stream of case `index` of seed `seed`: each case is drawn from its own stream, so a
    /// case can be drawn again without drawing the ones before it.
    pub fn for_case(seed: u64, index: u64) -> Rng {
        let mut mix = Rng(seed);
        let base = mix.next_u64();
        Rng(base ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, a multiple of 2^-53.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * pow2(-53)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as usize) as i64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One of `items`, uniformly.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// Uniform in `(-s, s)`.
    pub fn symmetric(&mut self, s: f64) -> f64 {
        (2.0 * self.unit() - 1.0) * s
    }

    /// About log-uniform between `2^lo` and `2^hi`: a random power of two times `[1, 2)`.
    pub fn magnitude(&mut self, lo: i32, hi: i32) -> f64 {
        let e = self.between(i64::from(lo), i64::from(hi) - 1) as i32;
        (1.0 + self.unit()) * pow2(e)
    }
}

/// `2^e` exactly, for `e` in float64's normal range.
pub fn pow2(e: i32) -> f64 {
    f64::from_bits(((1023 + i64::from(e)) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_fixed() {
        // SplitMix64's published first output for state 0 is 0xE220A8397B1DCDAF.
        assert_eq!(Rng(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        let a: Vec<u64> = (0..3).map(|_| Rng::for_case(7, 5).next_u64()).collect();
        assert!(a.iter().all(|&v| v == a[0]));
        assert_ne!(
            Rng::for_case(7, 5).next_u64(),
            Rng::for_case(7, 6).next_u64()
        );
        assert_eq!(pow2(-53), f64::EPSILON / 2.0);
        let mut r = Rng(1);
        assert!((0..1000).map(|_| r.below(3)).all(|v| v < 3));
    }
}
