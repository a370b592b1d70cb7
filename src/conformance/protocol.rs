//! Protocol v1: what the runner sends an implementation and what it answers, one JSON object per
//! line (specified in `spec/protocol.md`). The wire forms are serde-derived and strict (unknown
//! keys are errors); in process the same requests and replies are typed values, so an
//! in-process implementation and a child process are judged by the same code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ErrorKind, LossError};
use crate::eval::Tensors;
use crate::halves;
use crate::spec::Attrs;
use crate::tensor::Tensor;
use crate::vocab::{Dtype, Op, Role};

use super::read_tensor::{RawTensor, unique_keys};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u64 = 1;

/// One call of one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Unique per run: `<case id>@<dtype>` for a value run, `<case id>@<dtype>/grad` for a
    /// gradient run.
    pub id: String,
    pub op: Op,
    pub tensors: Tensors,
    pub attrs: Attrs,
    /// Whether a gradient is wanted: the vector–Jacobian product that `vjp` describes.
    pub grad: bool,
    /// What a gradient request differentiates, and the upstream gradient it pulls back.
    pub vjp: Vjp,
}

/// A gradient request's vector–Jacobian product: `Σ upstream ⊙ output` differentiated with
/// respect to `wrt`. The default (`input`, all ones) is the gradient of the output's sum, what
/// a request without either key has always meant.
#[derive(Debug, Clone, PartialEq)]
pub struct Vjp {
    /// The argument differentiated: `input`, `target` or `weight`.
    pub wrt: Role,
    /// The upstream gradient, of the output's shape and in the run's dtype; `None` is all ones.
    pub upstream: Option<Tensor>,
}

impl Default for Vjp {
    fn default() -> Vjp {
        Vjp {
            wrt: Role::Input,
            upstream: None,
        }
    }
}

/// The reply key of the gradient with respect to `wrt`: `grad_input`, `grad_target`, ...
pub fn grad_key(wrt: Role) -> String {
    format!("grad_{wrt}")
}

/// An implementation's answer.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "one reply per run, built by every implementation: boxing the output would burden each of them"
)]
pub enum Reply {
    Output {
        output: Tensor,
        /// The gradient the request asked for, with respect to its `vjp.wrt` (named
        /// `grad_<wrt>` on the wire; `grad_input` for every request that names no `wrt`).
        grad_input: Option<Tensor>,
    },
    /// The call was rejected, as PyTorch rejects invalid input.
    Error { kind: ErrorKind, message: String },
    /// The implementation does not implement this (counted as skipped, never as passed).
    Unsupported(String),
    /// In process only, never on the wire: the implementation crashed, hung or answered
    /// something unreadable.
    Broken(String),
}

impl From<LossError> for Reply {
    /// A rejected input is answered with its kind and PyTorch's words.
    fn from(e: LossError) -> Reply {
        Reply::Error {
            kind: e.kind,
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

impl From<BadRequest> for Reply {
    fn from(bad: BadRequest) -> Reply {
        Reply::Error {
            kind: bad.kind,
            message: bad.message,
        }
    }
}

/// One element as written: shortest round-trip decimal in the tensor's dtype (for a half dtype,
/// one that also reads back through float32: `crate::halves`), integers as
/// integers, and `"nan"`, `"inf"`, `"-inf"` for the non-finite values.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
enum Number {
    Int(i64),
    Float(f64),
    Single(f32),
    Special(&'static str),
}

/// A tensor as written: `{"dtype": .., "shape": [..], "data": [..]}`, data flat and row-major.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct WireTensor<'a> {
    dtype: Dtype,
    shape: Vec<usize>,
    data: WireData<'a>,
}

/// A tensor's elements, written one by one as the line is written: never gathered first.
#[derive(Debug, Clone, PartialEq)]
struct WireData<'a>(&'a Tensor);

impl Serialize for WireData<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let float = |v: f64, single: bool| match v {
            v if v.is_nan() => Number::Special("nan"),
            f64::INFINITY => Number::Special("inf"),
            f64::NEG_INFINITY => Number::Special("-inf"),
            v if single && rounds_once(v as f32) => Number::Single(v as f32),
            v => Number::Float(v),
        };
        let len = self.0.shape().iter().product();
        let mut seq = s.serialize_seq(Some(len))?;
        match self.0 {
            Tensor::Float32(a) => a
                .iter()
                .try_for_each(|&v| seq.serialize_element(&float(f64::from(v), true)))?,
            Tensor::Float64(a) => a
                .iter()
                .try_for_each(|&v| seq.serialize_element(&float(v, false)))?,
            Tensor::Int64(a) => a
                .iter()
                .try_for_each(|&v| seq.serialize_element(&Number::Int(v)))?,
            Tensor::Float16(_) | Tensor::BFloat16(_) => {
                let dtype = self.0.dtype();
                (self.0.to_f64_vec().into_iter()).try_for_each(|v| match v.is_finite() {
                    true => seq.serialize_element(&Number::Float(halves::shortest(dtype, v))),
                    false => seq.serialize_element(&float(v, false)),
                })?
            }
        }
        seq.end()
    }
}

