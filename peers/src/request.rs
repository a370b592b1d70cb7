//! What every adapter needs before it calls its peer: the request's tensors as plain row-major
//! buffers, the class-dimension moves between PyTorch's layout (classes on dim 1) and the peers'
//! (classes on the last dim), the options a plain "mean over the batch" call can express, and a
//! guard that turns a peer's panic into a reply instead of a crash of the whole run.

use std::panic::{AssertUnwindSafe, catch_unwind};

use cross_entropy_spec::conformance::protocol::{Reply, Request};
use cross_entropy_spec::reference::{Reduction, class_dim};
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::{Dtype, Role};

/// A tensor as a shape and its elements in row-major order, widened to `f64` (exact for f32).
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl Dense {
    pub fn of(t: &Tensor) -> Dense {
        Dense {
            shape: t.shape().to_vec(),
            data: t.to_f64_vec(),
        }
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// A tensor of this shape holding `data`: how a peer's flat output or gradient comes back.
    pub fn like(&self, data: Vec<f64>) -> Dense {
        Dense {
            shape: self.shape.clone(),
            data,
        }
    }

    /// The same elements with axis `axis` moved to the end (a transpose, not a reshape); a 0-d
    /// tensor, which has no axis to move, stays as it is.
    pub fn axis_to_last(&self, axis: usize) -> Dense {
        if self.rank() == 0 {
            return self.clone();
        }
        let mut order: Vec<usize> = (0..self.rank()).filter(|&a| a != axis).collect();
        order.push(axis);
        self.permuted(&order)
    }

    /// PyTorch's class dim 1 moved last, `(N, C, d..) → (N, d.., C)`, for losses that take the
    /// classes last; below rank 3 they already are.
    pub fn classes_last(&self) -> Dense {
        self.axis_to_last(class_dim(self.rank().max(1)))
    }

    /// `data` laid out like `self`, a [`Dense::classes_last`] of an input of rank `input_rank`,
    /// moved back to that input's layout: how a gradient returns.
    pub fn classes_back(&self, data: Vec<f64>, input_rank: usize) -> Dense {
        self.like(data).last_to_axis(class_dim(input_rank.max(1)))
    }

    /// The inverse of [`Dense::axis_to_last`]: the last axis moved back to position `axis`.
    pub fn last_to_axis(&self, axis: usize) -> Dense {
        if self.rank() == 0 {
            return self.clone();
        }
        let last = self.rank() - 1;
        let order: Vec<usize> = (0..self.rank())
            .map(|a| match a.cmp(&axis) {
                std::cmp::Ordering::Less => a,
                std::cmp::Ordering::Equal => last,
                std::cmp::Ordering::Greater => a - 1,
            })
            .collect();
        self.permuted(&order)
    }

    /// Output axis `i` is input axis `order[i]`.
    fn permuted(&self, order: &[usize]) -> Dense {
        let mut strides = vec![1usize; self.rank()];
        for a in (0..self.rank().saturating_sub(1)).rev() {
            strides[a] = strides[a + 1] * self.shape[a + 1];
        }
        let shape: Vec<usize> = order.iter().map(|&a| self.shape[a]).collect();
        let mut data = Vec::with_capacity(self.data.len());
        let mut index = vec![0usize; shape.len()];
        for _ in 0..self.data.len() {
            let offset: usize = index.iter().zip(order).map(|(&i, &a)| i * strides[a]).sum();
            data.push(self.data[offset]);
            for k in (0..index.len()).rev() {
                index[k] += 1;
                if index[k] < shape[k] {
                    break;
                }
                index[k] = 0;
            }
        }
        Dense { shape, data }
    }

    /// Rows of the last axis: `(product of the other sizes, last size)`; a 0-d tensor is 1×1.
    pub fn rows(&self) -> (usize, usize) {
        match self.shape.split_last() {
            Some((&c, rest)) => (rest.iter().product(), c),
            None => (1, 1),
        }
    }

    /// Back into the suite's tensor type, in `dtype`.
    pub fn into_tensor(self, dtype: Dtype) -> Reply {
        match Tensor::from_f64(dtype, &self.shape, &self.data) {
            Ok(output) => Reply::Output {
                output,
                grad_input: None,
            },
            Err(why) => Reply::Broken(format!("the peer's output does not fit its shape: {why}")),
        }
    }
}

/// The float dtype of the request's input; integer inputs cannot be given to the peers' float
/// tensor types.
pub fn float_dtype(r: &Request) -> Result<Dtype, Reply> {
    match r.tensors.get(&Role::Input).map(Tensor::dtype) {
        Some(d) if d.is_half() => Err(Reply::Unsupported(format!(
            "{d} inputs: this adapter passes float32 and float64 tensors only"
        ))),
        Some(d) if d.is_float() => Ok(d),
        Some(d) => Err(Reply::Unsupported(format!(
            "{d} inputs: the peer's tensors here are float only"
        ))),
        None => Err(Reply::Unsupported("a request without `input`".into())),
    }
}

/// What a request asks of the peer's autodiff: `None` for a value request; for a gradient
/// request, its upstream gradient (`Some(None)`: all ones, the gradient of the output's sum),
/// which the peer pulls back as the gradient of `Σ output · upstream` through its own ops. A
/// product with respect to another argument than `input` is unsupported: the adapters hand the
/// peers' losses their target and weights as constants.
pub fn pullback(r: &Request) -> Result<Option<Option<Dense>>, Reply> {
    if !r.grad {
        return Ok(None);
    }
    if r.vjp.wrt != Role::Input {
        return Err(Reply::Unsupported(format!(
            "a gradient with respect to `{}`: the adapter differentiates `input` only",
            r.vjp.wrt
        )));
    }
    Ok(Some(r.vjp.upstream.as_ref().map(Dense::of)))
}

/// The one value of a reduced loss's upstream gradient (1 when all ones).
pub fn scalar_upstream(u: Option<&Dense>) -> f64 {
    u.and_then(|u| u.data.first().copied()).unwrap_or(1.0)
}

pub fn tensor(r: &Request, role: Role) -> Option<&Tensor> {
    r.tensors.get(&role)
}

/// `dim` as an index into a tensor of rank `rank`, the way PyTorch reads it (a 0-d tensor takes
/// 0 and −1). `None` when the tensor has no such dim.
pub fn axis(dim: i64, rank: usize) -> Option<usize> {
    let r = rank.max(1) as i64;
    let d = if dim < 0 { dim + r } else { dim };
    (0..r).contains(&d).then_some(d as usize)
}

/// How a loss's result is reduced, as far as a peer that only averages can produce it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// The peer's own mean.
    Mean,
    /// The peer's mean multiplied by the number of averaged elements, with the peer's own tensor
    /// operation (so its autograd sees it too). Only offered where the mean divides by exactly
    /// that count (no weight, no ignore_index) and the count is not zero.
    SumAsMeanTimesCount(usize),
}

