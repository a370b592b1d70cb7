//! Reading a tensor from a protocol line, in bounded memory. The elements are read in place from
//! the line's text: each in the tensor's dtype as soon as it is read when `dtype` comes before
//! `data` (as every writer in this crate puts it), else kept as its text until the dtype is
//! known; never held as a tree of JSON values. Either way, at most [`MAX_ELEMENTS`] elements are
//! taken: a longer `data` is refused while it is read. A float32 decimal is rounded once, to
//! float32, never through float64; a float16 or bfloat16 one through float64 (whose writer
//! guarantees that this and float32 first agree: `crate::halves`).

use std::collections::BTreeMap;
use std::fmt;

use half::{bf16, f16};
use ndarray::{ArrayD, IxDyn};
use num_traits::Float;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::tensor::{MAX_ELEMENTS, Tensor, checked_numel};
use crate::vocab::Dtype;

/// A tensor as read, before its shape and data are checked against each other.
#[derive(Debug)]
pub struct RawTensor<'a> {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Data<'a>,
}

/// The elements: read in the dtype, or their texts when the dtype came after them.
#[derive(Debug)]
enum Data<'a> {
    Int64(Vec<i64>),
    Float32(Vec<f32>),
    Float64(Vec<f64>),
    Float16(Vec<f16>),
    BFloat16(Vec<bf16>),
    Texts(Vec<&'a str>),
}

impl Data<'_> {
    fn len(&self) -> usize {
        match self {
            Data::Int64(v) => v.len(),
            Data::Float32(v) => v.len(),
            Data::Float64(v) => v.len(),
            Data::Float16(v) => v.len(),
            Data::BFloat16(v) => v.len(),
            Data::Texts(v) => v.len(),
        }
    }

    /// The elements read in `dtype`.
    fn typed(self, dtype: Dtype) -> Result<Data<'static>, String> {
        let Data::Texts(texts) = self else {
            return Ok(match self {
                Data::Int64(v) => Data::Int64(v),
                Data::Float32(v) => Data::Float32(v),
                Data::Float64(v) => Data::Float64(v),
                Data::Float16(v) => Data::Float16(v),
                Data::BFloat16(v) => Data::BFloat16(v),
                Data::Texts(_) => unreachable!("handled above"),
            });
        };
        let mut data = Data::empty(dtype);
        texts.iter().try_for_each(|t| data.push(t))?;
        Ok(data)
    }

    fn empty(dtype: Dtype) -> Data<'static> {
        match dtype {
            Dtype::Int64 => Data::Int64(Vec::new()),
            Dtype::Float32 => Data::Float32(Vec::new()),
            Dtype::Float64 => Data::Float64(Vec::new()),
            Dtype::Float16 => Data::Float16(Vec::new()),
            Dtype::BFloat16 => Data::BFloat16(Vec::new()),
        }
    }

    /// Reads one element's text into typed data.
    fn push(&mut self, text: &str) -> Result<(), String> {
        match self {
            Data::Int64(v) => v.push(int(text)?),
            Data::Float32(v) => v.push(float(text)?),
            Data::Float64(v) => v.push(float(text)?),
            Data::Float16(v) => v.push(crate::halves::to_f16(half_float(text, Dtype::Float16)?)),
            Data::BFloat16(v) => v.push(crate::halves::to_bf16(half_float(text, Dtype::BFloat16)?)),
            Data::Texts(_) => unreachable!("typed data only"),
        }
        Ok(())
    }
}

impl RawTensor<'_> {
    /// The tensor, once its shape (within the suite's bound) holds exactly its data.
    pub fn into_tensor(self) -> Result<Tensor, String> {
        let RawTensor { dtype, shape, data } = self;
        let numel = checked_numel(&shape)?;
        if numel != data.len() {
            let given = data.len();
            return Err(format!(
                "shape {shape:?} holds {numel} elements, but `data` has {given}"
            ));
        }
        let dim = IxDyn(&shape);
        let built = match data.typed(dtype)? {
            Data::Int64(v) => ArrayD::from_shape_vec(dim, v).map(Tensor::Int64),
            Data::Float32(v) => ArrayD::from_shape_vec(dim, v).map(Tensor::Float32),
            Data::Float64(v) => ArrayD::from_shape_vec(dim, v).map(Tensor::Float64),
            Data::Float16(v) => ArrayD::from_shape_vec(dim, v).map(Tensor::Float16),
            Data::BFloat16(v) => ArrayD::from_shape_vec(dim, v).map(Tensor::BFloat16),
            Data::Texts(_) => unreachable!("typed above"),
        };
        built.map_err(|e| e.to_string())
    }
}

