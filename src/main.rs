//! `cross-entropy-spec`: runs the spec's cases against an implementation (the default job),
//! speaks the conformance protocol, exports the suite, and regenerates PyTorch's seeded inputs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use cross_entropy_spec::bench::{BenchError, BenchSpec, parse_dtype, parse_options, run};
use cross_entropy_spec::conformance::protocol::tensor_json;
use cross_entropy_spec::conformance::random;
use cross_entropy_spec::conformance::serve::{MAX_REQUEST_LINE, serve};
use cross_entropy_spec::conformance::{
    Expectations, Grade, Implementation, MAX_REPLY_LINE, Replay, Report, Subprocess, case_json,
    find_run, glob_match, interrupt, render, request_for, run_suite_parallel, run_suite_until,
};
use cross_entropy_spec::eval::Reference;
use cross_entropy_spec::output::{self, PendingFile};
use cross_entropy_spec::spec::{Spec, read_dir};
use cross_entropy_spec::torch_rng::{Draw, TorchGenerator};
use cross_entropy_spec::vocab::Op;
use cross_entropy_spec::{bundle, vocab::Dtype};

/// How long an implementation under test may take to answer one request, by default.
const DEFAULT_TIMEOUT_SECONDS: f64 = 30.0;
/// The most implementation processes `--jobs` runs at once (each with three threads of the
/// runner's): far beyond a machine's cores, far below its thread limit.
const MAX_JOBS: usize = 256;
/// How long a started implementation may take to get ready, by default (beside `--timeout`).
const DEFAULT_STARTUP_SECONDS: f64 = 60.0;
/// The longest `--timeout` or `--startup`: a day.
const MAX_TIMEOUT_SECONDS: f64 = 86_400.0;

#[derive(Parser)]
#[command(name = "cross-entropy-spec", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run every spec case against an implementation and print a report per spec section
    /// (without arguments: the reference, in process; what `cargo run --release` does).
    Check(Box<CheckArgs>),
    /// Print every spec case as the request it sends, with its expected values, tolerance, and
    /// spec file and line: the machine-readable export of the suite.
    Cases(CasesArgs),
    /// Print the request line one run sends (`<case>@<dtype>`, or `<case>@<dtype>/grad` for its
    /// gradient run), to replay it: `cross-entropy-spec request ID | YOUR-ADAPTER`.
    Request(RequestArgs),
    /// Be the reference implementation on stdin/stdout, speaking protocol v1 (JSON Lines).
    Eval,
    /// Print the tensor PyTorch's CPU generator gives after `torch.manual_seed(seed)`, as JSON.
    TorchRng(RngArgs),
    /// Write the spec's SVG figures, computed from the reference (or, with --check, fail if the
    /// committed ones differ from what the reference gives now).
    Figures(FiguresArgs),
    /// Render the spec as a static HTML site: a page per chapter, each case as a card, with the
    /// verdicts of the given `check --json` reports beside it.
    Site(SiteArgs),
    /// Time one reference op on large seeded inputs (the ones `scripts/bench_pytorch.py` gives
    /// PyTorch); prints last `OP DTYPE [SHAPE]: median X ms, Y GB/s (R reps, T threads)`.
    Bench(BenchArgs),
}

#[derive(clap::Args)]
struct SiteArgs {
    /// Where to write the site.
    #[arg(long, value_name = "DIR", default_value = "target/site")]
    out: PathBuf,
    /// The spec directory to render.
    #[arg(long, value_name = "DIR", default_value = "spec")]
    spec: PathBuf,
    /// `check --json` reports whose verdicts each case shows (repeat for several).
    #[arg(long, value_name = "FILE.json")]
    report: Vec<PathBuf>,
}

#[derive(clap::Args)]
struct FiguresArgs {
    /// The figures directory.
    #[arg(long, value_name = "DIR", default_value = "spec/figures")]
    out: PathBuf,
    /// Write nothing; exit 1 naming each figure in DIR that differs from what would be written.
    #[arg(long)]
    check: bool,
    /// PyTorch's recorded `check --json` report, whose errors the tolerance-budget figure shows.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "adapters/pytorch/report.json"
    )]
    pytorch_report: PathBuf,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// softmax, log_softmax, cross_entropy or binary_cross_entropy_with_logits.
    #[arg(long)]
    op: String,
    /// Time the gradient of the output's sum with respect to the logits instead.
    #[arg(long)]
    grad: bool,
    /// The logits' shape, comma-separated: `N,C` or `N,C,K` (classes along dim 1).
    #[arg(long, value_delimiter = ',', required = true)]
    shape: Vec<usize>,
    /// float32, float64, float16 or bfloat16 (the half dtypes computed in float32, rounded once).
    #[arg(long, default_value = "float32")]
    dtype: String,
    /// Threads of the reference's row-parallel loops.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Timed calls (after one warm-up); the median is reported.
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// The seed of the inputs (`torch.manual_seed`).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A JSON object: {"reduction": "mean"|"sum"|"none", "label_smoothing": 0.1,
    /// "target": "indices"|"probabilities"}.
    #[arg(long)]
    options: Option<String>,
}

