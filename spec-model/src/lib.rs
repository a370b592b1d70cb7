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