impl<'a> From<&'a Tensor> for WireTensor<'a> {
    fn from(t: &'a Tensor) -> WireTensor<'a> {
        WireTensor {
            dtype: t.dtype(),
            shape: t.shape().to_vec(),
            data: WireData(t),
        }
    }
}

/// Whether `v`'s shortest float32 decimal also reads back to `v` through float64 (rounded to
/// float64, then to float32). For a few values it does not (`7.038531e-26`); those are written as
/// their float64 decimal, so that a reader going through float64 (Python, JavaScript) reads every
/// request exactly.
fn rounds_once(v: f32) -> bool {
    v.to_string()
        .parse::<f64>()
        .is_ok_and(|wide| wide as f32 == v)
}

/// Writes a tensor as the protocol does.
pub fn tensor_json(t: &Tensor) -> String {
    serde_json::to_string(&WireTensor::from(t)).expect("a wire tensor always serialises")
}

/// Reads a tensor written as by [`tensor_json`].
pub fn tensor_from_json(text: &str) -> Result<Tensor, String> {
    serde_json::from_str::<RawTensor>(text)
        .map_err(|e| e.to_string())?
        .into_tensor()
}

/// A request on the wire.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "T: Deserialize<'de>"))]
struct WireRequest<T> {
    #[serde(default = "version_one")]
    protocol: u64,
    id: String,
    op: Op,
    #[serde(default, deserialize_with = "unique_keys")]
    inputs: BTreeMap<Role, T>,
    #[serde(default)]
    attrs: Attrs,
    #[serde(default)]
    grad: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wrt: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upstream: Option<T>,
}

/// What is read of a line before the whole of it: its id, its protocol version and, in a
/// reply, its error. Every other value is skipped without being built (a number too large for a
/// float64 included).
#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    protocol: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

fn version_one() -> u64 {
    PROTOCOL_VERSION
}

impl Request {
    /// The request as one line of JSON.
    pub fn to_json(&self) -> String {
        let wire = WireRequest::<WireTensor> {
            protocol: PROTOCOL_VERSION,
            id: self.id.clone(),
            op: self.op,
            inputs: (self.tensors.iter())
                .map(|(role, t)| (*role, WireTensor::from(t)))
                .collect(),
            attrs: self.attrs.clone(),
            grad: self.grad,
            wrt: Some(self.vjp.wrt).filter(|&r| r != Role::Input),
            upstream: self.vjp.upstream.as_ref().map(WireTensor::from),
        };
        serde_json::to_string(&wire).expect("a wire request always serialises")
    }

    /// Reads one request line. A line that cannot be read gives the id (if any) and the reason.
    pub fn from_json(line: &str) -> Result<Request, BadRequest> {
        let malformed = |id: Option<String>, message: String| BadRequest {
            id,
            kind: ErrorKind::MalformedRequest,
            message,
        };
        // The id and the version first, every other value skipped unread: so that a line
        // the full read refuses is answered with its id, and the protocol is checked first.
        let head: Head =
            serde_json::from_str(line).map_err(|e| malformed(None, format!("not JSON: {e}")))?;
        let id = head.id.as_ref().and_then(Value::as_str).map(str::to_string);
        match head.protocol {
            None => {}
            Some(v) if v.as_u64() == Some(PROTOCOL_VERSION) => {}
            Some(v) => {
                return Err(BadRequest {
                    id,
                    kind: ErrorKind::UnsupportedProtocol,
                    message: format!(
                        "protocol {v} is not supported (this implementation speaks {PROTOCOL_VERSION})"
                    ),
                });
            }
        }
        let wire = serde_json::from_str::<WireRequest<RawTensor>>(line)
            .map_err(|e| malformed(id.clone(), e.to_string()))?;
        Request::from_wire(wire).map_err(|m| malformed(id, m))
    }

