//! A case as a card: what it calls, with what, what it expects within which tolerance and why,
//! every other claim its runs are judged by (`claims`), where it comes from, and the verdicts of
//! the reports given.

use std::fmt::Write as _;

use super::claims;
use super::numbers::{compact, literal};
use super::verdicts::Verdicts;
use crate::spec::{Attrs, Bounds, Case, Check, Expr, GradCheck, Spec, TensorSpec, Tolerance};

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

/// The literal inputs already shown on a page, by their text, with the case that showed them:
/// a later card that repeats one folds it away under a link to the first.
pub type Shown = std::collections::BTreeMap<String, String>;

/// The card of `case`: what it calls, with what, and every claim its runs are judged by.
pub fn case_card(spec: &Spec, case: &Case, verdicts: &Verdicts, shown: &mut Shown) -> String {
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
        row(
            &mut h,
            &role.to_string(),
            &tensor_html(tensor, &case.id, shown),
        );
    }
    check_rows(&mut h, spec, &case.check);
    claims::rows(&mut h, spec, case);
    related_rows(&mut h, spec, case);
    if !case.rules.is_empty() {
        let rules: Vec<String> = (case.rules.iter())
            .map(|id| match super::links::rule_href(spec, id) {
                Some(href) => format!(r#"<a href="{}">{}</a>"#, escape(&href), escape(id)),
                None => escape(id),
            })
            .collect();
        row(&mut h, "checks rule", &rules.join(", "));
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

/// The documents' restated implementations the case compares with the library call.
fn related_rows(h: &mut String, spec: &Spec, case: &Case) {
    let related = [
        ("agrees with", &case.agrees_with),
        ("differs from", &case.differs_from),
    ];
    for (label, ids) in related.iter().filter(|(_, ids)| !ids.is_empty()) {
        let links: Vec<String> = ids
            .iter()
            .map(|id| format!("<code>{}</code>", escape(id)))
            .collect();
        let within = match spec.tolerances.get("identity") {
            Some(tol) if *label == "agrees with" => format!(" (within {})", tol_link(spec, tol)),
            _ => String::new(),
        };
        row(h, label, &format!("{}{within}", links.join(", ")));
    }
}

/// A tensor of the case: a literal's values (folded when an earlier card on the page showed the
/// same); a bound name with its values folded away (many cards share one document's input); an
/// expression as written.
fn tensor_html(tensor: &TensorSpec, id: &str, shown: &mut Shown) -> String {
    match tensor {
        TensorSpec::Literal(lit) if lit.numel() > 3 => {
            let text = literal(lit);
            match shown.get(&text) {
                Some(first) => format!(
                    r##"<details><summary>as for <a href="#{}">{}</a></summary>{}</details>"##,
                    escape(&anchor(first)),
                    escape(first),
                    pre(&text)
                ),
                None => {
                    shown.insert(text.clone(), id.to_string());
                    pre(&text)
                }
            }
        }
        TensorSpec::Literal(lit) => pre(&literal(lit)),
        TensorSpec::Expr {
            source,
            expr: Expr::Literal(lit),
        } => format!(
            "<details><summary><code>{}</code></summary>{}</details>",
            escape(source),
            pre(&literal(lit))
        ),
        TensorSpec::Expr { source, .. } => pre(source),
    }
}

pub(super) fn row(h: &mut String, label: &str, value_html: &str) {
    let _ = write!(h, "<dt>{}</dt><dd>{value_html}</dd>", escape(label));
}

pub(super) fn pre(text: &str) -> String {
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

/// What the case states: a value within a tolerance (and a gradient), or an error.
fn check_rows(h: &mut String, spec: &Spec, check: &Check) {
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
            row(h, "tolerance", &tolerance_in(spec, tol));
            match grad.as_deref() {
                Some(GradCheck::Value { expect, tol }) => {
                    row(h, "gradient", &pre(&literal(expect)));
                    row(h, "gradient tolerance", &tolerance_in(spec, tol));
                }
                Some(GradCheck::Error { kind }) => {
                    let raises = format!("raises <code>{}</code>", escape(kind.as_str()));
                    row(h, "gradient", &raises);
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

/// The page and anchor of a named tolerance's card, when the spec defines it in a block.
pub fn tolerance_href(spec: &Spec, name: &str) -> Option<String> {
    let tol = spec.tolerances.get(name)?;
    let chapter = spec.chapters.iter().find(|c| c.file == tol.at.file)?;
    Some(format!(
        "{}#tolerance-{name}",
        super::page::file_name(chapter)
    ))
}

/// A tolerance's name, linked to its card when it has one.
pub(super) fn tol_link(spec: &Spec, tol: &Tolerance) -> String {
    let name = format!("<code>{}</code>", escape(&tol.name));
    match tolerance_href(spec, &tol.name) {
        Some(href) => format!(r#"<a href="{}">{name}</a>"#, escape(&href)),
        None => name,
    }
}

/// A tolerance on a case's card: its name (linked), bounds per dtype, and why it is that size.
fn tolerance_in(spec: &Spec, tol: &Tolerance) -> String {
    format!(
        r#"{} ({}) <span class="why">{}</span>"#,
        tol_link(spec, tol),
        escape(&per_dtype(tol)),
        why(&tol.why)
    )
}

/// A tolerance's definition, as its own card shows it: name, bounds per dtype, reason.
pub fn tolerance(tol: &Tolerance) -> String {
    format!(
        r#"<code>{}</code> ({}) <span class="why">{}</span>"#,
        escape(&tol.name),
        escape(&per_dtype(tol)),
        why(&tol.why)
    )
}

/// A tolerance's reason, escaped, with its `code spans` shown as code as in the prose (a reason
/// is also plain text in a report, where the backticks stay). An unpaired backtick stays text.
fn why(text: &str) -> String {
    let escaped = escape(text);
    if text.matches('`').count() % 2 == 1 {
        return escaped;
    }
    let parts = escaped.split('`').enumerate();
    parts
        .map(|(i, part)| match i % 2 {
            1 => format!("<code>{part}</code>"),
            _ => part.to_string(),
        })
        .collect()
}

fn per_dtype(tol: &Tolerance) -> String {
    if tol.float32 == tol.float64 {
        bounds(&tol.float32)
    } else {
        let (a, b) = (bounds(&tol.float32), bounds(&tol.float64));
        format!("float32: {a}; float64: {b}")
    }
}

fn bounds(b: &Bounds) -> String {
    let mut parts = Vec::new();
    for (name, v) in [("abs", b.abs), ("rel", b.rel), ("k", b.k), ("cut", b.cut)] {
        if v != 0.0 {
            parts.push(format!("{name} {}", compact(v, None)));
        }
    }
    if parts.is_empty() {
        "exact".into()
    } else {
        parts.join(", ")
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
    fn a_reason_shows_its_code_spans_as_code_and_escapes_the_rest() {
        assert_eq!(
            why("as the exact claim (`rounding`), <2 ulps"),
            "as the exact claim (<code>rounding</code>), &lt;2 ulps"
        );
        assert_eq!(why("one ` alone"), "one ` alone");
    }
}
