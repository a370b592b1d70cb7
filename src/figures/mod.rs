//! The spec's figures (`spec/figures/*.svg`), computed from the reference implementation and
//! drawn by [`svg`]. `cross-entropy-spec figures` writes them; `figures --check` fails when a
//! committed figure differs from what this module produces, so a figure cannot drift from the
//! reference it pictures.

mod budget;
mod curves;
mod flattening;
pub mod svg;

use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};
use serde_json::Value;

use crate::error::LossError;
use crate::spec::Spec;

/// One figure: its file name in the figures directory and its SVG text.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: &'static str,
    pub svg: String,
}

/// Why the figures could not be made, written or checked.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    #[error("figure {figure}: the reference rejected its input: {source}")]
    Reference {
        figure: &'static str,
        source: LossError,
    },
    #[error("figure {figure}: {message}")]
    Input {
        figure: &'static str,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", stale_message(.differ, .missing))]
    Stale {
        differ: Vec<String>,
        missing: Vec<String>,
    },
}

/// Which committed figures differ from the reference's and which are missing, and what to do.
fn stale_message(differ: &[String], missing: &[String]) -> String {
    let mut parts = Vec::new();
    if !differ.is_empty() {
        parts.push(format!(
            "{} from what `cross-entropy-spec figures` produces: {}",
            if differ.len() == 1 {
                "this figure differs"
            } else {
                "these figures differ"
            },
            differ.join(", ")
        ));
    }
    if !missing.is_empty() {
        parts.push(format!(
            "{} missing: {}",
            if missing.len() == 1 {
                "this figure is"
            } else {
                "these figures are"
            },
            missing.join(", ")
        ));
    }
    format!(
        "{}; regenerate them with `cross-entropy-spec figures` and commit the result",
        parts.join("; ")
    )
}

/// Every figure, in a fixed order. `pytorch` is PyTorch's recorded `check --json` report,
/// whose errors the tolerance-budget figure places beside the reference's.
pub fn all(spec: &Spec, pytorch: &Value) -> Result<Vec<Figure>, FigureError> {
    Ok(vec![
        curves::neg_log_p()?,
        flattening::softmax_flattening(spec)?,
        curves::log_softmax_underflow()?,
        curves::bce_clamp()?,
        budget::tolerance_budget(spec, pytorch)?,
    ])
}

/// Writes every figure into `dir`, creating it if needed.
pub fn write(dir: &Path, figures: &[Figure]) -> Result<(), FigureError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FigureError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for figure in figures {
        let path = dir.join(figure.name);
        std::fs::write(&path, &figure.svg).map_err(io(&path))?;
    }
    Ok(())
}

/// Compares every figure with its file in `dir`: an error naming each missing or different one.
pub fn check(dir: &Path, figures: &[Figure]) -> Result<(), FigureError> {
    let (mut differ, mut missing) = (Vec::new(), Vec::new());
    for f in figures {
        let path = dir.join(f.name);
        match std::fs::read_to_string(&path) {
            Ok(text) if text == f.svg => {}
            Ok(_) => differ.push(path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                missing.push(path.display().to_string());
            }
            Err(e) => differ.push(format!("{} ({e})", path.display())),
        }
    }
    if differ.is_empty() && missing.is_empty() {
        Ok(())
    } else {
        Err(FigureError::Stale { differ, missing })
    }
}

/// A 1-D array of the reference's element type.
fn vector<T: Copy>(data: &[T]) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(&[data.len()]), data.to_vec())
        .expect("a vector's shape is its length")
}

/// `n + 1` evenly spaced values from `a` to `b`.
fn grid(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..=n).map(|i| a + (b - a) * i as f64 / n as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_a_changed_and_a_missing_figure() {
        let dir = std::env::temp_dir().join(format!("figures-check-{}", std::process::id()));
        let figures = vec![
            Figure {
                name: "a.svg",
                svg: "<svg>a</svg>".into(),
            },
            Figure {
                name: "b.svg",
                svg: "<svg>b</svg>".into(),
            },
        ];
        write(&dir, &figures).unwrap();
        assert!(check(&dir, &figures).is_ok());
        std::fs::write(dir.join("a.svg"), "<svg>A</svg>").unwrap();
        std::fs::remove_file(dir.join("b.svg")).unwrap();
        let message = check(&dir, &figures).unwrap_err().to_string();
        assert!(
            message
                .contains("this figure differs from what `cross-entropy-spec figures` produces: ")
                && message.contains("a.svg; this figure is missing: ")
                && message.ends_with(
                    "b.svg; regenerate them with `cross-entropy-spec figures` and commit the result"
                ),
            "{message}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
