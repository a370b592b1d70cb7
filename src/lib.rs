//! # cross-entropy-spec
//!
//! The readable specification and the executable conformance suite of PyTorch's cross-entropy
//! family of losses. The spec is Markdown in `spec/`; this crate parses it ([`spec`]), runs its
//! cases against the reference implementation ([`reference`]) or any other ([`conformance`]),
//! and regenerates PyTorch's seeded inputs ([`torch_rng`]).

pub mod bundle;
pub mod conformance;
pub mod error;
pub mod eval;
pub mod reference;
pub mod tensor;
pub mod torch_rng;

/// The spec model: vocabularies, cases, tolerances, the parser and the recorded data.
pub use spec_model as spec;
pub use spec_model::vocab;