#[derive(clap::Args, Default)]
struct SpecArgs {
    /// Only the cases whose id matches this glob (`*` and `?`), e.g. `ce.doc001.*`.
    #[arg(long)]
    filter: Option<String>,
    /// Read the spec from this directory instead of the copy built into the binary.
    #[arg(long, value_name = "DIR")]
    spec: Option<PathBuf>,
}

#[derive(clap::Args, Default)]
struct CheckArgs {
    #[command(flatten)]
    spec: SpecArgs,
    /// The implementation under test: a command speaking protocol v1 on stdin/stdout, started
    /// with `sh -c`. Without it, the built-in reference runs in process.
    #[arg(long = "impl", value_name = "COMMAND")]
    implementation: Option<String>,
    /// The implementation's known divergences (TOML `[[divergence]]` tables: id, reason, link;
    /// with --random, its `[[random]]` rules: op, condition, reason).
    #[arg(long, value_name = "FILE")]
    expect: Option<PathBuf>,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "REPORT")]
    json: Option<PathBuf>,
    /// How the report names the implementation (e.g. "PyTorch 2.15.0 (CPU)"); by default its
    /// command, or "reference".
    #[arg(long)]
    name: Option<String>,
    /// How long the implementation may take to answer one request [default: 30].
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// How long a started implementation may take to get ready, on top of its first request's
    /// timeout (an `import torch`, many at once under --jobs) [default: 60].
    #[arg(long, value_name = "SECONDS")]
    startup: Option<f64>,
    /// Run this many implementation processes at once (with `--impl`); the report is the same,
    /// in the same order [default: 1].
    #[arg(long, value_name = "N")]
    jobs: Option<u64>,
    /// Write an expectations file listing every failing run, for you to give each a reason and
    /// a link (the text file `--expect` reads).
    #[arg(long, value_name = "FILE")]
    write_expectations: Option<PathBuf>,
    /// Exit 0 even if nothing passed (every run skipped): by default an implementation that
    /// passes nothing has not conformed.
    #[arg(long)]
    allow_empty: bool,
    /// The grades the exit status requires: `semantics`, `exact` or `pytorch` (repeat for
    /// several). Failures in the others are reported, not required [default: all three].
    #[arg(long, value_name = "GRADE")]
    grade: Vec<String>,
    #[command(flatten)]
    random: RandomArgs,
}

/// The random differential mode: calls drawn from the whole option surface, judged against the
/// crate's exact oracle instead of the spec's cases.
#[derive(clap::Args, Default)]
struct RandomArgs {
    /// Draw and judge this many random calls (value and gradient) instead of the spec's cases.
    #[arg(long, value_name = "N")]
    random: Option<u64>,
    /// The seed of the random calls: the same seed draws the same calls on every machine.
    #[arg(long, value_name = "S", default_value_t = 0, requires = "random")]
    seed: u64,
    /// The index of the first call: `--random 1 --from I` draws call I of the seed alone.
    #[arg(long, value_name = "I", default_value_t = 0, requires = "random")]
    from: u64,
    /// Only this op (e.g. `cross_entropy`); by default every op.
    #[arg(long, value_name = "OP", requires = "random")]
    op: Option<String>,
    /// Only this dtype (`float32`, `float64`, `float16` or `bfloat16`); by default float32 and float64.
    #[arg(long, value_name = "D", requires = "random")]
    dtype: Option<String>,
    /// The most elements an input may have (the 256,000-class row needs 256000).
    #[arg(long, value_name = "E", default_value_t = 262_144, requires = "random")]
    max_elements: usize,
    /// How many failures to shrink and print as spec cases.
    #[arg(long, value_name = "K", default_value_t = 3, requires = "random")]
    shrink: usize,
}

