//! A case as a card: what it calls, with what, what it expects within which tolerance and why,
//! where it comes from, and the verdicts of the reports given.

use std::fmt::Write as _;

use super::verdicts::Verdicts;
use crate::spec::{Attrs, Bounds, Case, Check, Expr, GradCheck, Literal, TensorSpec, Tolerance};

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The HTML id of a case's card.
pub fn anchor(id: &str) -> String {
    format!("case-{id}")
}

/// The card of `case`.
pub fn case_card(case: &Case, verdicts: &Verdicts) -> String {
    let mut h = String::new();
    let dtypes: Vec<&str> = case.dtypes.iter().map(|d| d.as_str()).collect();
    let _ = write!(
        h,
        r##"<div class="card" id="{a}"><div class="card-head"><a class="case-id" href="#{a}">{id}</a> <span class="op">{op}</span> <span class="dtypes">{dt}</span></div><dl>"##,
        a = escape(&anchor(&case.id)),
        id = escape(&case.id),
        op = escape(case.op.as_str()),
        dt = escape(&dtypes.join(" · ")),
    );
    row(&mut h, "options", &escape(&options(&case.attrs, case.seed)));
    for (role, tensor) in &case.tensors {
        let shown = match tensor {
            TensorSpec::Literal(lit) => literal(lit),
            // A bound name: the name and the values it stands for.
            TensorSpec::Expr {
                source,
                expr: Expr::Literal(lit),
            } => format!("{source} =\n{}", literal(lit)),
            TensorSpec::Expr { source, .. } => source.clone(),
        };
        row(&mut h, &role.to_string(), &pre(&shown));
    }
    check_rows(&mut h, &case.check);
    let related = [
        ("agrees with", &case.agrees_with),
        ("differs from", &case.differs_from),
    ];
    for (label, ids) in related.iter().filter(|(_, ids)| !ids.is_empty()) {
        let links: Vec<String> = ids
            .iter()
            .map(|id| format!("<code>{}</code>", escape(id)))
            .collect();
        row(&mut h, label, &links.join(", "));
    }
    if let Some(source) = &case.source {
        row(&mut h, "source", &escape(source));
    }
    row(
        &mut h,
        "spec",
        &format!("<code>{}</code>", escape(&case.at.to_string())),
    );
    h.push_str("</dl>");
    h.push_str(&verdict_list(&case.id, verdicts));
    h.push_str("</div>\n");
    h
}

fn row(h: &mut String, label: &str, value_html: &str) {
    let _ = write!(h, "<dt>{}</dt><dd>{value_html}</dd>", escape(label));
}

fn pre(text: &str) -> String {
    format!("<pre>{}</pre>", escape(text))
}

/// The options that differ from PyTorch's defaults, and the seed.
fn options(attrs: &Attrs, seed: Option<u64>) -> String {
    let mut parts = Vec::new();
    if let Some(d) = attrs.dim {
        parts.push(format!("dim = {d}"));
    }
    if let Some(r) = &attrs.reduction {
        parts.push(format!("reduction = \"{r}\""));
    }
    if let Some(i) = attrs.ignore_index {
        parts.push(format!("ignore_index = {i}"));
    }
    if let Some(s) = attrs.label_smoothing {
        parts.push(format!("label_smoothing = {s}"));
    }
    if let Some(s) = seed {
        parts.push(format!("torch.manual_seed({s})"));
    }
    if parts.is_empty() {
        "PyTorch's defaults".into()
    } else {
        parts.join(", ")
    }
}