/// The reduction the request asks for, for a peer whose loss only averages over `count`
/// elements.
pub fn mean_or_sum(r: &Request, count: usize, weighted: bool) -> Result<Reduce, Reply> {
    let asked = r.attrs.reduction.as_deref().unwrap_or("mean");
    // PyTorch's names, read by the reference's rule (so `elementwise_mean` is `mean`).
    let Ok(reduction) = asked.parse::<Reduction>() else {
        return Err(Reply::Unsupported(format!(
            "reduction={asked:?}: the peer takes no reduction argument to reject"
        )));
    };
    match reduction {
        Reduction::Mean => Ok(Reduce::Mean),
        Reduction::Sum if weighted => Err(Reply::Unsupported(
            "reduction='sum' with weights: the peer only averages, normalised by the weights"
                .into(),
        )),
        Reduction::Sum if count == 0 => Err(Reply::Unsupported(
            "reduction='sum' of an empty batch: 'sum' is derived as mean × N, undefined for N = 0"
                .into(),
        )),
        Reduction::Sum => Ok(Reduce::SumAsMeanTimesCount(count)),
        Reduction::None => Err(Reply::Unsupported(
            "reduction='none': the peer only returns the mean".into(),
        )),
    }
}

/// Whether a class-index target uses PyTorch's default `ignore_index` (−100) without saying so:
/// those rows are ignored by PyTorch, so a peer without ignore_index cannot be asked.
pub fn uses_default_ignore(target: &Tensor) -> bool {
    matches!(target, Tensor::Int64(t) if t.iter().any(|&v| v == -100))
}

/// Runs `answer`, turning a panic of the peer into `Reply::Broken` with the panic's message:
/// a Rust library that rejects input by panicking has given no error kind.
pub fn guarded(answer: impl FnOnce() -> Reply) -> Reply {
    catch_unwind(AssertUnwindSafe(answer)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".into());
        Reply::Broken(format!(
            "the peer panicked: {}",
            message.lines().next().unwrap_or_default()
        ))
    })
}

/// The reply for a peer's output and, when asked for, its gradient: both back in `dtype`.
pub fn reply(out: Dense, grad: Option<Dense>, dtype: Dtype) -> Reply {
    let grad_input = match grad.map(|g| g.into_tensor(dtype)) {
        None => None,
        Some(Reply::Output { output, .. }) => Some(output),
        Some(other) => return other,
    };
    match out.into_tensor(dtype) {
        Reply::Output { output, .. } => Reply::Output { output, grad_input },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_moves_round_trip() {
        let d = Dense {
            shape: vec![2, 3, 4],
            data: (0..24).map(f64::from).collect(),
        };
        let moved = d.axis_to_last(1);
        assert_eq!(moved.shape, vec![2, 4, 3]);
        assert_eq!(&moved.data[..3], &[0.0, 4.0, 8.0]);
        assert_eq!(moved.last_to_axis(1), d);
        assert_eq!(d.axis_to_last(2), d);
        let scalar = Dense {
            shape: vec![],
            data: vec![7.0],
        };
        assert_eq!(scalar.axis_to_last(0), scalar);
        assert_eq!(scalar.last_to_axis(0), scalar);
    }

    #[test]
    fn classes_move_last_only_from_rank_three_and_come_back() {
        let image = Dense {
            shape: vec![2, 3, 4],
            data: (0..24).map(f64::from).collect(),
        };
        let x = image.classes_last();
        assert_eq!(x.shape, vec![2, 4, 3]);
        assert_eq!(x.classes_back(x.data.clone(), image.rank()), image);
        let batch = Dense {
            shape: vec![4, 3],
            data: (0..12).map(f64::from).collect(),
        };
        assert_eq!(batch.classes_last(), batch);
        assert_eq!(batch.classes_back(batch.data.clone(), batch.rank()), batch);
    }

    #[test]
    fn dims_read_as_pytorch() {
        assert_eq!(axis(-1, 3), Some(2));
        assert_eq!(axis(0, 0), Some(0));
        assert_eq!(axis(-1, 0), Some(0));
        assert_eq!(axis(3, 3), None);
        assert_eq!(axis(-4, 3), None);
    }
}