#[derive(clap::Args)]
struct CasesArgs {
    #[command(flatten)]
    spec: SpecArgs,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct RequestArgs {
    /// The run's request id, as a report prints it: `ce.doc001.batch3x5.mean@float32/grad`.
    id: String,
    /// Read the spec from this directory instead of the copy built into the binary.
    #[arg(long, value_name = "DIR")]
    spec: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RngArgs {
    /// The seed given to `torch.manual_seed`.
    #[arg(long)]
    seed: u64,
    /// `rand` (uniform in [0, 1)), `randn` (standard normal) or `randint` (integers in [0, high)).
    #[arg(long)]
    op: RngOp,
    /// The shape, comma-separated: `4,5`. Empty for a 0-d tensor.
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    shape: Vec<usize>,
    /// float32 (PyTorch's default) or float64; int64 (the default) or a float for randint.
    #[arg(long)]
    dtype: Option<String>,
    /// The exclusive upper bound of `randint`.
    #[arg(long)]
    high: Option<u64>,
}

#[derive(Clone, Copy, ValueEnum)]
enum RngOp {
    Rand,
    Randn,
    Randint,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => check(CheckArgs::default()),
        Some(Command::Check(args)) => check(*args),
        Some(Command::Cases(args)) => cases(args),
        Some(Command::Request(args)) => request(args),
        Some(Command::Eval) => eval(),
        Some(Command::TorchRng(args)) => torch_rng(args),
        Some(Command::Figures(args)) => figures(args),
        Some(Command::Site(args)) => site(args),
        Some(Command::Bench(args)) => bench(args).map_err(|e| e.to_string()),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            // Messages quote what was typed or read (ids, paths): never a terminal's escape.
            let message = render::text::printable(&message);
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// The spec to run: the bundled one, or a directory's.
fn load(args: &SpecArgs) -> Result<Spec, String> {
    match &args.spec {
        None => bundle::spec().cloned().map_err(str::to_string),
        Some(dir) => load_dir(dir),
    }
}

fn check(args: CheckArgs) -> Result<ExitCode, String> {
    let spec = load(&args.spec)?;
    if args.random.random.is_some() {
        return check_random(&spec, &args);
    }
    let grades = grades(&args.grade)?;
    let expectations = read_expectations(args.expect.as_deref(), &spec)?;
    let timeout = timeout(args.timeout)?;
    let startup = seconds("--startup", args.startup.unwrap_or(DEFAULT_STARTUP_SECONDS))?;
    let jobs = jobs(args.jobs.unwrap_or(1))?;
    let (json, draft) = outputs(&args)?;
    let filter = args.spec.filter.as_deref();
    interrupt::install();
    let mut report = match &args.implementation {
        None => run_suite_until(&spec, filter, &mut Reference, &interrupt::interrupted),
        Some(command) => {
            let make = || -> Box<dyn Implementation + Send> {
                Box::new(child(command, timeout, startup, jobs))
            };
            let mut report =
                run_suite_parallel(&spec, filter, &make, jobs, &interrupt::interrupted);
            report.replay = Some(Replay {
                program: program_path(),
                command: command.clone(),
                spec_dir: args.spec.spec.as_ref().map(|d| d.display().to_string()),
            });
            report
        }
    };
    if let Some(name) = args.name {
        report.implementation = name;
    }
    if report.runs.is_empty() && !report.interrupted {
        return Err(format!(
            "no case matches the filter `{}`",
            filter.unwrap_or_default()
        ));
    }
    expectations.apply(&mut report);
    let (code, verdict_line) = verdict_code(&report, args.allow_empty, &grades);
    // The files first: a reader that stopped early, or a full disk under stdout, loses only text.
    let printed = say(&(render::text::report(&report) + &verdict_line));
    if let Some(file) = draft {
        file.commit(&render::expectations::skeleton(&report))?;
    }
    if let Some(file) = json {
        let text = serde_json::to_string_pretty(&render::json::report(&report))
            .map_err(|e| e.to_string())?;
        file.commit(&(text + "\n"))?;
    }
    // After SIGHUP the terminal may be gone: the signal's status says how the run ended.
    if !report.interrupted {
        printed?;
    }
    Ok(code)
}

/// This binary's path, for replay lines: the one the check ran with, not whichever
/// `cross-entropy-spec` is first on `PATH` (if any is).
fn program_path() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "cross-entropy-spec".into())
}

/// `check`'s output files, opened before the run: refused when one of them is an input (the
/// expectations file, a file of the spec directory) or both are the same file, or when one
/// cannot be written.
fn outputs(args: &CheckArgs) -> Result<(Option<PendingFile>, Option<PendingFile>), String> {
    let mut inputs: Vec<PathBuf> = args.expect.iter().cloned().collect();
    if let Some(dir) = &args.spec.spec {
        inputs.extend(output::files_of_spec_dir(dir));
    }
    let outputs: Vec<&Path> = (args.json.iter().chain(&args.write_expectations))
        .map(PathBuf::as_path)
        .collect();
    output::refuse_clashes(&outputs, &inputs)?;
    let open = |path: &Option<PathBuf>| path.as_deref().map(PendingFile::create).transpose();
    Ok((open(&args.json)?, open(&args.write_expectations)?))
}

/// Prints `text` on stdout. A reader that stopped early (`| head`) ends it quietly; any other
/// failure (a full disk) is an error, reported once the files are written.
fn say(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("writing the report to stdout: {e}"))
        }
        _ => Ok(()),
    }
}

