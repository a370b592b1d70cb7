//! The one parser of the Markdown spec, shared by `build.rs` (which generates the test suite from
//! it) and by the library (which runs and exports the cases). It reads `spec/*.md` with a real
//! Markdown parser, collects the fenced `case`, `tensors` and `tolerance` blocks, and checks every
//! case completely, so that a malformed case stops the build with its file and line.
//!
//! This module uses only `std`, `pulldown-cmark`, `toml` and `crate::{vocab, error}` so that
//! `build.rs` can compile it with `#[path]`.

pub mod expr;
pub mod literal;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Parser, Tag, TagEnd};

pub use expr::{Expr, Func};
pub use literal::Literal;

use crate::error::ErrorKind;
use crate::vocab::{Dtype, Op, Role};

/// Where something is in the spec: `spec/<file>:<line>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A problem in the spec, with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub at: Location,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

impl std::error::Error for SpecError {}

/// `abs` and `rel` bounds: `|got - want| <= abs + rel * |want|`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub abs: f64,
    pub rel: f64,
}

/// A named tolerance, with bounds per floating dtype and the reason for its size.
#[derive(Debug, Clone, PartialEq)]
pub struct Tolerance {
    pub name: String,
    pub float32: Bounds,
    pub float64: Bounds,
    pub why: String,
    pub at: Location,
}

impl Tolerance {
    pub fn bounds(&self, dtype: Dtype) -> Bounds {
        match dtype {
            Dtype::Float64 => self.float64,
            _ => self.float32,
        }
    }
}

/// A tensor as a case writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorSpec {
    Literal(Literal),
    Expr { source: String, expr: Expr },
}

impl TensorSpec {
    pub fn draws(&self) -> bool {
        matches!(self, TensorSpec::Expr { expr, .. } if expr.draws())
    }
}

/// The options of a call, with PyTorch's names; `None` means PyTorch's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attrs {
    pub dim: Option<i64>,
    pub reduction: Option<String>,
    pub ignore_index: Option<i64>,
    pub label_smoothing: Option<f64>,
}

/// What a case claims about the call.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// The output equals `expect` (or its element at `select`) within `tol`; the gradient of
    /// the output's sum with respect to `input` equals `grad`, when the case states it.
    Value {
        expect: Literal,
        select: Option<Vec<usize>>,
        tol: Tolerance,
        signed_zeros: bool,
        grad: Option<Box<GradCheck>>,
    },
    /// The call raises an error of this kind; the reference's message contains `message`.
    Error {
        kind: ErrorKind,
        message: Option<String>,
    },
}

/// A stated gradient: `expect_grad` within `grad_tol`.
#[derive(Debug, Clone, PartialEq)]
pub struct GradCheck {
    pub expect: Literal,
    pub tol: Tolerance,
}

/// One executable example of the spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub id: String,
    pub at: Location,
    /// The nearest heading above the case.
    pub section: String,
    /// The file's first-level heading.
    pub chapter: String,
    pub op: Op,
    pub tensors: BTreeMap<Role, TensorSpec>,
    pub attrs: Attrs,
    pub seed: Option<u64>,
    pub dtypes: Vec<Dtype>,
    pub check: Check,
    pub agrees_with: Vec<String>,
    pub differs_from: Vec<String>,
    pub source: Option<String>,
}

impl Case {
    /// The identifier of the generated test function: dots become double underscores.
    pub fn test_name(&self) -> String {
        test_name(&self.id)
    }
}

/// The identifier of the generated test for a case id.
pub fn test_name(id: &str) -> String {
    id.replace('.', "__")
}

/// The whole spec: every case, in file order, and the tolerances.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    pub cases: Vec<Case>,
    pub tolerances: BTreeMap<String, Tolerance>,
    /// Each file and its first-level heading, in order.
    pub chapters: Vec<(String, String)>,
}

impl Spec {
    pub fn case(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }
}

const CASE_KEYS: &[&str] = &[
    "op",
    "input",
    "target",
    "weight",
    "pos_weight",
    "dim",
    "reduction",
    "ignore_index",
    "label_smoothing",
    "seed",
    "dtypes",
    "expect",
    "expect_grad",
    "grad_tol",
    "select",
    "expect_error",
    "message",
    "tol",
    "signed_zeros",
    "agrees_with",
    "differs_from",
    "source",
];

