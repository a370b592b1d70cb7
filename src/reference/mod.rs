//! The reference implementation: PyTorch's cross-entropy family, option for option,
//! written for clarity and numerical care rather than speed.
//!
//! - [`mod@softmax`] — softmax, log_softmax, sigmoid, log_sigmoid (max-shifted, stable).
//! - [`mod@nll`] — `nll_loss`.
//! - [`mod@cross_entropy`] — `cross_entropy` with index or probability targets, computed
//!   from its own formula (not through `nll_loss ∘ log_softmax`, which the suite checks).
//! - [`mod@binary`] — `binary_cross_entropy` and `binary_cross_entropy_with_logits` (the
//!   latter not through `binary_cross_entropy ∘ sigmoid`).
//! - [`mod@grad`] — the closed-form gradient of each function's summed output with respect
//!   to `input`, as PyTorch's autograd computes it.
//! - [`mod@vjp`] — the upstream gradient of a vector–Jacobian product, and the products with
//!   respect to the target and the class weight where PyTorch differentiates them.
//! - `cancel` — the gradients rearranged where PyTorch's formula cancels.
//! - `wider` — the float64 elements that still cancel, recomputed in double-double.
//! - [`mod@reduce`] — the `reduction` option and the pairwise sum every reduction uses.
//! - [`mod@real`] — the `f32`/`f64` abstraction.
//!
//! No function panics on user data: every rejected input is a [`crate::error::LossError`].
//!
//! Gradients: each loss first validates its arguments with crate-private functions
//! (`nll::nll_terms`, `cross_entropy::{index_setup, prob_setup}`, `binary::{bce_checked,
//! logits_checked}`) and only then computes and reduces its terms; [`mod@grad`] reuses those
//! checks and their results, so a gradient fails exactly where its forward fails and shares
//! its 'mean' denominators (without computing the forward's losses it does not need).

pub mod binary;
mod cancel;
pub mod cross_entropy;
mod exp;
pub mod grad;
pub mod nll;
pub mod real;
pub mod reduce;
mod rows;
pub(crate) mod shape;
pub mod softmax;
pub mod vjp;
mod wider;

pub use binary::{
    BceOptions, BceWithLogitsOptions, binary_cross_entropy, binary_cross_entropy_with_logits,
};
pub use cross_entropy::{CrossEntropyOptions, Target, cross_entropy};
pub use grad::{
    binary_cross_entropy_grad, binary_cross_entropy_vjp, binary_cross_entropy_with_logits_grad,
    binary_cross_entropy_with_logits_vjp, cross_entropy_grad, cross_entropy_vjp, log_softmax_grad,
    log_softmax_vjp, nll_loss_grad, nll_loss_vjp, sigmoid_grad, sigmoid_vjp, softmax_grad,
    softmax_vjp,
};
pub use nll::{NllOptions, nll_loss};
pub use real::Real;
pub use reduce::Reduction;
pub use shape::{MAX_ELEMENTS, class_dim};
pub use softmax::{log_sigmoid, log_softmax, sigmoid, softmax};
pub use vjp::Upstream;
