//! The snapshot of a case: its result at full precision, as a serde model that insta writes as
//! YAML. Values are shortest round-trip decimals in the result's dtype, one row (the last axis)
//! per line, so a diff points at the element that moved.

use serde::Serialize;

use cross_entropy_spec::conformance::Reply;
use cross_entropy_spec::spec::Case;
use cross_entropy_spec::tensor::Tensor;
use cross_entropy_spec::vocab::{Dtype, ErrorKind, Op};

#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub case: String,
    pub op: Op,
    pub dtype: Dtype,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<TensorSnapshot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grad_input: Option<TensorSnapshot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorSnapshot>,
    /// The identities and restated document implementations the result was checked against.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checked: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct TensorSnapshot {
    pub dtype: Dtype,
    #[serde(serialize_with = "shape_text")]
    pub shape: Vec<usize>,
    /// A 0-d tensor's one value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Every other tensor's values, one line per row of the last axis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<String>>,
    /// A tensor of more than [`LISTED`] elements (vocabulary scale): FNV-1a (64-bit) of its
    /// values' decimals, so that any element that moves changes the snapshot, and its first
    /// and last elements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends: Option<String>,
}

/// The most elements a snapshot lists one by one.
pub const LISTED: usize = 4096;

#[derive(Debug, Serialize)]
pub struct ErrorSnapshot {
    pub kind: ErrorKind,
    pub message: String,
}

/// A shape on one line: `[3, 5]`.
fn shape_text<S: serde::Serializer>(shape: &[usize], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{shape:?}"))
}

impl TensorSnapshot {
    pub fn of(t: &Tensor) -> TensorSnapshot {
        let values = t.formatted();
        if values.len() > LISTED {
            let hash = (values.iter().flat_map(|v| v.bytes().chain([b','])))
                .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
                });
            let n = values.len();
            return TensorSnapshot {
                dtype: t.dtype(),
                shape: t.shape().to_vec(),
                value: None,
                rows: None,
                digest: Some(format!("{hash:016x}")),
                ends: Some(format!(
                    "{}, {} … {}, {}",
                    values[0],
                    values[1],
                    values[n - 2],
                    values[n - 1]
                )),
            };
        }
        let (value, rows) = match t.shape() {
            [] => (values.first().cloned(), None),
            shape => {
                let row = shape.last().copied().unwrap_or(1).max(1);
                (
                    None,
                    Some(values.chunks(row).map(|c| c.join(", ")).collect()),
                )
            }
        };
        TensorSnapshot {
            dtype: t.dtype(),
            shape: t.shape().to_vec(),
            value,
            rows,
            digest: None,
            ends: None,
        }
    }
}

impl Snapshot {
    /// The snapshot of the reference's reply to a case's request (with its gradient, when the
    /// case expects a value).
    pub fn of(case: &Case, dtype: Dtype, reply: &Reply, checked: Vec<String>) -> Snapshot {
        let mut s = Snapshot {
            case: case.id.clone(),
            op: case.op,
            dtype,
            output: None,
            grad_input: None,
            error: None,
            checked,
        };
        match reply {
            Reply::Output { output, grad_input } => {
                s.output = Some(TensorSnapshot::of(output));
                s.grad_input = grad_input.as_ref().map(TensorSnapshot::of);
            }
            Reply::Error { kind, message } => {
                s.error = Some(ErrorSnapshot {
                    kind: *kind,
                    message: message.clone(),
                })
            }
            Reply::Unsupported(_) | Reply::Broken(_) => {}
        }
        s
    }
}

/// Where a case's snapshot in `dtype` lives under `snapshots/`: `<chapter>/<dtype>/<case id>`
/// (with `.snap`). Unambiguous whatever words an id contains.
pub fn path(chapter_stem: &str, case: &Case, dtype: Dtype) -> (std::path::PathBuf, String) {
    (
        std::path::Path::new(chapter_stem).join(dtype.as_str()),
        case.id.clone(),
    )
}
