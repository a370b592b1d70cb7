//! # The spec model
//!
//! The first of cross-entropy-spec's three wings: what the Markdown spec *says*, as typed data.
//! The closed vocabularies ([`vocab`]), the cases and their tolerances ([`case`], [`tolerance`]),
//! the literal tensors and the small expression language cases write inputs in ([`literal`],
//! [`expr`]), the one parser of `spec/*.md` ([`parse`]), the data recorded beside the spec files
//! ([`recorded`]) and the reading of a spec directory ([`dir`]).
//!
//! The crate's build script parses the spec with this crate once and embeds the parsed [`Spec`]
//! (serde, JSON) in the library, so nothing parses Markdown at run time except `--spec DIR`.
//!
//! A chapter is prose with fenced blocks; the parser keeps the cases, each with its place:
//!
//! ````
//! let chapter = r#"# Sigmoid
//!
//! The sigmoid of zero is one half.
//!
//! ```case sigmoid.example.zero
//! op = "sigmoid"
//! input = [0.0]
//! expect = [0.5]
//! tol = { abs = 0.0 }
//! ```
//! "#;
//! let spec = spec_model::parse_spec(&[("spec/01-sigmoid.md".into(), chapter.into())]).unwrap();
//! assert_eq!(spec.cases[0].id, "sigmoid.example.zero");
//! assert_eq!(spec.cases[0].at.to_string(), "spec/01-sigmoid.md:5");
//!
//! // A case that names no tolerance is refused, at the line of its claim.
//! let bad = chapter.replace("tol = { abs = 0.0 }\n", "");
//! let errors = spec_model::parse_spec(&[("spec/01-sigmoid.md".into(), bad)]).unwrap_err();
//! assert_eq!(
//!     errors[0].to_string(),
//!     "spec/01-sigmoid.md:8: a case with `expect` needs `tol`, the tolerance that justifies the comparison"
//! );
//! ````

pub mod case;
pub mod dir;
pub mod expr;
pub mod floats;
pub mod literal;
pub mod location;
pub mod parse;
pub mod recorded;
pub mod shape;
pub mod tolerance;
pub mod vocab;

pub use case::{Attrs, Case, Check, GradCheck, Spec, TensorSpec};
pub use dir::{SpecFiles, read_dir};
pub use expr::{Expr, Func};
pub use literal::Literal;
pub use location::{Location, SpecError};
pub use parse::parse_spec;
pub use recorded::Recorded;
pub use tolerance::{Bounds, Tolerance};
pub use vocab::{Dtype, ErrorKind, Op, Role};