/// The implementation's process, one of `jobs` workers: the reply-line limit is shared, so N
/// workers read at most 1 GiB of lines at once; stopped by Ctrl-C, SIGTERM or SIGHUP.
fn child(command: &str, timeout: Duration, startup: Duration, jobs: usize) -> Subprocess {
    Subprocess::new(command, timeout)
        .with_max_line(MAX_REPLY_LINE / jobs)
        .with_startup(startup)
        .interrupted_by(&interrupt::INTERRUPTED)
}

/// `check --random`: draws calls, judges them against the oracle, prints the shrunk failures.
fn check_random(spec: &Spec, args: &CheckArgs) -> Result<ExitCode, String> {
    let ignored = [
        (args.jobs.is_some(), "--jobs"),
        (args.write_expectations.is_some(), "--write-expectations"),
        (args.spec.filter.is_some(), "--filter"),
    ];
    if let Some((_, flag)) = ignored.iter().find(|(given, _)| *given) {
        return Err(format!("{flag} does not apply to --random"));
    }
    let grades = grades(&args.grade)?;
    let mut options = random_options(&args.random)?;
    options.guard = args.implementation.is_some();
    // Its `[[random]]` rules; the `[[divergence]]` entries name the spec's cases, not drawn calls.
    let rules = read_expectations(args.expect.as_deref(), spec)?.random;
    let timeout = timeout(args.timeout)?;
    let startup = seconds("--startup", args.startup.unwrap_or(DEFAULT_STARTUP_SECONDS))?;
    let (json, _) = outputs(args)?;
    interrupt::install();
    let started = std::time::Instant::now();
    let mut implementation: Box<dyn Implementation> = match &args.implementation {
        None => Box::new(Reference),
        Some(command) => Box::new(child(command, timeout, startup, 1)),
    };
    let mut outcome = random::run_random_expecting(
        spec,
        &options,
        &rules,
        implementation.as_mut(),
        &interrupt::interrupted,
    );
    if let Some(name) = &args.name {
        outcome.report.implementation = name.clone();
    }
    let (code, verdict_line) = verdict_code(&outcome.report, args.allow_empty, &grades);
    let text = render::random::outcome(&outcome, &options, &rules, args.implementation.as_deref());
    let took = format!("in {:.1} s\n", started.elapsed().as_secs_f64());
    let printed = say(&(text + &took + &verdict_line));
    if let Some(file) = json {
        let text = serde_json::to_string_pretty(&render::json::report(&outcome.report))
            .map_err(|e| e.to_string())?;
        file.commit(&(text + "\n"))?;
    }
    if !outcome.report.interrupted {
        printed?;
    }
    Ok(code)
}

fn random_options(args: &RandomArgs) -> Result<random::Options, String> {
    let ops = match &args.op {
        None => random::ALL_OPS.to_vec(),
        Some(name) => vec![Op::parse(name).ok_or_else(|| format!("unknown op `{name}`"))?],
    };
    let dtypes = match args.dtype.as_deref() {
        None => vec![Dtype::Float32, Dtype::Float64],
        Some(name) => match Dtype::parse(name) {
            Some(d) if d.is_float() => vec![d],
            _ => {
                return Err(format!(
                    "`{name}` is not float32, float64, float16 or bfloat16"
                ));
            }
        },
    };
    if args.max_elements == 0 || args.max_elements > cross_entropy_spec::reference::MAX_ELEMENTS {
        return Err(format!(
            "--max-elements must be between 1 and {}",
            cross_entropy_spec::reference::MAX_ELEMENTS
        ));
    }
    Ok(random::Options {
        count: args.random.unwrap_or(0),
        seed: args.seed,
        from: args.from,
        surface: random::Surface {
            ops,
            dtypes,
            max_elements: args.max_elements,
        },
        shrink: args.shrink,
        guard: false,
    })
}

