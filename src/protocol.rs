//! Protocol v1: what the runner sends an implementation and what it answers, one JSON object per
//! line (specified in `spec/protocol.md`). In process the same requests and replies are plain
//! values, so an in-process implementation and a child process are judged by the same code.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::error::{ErrorKind, LossError};
use crate::eval::Tensors;
use crate::spec::Attrs;
use crate::tensor::Tensor;
use crate::vocab::{Dtype, Op, Role};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u64 = 1;

/// One call of one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The case id with the dtype appended (`ce.doc001.batch3x5.none@float32`).
    pub id: String,
    pub op: Op,
    pub tensors: Tensors,
    pub attrs: Attrs,
    /// Whether the gradient of the sum of the output with respect to `input` is wanted.
    pub grad: bool,
}

/// An implementation's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Output {
        output: Tensor,
        grad_input: Option<Tensor>,
    },
    /// The call was rejected, as PyTorch rejects invalid input; `kind` is from the closed list.
    Error { kind: String, message: String },
    /// The implementation does not implement this (counted as skipped, never as passed).
    Unsupported(String),
    /// The implementation crashed, hung or answered something unreadable (never sent on the wire).
    Broken(String),
}

impl From<LossError> for Reply {
    /// A rejected input is answered with its kind and PyTorch's words.
    fn from(e: LossError) -> Reply {
        Reply::Error {
            kind: e.kind.as_str().into(),
            message: e.message,
        }
    }
}

/// A request line that could not be read: the id, if one could be found, and what was wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRequest {
    pub id: Option<String>,
    pub kind: ErrorKind,
    pub message: String,
}

/// Writes a tensor as `{"dtype": .., "shape": [..], "data": [..]}`: shortest round-trip
/// decimals for the tensor's dtype, and `"nan"`, `"inf"`, `"-inf"` for the non-finite values.
pub fn tensor_json(t: &Tensor) -> String {
    let mut out = format!(
        "{{\"dtype\":\"{}\",\"shape\":{:?},\"data\":[",
        t.dtype(),
        t.shape()
    );
    for (i, v) in t.formatted().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match v.as_str() {
            "nan" | "inf" | "-inf" => {
                let _ = write!(out, "\"{v}\"");
            }
            _ => out.push_str(v),
        }
    }
    out.push_str("]}");
    out
}