    fn from_wire(wire: WireRequest<RawTensor>) -> Result<Request, String> {
        let op = wire.op;
        let mut tensors = Tensors::new();
        for (role, t) in wire.inputs {
            if !op.tensor_args().contains(&role) {
                return Err(format!("`{op}` takes no input `{role}`"));
            }
            tensors.insert(
                role,
                t.into_tensor()
                    .map_err(|m| format!("input `{role}`: {m}"))?,
            );
        }
        let a = &wire.attrs;
        let given = [
            ("dim", a.dim.is_some()),
            ("reduction", a.reduction.is_some()),
            ("ignore_index", a.ignore_index.is_some()),
            ("label_smoothing", a.label_smoothing.is_some()),
        ];
        if let Some((name, _)) = given
            .iter()
            .find(|(n, g)| *g && !op.attr_names().contains(n))
        {
            return Err(format!("`{op}` takes no attr `{name}`"));
        }
        let vjp = read_vjp(op, &tensors, wire.grad, wire.wrt, wire.upstream)?;
        Ok(Request {
            id: wire.id,
            op,
            tensors,
            attrs: wire.attrs,
            grad: wire.grad,
            vjp,
        })
    }
}

/// A gradient request's `wrt` and `upstream`: only with `"grad": true`, `wrt` one of the
/// tensors the request gives, `upstream` floating. Whether PyTorch differentiates `wrt` is the
/// implementation's answer (`not_differentiable`), not a malformed request.
fn read_vjp(
    op: Op,
    tensors: &Tensors,
    grad: bool,
    wrt: Option<Role>,
    upstream: Option<RawTensor>,
) -> Result<Vjp, String> {
    if !grad && (wrt.is_some() || upstream.is_some()) {
        return Err("`wrt` and `upstream` belong to a gradient request (`\"grad\": true`)".into());
    }
    let wrt = wrt.unwrap_or(Role::Input);
    if !tensors.contains_key(&wrt) {
        return Err(format!(
            "`wrt` names `{wrt}`, which the request does not give `{op}`"
        ));
    }
    let upstream = (upstream.map(RawTensor::into_tensor).transpose())
        .map_err(|m| format!("`upstream`: {m}"))?;
    if upstream.as_ref().is_some_and(|u| !u.dtype().is_float()) {
        return Err("`upstream` must be a floating tensor".into());
    }
    Ok(Vjp { wrt, upstream })
}

/// A reply on the wire: exactly one of `output` (with `grad_input` when asked), `error`,
/// `unsupported`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "T: Deserialize<'de>"))]
struct WireReply<T> {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grad_input: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grad_target: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grad_weight: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<WireError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unsupported: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireError {
    kind: ErrorKind,
    #[serde(default)]
    message: String,
}

impl Reply {
    /// The reply to request `id` as one line of JSON, its gradient (if any) as `grad_input`.
    /// A [`Reply::Broken`] exists only in process; it has no wire form.
    pub fn to_json(&self, id: &str) -> Option<String> {
        self.to_json_wrt(id, Role::Input)
    }

    /// The reply to request `id`, whose gradient is with respect to `wrt` (`grad_<wrt>`).
    pub fn to_json_wrt(&self, id: &str, wrt: Role) -> Option<String> {
        let mut wire = WireReply::<WireTensor> {
            id: id.to_string(),
            output: None,
            grad_input: None,
            grad_target: None,
            grad_weight: None,
            error: None,
            unsupported: None,
        };
        match self {
            Reply::Output { output, grad_input } => {
                wire.output = Some(output.into());
                if let Some(grad) = grad_input {
                    *wire.grad_slot(wrt)? = Some(grad.into());
                }
            }
            Reply::Error { kind, message } => {
                wire.error = Some(WireError {
                    kind: *kind,
                    message: message.clone(),
                })
            }
            Reply::Unsupported(why) => wire.unsupported = Some(why.clone()),
            Reply::Broken(_) => return None,
        }
        Some(serde_json::to_string(&wire).expect("a wire reply always serialises"))
    }