/// `--grade`: the grades named, every grade when none is.
fn grades(names: &[String]) -> Result<Vec<Grade>, String> {
    if names.is_empty() {
        return Ok(Grade::ALL.to_vec());
    }
    (names.iter())
        .map(|n| {
            Grade::parse(n)
                .ok_or_else(|| format!("--grade is semantics, exact or pytorch, not `{n}`"))
        })
        .collect()
}

/// 0 when nothing unexpected happened in `grades` and something passed; 128 + the signal after
/// Ctrl-C (SIGINT), SIGTERM or SIGHUP; 1 otherwise. With a line to print when nothing passed.
fn verdict_code(report: &Report, allow_empty: bool, grades: &[Grade]) -> (ExitCode, String) {
    if report.interrupted {
        return (ExitCode::from(interrupt::exit_status()), String::new());
    }
    // Something passed in a grade the exit requires (a run that fails only its exact claim
    // passed its semantics).
    let by_grade = report.grades();
    let passed = grades
        .iter()
        .any(|g| by_grade.get(g).is_some_and(|c| c.passed() > 0));
    if !passed && !allow_empty {
        return (
            ExitCode::FAILURE,
            "nothing passed: the implementation has not conformed to any run (--allow-empty accepts that)\n".into(),
        );
    }
    match report.success_in(grades) {
        true => (ExitCode::SUCCESS, String::new()),
        false => (ExitCode::FAILURE, String::new()),
    }
}

