//! The third wing: conformance. A case is materialised into requests ([`run`],
//! [`materialize`]), sent to an implementation in process or over the protocol ([`protocol`],
//! `subprocess`), its reply compared with what the spec expects ([`compare`]) and judged as a
//! typed [`Verdict`] ([`verdict`]); [`render`] turns verdicts into the text and JSON reports and
//! PyTorch reproduction lines. The reference implementation is one implementation among others.

pub mod compare;
mod expectations;
mod export;
pub mod interrupt;
pub mod lines;
pub mod materialize;
pub mod protocol;
pub mod random;
mod read_tensor;
pub mod render;
mod report;
pub mod run;
mod runner;
pub mod scale;
pub mod serve;
mod subprocess;
pub mod verdict;

pub use expectations::{Divergence, Expectations};
pub use export::case_json;
pub use protocol::{Reply, Request};
pub use report::{Counts, GradeCounts, Replay, Report};
pub use run::{Expected, Part, Run, expected_for, find_run, parts, request_for};
pub use runner::{
    glob_match, judge_prepared, prepare, run_case, run_suite, run_suite_parallel, run_suite_until,
};
pub use subprocess::{MAX_REPLY_LINE, Subprocess};
pub use verdict::{Grade, Judgement, Status, Verdict, judge};

/// An implementation under test, called in process. Another crate implements this to be
/// checked by the same runner as the reference (`examples/in_process.rs` adapts a typical
/// small crate).
///
/// A pass has to mean something. An implementation that quietly computes float64 requests in
/// float32, the kind of bug a loose float64 tolerance lets through, passes every float32 run
/// and fails float64 ones: each float64 result is held to a few roundoffs of its exact value.
///
/// ```
/// use cross_entropy_spec::conformance::{Implementation, Reply, Request, Status, run_suite};
/// use cross_entropy_spec::eval::Reference;
/// use cross_entropy_spec::vocab::Dtype;
///
/// struct Float32Inside;
///
/// impl Implementation for Float32Inside {
///     fn name(&self) -> String {
///         "float64 computed in float32".into()
///     }
///
///     fn evaluate(&mut self, request: &Request) -> Reply {
///         let mut narrowed = request.clone();
///         for tensor in narrowed.tensors.values_mut() {
///             if tensor.dtype() == Dtype::Float64 {
///                 *tensor = tensor.cast(Dtype::Float32);
///             }
///         }
///         let widen = |t: cross_entropy_spec::tensor::Tensor| match request.id.contains("@float64") {
///             true => t.cast(Dtype::Float64),
///             false => t,
///         };
///         match Reference.evaluate(&narrowed) {
///             Reply::Output { output, grad_input } => Reply::Output {
///                 output: widen(output),
///                 grad_input: grad_input.map(widen),
///             },
///             other => other,
///         }
///     }
/// }
///
/// let spec = cross_entropy_spec::bundle::spec().expect("the spec built into the crate");
/// let report = run_suite(spec, Some("ce.doc004.*"), &mut Float32Inside);
/// let failed: Vec<_> = report.runs.iter().filter(|v| v.status == Status::Failed).collect();
/// assert!(!failed.is_empty());
/// assert!(failed.iter().all(|v| v.run.dtype == Dtype::Float64));
///
/// assert!(run_suite(spec, Some("ce.doc004.*"), &mut Reference).success());
/// ```
pub trait Implementation {
    /// A short name for reports (`reference`, `candle 0.9`, ...).
    fn name(&self) -> String;
    /// Answers one request.
    fn evaluate(&mut self, request: &Request) -> Reply;
}