    /// Reads a reply line to the request `id` (its gradient, if any, as `grad_input`);
    /// anything unreadable is a broken reply.
    pub fn from_json(line: &str, id: &str) -> Reply {
        Reply::from_json_wrt(line, id, Role::Input)
    }

    /// Reads a reply line to the request `id` whose gradient is with respect to `wrt`: a
    /// gradient under another key than `grad_<wrt>` is unreadable.
    pub fn from_json_wrt(line: &str, id: &str, wrt: Role) -> Reply {
        parse_reply(line, id, wrt).unwrap_or_else(Reply::Broken)
    }
}

impl<T> WireReply<T> {
    /// The field of the gradient with respect to `wrt`; `None` for one with no wire key
    /// (`pos_weight`, which PyTorch never differentiates).
    fn grad_slot(&mut self, wrt: Role) -> Option<&mut Option<T>> {
        match wrt {
            Role::Input => Some(&mut self.grad_input),
            Role::Target => Some(&mut self.grad_target),
            Role::Weight => Some(&mut self.grad_weight),
            Role::PosWeight => None,
        }
    }
}

/// How many characters of an unclassified error's message a broken reply keeps.
const MESSAGE_KEPT: usize = 2000;

fn parse_reply(line: &str, id: &str, wrt: Role) -> Result<Reply, String> {
    let shown: String = line.chars().take(200).collect();
    let head: Head =
        serde_json::from_str(line).map_err(|e| format!("unreadable reply ({e}): {shown}"))?;
    match head.id.as_ref().and_then(Value::as_str) {
        Some(got) if got == id => {}
        Some(got) => return Err(format!("reply for `{got}` where `{id}` was expected")),
        None => return Err(format!("a reply needs the request's `id`: {shown}")),
    }
    if let Some(kind) = head.error.as_ref().and_then(|e| e.get("kind")?.as_str()) {
        if ErrorKind::parse(kind).is_none() {
            // The implementation's own words are what a reader needs to classify it.
            let message = (head.error.as_ref())
                .and_then(|e| e.get("message")?.as_str())
                .map(|m| format!(": {}", m.chars().take(MESSAGE_KEPT).collect::<String>()))
                .unwrap_or_default();
            return Err(format!(
                "error kind `{kind}` is not in the protocol's list (an unknown kind counts as errored){message}"
            ));
        }
    }
    let mut wire = serde_json::from_str::<WireReply<RawTensor>>(line)
        .map_err(|e| format!("unreadable reply ({e}): {shown}"))?;
    // The gradient asked for moves to `grad_input`; any other gradient key is unreadable.
    let asked = wire.grad_slot(wrt).and_then(Option::take);
    let others = [&wire.grad_input, &wire.grad_target, &wire.grad_weight];
    if others.iter().any(|g| g.is_some()) {
        let key = grad_key(wrt);
        return Err(format!(
            "a gradient with respect to `{wrt}` is answered as `{key}`, and no other: {shown}"
        ));
    }
    wire.grad_input = asked;
    match wire {
        WireReply {
            output: Some(output),
            error: None,
            unsupported: None,
            grad_input,
            ..
        } => {
            let output = output.into_tensor().map_err(|m| format!("`output`: {m}"))?;
            let grad_input = (grad_input.map(RawTensor::into_tensor).transpose())
                .map_err(|m| format!("`grad_input`: {m}"))?;
            Ok(Reply::Output { output, grad_input })
        }
        WireReply {
            error: Some(e),
            output: None,
            unsupported: None,
            grad_input: None,
            ..
        } => Ok(Reply::Error {
            kind: e.kind,
            message: e.message,
        }),
        WireReply {
            unsupported: Some(why),
            output: None,
            error: None,
            grad_input: None,
            ..
        } => Ok(Reply::Unsupported(why)),
        _ => Err(format!(
            "a reply has exactly one of `output`, `error`, `unsupported` (and `grad_<wrt>` only with `output`): {shown}"
        )),
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
            vjp: Vjp::default(),
        };
        let line = req.to_json();
        assert!(line.contains("\"data\":[0.1,\"nan\"]"), "{line}");
        assert!(line.contains("\"label_smoothing\":\"inf\""), "{line}");
        let back = Request::from_json(&line).unwrap();
        assert_eq!(back.to_json(), line);
    }

