//! Checks `cross_entropy_spec::torch_rng` against what PyTorch itself produced.
//!
//! `tests/data/torch_rng_observations.json` is written by `scripts/observe_torch_rng.py`, run
//! with a real PyTorch: each observation is a seed, a call (`rand`, `randn` or `randint`, which
//! covers `random_`), a dtype, a shape and PyTorch's output. Observations sharing a `sequence`
//! id were made one after the other from a single seeding, so they are replayed on one
//! generator in `step` order.
//!
//! `rand` and `randint` must match bit for bit. `randn` must match within the ulp bounds below
//! (and bit for bit in float16 and bfloat16).
//!
//! Set `TORCH_RNG_OBSERVATIONS=<path>` to check another observation file written by the same
//! script (for instance one recorded with `--extensive`, or on another CPU); the test then
//! prints the worst ulp differences it saw, which is how the bounds below were measured.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cross_entropy_spec::torch_rng::{NormalKernel, TorchGenerator};
use serde::Deserialize;

/// Largest difference, in units in the last place, allowed between a `float32` `randn` element
/// and PyTorch's, given the kernel PyTorch ran (see `NormalKernel`).
///
/// Measured with PyTorch 2.15.0 on an AVX-512 x86-64 machine with glibc 2.36, by recording with
/// `scripts/observe_torch_rng.py --extensive` under each of `ATEN_CPU_CAPABILITY=default`,
/// `avx2` and `avx512` and pointing `TORCH_RNG_OBSERVATIONS` at the result: 300 seeds × sizes
/// 16, 17, 20, 31, 32, 33, 100, 450, 1000 and 4096 (1,738,500 block-path elements) plus 300
/// tensors of 15 (4,500 scalar-path elements) per capability. Worst case: 0 ulp everywhere.
///
/// For scale: the two kernels disagree with each other on 38.5% of 4,096,000 elements, by up
/// to 4,834,320 ulp near a zero of `sin`/`cos` but never by more than 2.3e-6 in absolute value,
/// so choosing the kernel matters, and the test does so from the recorded CPU capability.
const RANDN_F32_MAX_ULPS: u64 = 0;

/// The same bound for `float64` `randn`. PyTorch computes both of its paths with scalar `f64`
/// C library calls; the measurement above (1,738,500 block-path and 4,500 scalar-path elements
/// per capability) found no difference at all.
const RANDN_F64_MAX_ULPS: u64 = 0;

/// How many mismatches to print before giving up on listing them.
const MAX_REPORTED_MISMATCHES: usize = 25;

#[derive(Debug, Deserialize)]
struct ObservationFile {
    torch_version: String,
    generated_by: String,
    /// PyTorch's CPU capability in the recording process (`torch.backends.cpu`).
    cpu_capability: String,
    observations: Vec<Observation>,
}

#[derive(Debug, Deserialize)]
struct Observation {
    seed: u64,
    op: String,
    dtype: String,
    shape: Vec<usize>,
    high: Option<u64>,
    sequence: Option<String>,
    step: Option<usize>,
    expr: String,
    /// The CPU capability PyTorch ran with for this observation, when it differs from the
    /// file's (the script records some `randn` calls in a child process forced to `DEFAULT`).
    cpu_capability: Option<String>,
    /// Values in row-major order: integers for `int64`, readable decimals for floats.
    data: Vec<serde_json::Value>,
    /// For floating dtypes, the exact IEEE 754 bit patterns of `data`.
    bits: Option<Vec<u64>>,
}

impl Observation {
    fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    fn describe(&self) -> String {
        let sequence = match (&self.sequence, self.step) {
            (Some(id), Some(step)) => format!(", sequence {id} step {step}"),
            _ => String::new(),
        };
        format!(
            "seed {}, op {}, dtype {}, shape {:?} ({}){sequence}",
            self.seed, self.op, self.dtype, self.shape, self.expr
        )
    }
}

/// What the Rust generator produced for one observation, kept in a comparable form.
enum Produced {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    /// float16 or bfloat16 values, as the bits of the dtype's 16-bit pattern.
    Half(Vec<u64>),
}