impl<'de> Deserialize<'de> for RawTensor<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TensorVisitor)
    }
}

struct TensorVisitor;

impl<'de> Visitor<'de> for TensorVisitor {
    type Value = RawTensor<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tensor {\"dtype\", \"shape\", \"data\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut dtype, mut shape, mut data) = (None, None, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "dtype" if dtype.is_none() => dtype = Some(map.next_value::<Dtype>()?),
                "shape" if shape.is_none() => shape = Some(map.next_value::<Vec<usize>>()?),
                "data" if data.is_none() => data = Some(map.next_value_seed(DataSeed(dtype))?),
                "dtype" | "shape" | "data" => {
                    return Err(de::Error::custom(format!("duplicate field `{key}`")));
                }
                other => {
                    return Err(de::Error::unknown_field(other, &["dtype", "shape", "data"]));
                }
            }
        }
        Ok(RawTensor {
            dtype: dtype.ok_or_else(|| de::Error::missing_field("dtype"))?,
            shape: shape.ok_or_else(|| de::Error::missing_field("shape"))?,
            data: data.ok_or_else(|| de::Error::missing_field("data"))?,
        })
    }
}

/// Reads `data`, in the dtype when it is already known.
struct DataSeed(Option<Dtype>);

impl<'de> DeserializeSeed<'de> for DataSeed {
    type Value = Data<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for DataSeed {
    type Value = Data<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of numbers")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut data = match self.0 {
            Some(dtype) => Data::empty(dtype),
            None => Data::Texts(Vec::new()),
        };
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            if data.len() >= MAX_ELEMENTS {
                return Err(de::Error::custom(format!(
                    "`data` has more than {MAX_ELEMENTS} elements, the suite's bound"
                )));
            }
            match &mut data {
                Data::Texts(texts) => texts.push(raw.get()),
                typed => typed.push(raw.get()).map_err(de::Error::custom)?,
            }
        }
        Ok(data)
    }
}

/// A map whose keys may each appear once (serde's maps keep the last of a repeated key).
pub fn unique_keys<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord + fmt::Debug,
    V: Deserialize<'de>,
{
    struct Unique<K, V>(std::marker::PhantomData<(K, V)>);
    impl<'de, K, V> Visitor<'de> for Unique<K, V>
    where
        K: Deserialize<'de> + Ord + fmt::Debug,
        V: Deserialize<'de>,
    {
        type Value = BTreeMap<K, V>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map with each key once")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = map.next_entry::<K, V>()? {
                if out.contains_key(&k) {
                    return Err(de::Error::custom(format!("duplicate key {k:?}")));
                }
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Unique(std::marker::PhantomData))
}

/// An int64 element: a JSON integer.
fn int(text: &str) -> Result<i64, String> {
    text.parse::<i64>()
        .map_err(|_| format!("{text} is not an int64"))
}

/// A half element: read in float64, then rounded to the half dtype once (`crate::halves`); a
/// finite number that rounds to infinity is beyond the dtype's range.
fn half_float(text: &str, dtype: Dtype) -> Result<f64, String> {
    let wide = float::<f64>(text)?;
    match crate::halves::round(dtype, wide) {
        v if v.is_infinite() && wide.is_finite() => Err(format!(
            "{text} is beyond {dtype}'s range (write \"inf\" or \"-inf\")"
        )),
        _ => Ok(wide),
    }
}

/// A floating element: a JSON number within float64's range, read correctly rounded in the
/// element's own dtype (and within its range), or one of the strings `"nan"`, `"inf"`, `"-inf"`.
fn float<T: std::str::FromStr + Float>(text: &str) -> Result<T, String> {
    let not_a_number = || format!("{text} is not a number");
    let spelled = match text {
        "\"nan\"" => Some("NaN"),
        "\"inf\"" => Some("inf"),
        "\"-inf\"" => Some("-inf"),
        _ => None,
    };
    if let Some(name) = spelled {
        return name.parse::<T>().map_err(|_| not_a_number());
    }
    match text.parse::<T>() {
        Ok(v) if v.is_finite() => Ok(v),
        // Only an overflow reads the text again, to say whose range it left.
        Ok(_) if text.parse::<f64>().is_ok_and(f64::is_finite) => Err(format!(
            "{text} is beyond the dtype's range (write \"inf\" or \"-inf\")"
        )),
        _ => Err(format!(
            "{text} is not a number (non-finite values are \"nan\", \"inf\", \"-inf\")"
        )),
    }
}
