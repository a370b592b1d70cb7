//! Runs the whole cross-entropy spec against the Rust ecosystem's implementations (candle, burn,
//! dfdx), each through an adapter implementing `conformance::Implementation`, and writes the
//! conformance matrix `peers/MATRIX.md` beside the reference's and PyTorch's results.
//!
//! ```sh
//! cargo run -p peers --release            # run every peer, write peers/MATRIX.md
//! cargo run -p peers --release -- --check # the same, but compare with the committed file
//! ```
//!
//! Exits non-zero when a peer fails or errors on a case its expectations file does not list,
//! passes a case it lists, or lists a case the spec does not have; with `--check`, also when the
//! committed matrix is not what this run generates.

// The adapters answer early with `Err(Reply::Unsupported(..))` through `?`: both arms of those
// `Result<_, Reply>` are replies, built once per request, so boxing the error buys nothing.
#![allow(clippy::result_large_err)]

mod burn;
mod candle;
mod dfdx;
mod features;
mod matrix;
mod recorded;
mod request;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cross_entropy_spec::bundle;
use cross_entropy_spec::conformance::{Expectations, Implementation, Report, render, run_suite};
use cross_entropy_spec::eval::Reference;
use cross_entropy_spec::spec::Spec;

use crate::matrix::{Column, Documented};

struct Peer {
    /// The name of its expectations file, `peers/expectations/<key>.toml`.
    key: &'static str,
    column: String,
    implementation: Box<dyn Implementation>,
}

fn peers() -> Vec<Peer> {
    vec![
        Peer {
            key: "candle",
            column: format!("candle {}", candle::VERSION),
            implementation: Box::new(candle::Candle),
        },
        Peer {
            key: "burn",
            column: format!("burn {} (flex)", burn::VERSION),
            implementation: Box::new(burn::Burn),
        },
        Peer {
            key: "dfdx",
            column: format!("dfdx {}", dfdx::VERSION),
            implementation: Box::new(dfdx::Dfdx),
        },
    ]
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn main() -> ExitCode {
    let check = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => {
            eprintln!("usage: peers [--check]  (unknown argument `{other}`)");
            return ExitCode::from(2);
        }
    };
    match run(check) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(why) => {
            eprintln!("peers: {why}");
            ExitCode::from(2)
        }
    }
}

/// Runs everything; `Ok(false)` when something unexpected happened.
fn run(check: bool) -> Result<bool, String> {
    let spec = bundle::spec().map_err(|e| format!("the bundled spec does not parse: {e:?}"))?;
    let root = root();
    let mut columns = vec![Column::of_report(
        "reference",
        &run_suite(spec, None, &mut Reference),
    )];
    for recorded in recorded::RECORDED {
        columns.push(recorded::column(spec, &root, recorded)?);
    }
    // Peers panic on some inputs (caught and reported); keep their messages off the terminal.
    std::panic::set_hook(Box::new(|_| {}));
    let mut ok = true;
    let mut expectations = Vec::new();
    for mut peer in peers() {
        let file = format!("peers/expectations/{}.toml", peer.key);
        let text = std::fs::read_to_string(root.join(&file)).map_err(|e| format!("{file}: {e}"))?;
        let expected = Expectations::parse(&text).map_err(|e| format!("{file}: {e}"))?;
        let report = run_peer(spec, &mut *peer.implementation, &expected);
        if report.success() {
            println!("{:<22} {}", peer.column, report.counts());
        } else {
            print!("{}", render::text::report(&report));
            println!(
                "{:<22} {}  <- unexpected results",
                peer.column,
                report.counts()
            );
            ok = false;
        }
        columns.push(Column::of_report(&peer.column, &report));
        expectations.push((peer.key, file, expected));
    }
    let _ = std::panic::take_hook();
    let documented: Vec<Documented> = expectations
        .iter()
        .map(|(peer, file, e)| Documented {
            peer,
            file,
            expectations: e,
        })
        .collect();
    let generated = matrix::render(spec, &header(), &columns, &documented, NOTES);
    let readme_path = root.join("README.md");
    let readme = std::fs::read_to_string(&readme_path).map_err(|e| format!("README.md: {e}"))?;
    let readme_generated = with_matrix_table(&readme, &generated)?;
    let outputs = [
        ("peers/MATRIX.md", root.join("peers/MATRIX.md"), generated),
        ("README.md", readme_path, readme_generated),
    ];
    for (name, path, text) in outputs {
        if check {
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if committed != text {
                eprintln!(
                    "{name} is out of date: run `cargo run -p peers --release` and commit it"
                );
                ok = false;
            } else {
                println!("{name}: the matrix is up to date");
            }
        } else {
            std::fs::write(&path, &text).map_err(|e| format!("{name}: {e}"))?;
            println!("wrote the matrix into {name}");
        }
    }
    Ok(ok)
}