/// A fenced block of ours, before its body is interpreted.
struct Block {
    kind: BlockKind,
    at: Location,
    body: String,
    section: String,
    chapter: String,
}

enum BlockKind {
    Case(String),
    Tensors,
    Tolerance(String),
}

/// Parses the spec from `(path, text)` pairs (paths as shown in messages, e.g. `spec/01.md`).
/// Returns every problem found, not just the first.
pub fn parse_spec(files: &[(String, String)]) -> Result<Spec, Vec<SpecError>> {
    let mut errors = Vec::new();
    let mut spec = Spec::default();
    let mut pending_cases = Vec::new();
    for (path, text) in files {
        let text = text.replace("\r\n", "\n");
        let (chapter, blocks) = match scan_blocks(path, &text) {
            Ok(found) => found,
            Err(e) => {
                errors.extend(e);
                continue;
            }
        };
        spec.chapters.push((path.clone(), chapter));
        let mut bindings: BTreeMap<String, Literal> = BTreeMap::new();
        for block in blocks
            .iter()
            .filter(|b| matches!(b.kind, BlockKind::Tensors))
        {
            if let Err(e) = parse_bindings(block, &mut bindings) {
                errors.push(e);
            }
        }
        let mut file_cases = 0;
        for block in blocks {
            match &block.kind {
                BlockKind::Tensors => {}
                BlockKind::Tolerance(name) => match parse_tolerance(name, &block) {
                    Ok(tol) => {
                        if let Some(prev) = spec.tolerances.get(name) {
                            errors.push(err(
                                &block.at,
                                format!("tolerance `{name}` is already defined at {}", prev.at),
                            ));
                        } else {
                            spec.tolerances.insert(name.clone(), tol);
                        }
                    }
                    Err(e) => errors.push(e),
                },
                BlockKind::Case(_) => {
                    file_cases += 1;
                    pending_cases.push((block, bindings.clone()));
                }
            }
        }
        if file_cases == 0 {
            errors.push(err(
                &Location {
                    file: path.clone(),
                    line: 1,
                },
                "this spec file has no case: every page of the spec must be executable".into(),
            ));
        }
    }
    let mut seen: BTreeMap<String, Location> = BTreeMap::new();
    let mut seen_names: BTreeMap<String, String> = BTreeMap::new();
    for (block, bindings) in pending_cases {
        match parse_case(&block, &bindings, &spec.tolerances) {
            Ok(case) => {
                if let Some(prev) = seen.get(&case.id) {
                    errors.push(err(
                        &case.at,
                        format!("duplicate case id `{}` (first defined at {prev})", case.id),
                    ));
                    continue;
                }
                if let Some(other) = seen_names.get(&case.test_name()) {
                    errors.push(err(
                        &case.at,
                        format!(
                            "case id `{}` gives the same test name as `{other}`",
                            case.id
                        ),
                    ));
                    continue;
                }
                seen.insert(case.id.clone(), case.at.clone());
                seen_names.insert(case.test_name(), case.id.clone());
                spec.cases.push(case);
            }
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(errors)
    }
}

fn err(at: &Location, message: String) -> SpecError {
    SpecError {
        at: at.clone(),
        message,
    }
}

/// Finds our fenced blocks and the headings above them.
fn scan_blocks(path: &str, text: &str) -> Result<(String, Vec<Block>), Vec<SpecError>> {
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut blocks = Vec::new();
    let mut errors = Vec::new();
    let mut chapter = String::new();
    let mut section = String::new();
    let mut heading: Option<(HeadingLevel, String)> = None;
    let mut open: Option<Block> = None;
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => heading = Some((level, String::new())),
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, title)) = heading.take() {
                    if level == HeadingLevel::H1 && chapter.is_empty() {
                        chapter = title.clone();
                    }
                    section = title;
                }
            }
            Event::Text(t) | Event::Code(t) if heading.is_some() => {
                if let Some((_, title)) = heading.as_mut() {
                    title.push_str(&t);
                }
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let at = Location {
                    file: path.to_string(),
                    line: line_of(range.start),
                };
                let words: Vec<&str> = info.split_whitespace().collect();
                let kind = match words.as_slice() {
                    ["case", id] => match check_id(id) {
                        Ok(()) => Some(BlockKind::Case(id.to_string())),
                        Err(m) => {
                            errors.push(err(&at, m));
                            None
                        }
                    },
                    ["tensors"] => Some(BlockKind::Tensors),
                    ["tolerance", name] => Some(BlockKind::Tolerance(name.to_string())),
                    [first, ..] if matches!(*first, "case" | "tensors" | "tolerance") => {
                        errors.push(err(
                            &at,
                            format!(
                                "malformed info string `{info}`: write `case <id>`, `tensors` or `tolerance <name>`"
                            ),
                        ));
                        None
                    }
                    _ => None,
                };
                open = kind.map(|kind| Block {
                    kind,
                    at,
                    body: String::new(),
                    section: section.clone(),
                    chapter: chapter.clone(),
                });
            }
            Event::Text(t) => {
                if let Some(block) = open.as_mut() {
                    block.body.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some(block) = open.take() {
                    blocks.push(block);
                }
            }
            _ => {}
        }
    }
    if chapter.is_empty() {
        errors.push(err(
            &Location {
                file: path.to_string(),
                line: 1,
            },
            "a spec file starts with a first-level heading (its chapter title)".into(),
        ));
    }
    if errors.is_empty() {
        Ok((chapter, blocks))
    } else {
        Err(errors)
    }
}

