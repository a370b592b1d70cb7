//! Literal tensors written in TOML: a number, a nested array, or a `{ shape, data, dtype }` table.

use serde::{Deserialize, Serialize};

use crate::floats;
use crate::vocab::Dtype;

/// A tensor written out in the spec. Values are kept as `f64` (integers up to 2^53 are exact),
/// and `integral` records whether every element was written as a TOML integer, which is how a
/// `cross_entropy` target says "class indices" rather than "class probabilities".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Literal {
    /// An explicit dtype from the table form; `None` lets the case decide.
    pub dtype: Option<Dtype>,
    pub shape: Vec<usize>,
    #[serde(with = "floats::many")]
    pub data: Vec<f64>,
    pub integral: bool,
}

impl Literal {
    pub fn numel(&self) -> usize {
        self.data.len()
    }
}

const MAX_EXACT_INT: i64 = 1 << 53;

/// `{ shape = [..], data = [..], dtype = ".." }`, or `{ shape = [..], fill = x }` for a tensor
/// of one repeated value (a large gradient that is one number, say).
fn table_literal(table: &toml::Table) -> Result<Literal, String> {
    for key in table.keys() {
        if !matches!(key.as_str(), "shape" | "data" | "fill" | "dtype") {
            return Err(format!(
                "unknown key `{key}` in a tensor table (expected shape, data or fill, dtype)"
            ));
        }
    }
    let dtype = match table.get("dtype") {
        None => None,
        Some(toml::Value::String(s)) => {
            Some(Dtype::parse(s).ok_or_else(|| format!("unknown dtype `{s}`"))?)
        }
        Some(_) => return Err("`dtype` must be a string".into()),
    };
    let shape = match table.get("shape") {
        None => None,
        Some(toml::Value::Array(dims)) => Some(
            dims.iter()
                .map(|d| {
                    d.as_integer()
                        .and_then(|d| usize::try_from(d).ok())
                        .ok_or_else(|| "`shape` holds non-negative integers".to_string())
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err("`shape` must be an array".into()),
    };
    let nested = match (table.get("data"), table.get("fill"), &shape) {
        (Some(data), None, _) => literal_from_toml(data)?,
        (None, Some(fill), Some(shape)) => filled(fill, shape)?,
        (None, Some(_), None) => return Err("`fill` needs `shape`".into()),
        (Some(_), Some(_), _) => return Err("a tensor table has `data` or `fill`, not both".into()),
        (None, None, _) => return Err("a tensor table needs `data` (or `fill` and `shape`)".into()),
    };
    let shape = shape.unwrap_or_else(|| nested.shape.clone());
    let numel = crate::shape::checked_numel(&shape)?;
    if numel != nested.numel() {
        return Err(format!(
            "shape {shape:?} holds {numel} elements but `data` has {}",
            nested.numel()
        ));
    }
    Ok(Literal {
        dtype,
        shape,
        data: nested.data,
        integral: nested.integral,
    })
}

/// `fill` repeated over `shape`, within the size an expression may create.
fn filled(fill: &toml::Value, shape: &[usize]) -> Result<Literal, String> {
    let one = literal_from_toml(fill)?;
    let [value] = one.data.as_slice() else {
        return Err("`fill` is one number".into());
    };
    let numel = crate::shape::checked_numel(shape)?;
    Ok(Literal {
        dtype: None,
        shape: shape.to_vec(),
        data: vec![*value; numel],
        integral: one.integral,
    })
}

/// Reads a TOML value as a tensor literal.
pub fn literal_from_toml(value: &toml::Value) -> Result<Literal, String> {
    match value {
        toml::Value::Table(table) => table_literal(table),
        _ => {
            let mut shape = Vec::new();
            let mut data = Vec::new();
            let mut integral = true;
            flatten(value, 0, &mut shape, &mut data, &mut integral)?;
            Ok(Literal {
                dtype: None,
                shape,
                data,
                integral,
            })
        }
    }
}

fn flatten(
    value: &toml::Value,
    depth: usize,
    shape: &mut Vec<usize>,
    data: &mut Vec<f64>,
    integral: &mut bool,
) -> Result<(), String> {
    match value {
        toml::Value::Integer(i) => {
            if depth != shape.len() {
                return Err("ragged array: a number where an array was expected".into());
            }
            if i.abs() > MAX_EXACT_INT {
                return Err(format!("{i} is too large to be exact"));
            }
            data.push(*i as f64);
            Ok(())
        }
        toml::Value::Float(f) => {
            if depth != shape.len() {
                return Err("ragged array: a number where an array was expected".into());
            }
            *integral = false;
            data.push(*f);
            Ok(())
        }
        toml::Value::Array(items) => {
            if depth == shape.len() {
                if !data.is_empty() {
                    return Err("ragged array: an array where a number was expected".into());
                }
                shape.push(items.len());
            } else if depth > shape.len() || shape[depth] != items.len() {
                return Err(format!(
                    "ragged array: rows of different lengths at depth {depth}"
                ));
            }
            if items.is_empty() && depth + 1 == shape.len() {
                *integral = false;
            }
            for item in items {
                flatten(item, depth + 1, shape, data, integral)?;
            }
            Ok(())
        }
        other => Err(format!(
            "a tensor element must be a number, not {}",
            other.type_str()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(src: &str) -> Result<Literal, String> {
        let table: toml::Table = toml::from_str(&format!("v = {src}")).unwrap();
        literal_from_toml(&table["v"])
    }

    #[test]
    fn shapes_come_from_nesting() {
        let l = lit("[[1, 2, 3], [4, 5, 6]]").unwrap();
        assert_eq!((l.shape.clone(), l.integral), (vec![2, 3], true));
        assert_eq!(lit("1.5").unwrap().shape, Vec::<usize>::new());
        assert_eq!(lit("[]").unwrap().shape, vec![0]);
        assert!(!lit("[1, 0.5]").unwrap().integral);
        assert!(lit("[nan, -inf]").unwrap().data[0].is_nan());
    }

    #[test]
    fn ragged_and_mismatched_tables_are_errors() {
        assert!(lit("[[1, 2], [3]]").unwrap_err().contains("ragged"));
        assert!(lit("[[1, 2], 3]").unwrap_err().contains("ragged"));
        assert!(lit("{ shape = [2, 2], data = [1, 2, 3] }").is_err());
        let l = lit("{ shape = [0, 3], data = [] }").unwrap();
        assert_eq!(l.shape, vec![0, 3]);
        assert!(lit("{ shape = [1], data = [1], color = 2 }").is_err());
    }

    #[test]
    fn a_fill_repeats_one_number_over_a_bounded_shape() {
        let l = lit("{ shape = [2, 3], fill = 0.5 }").unwrap();
        assert_eq!((l.shape.clone(), l.data), (vec![2, 3], vec![0.5; 6]));
        assert!(lit("{ fill = 0.5 }").unwrap_err().contains("needs `shape`"));
        assert!(
            lit("{ shape = [2], fill = [1, 2] }")
                .unwrap_err()
                .contains("one number")
        );
        assert!(lit("{ shape = [2], fill = 1, data = [1, 1] }").is_err());
        assert!(
            lit("{ shape = [1048576, 1048576], fill = 0 }")
                .unwrap_err()
                .contains("too large")
        );
    }
}