/// float32 values rounded to nearest-even in the half dtype `dtype`, as 16-bit patterns.
fn half_bits(dtype: &str, values: &[f32]) -> Result<Vec<u64>, String> {
    match dtype {
        "float16" => Ok(values
            .iter()
            .map(|&v| u64::from(half::f16::from_f32(v).to_bits()))
            .collect()),
        "bfloat16" => Ok(values
            .iter()
            .map(|&v| u64::from(half::bf16::from_f32(v).to_bits()))
            .collect()),
        other => Err(format!("{other} is not a half dtype")),
    }
}

/// The `float32` `randn` block kernel PyTorch uses under a given CPU capability: the portable
/// one for `DEFAULT` (no AVX2), the vectorised one for `AVX2` and `AVX512`.
fn kernel_for(capability: &str) -> Result<NormalKernel, String> {
    match capability {
        "DEFAULT" => Ok(NormalKernel::Portable),
        "AVX2" | "AVX512" => Ok(NormalKernel::Vectorized),
        other => Err(format!(
            "no known float32 randn kernel for CPU capability {other:?}; record on x86-64"
        )),
    }
}

/// Replays one observation's call on `generator`; `kernel` is the one PyTorch used.
fn produce(
    generator: &mut TorchGenerator,
    obs: &Observation,
    kernel: NormalKernel,
) -> Result<Produced, String> {
    let numel = obs.numel();
    let produced = match (obs.op.as_str(), obs.dtype.as_str()) {
        ("rand", "float32") => Produced::F32(generator.rand_f32(numel).expect("bounded")),
        ("rand", "float64") => Produced::F64(generator.rand_f64(numel).expect("bounded")),
        ("randn", "float32") => {
            Produced::F32(generator.randn_f32_with(numel, kernel).expect("bounded"))
        }
        ("randn", "float64") => Produced::F64(generator.randn_f64(numel).expect("bounded")),
        ("rand", half @ ("float16" | "bfloat16")) => {
            let round = |v: f32| match half {
                "float16" => half::f16::from_f32(v).to_f32(),
                _ => half::bf16::from_f32(v).to_f32(),
            };
            let values = generator.rand_half_with(numel, round).expect("bounded");
            Produced::Half(half_bits(half, &values)?)
        }
        ("randn", half @ ("float16" | "bfloat16")) => {
            let values = generator.randn_half_with(numel, kernel).expect("bounded");
            Produced::Half(half_bits(half, &values)?)
        }
        ("randint", dtype) => {
            let high = obs.high.ok_or("randint observation without `high`")?;
            let ints = generator
                .random_below(high, numel)
                .map_err(|e| e.to_string())?;
            match dtype {
                "int64" => Produced::I64(ints),
                // A float tensor's random_(high) holds the same integers, converted. The ranges
                // observed are far below 2^24, so the conversions are exact.
                "float32" => Produced::F32(ints.iter().map(|&v| v as f32).collect()),
                "float64" => Produced::F64(ints.iter().map(|&v| v as f64).collect()),
                // Integers below 2^8 (the ranges observed), exact in either half dtype.
                half @ ("float16" | "bfloat16") => Produced::Half(half_bits(
                    half,
                    &ints.iter().map(|&v| v as f32).collect::<Vec<_>>(),
                )?),
                other => return Err(format!("unknown dtype {other}")),
            }
        }
        (op, dtype) => return Err(format!("unknown op/dtype {op}/{dtype}")),
    };
    Ok(produced)
}

/// Maps a float's bits to an integer that is monotonic in the float's value, so that the
/// distance between two mapped values counts the representable floats between them.
fn ordered(bits: u64, sign_bit: u64) -> i128 {
    let magnitude = i128::from(bits & !sign_bit);
    if bits & sign_bit == 0 {
        magnitude
    } else {
        -magnitude
    }
}

fn ulp_distance(a: u64, b: u64, sign_bit: u64) -> u64 {
    let d = (ordered(a, sign_bit) - ordered(b, sign_bit)).unsigned_abs();
    u64::try_from(d).unwrap_or(u64::MAX)
}