/// Ids are explicit and stable: `[a-z0-9_]+` segments, at least two, joined by dots.
fn check_id(id: &str) -> Result<(), String> {
    let segments: Vec<&str> = id.split('.').collect();
    let ok_segment = |s: &&str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    if segments.len() < 2 || !segments.iter().all(ok_segment) {
        return Err(format!(
            "case id `{id}` must be lower-case [a-z0-9_] segments joined by dots, at least two"
        ));
    }
    if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("case id `{id}` must start with a letter"));
    }
    Ok(())
}

/// The location of a TOML error inside a block body.
fn toml_error(block: &Block, e: &toml::de::Error) -> SpecError {
    let line = e
        .span()
        .map(|s| {
            block.body[..s.start.min(block.body.len())]
                .matches('\n')
                .count()
                + 1
        })
        .unwrap_or(0);
    let message = e.message().to_string();
    SpecError {
        at: Location {
            file: block.at.file.clone(),
            line: block.at.line + line,
        },
        message: format!("invalid TOML: {message}"),
    }
}

/// The line of `key` inside the block, for messages about a key's value.
fn key_location(block: &Block, key: &str) -> Location {
    let offset = block
        .body
        .lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
        .unwrap_or(0);
    Location {
        file: block.at.file.clone(),
        line: block.at.line + offset,
    }
}

fn parse_bindings(
    block: &Block,
    bindings: &mut BTreeMap<String, Literal>,
) -> Result<(), SpecError> {
    let table: toml::Table = toml::from_str(&block.body).map_err(|e| toml_error(block, &e))?;
    for (name, value) in &table {
        let at = key_location(block, name);
        if bindings.contains_key(name) {
            return Err(err(
                &at,
                format!("tensor `{name}` is bound twice in this file"),
            ));
        }
        let lit = match value {
            toml::Value::String(_) => {
                return Err(err(
                    &at,
                    format!(
                        "tensor `{name}`: a `tensors` block holds literal numbers; random draws belong in a case, which carries the seed"
                    ),
                ));
            }
            v => literal::literal_from_toml(v)
                .map_err(|m| err(&at, format!("tensor `{name}`: {m}")))?,
        };
        bindings.insert(name.clone(), lit);
    }
    Ok(())
}

fn parse_bounds(v: &toml::Value) -> Result<Bounds, String> {
    let t = v
        .as_table()
        .ok_or("expected a table { abs = .., rel = .. }")?;
    bounds_from(t)
}

fn bounds_from(t: &toml::Table) -> Result<Bounds, String> {
    let num = |k: &str| -> Result<f64, String> {
        match t.get(k) {
            None => Ok(0.0),
            Some(toml::Value::Float(f)) if *f >= 0.0 => Ok(*f),
            Some(toml::Value::Integer(i)) if *i >= 0 => Ok(*i as f64),
            Some(_) => Err(format!("`{k}` must be a non-negative number")),
        }
    };
    for key in t.keys() {
        if !matches!(key.as_str(), "abs" | "rel" | "why" | "float32" | "float64") {
            return Err(format!("unknown key `{key}` in a tolerance"));
        }
    }
    Ok(Bounds {
        abs: num("abs")?,
        rel: num("rel")?,
    })
}

