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
    #[error(
        "{} differ from what `cross-entropy-spec figures` produces: {}; regenerate them with `cross-entropy-spec figures` and commit the result",
        if .0.len() == 1 { "this figure does" } else { "these figures" },
        .0.join(", ")
    )]
    Stale(Vec<String>),
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
    let stale: Vec<String> = figures
        .iter()
        .filter(|f| std::fs::read_to_string(dir.join(f.name)).ok().as_ref() != Some(&f.svg))
        .map(|f| dir.join(f.name).display().to_string())
        .collect();
    if stale.is_empty() {
        Ok(())
    } else {
        Err(FigureError::Stale(stale))
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
            message.contains("a.svg") && message.contains("b.svg"),
            "{message}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