/// Reads a tensor written as by [`tensor_json`].
pub fn tensor_from_json(v: &Value) -> Result<Tensor, String> {
    let obj = v
        .as_object()
        .ok_or("a tensor is an object {dtype, shape, data}")?;
    for key in obj.keys() {
        if !matches!(key.as_str(), "dtype" | "shape" | "data") {
            return Err(format!("unknown key `{key}` in a tensor"));
        }
    }
    let dtype = obj
        .get("dtype")
        .and_then(Value::as_str)
        .ok_or("a tensor needs a string `dtype`")?;
    let dtype = Dtype::parse(dtype)
        .filter(|_| matches!(dtype, "float32" | "float64" | "int64"))
        .ok_or_else(|| format!("unknown dtype `{dtype}` (float32, float64 or int64)"))?;
    let shape = obj
        .get("shape")
        .and_then(Value::as_array)
        .ok_or("a tensor needs a `shape` array")?
        .iter()
        .map(|d| {
            d.as_u64()
                .and_then(|d| usize::try_from(d).ok())
                .ok_or("a shape holds non-negative integers")
        })
        .collect::<Result<Vec<_>, _>>()?;
    let data = obj
        .get("data")
        .and_then(Value::as_array)
        .ok_or("a tensor needs a `data` array (flat, row-major)")?;
    if dtype == Dtype::Int64 {
        let ints = data
            .iter()
            .map(|v| v.as_i64().ok_or_else(|| format!("{v} is not an int64")))
            .collect::<Result<Vec<_>, _>>()?;
        let numel = crate::tensor::checked_numel(&shape)
            .ok_or_else(|| format!("shape {shape:?} is too large"))?;
        if numel != ints.len() {
            return Err(format!(
                "shape {shape:?} holds {numel} elements, but `data` has {}",
                ints.len()
            ));
        }
        return ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape), ints)
            .map(Tensor::Int64)
            .map_err(|e| e.to_string());
    }
    let values = data
        .iter()
        .map(|v| match v {
            Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not a number")),
            Value::String(s) => match s.as_str() {
                "nan" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                _ => Err(format!(
                    "\"{s}\" is not a number (non-finite values are \"nan\", \"inf\", \"-inf\")"
                )),
            },
            other => Err(format!("{other} is not a number")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Tensor::from_f64(dtype, &shape, &values)
}

impl Request {
    /// The request as one line of JSON.
    pub fn to_json(&self) -> String {
        let mut inputs = String::new();
        for (i, (role, t)) in self.tensors.iter().enumerate() {
            if i > 0 {
                inputs.push(',');
            }
            let _ = write!(inputs, "\"{role}\":{}", tensor_json(t));
        }
        let mut attrs = Map::new();
        if let Some(d) = self.attrs.dim {
            attrs.insert("dim".into(), d.into());
        }
        if let Some(r) = &self.attrs.reduction {
            attrs.insert("reduction".into(), r.clone().into());
        }
        if let Some(i) = self.attrs.ignore_index {
            attrs.insert("ignore_index".into(), i.into());
        }
        if let Some(l) = self.attrs.label_smoothing {
            attrs.insert("label_smoothing".into(), float_value(l));
        }
        format!(
            "{{\"protocol\":{PROTOCOL_VERSION},\"id\":{},\"op\":\"{}\",\"inputs\":{{{inputs}}},\"attrs\":{},\"grad\":{}}}",
            Value::from(self.id.clone()),
            self.op,
            Value::Object(attrs),
            self.grad
        )
    }

    /// Reads one request line. A line that cannot be read gives the id (if any) and the reason.
    pub fn from_json(line: &str) -> Result<Request, BadRequest> {
        let bad =
            |id: Option<String>, kind: ErrorKind, message: String| BadRequest { id, kind, message };
        let value: Value = serde_json::from_str(line)
            .map_err(|e| bad(None, ErrorKind::MalformedRequest, format!("not JSON: {e}")))?;
        let obj = value.as_object().ok_or_else(|| {
            bad(
                None,
                ErrorKind::MalformedRequest,
                "a request is a JSON object".into(),
            )
        })?;
        let id = obj.get("id").and_then(Value::as_str).map(str::to_string);
        let malformed = |m: String| bad(id.clone(), ErrorKind::MalformedRequest, m);
        let id_str = id
            .clone()
            .ok_or_else(|| malformed("a request needs a string `id`".into()))?;
        match obj.get("protocol") {
            None => {}
            Some(v) if v.as_u64() == Some(PROTOCOL_VERSION) => {}
            Some(v) => {
                return Err(bad(
                    id.clone(),
                    ErrorKind::UnsupportedProtocol,
                    format!(
                        "protocol {v} is not supported (this implementation speaks {PROTOCOL_VERSION})"
                    ),
                ));
            }
        }
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "protocol" | "id" | "op" | "inputs" | "attrs" | "grad"
            ) {
                return Err(malformed(format!("unknown key `{key}` in a request")));
            }
        }
        let op_name = obj
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("a request needs a string `op`".into()))?;
        let op = Op::parse(op_name).ok_or_else(|| malformed(format!("unknown op `{op_name}`")))?;
        let mut tensors = BTreeMap::new();
        if let Some(inputs) = obj.get("inputs") {
            let inputs = inputs
                .as_object()
                .ok_or_else(|| malformed("`inputs` is an object of tensors".into()))?;
            for (name, t) in inputs {
                let role = Role::parse(name)
                    .filter(|r| op.tensor_args().contains(r))
                    .ok_or_else(|| malformed(format!("`{op}` takes no input `{name}`")))?;
                let t =
                    tensor_from_json(t).map_err(|m| malformed(format!("input `{name}`: {m}")))?;
                tensors.insert(role, t);
            }
        }
        let mut attrs = Attrs::default();
        if let Some(a) = obj.get("attrs") {
            let a = a
                .as_object()
                .ok_or_else(|| malformed("`attrs` is an object".into()))?;
            for (name, v) in a {
                if !op.attr_names().contains(&name.as_str()) {
                    return Err(malformed(format!("`{op}` takes no attr `{name}`")));
                }
                let wrong = || malformed(format!("attr `{name}` has the wrong type: {v}"));
                match name.as_str() {
                    "dim" => attrs.dim = Some(v.as_i64().ok_or_else(wrong)?),
                    "ignore_index" => attrs.ignore_index = Some(v.as_i64().ok_or_else(wrong)?),
                    "reduction" => {
                        attrs.reduction = Some(v.as_str().ok_or_else(wrong)?.to_string())
                    }
                    _ => attrs.label_smoothing = Some(json_float(v).ok_or_else(wrong)?),
                }
            }
        }
        let grad = match obj.get("grad") {
            None => false,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| malformed("`grad` is true or false".into()))?,
        };
        Ok(Request {
            id: id_str,
            op,
            tensors,
            attrs,
            grad,
        })
    }
}