/// The README with its copy of the matrix's table (the lines between the two markers) replaced
/// by the table of `matrix`, so that the README shows the matrix and cannot drift from it.
fn with_matrix_table(readme: &str, matrix: &str) -> Result<String, String> {
    const START: &str = "<!-- peers matrix: start (generated by `cargo run -p peers`) -->\n";
    const END: &str = "<!-- peers matrix: end -->";
    let (Some(start), Some(end)) = (readme.find(START), readme.find(END)) else {
        return Err(format!(
            "README.md: the markers {START:?} and {END:?} are missing"
        ));
    };
    let table: String = matrix
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| format!("{l}\n"))
        .collect();
    let body = start + START.len();
    if end < body {
        return Err("README.md: the matrix markers are out of order".into());
    }
    Ok(format!("{}{table}{}", &readme[..body], &readme[end..]))
}

fn run_peer(spec: &Spec, peer: &mut dyn Implementation, expected: &Expectations) -> Report {
    let mut report = run_suite(spec, None, peer);
    expected.apply(&mut report);
    report.stale_expectations = expected.stale(spec);
    report
}

fn header() -> String {
    format!(
        "# Conformance matrix: the Rust and Python ecosystems against PyTorch's cross-entropy family\n\n\
         <!-- Generated by `cargo run -p peers --release`; do not edit. \
         `cargo run -p peers -- --check` fails when it is out of date. -->\n\n\
         Generated by `cargo run -p peers --release` from the spec of cross-entropy-spec {}, \
         with candle-core / candle-nn {}, burn {} (flex CPU backend), dfdx {}, and the committed \
         reports of PyTorch, JAX, TensorFlow, ONNX Runtime and PaddlePaddle in `adapters/` (each adapter's \
         README says how to run it again).\n",
        env!("CARGO_PKG_VERSION"),
        candle::VERSION,
        burn::VERSION,
        dfdx::VERSION,
    )
}

const NOTES: &str = "## How each peer is called

The adapters are in `peers/src/` (one file per peer; each file's doc comment lists what it calls
and how it converts layouts). In short:

- **candle** (`candle.rs`): `candle_nn::ops::{softmax, log_softmax, sigmoid}` on the tensor as
  it is; `candle_nn::loss::{cross_entropy, nll}` on `[N, C]` (a K-dim input is permuted and
  reshaped to `(N·d.., C)` with candle's own ops, so its gradient flows back);
  `candle_nn::loss::binary_cross_entropy_with_logit`. Errors are classified by candle's error
  variant, or by the text of the `bail!` messages of its loss functions.
- **burn** (`burn.rs`, flex backend): `activation::{softmax, log_softmax, sigmoid}` on a
  `(rows, dim)` matrix (the dim transposed last); `nn::loss::CrossEntropyLoss` with weights,
  smoothing and `pad_tokens = [ignore_index]`; `tensor::loss::cross_entropy_with_logits` for
  probability targets; `nn::loss::BinaryCrossEntropyLoss` (`logits` false / true) with 0/1
  targets and per-column weights. Float64 is asked only without weights, smoothing or the
  binary losses: burn's loss modules build those tensors in the device's default float dtype,
  which flex fixes at f32 once per process, and panic when given float64 logits.
- **dfdx** (`dfdx.rs`): `softmax` / `log_softmax::<Axis<1>>` and `sigmoid` on a `(rows, dim)`
  matrix; `cross_entropy_with_logits_loss` (class indices given as one-hot rows);
  `binary_cross_entropy_with_logits_loss`.

Gradients are each peer's own autograd (candle's backprop, burn's autodiff decorator over flex,
dfdx's tapes) of the sum of the output.

**Derived reduction.** All three peers only average. The adapters answer `reduction='sum'` as
the peer's mean multiplied by the number of averaged elements, computed with the peer's own
tensor operation (so its autograd sees it), and only where that mean divides by exactly that
count: no weight, no ignored rows, a non-empty batch. Everything else about reductions
(`'none'`, weighted sums) is unsupported. No adapter computes a loss itself.
";