/// Worst differences seen, per (op, dtype, path), for the summary.
#[derive(Default)]
struct Stats {
    worst_ulps: BTreeMap<String, (u64, usize)>,
}

impl Stats {
    fn record(&mut self, key: String, ulps: u64) {
        let entry = self.worst_ulps.entry(key).or_insert((0, 0));
        entry.0 = entry.0.max(ulps);
        entry.1 += 1;
    }
}

/// Compares one observation, appending a line per mismatching element to `mismatches`.
fn compare(
    obs: &Observation,
    produced: &Produced,
    stats: &mut Stats,
    mismatches: &mut Vec<String>,
) {
    let numel = obs.numel();
    let len = match produced {
        Produced::F32(v) => v.len(),
        Produced::F64(v) => v.len(),
        Produced::I64(v) => v.len(),
        Produced::Half(v) => v.len(),
    };
    if len != numel || obs.data.len() != numel {
        mismatches.push(format!(
            "{}: {} values in the file, {len} produced, shape says {numel}",
            obs.describe(),
            obs.data.len()
        ));
        return;
    }
    let path = if obs.op == "randn" {
        if numel < 16 { ".scalar" } else { ".block" }
    } else {
        ""
    };
    let key = format!("{}.{}{path}", obs.op, obs.dtype);
    match produced {
        Produced::I64(got) => {
            for (index, (want, &got)) in obs.data.iter().zip(got).enumerate() {
                let ulps = if want.as_i64() == Some(got) {
                    0
                } else {
                    u64::MAX
                };
                stats.record(key.clone(), ulps);
                if ulps != 0 {
                    mismatches.push(format!(
                        "{}: element {index}: expected {want}, got {got}",
                        obs.describe()
                    ));
                }
            }
        }
        Produced::F32(got) => {
            let tolerance = if obs.op == "randn" {
                RANDN_F32_MAX_ULPS
            } else {
                0
            };
            let got_bits: Vec<u64> = got.iter().map(|v| u64::from(v.to_bits())).collect();
            compare_floats(
                obs,
                &got_bits,
                1 << 31,
                tolerance,
                &key,
                stats,
                mismatches,
                |b| {
                    // The file's bit patterns of float32 values fit in 32 bits by construction.
                    f64::from(f32::from_bits(b as u32))
                },
            );
        }
        Produced::F64(got) => {
            let tolerance = if obs.op == "randn" {
                RANDN_F64_MAX_ULPS
            } else {
                0
            };
            let got_bits: Vec<u64> = got.iter().map(|v| v.to_bits()).collect();
            compare_floats(
                obs,
                &got_bits,
                1 << 63,
                tolerance,
                &key,
                stats,
                mismatches,
                f64::from_bits,
            );
        }
        Produced::Half(got_bits) => {
            // Bit for bit: the values are float32 results rounded once, and the float32 results
            // match PyTorch's bit for bit (the bounds above are 0).
            let bf16 = obs.dtype == "bfloat16";
            compare_floats(obs, got_bits, 1 << 15, 0, &key, stats, mismatches, |b| {
                let b = b as u16;
                if bf16 {
                    half::bf16::from_bits(b).to_f64()
                } else {
                    half::f16::from_bits(b).to_f64()
                }
            });
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn compare_floats(
    obs: &Observation,
    got_bits: &[u64],
    sign_bit: u64,
    tolerance: u64,
    key: &str,
    stats: &mut Stats,
    mismatches: &mut Vec<String>,
    value_of: impl Fn(u64) -> f64,
) {
    let Some(want_bits) = &obs.bits else {
        mismatches.push(format!(
            "{}: float observation without `bits`",
            obs.describe()
        ));
        return;
    };
    if want_bits.len() != got_bits.len() {
        mismatches.push(format!(
            "{}: {} bit patterns for {} values",
            obs.describe(),
            want_bits.len(),
            got_bits.len()
        ));
        return;
    }
    for (index, (&want, &got)) in want_bits.iter().zip(got_bits).enumerate() {
        let ulps = ulp_distance(want, got, sign_bit);
        stats.record(key.to_owned(), ulps);
        if ulps > tolerance {
            mismatches.push(format!(
                "{}: element {index}: expected {:e} (bits {want:#x}), got {:e} (bits {got:#x}), \
                 {ulps} ulp apart, {tolerance} allowed",
                obs.describe(),
                value_of(want),
                value_of(got),
            ));
        }
    }
}

fn observation_path() -> PathBuf {
    match std::env::var_os("TORCH_RNG_OBSERVATIONS") {
        Some(path) => PathBuf::from(path),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/torch_rng_observations.json")
        }
    }
}

/// Groups observations into runs that each start from a fresh `manual_seed`: a lone
/// observation, or all the steps of one sequence in step order.
fn runs(observations: &[Observation]) -> Result<Vec<Vec<&Observation>>, String> {
    let mut runs: Vec<Vec<&Observation>> = Vec::new();
    let mut sequences: BTreeMap<&str, usize> = BTreeMap::new();
    for obs in observations {
        match &obs.sequence {
            None => runs.push(vec![obs]),
            Some(id) => match sequences.get(id.as_str()) {
                Some(&run) => runs[run].push(obs),
                None => {
                    sequences.insert(id, runs.len());
                    runs.push(vec![obs]);
                }
            },
        }
    }
    for run in &mut runs {
        run.sort_by_key(|obs| obs.step.unwrap_or(0));
        let first = run[0];
        for (expected_step, obs) in run.iter().enumerate() {
            if obs.seed != first.seed {
                return Err(format!(
                    "{}: seed differs within its sequence",
                    obs.describe()
                ));
            }
            if obs.sequence.is_some() && obs.step != Some(expected_step) {
                return Err(format!("{}: steps must be 0, 1, 2, ...", obs.describe()));
            }
        }
    }
    Ok(runs)
}

#[test]
fn generator_reproduces_pytorch_observations() {
    let path = observation_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let file: ObservationFile = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()));
    assert_eq!(file.generated_by, "scripts/observe_torch_rng.py");
    assert!(
        file.observations.len() >= 40,
        "expected at least 40 observations, found {}",
        file.observations.len()
    );

    let runs = runs(&file.observations).unwrap_or_else(|e| panic!("{e}"));
    let mut stats = Stats::default();
    let mut mismatches = Vec::new();
    for run in &runs {
        let mut generator = TorchGenerator::manual_seed(run[0].seed);
        for obs in run {
            let capability = obs
                .cpu_capability
                .as_deref()
                .unwrap_or(&file.cpu_capability);
            let produced = kernel_for(capability).and_then(|k| produce(&mut generator, obs, k));
            match produced {
                Ok(produced) => compare(obs, &produced, &mut stats, &mut mismatches),
                Err(e) => mismatches.push(format!("{}: {e}", obs.describe())),
            }
        }
    }

    eprintln!(
        "checked {} observations ({} runs) from PyTorch {} ({}) in {}",
        file.observations.len(),
        runs.len(),
        file.torch_version,
        file.cpu_capability,
        path.display()
    );
    for (key, (worst, count)) in &stats.worst_ulps {
        eprintln!("  {key}: {count} elements, worst difference {worst} ulp");
    }
    if !mismatches.is_empty() {
        for line in mismatches.iter().take(MAX_REPORTED_MISMATCHES) {
            eprintln!("MISMATCH {line}");
        }
        panic!(
            "{} element(s) differ from PyTorch (first {} listed above)",
            mismatches.len(),
            mismatches.len().min(MAX_REPORTED_MISMATCHES)
        );
    }
}

#[test]
fn ulp_distance_counts_representable_floats() {
    let sign = 1u64 << 31;
    let one = u64::from(1.0f32.to_bits());
    let next = u64::from(f32::from_bits(1.0f32.to_bits() + 1).to_bits());
    assert_eq!(ulp_distance(one, one, sign), 0);
    assert_eq!(ulp_distance(one, next, sign), 1);
    // +0.0 and -0.0 are the same value.
    assert_eq!(ulp_distance(0, sign, sign), 0);
    // The smallest subnormals on either side of zero are two steps apart.
    assert_eq!(ulp_distance(1, sign | 1, sign), 2);
}