/// `--jobs`: at least one, at most [`MAX_JOBS`] (the runner caps it at the number of runs).
fn jobs(jobs: u64) -> Result<usize, String> {
    match usize::try_from(jobs) {
        Ok(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        _ => Err(format!(
            "--jobs must be between 1 and {MAX_JOBS}, not {jobs}"
        )),
    }
}

/// The expectations file, refused when an entry can never match a run of `spec` or names none.
fn read_expectations(path: Option<&Path>, spec: &Spec) -> Result<Expectations, String> {
    let Some(path) = path else {
        return Ok(Expectations::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let expectations =
        Expectations::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    // An id that names no case is a malformed file (exit 2, as spec/protocol.md says), caught
    // before anything runs.
    let stale = (expectations.stale(spec).into_iter())
        .map(|id| format!("`{id}` names no case of the spec (or no dtype it runs in)"));
    let problems: Vec<String> = expectations
        .unmatchable(spec)
        .into_iter()
        .chain(stale)
        .collect();
    match problems.as_slice() {
        [] => Ok(expectations),
        problems => Err(format!("{}: {}", path.display(), problems.join("; "))),
    }
}

/// `--timeout`: a positive number of seconds, at most a day.
fn timeout(seconds: Option<f64>) -> Result<Duration, String> {
    let seconds = seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
    match seconds {
        s if s > 0.0 => self::seconds("--timeout", s),
        s => Err(format!(
            "--timeout must be a positive number of seconds, at most {MAX_TIMEOUT_SECONDS}, not {s}"
        )),
    }
}

/// A number of seconds from 0 to a day.
fn seconds(flag: &str, seconds: f64) -> Result<Duration, String> {
    match seconds {
        s if s.is_finite() && (0.0..=MAX_TIMEOUT_SECONDS).contains(&s) => {
            Ok(Duration::from_secs_f64(s))
        }
        s => Err(format!(
            "{flag} must be a number of seconds from 0 to {MAX_TIMEOUT_SECONDS}, not {s}"
        )),
    }
}

fn cases(args: CasesArgs) -> Result<ExitCode, String> {
    let spec = load(&args.spec)?;
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut count = 0;
    for case in &spec.cases {
        if args
            .spec
            .filter
            .as_deref()
            .is_some_and(|f| !glob_match(f, &case.id))
        {
            continue;
        }
        for &dtype in &case.dtypes {
            count += 1;
            let line = if args.json {
                case_json(&spec, case, dtype)
                    .map_err(|e| format!("{}: case `{}` [{dtype}]: {e}", case.at, case.id))?
                    .to_string()
            } else {
                format!(
                    "{:<58} {:<8} {:<12} {}",
                    case.id,
                    dtype.as_str(),
                    case.op.as_str(),
                    case.at
                )
            };
            if let Err(e) = writeln!(out, "{line}") {
                // A reader that stopped early (`| head`) is not an error of ours.
                return match e.kind() {
                    std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
                    _ => Err(format!("writing stdout: {e}")),
                };
            }
        }
    }
    if count == 0 {
        return Err("no case matches the filter".into());
    }
    Ok(ExitCode::SUCCESS)
}

/// Protocol v1 on stdin/stdout: one reply line per request line, in order; a malformed line
/// gets an error reply naming the problem and the next line is read.
fn request(args: RequestArgs) -> Result<ExitCode, String> {
    let spec = load(&SpecArgs {
        filter: None,
        spec: args.spec,
    })?;
    let (case, dtype, part) = find_run(&spec, &args.id)?;
    let request = request_for(case, dtype, part)?;
    println!("{}", request.to_json());
    Ok(ExitCode::SUCCESS)
}

fn eval() -> Result<ExitCode, String> {
    let (stdin, stdout) = (std::io::stdin(), std::io::stdout());
    serve(
        &mut stdin.lock(),
        &mut stdout.lock(),
        &mut Reference,
        MAX_REQUEST_LINE,
    )
    .map_err(|e| format!("serving the protocol: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

fn load_dir(dir: &Path) -> Result<Spec, String> {
    read_dir(dir, &dir.display().to_string())
        .map(|(spec, _)| spec)
        .map_err(|errors| lines(&errors))
}

fn lines(errors: &[impl ToString]) -> String {
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    format!("the spec is malformed:\n  {}", all.join("\n  "))
}

fn torch_rng(args: RngArgs) -> Result<ExitCode, String> {
    let default = match args.op {
        RngOp::Randint => Dtype::Int64,
        _ => Dtype::Float32,
    };
    let dtype = match &args.dtype {
        None => default,
        Some(name) => Dtype::parse(name).ok_or_else(|| {
            format!("unknown dtype `{name}` (float32, float64, float16, bfloat16 or int64)")
        })?,
    };
    let what = match (args.op, args.high) {
        (RngOp::Rand | RngOp::Randn, Some(_)) => return Err("--high is for --op randint".into()),
        (RngOp::Randint, None) => return Err("--op randint needs --high".into()),
        (RngOp::Rand, None) => Draw::Rand,
        (RngOp::Randn, None) => Draw::Randn,
        (RngOp::Randint, Some(high)) => Draw::Below(high),
    };
    let tensor = TorchGenerator::manual_seed(args.seed).draw(what, &args.shape, dtype)?;
    println!("{}", tensor_json(&tensor));
    Ok(ExitCode::SUCCESS)
}

fn figures(args: FiguresArgs) -> Result<ExitCode, String> {
    let spec = bundle::spec()?;
    let path = &args.pytorch_report;
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let report: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a JSON report: {e}", path.display()))?;
    let all = cross_entropy_spec::figures::all(spec, &report).map_err(|e| e.to_string())?;
    if args.check {
        return match cross_entropy_spec::figures::check(&args.out, &all) {
            Ok(()) => {
                println!(
                    "{} figures in {} are current",
                    all.len(),
                    args.out.display()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("error: {e}");
                Ok(ExitCode::FAILURE)
            }
        };
    }
    cross_entropy_spec::figures::write(&args.out, &all).map_err(|e| e.to_string())?;
    println!("wrote {} figures to {}", all.len(), args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn site(args: SiteArgs) -> Result<ExitCode, String> {
    use cross_entropy_spec::site::{Verdicts, build};
    let verdicts = Verdicts::read(&args.report).map_err(|e| e.to_string())?;
    build(&args.spec, &args.out, &verdicts).map_err(|e| e.to_string())?;
    let index = args.out.join("index.html");
    println!(
        "wrote the site to {}: open {}",
        args.out.display(),
        index.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn bench(args: BenchArgs) -> Result<ExitCode, BenchError> {
    let spec = BenchSpec {
        op: args.op.parse()?,
        grad: args.grad,
        shape: args.shape,
        dtype: parse_dtype(&args.dtype)?,
        threads: args.threads,
        reps: args.reps,
        seed: args.seed,
        options: parse_options(args.options.as_deref())?,
    };
    let r = run(&spec)?;
    let [x0, x1, t0, t1] = r.inputs;
    println!(
        "inputs: x[first] = {x0:e}, x[last] = {x1:e}, target[first] = {t0:e}, target[last] = {t1:e}"
    );
    println!("checksum: {:e}", r.checksum);
    println!("{}", spec.summary(&r));
    Ok(ExitCode::SUCCESS)
}
