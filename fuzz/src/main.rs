//! `cross-entropy-spec-fuzz TARGET --runs N --seed S`: a mutation fuzzer that runs on the stable
//! toolchain. It mutates the seeds of a target (the spec's own cases), runs each input in
//! process, and reports every panic and every execution slower than a second as a finding, with
//! the input saved under `fuzz/findings/`. Deterministic for a seed, so a finding replays.
//!
//! Targets: `protocol` (request lines into `eval`'s server: decoding, the reference, encoding),
//! `spec` (spec documents into the parser, then every case materialised and run), `reply` (reply
//! lines read and judged as the runner does), `expect` (expectations files parsed, checked
//! against the spec and applied to a report), `recorded` (a run's exact record or recorded
//! gradient read and judged by).

mod files;
mod mutate;
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

use mutate::{Rng, mutate, mutate_json};
use targets::Target;

#[derive(Clone, Copy, ValueEnum)]
enum Which {
    Protocol,
    Spec,
    Reply,
    Expect,
    Recorded,
}

#[derive(Parser)]
#[command(
    about = "Mutation fuzzing of the protocol, the spec parser, the reply reader, expectations files and recorded data"
)]
struct Args {
    target: Which,
    /// How many inputs to run.
    #[arg(long, default_value_t = 100_000)]
    runs: u64,
    /// The random seed; a run is the same for the same seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where findings are written.
    #[arg(long, default_value = "fuzz/findings")]
    findings: PathBuf,
}

/// An execution slower than this is a finding: the runner must never hang on an input.
const SLOW: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    let args = Args::parse();
    let mut target: Box<dyn Target> = match args.target {
        Which::Protocol => Box::new(targets::Protocol::new()),
        Which::Spec => Box::new(targets::SpecDocuments::new(&spec_files())),
        Which::Reply => Box::new(targets::Replies::new()),
        Which::Expect => Box::new(files::ExpectationsFiles::new(spec())),
        Which::Recorded => Box::new(files::RecordedData::new(spec())),
    };
    let name = args
        .target
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    std::panic::set_hook(Box::new(|_| {}));
    let (mut rng, started) = (Rng::new(args.seed), Instant::now());
    let (mut findings, mut slowest) = (0u64, Duration::ZERO);
    let seeds = target.seeds().to_vec();
    for i in 0..args.runs {
        let seed = rng.below(seeds.len());
        let other = &seeds[rng.below(seeds.len())];
        let input = match args.target {
            Which::Protocol | Which::Reply | Which::Recorded if rng.below(2) == 0 => {
                mutate_json(&mut rng, &seeds[seed])
                    .unwrap_or_else(|| mutate(&mut rng, &seeds[seed], other))
            }
            _ => mutate(&mut rng, &seeds[seed], other),
        };
        let t = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| target.run(&input, seed)));
        let took = t.elapsed();
        slowest = slowest.max(took);
        if outcome.is_err() || took > SLOW {
            findings += 1;
            let what = if outcome.is_err() { "panic" } else { "slow" };
            let path = args
                .findings
                .join(format!("{name}-{what}-{}-{i}", args.seed));
            let _ = std::fs::create_dir_all(&args.findings)
                .and_then(|()| std::fs::write(&path, &input));
            eprintln!(
                "finding: {what} on input {i} ({took:?}), saved to {}",
                path.display()
            );
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{name}: {} executions in {secs:.1} s ({:.0}/s) from {} seeds, seed {}; {findings} findings; slowest {:.1} ms",
        args.runs,
        args.runs as f64 / secs,
        seeds.len(),
        args.seed,
        slowest.as_secs_f64() * 1e3
    );
    if findings == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The spec built into the crate.
fn spec() -> &'static cross_entropy_spec::spec::Spec {
    cross_entropy_spec::bundle::spec().expect("the embedded spec reads back")
}

/// The spec's own files, read from the repository (the seeds of the `spec` target).
fn spec_files() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "md"))
                .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(&p).ok()?)))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}
