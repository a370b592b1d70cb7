//! Seeded draws as tensors: the one dispatch of what is drawn (`rand`, `randn`, `random_(high)`)
//! by dtype, used by the spec's expressions and by the `torch-rng` command alike.

use ndarray::{ArrayD, IxDyn};

use super::{NormalKernel, TorchGenerator};
use crate::tensor::{Tensor, checked_numel};
use crate::vocab::Dtype;

/// What is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Draw {
    /// `torch.rand`: uniform in [0, 1).
    Rand,
    /// `torch.randn`: standard normal.
    Randn,
    /// `tensor.random_(high)`: integers in [0, high).
    Below(u64),
}

impl TorchGenerator {
    /// Draws a tensor of `shape` and `dtype` as PyTorch's CPU generator does after the draws
    /// already made.
    ///
    /// # Errors
    /// A shape the suite does not accept (`spec_model::shape`), a float draw into int64, an empty or too large
    /// `random_` range, or a `random_(high)` into a float dtype that cannot hold every integer
    /// below `high` (PyTorch warns that it rounds them; the suite refuses).
    pub fn draw(&mut self, what: Draw, shape: &[usize], dtype: Dtype) -> Result<Tensor, String> {
        let n = checked_numel(shape)?;
        let dim = IxDyn(shape);
        let failed = |e: super::TorchRngError| e.to_string();
        let built = match (what, dtype) {
            (Draw::Rand | Draw::Randn, Dtype::Int64) => {
                return Err("rand and randn draw floats: float32 or float64".into());
            }
            (Draw::Rand, Dtype::Float32) => {
                ArrayD::from_shape_vec(dim, self.rand_f32(n).map_err(failed)?).map(Tensor::Float32)
            }
            (Draw::Randn, Dtype::Float32) => {
                ArrayD::from_shape_vec(dim, self.randn_f32(n).map_err(failed)?).map(Tensor::Float32)
            }
            (Draw::Rand, Dtype::Float64) => {
                ArrayD::from_shape_vec(dim, self.rand_f64(n).map_err(failed)?).map(Tensor::Float64)
            }
            (Draw::Randn, Dtype::Float64) => {
                ArrayD::from_shape_vec(dim, self.randn_f64(n).map_err(failed)?).map(Tensor::Float64)
            }
            (Draw::Below(high), dtype) => return self.draw_below(high, shape, n, dtype),
            (Draw::Rand | Draw::Randn, Dtype::Float16 | Dtype::BFloat16) => {
                // Drawn and computed in float32, rounded once to the dtype (`randn_half_with`).
                let round = |v: f32| crate::halves::round(dtype, f64::from(v)) as f32;
                let values = match what {
                    Draw::Rand => self.rand_half_with(n, round),
                    _ => self.randn_half_with(n, NormalKernel::default()),
                }
                .map_err(failed)?;
                let values: Vec<f64> = values.into_iter().map(f64::from).collect();
                // Every float32 value rounds to the half dtype exactly once here.
                return Tensor::from_f64(dtype, shape, &values).map_err(|e| e.to_string());
            }
        };
        built.map_err(|e| e.to_string())
    }

    fn draw_below(
        &mut self,
        high: u64,
        shape: &[usize],
        n: usize,
        dtype: Dtype,
    ) -> Result<Tensor, String> {
        let digits = match dtype {
            Dtype::Float32 => Some(f32::MANTISSA_DIGITS),
            Dtype::Float64 => Some(f64::MANTISSA_DIGITS),
            Dtype::Float16 => Some(11),
            Dtype::BFloat16 => Some(8),
            Dtype::Int64 => None,
        };
        if let Some(d) = digits.filter(|&d| high.saturating_sub(1) > 1u64 << d) {
            return Err(format!(
                "random_({high}) into {dtype}: to - 1 is out of bounds [-(2^{d}), 2^{d}], so {dtype} cannot hold every integer of the range (PyTorch warns and rounds them)"
            ));
        }
        let ints = self.random_below(high, n).map_err(|e| e.to_string())?;
        let t = ArrayD::from_shape_vec(IxDyn(shape), ints).map_err(|e| e.to_string())?;
        Ok(Tensor::Int64(t).cast(dtype))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_bounded_and_typed() {
        let mut g = TorchGenerator::manual_seed(0);
        assert!(g.draw(Draw::Rand, &[usize::MAX], Dtype::Float32).is_err());
        assert!(
            g.draw(Draw::Rand, &[1 << 20, 1 << 20], Dtype::Float32)
                .is_err()
        );
        assert!(g.draw(Draw::Randn, &[2], Dtype::Int64).is_err());
        assert!(
            g.draw(Draw::Below(100_000_000), &[2], Dtype::Float32)
                .unwrap_err()
                .contains("2^24")
        );
        assert!(
            g.draw(Draw::Below((1 << 24) + 1), &[2], Dtype::Float32)
                .is_ok()
        );
        assert!(g.draw(Draw::Below(100_000_000), &[2], Dtype::Int64).is_ok());
        assert!(g.draw(Draw::Below(0), &[2], Dtype::Int64).is_err());
        let t = g.draw(Draw::Rand, &[2, 3], Dtype::Float64).unwrap();
        assert_eq!((t.dtype(), t.shape()), (Dtype::Float64, &[2usize, 3][..]));
    }
}