/// What the case expects: a value within a tolerance (and a gradient), or an error.
fn check_rows(h: &mut String, check: &Check) {
    match check {
        Check::Value {
            expect,
            select,
            tol,
            signed_zeros,
            grad,
        } => {
            let mut shown = literal(expect);
            if let Some(index) = select {
                shown = format!("{shown}    (the output's element {index:?})");
            }
            if *signed_zeros {
                shown.push_str("    (the sign of each zero is part of the claim)");
            }
            row(h, "expected", &pre(&shown));
            row(h, "tolerance", &tolerance(tol));
            match grad.as_deref() {
                Some(GradCheck::Value { expect, tol }) => {
                    row(h, "gradient", &pre(&literal(expect)));
                    row(h, "gradient tolerance", &tolerance(tol));
                }
                Some(GradCheck::Error { kind }) => {
                    row(
                        h,
                        "gradient",
                        &format!("raises <code>{}</code>", escape(kind.as_str())),
                    );
                }
                None => {}
            }
        }
        Check::Error { kind, message } => {
            let mut shown = format!("raises <code>{}</code>", escape(kind.as_str()));
            if let Some(m) = message {
                let _ = write!(shown, ", with a message containing <q>{}</q>", escape(m));
            }
            row(h, "expected", &shown);
        }
    }
}

/// A tolerance: its name, its bounds per dtype, and why it is that size.
pub fn tolerance(tol: &Tolerance) -> String {
    let per = if tol.float32 == tol.float64 {
        bounds(&tol.float32)
    } else {
        format!(
            "float32: {}; float64: {}",
            bounds(&tol.float32),
            bounds(&tol.float64)
        )
    };
    format!(
        r#"<code>{}</code> ({}) <span class="why">{}</span>"#,
        escape(&tol.name),
        escape(&per),
        escape(&tol.why)
    )
}

fn bounds(b: &Bounds) -> String {
    let mut parts = Vec::new();
    for (name, v) in [("abs", b.abs), ("rel", b.rel), ("k", b.k), ("cut", b.cut)] {
        if v != 0.0 {
            parts.push(format!("{name} {v:e}"));
        }
    }
    if parts.is_empty() {
        "exact".into()
    } else {
        parts.join(", ")
    }
}

/// A literal tensor as nested brackets, with its dtype when the case fixes one.
fn literal(lit: &Literal) -> String {
    let mut s = String::new();
    nested(&mut s, &lit.shape, &lit.data);
    match lit.dtype {
        Some(d) => format!("{s}  ({d})"),
        None => s,
    }
}

fn nested(s: &mut String, shape: &[usize], data: &[f64]) {
    match shape.split_first() {
        None => {
            let _ = write!(s, "{}", data.first().copied().unwrap_or(f64::NAN));
        }
        Some((&n, rest)) => {
            let inner: usize = rest.iter().product();
            s.push('[');
            for i in 0..n {
                if i > 0 {
                    s.push_str(if rest.is_empty() { ", " } else { ",\n " });
                }
                let start = (i * inner).min(data.len());
                nested(s, rest, &data[start..(start + inner).min(data.len())]);
            }
            s.push(']');
        }
    }
}

/// The statuses a `check --json` report gives, each styled by its class.
const KNOWN_STATUSES: [&str; 6] = [
    "passed",
    "failed",
    "errored",
    "skipped",
    "expected_failure",
    "unexpected_pass",
];

/// Each report's verdicts for the case, one badge per run.
fn verdict_list(id: &str, verdicts: &Verdicts) -> String {
    let mut h = String::new();
    for (implementation, runs) in verdicts.of_case(id) {
        let _ = write!(
            h,
            r#"<div class="verdicts"><span class="impl">{}</span>"#,
            escape(implementation)
        );
        for run in runs {
            let run_name = run.request.strip_prefix(id).unwrap_or(&run.request);
            let title = run.detail.as_deref().map(escape).unwrap_or_default();
            // The class is one of the known statuses: a report's text never becomes markup.
            let class = if KNOWN_STATUSES.contains(&run.status.as_str()) {
                run.status.as_str()
            } else {
                "unknown"
            };
            let _ = write!(
                h,
                r#" <span class="verdict {class}" title="{title}">{r}: {s}</span>"#,
                s = escape(&run.status),
                r = escape(run_name.trim_start_matches('@')),
            );
        }
        h.push_str("</div>");
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_brackets_follow_the_shape() {
        let mut s = String::new();
        nested(&mut s, &[2, 2], &[1.0, 2.5, -3.0, 4.0]);
        assert_eq!(s, "[[1, 2.5],\n [-3, 4]]");
        let mut s = String::new();
        nested(&mut s, &[], &[0.25]);
        assert_eq!(s, "0.25");
    }
}