fn parse_tolerance(name: &str, block: &Block) -> Result<Tolerance, SpecError> {
    let t: toml::Table = toml::from_str(&block.body).map_err(|e| toml_error(block, &e))?;
    let shared = bounds_from(&t).map_err(|m| err(&block.at, m))?;
    let per = |key: &str| -> Result<Bounds, SpecError> {
        match t.get(key) {
            None => Ok(shared),
            Some(v) => parse_bounds(v).map_err(|m| err(&key_location(block, key), m)),
        }
    };
    let why = match t.get("why") {
        Some(toml::Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            return Err(err(
                &block.at,
                format!("tolerance `{name}` needs a `why`: tolerances are justified, not guessed"),
            ));
        }
    };
    Ok(Tolerance {
        name: name.to_string(),
        float32: per("float32")?,
        float64: per("float64")?,
        why,
        at: block.at.clone(),
    })
}

fn parse_case(
    block: &Block,
    bindings: &BTreeMap<String, Literal>,
    tolerances: &BTreeMap<String, Tolerance>,
) -> Result<Case, Vec<SpecError>> {
    let BlockKind::Case(id) = &block.kind else {
        unreachable!("parse_case is only called on case blocks")
    };
    let table: toml::Table =
        toml::from_str(&block.body).map_err(|e| vec![toml_error(block, &e)])?;
    let errors = std::cell::RefCell::new(Vec::new());
    let fail = |key: &str, m: String| errors.borrow_mut().push(err(&key_location(block, key), m));
    for key in table.keys() {
        if !CASE_KEYS.contains(&key.as_str()) {
            fail(
                key,
                format!("unknown key `{key}` (known: {})", CASE_KEYS.join(", ")),
            );
        }
    }
    let string = |key: &str| -> Result<Option<String>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("`{key}` must be a string")),
        }
    };
    let integer = |key: &str| -> Result<Option<i64>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) => Ok(Some(*i)),
            Some(_) => Err(format!("`{key}` must be an integer")),
        }
    };
    let strings = |key: &str| -> Result<Vec<String>, String> {
        match table.get(key) {
            None => Ok(Vec::new()),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("`{key}` is a list of strings"))
                })
                .collect(),
            Some(_) => Err(format!("`{key}` is a list of strings")),
        }
    };

    let op = match string("op") {
        Ok(Some(name)) => Op::parse(&name).or_else(|| {
            fail(
                "op",
                format!(
                    "unknown op `{name}` (known: {})",
                    Op::ALL.map(|o| o.as_str()).join(", ")
                ),
            );
            None
        }),
        Ok(None) => {
            errors
                .borrow_mut()
                .push(err(&block.at, "a case needs `op`".into()));
            None
        }
        Err(m) => {
            fail("op", m);
            None
        }
    };

    let lookup = |name: &str| bindings.get(name).cloned();
    let mut tensors = BTreeMap::new();
    for role in Role::ALL {
        let Some(value) = table.get(role.as_str()) else {
            continue;
        };
        if let Some(op) = op {
            if !op.tensor_args().contains(&role) {
                fail(role.as_str(), format!("`{op}` takes no `{role}`"));
                continue;
            }
        }
        let spec = match value {
            toml::Value::String(src) => expr::parse_expr(src, &lookup)
                .map(|expr| TensorSpec::Expr {
                    source: src.clone(),
                    expr,
                })
                .map_err(|m| format!("`{role}` = \"{src}\": {m}")),
            v => literal::literal_from_toml(v)
                .map(TensorSpec::Literal)
                .map_err(|m| format!("`{role}`: {m}")),
        };
        match spec {
            Ok(s) => {
                tensors.insert(role, s);
            }
            Err(m) => fail(role.as_str(), m),
        }
    }
    if !table.contains_key("input") {
        errors
            .borrow_mut()
            .push(err(&block.at, "a case needs `input`".into()));
    }
    if let Some(op) = op {
        if op.is_loss() && !table.contains_key("target") {
            errors
                .borrow_mut()
                .push(err(&block.at, format!("`{op}` needs a `target`")));
        }
        for key in ["dim", "reduction", "ignore_index", "label_smoothing"] {
            if table.contains_key(key) && !op.attr_names().contains(&key) {
                fail(key, format!("`{op}` takes no `{key}`"));
            }
        }
        if matches!(op, Op::Softmax | Op::LogSoftmax) && !table.contains_key("dim") {
            errors.borrow_mut().push(err(
                &block.at,
                format!("`{op}` needs `dim` (PyTorch's implicit dim is deprecated)"),
            ));
        }
    }

    let mut attrs = Attrs::default();
    match integer("dim") {
        Ok(v) => attrs.dim = v,
        Err(m) => fail("dim", m),
    }
    match integer("ignore_index") {
        Ok(v) => attrs.ignore_index = v,
        Err(m) => fail("ignore_index", m),
    }
    match string("reduction") {
        Ok(v) => attrs.reduction = v,
        Err(m) => fail("reduction", m),
    }
    match table.get("label_smoothing") {
        None => {}
        Some(toml::Value::Float(f)) => attrs.label_smoothing = Some(*f),
        Some(toml::Value::Integer(i)) => attrs.label_smoothing = Some(*i as f64),
        Some(_) => fail(
            "label_smoothing",
            "`label_smoothing` must be a number".into(),
        ),
    }

    let seed = match integer("seed") {
        Ok(Some(s)) => u64::try_from(s).ok().or_else(|| {
            fail("seed", format!("a seed is non-negative, not {s}"));
            None
        }),
        Ok(None) => None,
        Err(m) => {
            fail("seed", m);
            None
        }
    };
    let draws = tensors.values().any(TensorSpec::draws);
    if draws && seed.is_none() {
        errors.borrow_mut().push(err(
            &block.at,
            "this case draws random tensors: give the `seed` that torch.manual_seed received"
                .into(),
        ));
    }
    if !draws && seed.is_some() {
        fail(
            "seed",
            "`seed` is given but nothing in the case is drawn".into(),
        );
    }

    let dtypes = match strings("dtypes") {
        Ok(names) if names.is_empty() && !table.contains_key("dtypes") => {
            vec![Dtype::Float32, Dtype::Float64]
        }
        Ok(names) => {
            let mut out = Vec::new();
            for n in names {
                match Dtype::parse(&n) {
                    Some(d) if d.is_float() && !out.contains(&d) => out.push(d),
                    _ => fail(
                        "dtypes",
                        format!("`{n}` is not a floating dtype a case can run in"),
                    ),
                }
            }
            if out.is_empty() {
                fail("dtypes", "`dtypes` lists at least one dtype".into());
            }
            out
        }
        Err(m) => {
            fail("dtypes", m);
            Vec::new()
        }
    };

    let check = parse_check(&table, tolerances, &fail);
    let agrees_with = strings("agrees_with").unwrap_or_else(|m| {
        fail("agrees_with", m);
        Vec::new()
    });
    let differs_from = strings("differs_from").unwrap_or_else(|m| {
        fail("differs_from", m);
        Vec::new()
    });
    let source = string("source").unwrap_or_else(|m| {
        fail("source", m);
        None
    });
    let errors = errors.into_inner();
    if !errors.is_empty() {
        return Err(errors);
    }
    let (Some(op), Some(check)) = (op, check) else {
        return Err(vec![err(&block.at, "incomplete case".into())]);
    };
    Ok(Case {
        id: id.clone(),
        at: block.at.clone(),
        section: block.section.clone(),
        chapter: block.chapter.clone(),
        op,
        tensors,
        attrs,
        seed,
        dtypes,
        check,
        agrees_with,
        differs_from,
        source,
    })
}

