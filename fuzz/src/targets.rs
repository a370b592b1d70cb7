//! What is fuzzed, and the seeds each target starts from: the spec's own cases.

use std::io::Cursor;

use cross_entropy_spec::bundle;
use cross_entropy_spec::conformance::run::parts;
use cross_entropy_spec::conformance::serve::serve;
use cross_entropy_spec::conformance::{
    Expected, Implementation, Part, Reply, Request, expected_for, judge, request_for,
};
use cross_entropy_spec::eval::Reference;
use cross_entropy_spec::spec::{Spec, parse_spec};
use cross_entropy_spec::vocab::Dtype;

/// A fuzz target: seeds to mutate, and one execution on an input derived from seed `seed`.
pub trait Target {
    fn seeds(&self) -> &[Vec<u8>];
    fn run(&mut self, input: &[u8], seed: usize);
}

fn spec() -> &'static Spec {
    bundle::spec().expect("the embedded spec reads back")
}

/// Every run's request of the embedded spec, with what it expects.
fn requests() -> Vec<(Request, Expected, Dtype)> {
    let spec = spec();
    let mut out = Vec::new();
    for case in &spec.cases {
        for &dtype in &case.dtypes {
            for &part in parts(case) {
                let Ok(request) = request_for(case, dtype, part) else {
                    continue;
                };
                if let Ok(expected) = expected_for(spec, case, dtype, part, &request) {
                    out.push((request, expected, dtype));
                }
            }
        }
    }
    out
}

/// Request lines into `eval`'s server, which decodes and answers them with the reference.
pub struct Protocol {
    seeds: Vec<Vec<u8>>,
}

impl Protocol {
    pub fn new() -> Protocol {
        let seeds = requests()
            .into_iter()
            .map(|(r, _, _)| r.to_json().into_bytes())
            .collect();
        Protocol { seeds }
    }
}

impl Target for Protocol {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    fn run(&mut self, input: &[u8], _seed: usize) {
        let mut out = Vec::new();
        let _ = serve(&mut Cursor::new(input), &mut out, &mut Reference, 1 << 20);
    }
}

/// Spec documents: parsed, and every case that parses materialised and run by the reference.
pub struct SpecDocuments {
    seeds: Vec<Vec<u8>>,
}

impl SpecDocuments {
    /// One document per case: the spec's tolerances, a heading, the case's file's tensors and
    /// the case's block, cut from the spec's own text.
    pub fn new(files: &[(String, String)]) -> SpecDocuments {
        let blocks = |text: &str, kind: &str| -> Vec<String> {
            let mut found = Vec::new();
            let mut rest = text;
            while let Some(start) = rest.find(&format!("```{kind}")) {
                let body = &rest[start..];
                let end = body[3..].find("```").map_or(body.len(), |e| e + 6);
                found.push(body[..end.min(body.len())].to_string());
                rest = &body[end.min(body.len())..];
            }
            found
        };
        let tolerances: String = files
            .iter()
            .flat_map(|(_, t)| blocks(t, "tolerance"))
            .collect::<Vec<_>>()
            .join("\n\n");
        let mut seeds = Vec::new();
        for (_, text) in files {
            let tensors = blocks(text, "tensors").join("\n\n");
            for case in blocks(text, "case ") {
                seeds.push(format!("# Fuzz\n\n{tolerances}\n\n{tensors}\n\n{case}\n").into_bytes());
            }
        }
        SpecDocuments { seeds }
    }
}

impl Target for SpecDocuments {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    fn run(&mut self, input: &[u8], _seed: usize) {
        let text = String::from_utf8_lossy(input).into_owned();
        let Ok(spec) = parse_spec(&[("spec/fuzz.md".into(), text)]) else {
            return;
        };
        for case in &spec.cases {
            for &dtype in &case.dtypes {
                if let Ok(request) = request_for(case, dtype, Part::Value) {
                    let _ = Reference.evaluate(&request);
                }
            }
        }
    }
}

/// Reply lines read and judged as the runner reads and judges them.
pub struct Replies {
    seeds: Vec<Vec<u8>>,
    runs: Vec<(Request, Expected, Dtype)>,
}

impl Replies {
    pub fn new() -> Replies {
        let runs = requests();
        let seeds = (runs.iter())
            .map(|(r, _, _)| {
                Reference
                    .evaluate(r)
                    .to_json(&r.id)
                    .unwrap_or_default()
                    .into_bytes()
            })
            .collect();
        Replies { seeds, runs }
    }
}

impl Target for Replies {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    fn run(&mut self, input: &[u8], seed: usize) {
        let (request, expected, dtype) = &self.runs[seed];
        let line = String::from_utf8_lossy(input);
        let reply: Reply = Reply::from_json(&line, &request.id);
        let _ = judge(expected, *dtype, request, &reply);
    }
}
