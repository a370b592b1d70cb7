//! A shrunk failure as a spec `case` block, ready to paste into a chapter: the call, and the
//! exact value (and, for a gradient failure, the exact gradient) from the oracle, to eight
//! significant digits' tolerance (`pytorch8`) until PyTorch's own value is taken; or the error
//! kind the call must raise.

use super::draw::{Array, Drawn};
use crate::conformance::run::Part;
use crate::conformance::verdict::Verdict;
use crate::oracle;
use crate::tensor::fmt_float;
use crate::vocab::Role;

/// The `case` block of a shrunk call.
pub fn case_block(drawn: &Drawn, id: &str, verdict: &Verdict, index: u64) -> String {
    let mut lines = vec![
        format!("```case {id}"),
        format!(
            "source = \"check --random, {} case {index}, shrunk; exact values from the crate's oracle: compare with PyTorch before adding\"",
            seed_of(id)
        ),
        format!("op = \"{}\"", drawn.op),
    ];
    for (role, a) in &drawn.tensors {
        lines.push(format!("{role} = {}", tensor(a)));
    }
    lines.extend(attrs(drawn));
    if verdict.run.part == Part::Gradient {
        lines.extend(vjp(drawn));
    }
    lines.push(format!("dtypes = [\"{}\"]", drawn.dtype));
    lines.extend(expectation(drawn, verdict.run.part));
    lines.push("```".into());
    lines.join("\n")
}

/// `seed S` from `random.sS.nI.shrunk`.
fn seed_of(id: &str) -> String {
    let seed = id.split('.').nth(1).and_then(|s| s.strip_prefix('s'));
    format!("seed {}", seed.unwrap_or("?"))
}

fn attrs(d: &Drawn) -> Vec<String> {
    let a = &d.attrs;
    let mut lines = Vec::new();
    if let Some(dim) = a.dim {
        lines.push(format!("dim = {dim}"));
    }
    if let Some(r) = &a.reduction {
        lines.push(format!("reduction = \"{r}\""));
    }
    if let Some(i) = a.ignore_index {
        lines.push(format!("ignore_index = {i}"));
    }
    if let Some(l) = a.label_smoothing {
        lines.push(format!("label_smoothing = {}", fmt_float(l, false)));
    }
    lines
}

/// The gradient run's `wrt` and `upstream`, where they are not the input and all ones.
fn vjp(d: &Drawn) -> Vec<String> {
    let Ok(request) = d.request(String::new(), true) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    if request.vjp.wrt != Role::Input {
        lines.push(format!("wrt = \"{}\"", request.vjp.wrt));
    }
    if let Some(u) = &request.vjp.upstream {
        lines.push(format!("upstream = {}", floats(u.shape(), &u.to_f64_vec())));
    }
    lines
}

/// `expect` (and `expect_grad` for a gradient failure) from the oracle, or `expect_error`.
fn expectation(d: &Drawn, part: Part) -> Vec<String> {
    let exact = |grad: bool| {
        let request = d.request(String::new(), grad).ok()?;
        Some(oracle::exact(&request))
    };
    match exact(false) {
        None => vec!["# the call could not be built".into()],
        Some(Err(e)) => vec![format!("expect_error = \"{}\"", e.kind)],
        Some(Ok(value)) => {
            let value = floats(&value.shape, &value.data);
            let mut lines = vec![format!("expect = {value}"), "tol = \"pytorch8\"".into()];
            match (part, exact(true)) {
                (Part::Gradient, Some(Ok(g))) => {
                    lines.push(format!("expect_grad = {}", floats(&g.shape, &g.data)));
                    lines.push("grad_tol = \"pytorch8\"".into());
                }
                (Part::Gradient, Some(Err(e))) => {
                    lines.push(format!("expect_grad_error = \"{}\"", e.kind));
                }
                _ => {}
            }
            lines
        }
    }
}

/// A tensor as a case writes it: nested arrays, or a table for an empty one.
fn tensor(a: &Array) -> String {
    if a.data.is_empty() && !a.shape.is_empty() {
        let dtype = if a.int { ", dtype = \"int64\"" } else { "" };
        return format!("{{ shape = {:?}, data = []{dtype} }}", a.shape);
    }
    match a.int {
        true => nested(&a.shape, &a.data, &|v| format!("{}", v as i64)),
        false => floats(&a.shape, &a.data),
    }
}

/// Floats as TOML floats (`1.0`, `1e-300`, `nan`), each the shortest float64 decimal of the
/// value, so a float32 is read back exactly.
fn floats(shape: &[usize], data: &[f64]) -> String {
    nested(shape, data, &|v| fmt_float(v, false))
}

fn nested(shape: &[usize], data: &[f64], f: &dyn Fn(f64) -> String) -> String {
    match shape.split_first() {
        None => data.first().map_or_else(String::new, |&v| f(v)),
        Some((&n, rest)) => {
            let inner = rest.iter().product::<usize>();
            let parts: Vec<String> = (0..n)
                .map(|i| nested(rest, &data[i * inner..(i + 1) * inner], f))
                .collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_are_written_as_toml() {
        let a = Array {
            shape: vec![2, 2],
            data: vec![1.0, -0.5, f64::NEG_INFINITY, 1e-300],
            int: false,
        };
        assert_eq!(tensor(&a), "[[1.0, -0.5], [-inf, 1e-300]]");
        let t = Array {
            shape: vec![],
            data: vec![3.0],
            int: true,
        };
        assert_eq!(tensor(&t), "3");
        let e = Array {
            shape: vec![0, 3],
            data: vec![],
            int: false,
        };
        assert_eq!(tensor(&e), "{ shape = [0, 3], data = [] }");
    }
}