fn parse_check(
    table: &toml::Table,
    tolerances: &BTreeMap<String, Tolerance>,
    fail: &dyn Fn(&str, String),
) -> Option<Check> {
    match (table.get("expect"), table.get("expect_error")) {
        (Some(_), Some(_)) => {
            fail(
                "expect_error",
                "a case has `expect` or `expect_error`, not both".into(),
            );
            None
        }
        (None, None) => {
            fail("op", "a case needs `expect` or `expect_error`".into());
            None
        }
        (None, Some(kind)) => {
            for key in [
                "tol",
                "select",
                "signed_zeros",
                "agrees_with",
                "differs_from",
            ] {
                if table.contains_key(key) {
                    fail(key, format!("`{key}` belongs to a case with `expect`"));
                }
            }
            let kind = match kind.as_str().map(|k| (k, ErrorKind::parse(k))) {
                Some((_, Some(kind))) => kind,
                Some((k, None)) => {
                    let known: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
                    fail(
                        "expect_error",
                        format!("unknown error kind `{k}` (known: {})", known.join(", ")),
                    );
                    return None;
                }
                None => {
                    fail("expect_error", "`expect_error` must be a string".into());
                    return None;
                }
            };
            let message = match table.get("message") {
                None => None,
                Some(toml::Value::String(s)) => Some(s.clone()),
                Some(_) => {
                    fail("message", "`message` must be a string".into());
                    return None;
                }
            };
            Some(Check::Error { kind, message })
        }
        (Some(expect), None) => {
            if table.contains_key("message") {
                fail(
                    "message",
                    "`message` belongs to a case with `expect_error`".into(),
                );
            }
            let expect = match expect {
                toml::Value::String(_) => {
                    fail("expect", "`expect` is written out as numbers".into());
                    return None;
                }
                v => match literal::literal_from_toml(v) {
                    Ok(l) => l,
                    Err(m) => {
                        fail("expect", format!("`expect`: {m}"));
                        return None;
                    }
                },
            };
            if !table.contains_key("tol") {
                fail(
                    "expect",
                    "a case with `expect` needs `tol`, the tolerance that justifies the comparison"
                        .into(),
                );
                return None;
            }
            let tol = resolve_tolerance(table, "tol", tolerances, fail)?;
            let grad = match (table.get("expect_grad"), table.contains_key("grad_tol")) {
                (None, false) => None,
                (None, true) => {
                    fail("grad_tol", "`grad_tol` belongs with `expect_grad`".into());
                    return None;
                }
                (Some(_), false) => {
                    fail("expect_grad", "`expect_grad` needs `grad_tol`".into());
                    return None;
                }
                (Some(v), true) => {
                    let expect = match literal::literal_from_toml(v) {
                        Ok(l) => l,
                        Err(m) => {
                            fail("expect_grad", format!("`expect_grad`: {m}"));
                            return None;
                        }
                    };
                    let tol = resolve_tolerance(table, "grad_tol", tolerances, fail)?;
                    Some(Box::new(GradCheck { expect, tol }))
                }
            };
            let select = match table.get("select") {
                None => None,
                Some(toml::Value::Array(items)) => {
                    let idx: Option<Vec<usize>> = items
                        .iter()
                        .map(|v| v.as_integer().and_then(|i| usize::try_from(i).ok()))
                        .collect();
                    match idx {
                        Some(idx) if expect.shape.is_empty() => Some(idx),
                        Some(_) => {
                            fail("select", "with `select`, `expect` is one number".into());
                            return None;
                        }
                        None => {
                            fail(
                                "select",
                                "`select` is a list of non-negative indices".into(),
                            );
                            return None;
                        }
                    }
                }
                Some(_) => {
                    fail(
                        "select",
                        "`select` is a list of non-negative indices".into(),
                    );
                    return None;
                }
            };
            let signed_zeros = match table.get("signed_zeros") {
                None => false,
                Some(toml::Value::Boolean(b)) => *b,
                Some(_) => {
                    fail("signed_zeros", "`signed_zeros` is true or false".into());
                    return None;
                }
            };
            Some(Check::Value {
                expect,
                select,
                tol,
                signed_zeros,
                grad,
            })
        }
    }
}

/// A tolerance named in `key` (defined in a `tolerance` block) or written inline there.
fn resolve_tolerance(
    table: &toml::Table,
    key: &str,
    tolerances: &BTreeMap<String, Tolerance>,
    fail: &dyn Fn(&str, String),
) -> Option<Tolerance> {
    match table.get(key) {
        None => None,
        Some(toml::Value::String(name)) => match tolerances.get(name) {
            Some(t) => Some(t.clone()),
            None => {
                let known: BTreeSet<&String> = tolerances.keys().collect();
                fail(
                    key,
                    format!("unknown tolerance `{name}` (known: {known:?})"),
                );
                None
            }
        },
        Some(toml::Value::Table(t)) => match bounds_from(t) {
            Ok(b) => Some(Tolerance {
                name: "inline".into(),
                float32: b,
                float64: b,
                why: t
                    .get("why")
                    .and_then(|w| w.as_str())
                    .unwrap_or("stated in the prose above the case")
                    .to_string(),
                at: Location::default(),
            }),
            Err(m) => {
                fail(key, m);
                None
            }
        },
        Some(_) => {
            fail(
                key,
                format!("`{key}` is a tolerance name or {{ abs = .., rel = .. }}"),
            );
            None
        }
    }
}
