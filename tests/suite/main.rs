//! Every integration test but the generated spec suite, in one binary: one link and one run
//! instead of a dozen, one module per concern. `cargo test --test suite cli` runs one concern.
//! (The spec suite is its own binary, `tests/spec_cases`, so that an edited case fails first.)

mod cli;
mod common;
mod conformance;
mod differentiability;
mod formulations;
mod gradients;
mod half_inputs;
mod half_vocabulary;
mod identities;
mod misbehaving;
mod mutants;
mod oracle;
mod plan;
mod properties;
mod random;
mod reliability;
mod rules;
mod site;
mod spec_fixtures;
mod torch_gradients;
mod torch_rng;