impl Reply {
    /// The reply to request `id` as one line of JSON (a broken reply is never sent).
    pub fn to_json(&self, id: &str) -> String {
        let id = Value::from(id);
        match self {
            Reply::Output { output, grad_input } => {
                let grad = grad_input
                    .as_ref()
                    .map(|g| format!(",\"grad_input\":{}", tensor_json(g)))
                    .unwrap_or_default();
                format!("{{\"id\":{id},\"output\":{}{grad}}}", tensor_json(output))
            }
            Reply::Error { kind, message } => format!(
                "{{\"id\":{id},\"error\":{{\"kind\":{},\"message\":{}}}}}",
                Value::from(kind.as_str()),
                Value::from(message.as_str())
            ),
            Reply::Unsupported(why) | Reply::Broken(why) => {
                format!(
                    "{{\"id\":{id},\"unsupported\":{}}}",
                    Value::from(why.as_str())
                )
            }
        }
    }

    /// Reads a reply line to the request `id`; anything unreadable is a broken reply.
    pub fn from_json(line: &str, id: &str) -> Reply {
        match parse_reply(line, id) {
            Ok(reply) => reply,
            Err(why) => Reply::Broken(why),
        }
    }
}

fn parse_reply(line: &str, id: &str) -> Result<Reply, String> {
    let shown: String = line.chars().take(200).collect();
    let value: Value =
        serde_json::from_str(line).map_err(|e| format!("unreadable reply ({e}): {shown}"))?;
    let obj = value
        .as_object()
        .ok_or_else(|| format!("a reply is a JSON object: {shown}"))?;
    match obj.get("id").and_then(Value::as_str) {
        Some(got) if got == id => {}
        Some(got) => return Err(format!("reply for `{got}` where `{id}` was expected")),
        None => return Err(format!("a reply needs the request's `id`: {shown}")),
    }
    if let Some(t) = obj.get("output") {
        let output = tensor_from_json(t).map_err(|m| format!("`output`: {m}"))?;
        let grad_input = obj
            .get("grad_input")
            .map(|g| tensor_from_json(g).map_err(|m| format!("`grad_input`: {m}")))
            .transpose()?;
        return Ok(Reply::Output { output, grad_input });
    }
    if let Some(e) = obj.get("error") {
        let kind = e
            .get("kind")
            .and_then(Value::as_str)
            .ok_or("an error needs a `kind`")?;
        if ErrorKind::parse(kind).is_none() {
            return Err(format!("error kind `{kind}` is not in the protocol's list"));
        }
        let message = e.get("message").and_then(Value::as_str).unwrap_or_default();
        return Ok(Reply::Error {
            kind: kind.to_string(),
            message: message.to_string(),
        });
    }
    if let Some(why) = obj.get("unsupported") {
        return Ok(Reply::Unsupported(
            why.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| why.to_string()),
        ));
    }
    Err(format!(
        "a reply has `output`, `error` or `unsupported`: {shown}"
    ))
}

/// A float attr, finite as a number, non-finite as its string spelling.
fn float_value(v: f64) -> Value {
    if v.is_finite() {
        Value::from(v)
    } else {
        Value::from(crate::tensor::fmt_float(v, false))
    }
}

fn json_float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "nan" => Some(f64::NAN),
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let input = Tensor::from_f64(Dtype::Float32, &[2], &[0.1, f64::NAN]).unwrap();
        let target = Tensor::from_f64(Dtype::Int64, &[], &[1.0]).unwrap();
        let req = Request {
            id: "x.y@float32".into(),
            op: Op::CrossEntropy,
            tensors: Tensors::from([(Role::Input, input), (Role::Target, target)]),
            attrs: Attrs {
                reduction: Some("sum".into()),
                label_smoothing: Some(f64::INFINITY),
                ..Attrs::default()
            },
            grad: false,
        };
        let line = req.to_json();
        assert!(line.contains("\"data\":[0.1,\"nan\"]"), "{line}");
        let back = Request::from_json(&line).unwrap();
        assert_eq!(back.to_json(), line);
    }

    #[test]
    fn bad_requests_say_why() {
        let e = Request::from_json("{\"id\": \"a\", \"op\": \"softmax\", \"protocol\": 2}")
            .unwrap_err();
        assert_eq!(
            (e.id.as_deref(), e.kind),
            (Some("a"), ErrorKind::UnsupportedProtocol)
        );
        let e = Request::from_json("not json").unwrap_err();
        assert_eq!(e.kind, ErrorKind::MalformedRequest);
        let e = Request::from_json("{\"id\": \"a\", \"op\": \"mse\"}").unwrap_err();
        assert!(e.message.contains("unknown op"));
    }

    #[test]
    fn replies_round_trip_and_garbage_is_broken() {
        let out = Tensor::from_f64(Dtype::Float64, &[1], &[-0.0]).unwrap();
        let reply = Reply::Output {
            output: out,
            grad_input: None,
        };
        assert_eq!(Reply::from_json(&reply.to_json("a"), "a"), reply);
        assert!(matches!(
            Reply::from_json("{\"id\":\"b\",\"output\":1}", "a"),
            Reply::Broken(_)
        ));
        assert!(matches!(
            Reply::from_json("Traceback", "a"),
            Reply::Broken(_)
        ));
    }
}
