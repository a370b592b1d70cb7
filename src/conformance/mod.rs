//! The third wing: conformance. A case is materialised into requests ([`run`],
//! [`materialize`]), sent to an implementation in process or over the protocol ([`protocol`],
//! [`subprocess`]), its reply compared with what the spec expects ([`compare`]) and judged as a
//! typed [`Verdict`] ([`verdict`]); [`render`] turns verdicts into the text and JSON reports and
//! PyTorch reproduction lines. The reference implementation is one implementation among others.

pub mod compare;
mod expectations;
mod export;
pub mod interrupt;
pub mod lines;
pub mod materialize;
pub mod protocol;
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
pub use report::{Counts, Replay, Report};
pub use run::{Expected, Part, Run, expected_for, find_run, request_for};
pub use runner::{glob_match, run_case, run_suite, run_suite_parallel, run_suite_until};
pub use subprocess::Subprocess;
pub use verdict::{Judgement, Status, Verdict, judge};

/// An implementation under test, called in process. Another crate implements this to be
/// checked by the same runner as the reference.
pub trait Implementation {
    /// A short name for reports (`reference`, `candle 0.9`, ...).
    fn name(&self) -> String;
    /// Answers one request.
    fn evaluate(&mut self, request: &Request) -> Reply;
}