    #[test]
    fn a_vjp_request_round_trips_and_its_gradient_key_is_grad_wrt() {
        let line = concat!(
            r#"{"protocol":1,"id":"v","op":"binary_cross_entropy","inputs":{"#,
            r#""input":{"dtype":"float64","shape":[1],"data":[0.5]},"#,
            r#""target":{"dtype":"float64","shape":[1],"data":[1.0]}},"attrs":{},"#,
            r#""grad":true,"wrt":"target","upstream":{"dtype":"float64","shape":[],"data":[-2.0]}}"#
        );
        let req = Request::from_json(line).unwrap();
        assert_eq!(req.vjp.wrt, Role::Target);
        assert_eq!(req.vjp.upstream.as_ref().unwrap().to_f64_vec(), [-2.0]);
        assert_eq!(req.to_json(), line);
        // The defaults are not written: an all-ones request reads as it always has.
        let plain = Request {
            vjp: Vjp::default(),
            ..req.clone()
        };
        assert!(!plain.to_json().contains("wrt") && !plain.to_json().contains("upstream"));
        let g = Tensor::from_f64(Dtype::Float64, &[1], &[1.5]).unwrap();
        let reply = Reply::Output {
            output: g.clone(),
            grad_input: Some(g),
        };
        let text = reply.to_json_wrt("v", Role::Target).unwrap();
        assert!(
            text.contains("\"grad_target\"") && !text.contains("grad_input"),
            "{text}"
        );
        assert_eq!(Reply::from_json_wrt(&text, "v", Role::Target), reply);
        // Under another key than the one asked for, the gradient is unreadable.
        assert!(matches!(Reply::from_json(&text, "v"), Reply::Broken(_)));
        for bad in [
            line.replace(r#""grad":true"#, r#""grad":false"#),
            line.replace(r#""wrt":"target""#, r#""wrt":"pos_weight""#),
            line.replace(r#""data":[-2.0]"#, r#""data":[1.5]"#).replace(
                r#""upstream":{"dtype":"float64""#,
                r#""upstream":{"dtype":"int64""#,
            ),
        ] {
            let e = Request::from_json(&bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::MalformedRequest, "{bad}");
        }
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
        assert!(e.message.contains("unknown variant `mse`"), "{}", e.message);
        let e = Request::from_json("{\"id\": \"a\", \"op\": \"sigmoid\", \"attrs\": {\"dim\": 1}}")
            .unwrap_err();
        assert!(e.message.contains("takes no attr `dim`"), "{}", e.message);
        let e =
            Request::from_json("{\"id\": \"a\", \"op\": \"sigmoid\", \"extra\": 1}").unwrap_err();
        assert!(e.message.contains("unknown field `extra`"), "{}", e.message);
        let e = Request::from_json(
            "{\"id\":\"a\",\"op\":\"sigmoid\",\"inputs\":{\"input\":{\"dtype\":\"int64\",\"shape\":[1],\"data\":[1.5]}}}",
        )
        .unwrap_err();
        assert!(e.message.contains("not an int64"), "{}", e.message);
    }

    #[test]
    fn replies_round_trip_and_garbage_is_broken() {
        let out = Tensor::from_f64(Dtype::Float64, &[1], &[-0.0]).unwrap();
        let reply = Reply::Output {
            output: out,
            grad_input: None,
        };
        assert_eq!(Reply::from_json(&reply.to_json("a").unwrap(), "a"), reply);
        let error = Reply::Error {
            kind: ErrorKind::InvalidRank,
            message: "m".into(),
        };
        assert_eq!(Reply::from_json(&error.to_json("a").unwrap(), "a"), error);
        assert_eq!(Reply::Broken("x".into()).to_json("a"), None);
        for garbage in [
            "{\"id\":\"b\",\"output\":1}",
            "{\"id\":\"a\",\"output\":1}",
            "Traceback",
            "{\"id\":\"a\",\"unsupported\":\"x\",\"error\":{\"kind\":\"invalid_rank\"}}",
            "{\"id\":\"a\",\"outptu\":{\"dtype\":\"float32\",\"shape\":[],\"data\":[1]}}",
        ] {
            assert!(
                matches!(Reply::from_json(garbage, "a"), Reply::Broken(_)),
                "{garbage}"
            );
        }
        let Reply::Broken(why) = Reply::from_json(
            "{\"id\":\"a\",\"error\":{\"kind\":\"unclassified\",\"message\":\"?\"}}",
            "a",
        ) else {
            panic!("an unknown kind is unreadable");
        };
        assert!(why.contains("not in the protocol's list"), "{why}");
    }

    #[test]
    fn a_float32_decimal_is_rounded_once_to_float32() {
        // Shortest round-trip in float32, but read through float64 first it lands one ulp off:
        // rounding twice is not rounding once.
        let single = f32::from_bits(0x15AE_43FD);
        assert_eq!(format!("{single:e}"), "7.038531e-26");
        let through_f64 = "7.038531e-26".parse::<f64>().unwrap() as f32;
        assert_ne!(through_f64.to_bits(), single.to_bits());
        let line = "{\"dtype\":\"float32\",\"shape\":[1],\"data\":[7.038531e-26]}";
        let Tensor::Float32(read) = tensor_from_json(line).unwrap() else {
            panic!("a float32 tensor");
        };
        assert_eq!(read[[0]].to_bits(), single.to_bits());
        // Written for readers that go through float64: the float64 decimal, which reads exactly.
        let written = tensor_json(&Tensor::Float32(read));
        assert!(written.contains("[7.038530691851209e-26]"), "{written}");
        let Tensor::Float32(again) = tensor_from_json(&written).unwrap() else {
            panic!("a float32 tensor");
        };
        assert_eq!(again[[0]].to_bits(), single.to_bits());
        assert!(rounds_once(0.1) && !rounds_once(single) && !rounds_once(-single));
    }

    /// Every float16 and bfloat16 value is written as its short decimal and reads back to
    /// itself; a finite number past the half range is refused, not read as infinity.
    #[test]
    fn half_tensors_round_trip_on_the_wire() {
        for dtype in [Dtype::Float16, Dtype::BFloat16] {
            let bits: Vec<f64> = (0..=u16::MAX)
                .map(|b| match dtype {
                    Dtype::Float16 => half::f16::from_bits(b).to_f64(),
                    _ => half::bf16::from_bits(b).to_f64(),
                })
                .filter(|v| !v.is_nan())
                .collect();
            let t = Tensor::from_f64(dtype, &[bits.len()], &bits).unwrap();
            let line = tensor_json(&t);
            let back = tensor_from_json(&line).unwrap();
            assert_eq!(back.dtype(), dtype);
            let same =
                (back.to_f64_vec().iter().zip(&bits)).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{dtype} does not round-trip");
        }
        let t = Tensor::from_f64(Dtype::Float16, &[3], &[0.1, 65504.0, f64::NAN]).unwrap();
        assert_eq!(
            tensor_json(&t),
            "{\"dtype\":\"float16\",\"shape\":[3],\"data\":[0.1,65500.0,\"nan\"]}"
        );
        let big = "{\"dtype\":\"float16\",\"shape\":[1],\"data\":[65520]}";
        let why = tensor_from_json(big).unwrap_err();
        assert!(why.contains("beyond float16's range"), "{why}");
        let bf = "{\"dtype\":\"bfloat16\",\"shape\":[1],\"data\":[1.01171875]}";
        assert_eq!(tensor_from_json(bf).unwrap().to_f64_vec(), [1.015625]);
    }

    #[test]
    fn elements_are_read_in_their_dtype_and_range() {
        let read = |dtype: &str, data: &str| {
            tensor_from_json(&format!(
                "{{\"dtype\":\"{dtype}\",\"shape\":[1],\"data\":[{data}]}}"
            ))
        };
        let e = read("float32", "1e39").unwrap_err();
        assert!(e.contains("beyond the dtype's range"), "{e}");
        assert!(read("float64", "1e39").is_ok());
        assert!(
            read("float64", "1e999")
                .unwrap_err()
                .contains("not a number")
        );
        assert!(read("int64", "1.5").unwrap_err().contains("not an int64"));
        assert!(read("int64", "\"nan\"").is_err());
        assert!(read("float32", "[1]").is_err());
        assert!(read("float32", "\"-inf\"").is_ok());
    }
}
