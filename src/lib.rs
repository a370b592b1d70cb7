//! # cross-entropy-spec
//!
//! The readable specification and the executable conformance suite of PyTorch's cross-entropy
//! family of losses. The spec is Markdown in `spec/`; this crate parses it ([`spec`]), runs its
//! cases against the reference implementation ([`mod@reference`]) or any other ([`conformance`]),
//! and regenerates PyTorch's seeded inputs ([`torch_rng`]).
//!
//! The example of `002_f6634e5dba301c05.txt`, end to end: `torch.manual_seed(100)`,
//! `predict = torch.rand(4, 5)`, labels `[4, 3, 3, 2]`, and `nn.CrossEntropyLoss()`. The
//! document prints `tensor(1.5230)`; PyTorch's float32 result is 1.5229846.
//!
//! ```
//! use cross_entropy_spec::reference::{CrossEntropyOptions, Target, cross_entropy};
//! use cross_entropy_spec::torch_rng::TorchGenerator;
//! use ndarray::{ArrayD, IxDyn};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut generator = TorchGenerator::manual_seed(100);
//! let predict = ArrayD::from_shape_vec(IxDyn(&[4, 5]), generator.rand_f32(20)?)?;
//! let label = ArrayD::from_shape_vec(IxDyn(&[4]), vec![4_i64, 3, 3, 2])?;
//!
//! let loss = cross_entropy(&predict, Target::Indices(&label), &CrossEntropyOptions::default())?;
//! assert_eq!(format!("{:.4}", loss[[]]), "1.5230");
//! assert!((loss[[]] - 1.5229846).abs() < 2e-6);
//! # Ok(())
//! # }
//! ```
//!
//! The same example as the spec states it, run as a case of the suite against the reference
//! (each case runs in both dtypes, value and gradient):
//!
//! ```
//! use cross_entropy_spec::conformance::run_suite;
//! use cross_entropy_spec::eval::Reference;
//!
//! let spec = cross_entropy_spec::bundle::spec().expect("the spec built into the crate");
//! let report = run_suite(spec, Some("ce.doc002.seed100.library"), &mut Reference);
//! assert_eq!(report.counts().passed, 4);
//! assert!(report.success());
//! ```

#[cfg(feature = "bench")]
pub mod bench;
pub mod bundle;
pub mod chapters {
    //! The spec itself, one module per chapter of `spec/`, as rustdoc renders the Markdown: the
    //! prose, the formulas as written (TeX between `$`), and every case as a block of data.
    //! `cross-entropy-spec site` renders the same chapters with the maths typeset and the cases as
    //! cards.
    // The documents' cell numbers, `In [3]`, and index expressions are not links.
    #![allow(rustdoc::broken_intra_doc_links)]
    include!(concat!(env!("OUT_DIR"), "/chapters.rs"));
}
pub mod conformance;
pub mod error;
pub mod eval;
#[cfg(feature = "figures")]
pub mod figures;
pub mod halves;
pub mod oracle;
pub mod output;
pub mod reference;
#[cfg(feature = "site")]
pub mod site;
pub mod tensor;
pub mod torch_rng;

/// The spec model: vocabularies, cases, tolerances, the parser and the recorded data.
pub use spec_model as spec;
pub use spec_model::vocab;
