//! Verdicts as text, at the edge: the text report a person reads, the JSON report a program
//! reads, and the line of PyTorch that reproduces a failing call.

pub mod expectations;
pub mod json;
pub mod random;
pub mod repro;
pub mod text;
