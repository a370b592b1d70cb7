//! Reads and checks one `case` block: every key known, every value of the right type, every
//! combination meaningful for the op. All problems of a case are reported together.

use std::collections::{BTreeMap, BTreeSet};

use super::blocks::{Block, BlockKind};
use super::{key_location, toml_error};
use crate::case::{Attrs, Case, Check, GradCheck, PytorchDetail, PytorchRuns, TensorSpec};
use crate::expr;
use crate::literal::{self, Literal};
use crate::location::{Location, SpecError};
use crate::tolerance::{Tolerance, bounds_from};
use crate::vocab::{Dtype, ErrorKind, Op, Role};

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
    "expect_grad_error",
    "wrt",
    "upstream",
    "select",
    "expect_error",
    "message",
    "tol",
    "signed_zeros",
    "agrees_with",
    "differs_from",
    "source",
    "rules",
    "pytorch",
    "pytorch_value",
    "pytorch_grad",
];

/// Keys that only a case with `expect` may have.
const VALUE_KEYS: &[&str] = &[
    "tol",
    "select",
    "signed_zeros",
    "agrees_with",
    "differs_from",
];

/// One case block being read: its table, and the problems found so far.
struct Reader<'a> {
    block: &'a Block,
    table: toml::Table,
    tolerances: &'a BTreeMap<String, Tolerance>,
    errors: Vec<SpecError>,
}

pub(super) fn parse_case(
    block: &Block,
    bindings: &BTreeMap<String, Literal>,
    tolerances: &BTreeMap<String, Tolerance>,
    rules: &BTreeMap<String, Location>,
) -> Result<Case, Vec<SpecError>> {
    let BlockKind::Case(id) = &block.kind else {
        unreachable!("parse_case is only called on case blocks")
    };
    let table = toml::from_str(&block.body).map_err(|e| vec![toml_error(block, &e)])?;
    let mut r = Reader {
        block,
        table,
        tolerances,
        errors: Vec::new(),
    };
    r.unknown_keys();
    let op = r.op();
    let tensors = r.tensors(op, bindings);
    if let Some(op) = op {
        r.op_arguments(op);
    }
    let attrs = r.attrs();
    let seed = r.seed(&tensors);
    let dtypes = r.dtypes();
    r.dtype_reaches_a_tensor(&tensors, &dtypes);
    let check = r.check();
    let wrt = op.and_then(|op| r.wrt(op));
    let upstream = r.upstream();
    let agrees_with = r.strings("agrees_with");
    let differs_from = r.strings("differs_from");
    let source = r.string("source");
    let rules = r.rules(rules);
    let pytorch = r.pytorch();
    match (op, check) {
        (Some(op), Some(check)) if r.errors.is_empty() => Ok(Case {
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
            wrt,
            upstream,
            agrees_with,
            differs_from,
            source,
            rules,
            pytorch,
        }),
        _ if !r.errors.is_empty() => Err(r.errors),
        _ => Err(vec![SpecError::new(&block.at, "incomplete case")]),
    }
}

impl Reader<'_> {
    /// A problem with the value of `key`, located at its line.
    fn fail(&mut self, key: &str, message: impl Into<String>) {
        let at = key_location(self.block, key);
        self.errors.push(SpecError::new(&at, message));
    }

    /// A problem with the case as a whole, located at its fence.
    fn fail_case(&mut self, message: impl Into<String>) {
        self.errors.push(SpecError::new(&self.block.at, message));
    }

    fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    fn unknown_keys(&mut self) {
        let unknown: Vec<String> = (self.table.keys())
            .filter(|k| !CASE_KEYS.contains(&k.as_str()))
            .cloned()
            .collect();
        for key in unknown {
            let m = format!("unknown key `{key}` (known: {})", CASE_KEYS.join(", "));
            self.fail(&key, m);
        }
    }

    fn string(&mut self, key: &str) -> Option<String> {
        match self.table.get(key) {
            None => None,
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.fail(key, format!("`{key}` must be a string"));
                None
            }
        }
    }

    /// `pytorch = "why"` (the whole case), `pytorch_value` or `pytorch_grad` (its value or
    /// gradient runs): at most one, with a reason.
    fn pytorch(&mut self) -> Option<PytorchDetail> {
        let keys = [
            ("pytorch", PytorchRuns::All),
            ("pytorch_value", PytorchRuns::Value),
            ("pytorch_grad", PytorchRuns::Gradient),
        ];
        let given: Vec<(&str, PytorchRuns)> =
            keys.into_iter().filter(|(k, _)| self.has(k)).collect();
        let (key, runs) = match given.as_slice() {
            [] => return None,
            [one] => *one,
            [_, (second, _), ..] => {
                self.fail(
                    second,
                    "a case has one of `pytorch`, `pytorch_value`, `pytorch_grad`",
                );
                return None;
            }
        };
        let why = self.string(key)?;
        if why.trim().is_empty() {
            self.fail(
                key,
                format!("`{key}` gives the reason the case pins PyTorch: not empty"),
            );
            return None;
        }
        Some(PytorchDetail { why, runs })
    }

    fn integer(&mut self, key: &str) -> Option<i64> {
        match self.table.get(key) {
            None => None,
            Some(toml::Value::Integer(i)) => Some(*i),
            Some(_) => {
                self.fail(key, format!("`{key}` must be an integer"));
                None
            }
        }
    }

    /// The rules the case checks: each must be stated somewhere in the spec.
    fn rules(&mut self, stated: &BTreeMap<String, Location>) -> Vec<String> {
        let rules = self.strings("rules");
        for rule in &rules {
            if !stated.contains_key(rule) {
                let m =
                    format!("no paragraph of the spec states rule `{rule}` (`**Rule {rule}.**`)");
                self.fail("rules", m);
            }
        }
        rules
    }

    fn strings(&mut self, key: &str) -> Vec<String> {
        let items = match self.table.get(key) {
            None => return Vec::new(),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str())
                .collect::<Option<Vec<&str>>>(),
            Some(_) => None,
        };
        match items {
            Some(items) => items.into_iter().map(str::to_string).collect(),
            None => {
                self.fail(key, format!("`{key}` is a list of strings"));
                Vec::new()
            }
        }
    }

    fn op(&mut self) -> Option<Op> {
        if !self.has("op") {
            self.fail_case("a case needs `op`");
            return None;
        }
        let name = self.string("op")?;
        let op = Op::parse(&name);
        if op.is_none() {
            let known = Op::ALL.map(|o| o.as_str()).join(", ");
            self.fail("op", format!("unknown op `{name}` (known: {known})"));
        }
        op
    }

    fn tensors(
        &mut self,
        op: Option<Op>,
        bindings: &BTreeMap<String, Literal>,
    ) -> BTreeMap<Role, TensorSpec> {
        let lookup = |name: &str| bindings.get(name).cloned();
        let mut tensors = BTreeMap::new();
        for role in Role::ALL {
            let Some(value) = self.table.get(role.as_str()) else {
                continue;
            };
            if let Some(op) = op.filter(|op| !op.tensor_args().contains(&role)) {
                self.fail(role.as_str(), format!("`{op}` takes no `{role}`"));
                continue;
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
                Err(m) => self.fail(role.as_str(), m),
            }
        }
        if !self.has("input") {
            self.fail_case("a case needs `input`");
        }
        tensors
    }

    /// The arguments `op` needs and the options it takes.
    fn op_arguments(&mut self, op: Op) {
        if op.is_loss() && !self.has("target") {
            self.fail_case(format!("`{op}` needs a `target`"));
        }
        for key in ["dim", "reduction", "ignore_index", "label_smoothing"] {
            if self.has(key) && !op.attr_names().contains(&key) {
                self.fail(key, format!("`{op}` takes no `{key}`"));
            }
        }
        if matches!(op, Op::Softmax | Op::LogSoftmax) && !self.has("dim") {
            self.fail_case(format!(
                "`{op}` needs `dim` (PyTorch's implicit dim is deprecated)"
            ));
        }
    }

    fn attrs(&mut self) -> Attrs {
        let label_smoothing = match self.table.get("label_smoothing") {
            None => None,
            Some(toml::Value::Float(f)) => Some(*f),
            Some(toml::Value::Integer(i)) => Some(*i as f64),
            Some(_) => {
                self.fail("label_smoothing", "`label_smoothing` must be a number");
                None
            }
        };
        Attrs {
            dim: self.integer("dim"),
            reduction: self.string("reduction"),
            ignore_index: self.integer("ignore_index"),
            label_smoothing,
        }
    }

    fn seed(&mut self, tensors: &BTreeMap<Role, TensorSpec>) -> Option<u64> {
        let seed = match self.integer("seed") {
            Some(s) if s < 0 => {
                self.fail("seed", format!("a seed is non-negative, not {s}"));
                None
            }
            s => s.map(|s| s as u64),
        };
        let draws = tensors.values().any(TensorSpec::draws);
        if draws && seed.is_none() && !self.has("seed") {
            self.fail_case(
                "this case draws random tensors: give the `seed` that torch.manual_seed received",
            );
        }
        if !draws && seed.is_some() {
            self.fail("seed", "`seed` is given but nothing in the case is drawn");
        }
        seed
    }

    fn dtypes(&mut self) -> Vec<Dtype> {
        if !self.has("dtypes") {
            return vec![Dtype::Float32, Dtype::Float64];
        }
        let mut out = Vec::new();
        for n in self.strings("dtypes") {
            match Dtype::parse(&n) {
                Some(d) if d.is_float() && !out.contains(&d) => out.push(d),
                _ => self.fail(
                    "dtypes",
                    format!("`{n}` is not a floating dtype a case can run in"),
                ),
            }
        }
        if out.is_empty() {
            self.fail("dtypes", "`dtypes` lists at least one dtype");
        }
        out
    }

    /// A case whose every tensor states its dtype sends the same request whatever the run's
    /// dtype: it runs once, so it names one dtype.
    fn dtype_reaches_a_tensor(&mut self, tensors: &BTreeMap<Role, TensorSpec>, dtypes: &[Dtype]) {
        let fixed = |t: &TensorSpec| matches!(t, TensorSpec::Literal(l) if l.dtype.is_some());
        if dtypes.len() > 1 && !tensors.is_empty() && tensors.values().all(fixed) {
            self.fail_case(
                "every tensor of this case states its dtype, so the run's dtype reaches none: give `dtypes` one dtype (the case runs once)",
            );
        }
    }

    fn check(&mut self) -> Option<Check> {
        match (self.has("expect"), self.has("expect_error")) {
            (true, true) => {
                self.fail(
                    "expect_error",
                    "a case has `expect` or `expect_error`, not both",
                );
                None
            }
            (false, false) => {
                self.fail("op", "a case needs `expect` or `expect_error`");
                None
            }
            (false, true) => self.error_check(),
            (true, false) => self.value_check(),
        }
    }

    fn error_check(&mut self) -> Option<Check> {
        for key in VALUE_KEYS {
            if self.has(key) {
                self.fail(key, format!("`{key}` belongs to a case with `expect`"));
            }
        }
        let name = self.string("expect_error")?;
        let Some(kind) = ErrorKind::parse(&name) else {
            let known: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
            let m = format!("unknown error kind `{name}` (known: {})", known.join(", "));
            self.fail("expect_error", m);
            return None;
        };
        let message = self.string("message");
        Some(Check::Error { kind, message })
    }

    fn value_check(&mut self) -> Option<Check> {
        if self.has("message") {
            self.fail("message", "`message` belongs to a case with `expect_error`");
        }
        let expect = self.literal("expect")?;
        if !self.has("tol") {
            self.fail(
                "expect",
                "a case with `expect` needs `tol`, the tolerance that justifies the comparison",
            );
            return None;
        }
        let tol = self.tolerance("tol")?;
        let grad = self.grad_check()?;
        let select = self.select(&expect)?;
        let signed_zeros = match self.table.get("signed_zeros") {
            None => false,
            Some(toml::Value::Boolean(b)) => *b,
            Some(_) => {
                self.fail("signed_zeros", "`signed_zeros` is true or false");
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

    /// A tensor written out as numbers under `key`.
    fn literal(&mut self, key: &str) -> Option<Literal> {
        let result = match self.table.get(key)? {
            toml::Value::String(_) => Err(format!("`{key}` is written out as numbers")),
            v => literal::literal_from_toml(v).map_err(|m| format!("`{key}`: {m}")),
        };
        result.map_err(|m| self.fail(key, m)).ok()
    }

    /// `expect_grad` with its `grad_tol`, or `expect_grad_error`: `Some(None)` when the case
    /// states no gradient.
    fn grad_check(&mut self) -> Option<Option<Box<GradCheck>>> {
        if self.has("expect_grad_error") {
            if self.has("expect_grad") || self.has("grad_tol") {
                self.fail(
                    "expect_grad_error",
                    "a case has `expect_grad` or `expect_grad_error`, not both",
                );
                return None;
            }
            let name = self.string("expect_grad_error")?;
            let Some(kind) = ErrorKind::parse(&name) else {
                self.fail("expect_grad_error", format!("unknown error kind `{name}`"));
                return None;
            };
            return Some(Some(Box::new(GradCheck::Error { kind })));
        }
        match (self.has("expect_grad"), self.has("grad_tol")) {
            (false, false) => Some(None),
            (false, true) => {
                self.fail("grad_tol", "`grad_tol` belongs with `expect_grad`");
                None
            }
            (true, false) => {
                self.fail("expect_grad", "`expect_grad` needs `grad_tol`");
                None
            }
            (true, true) => {
                let expect = self.literal("expect_grad")?;
                let tol = self.tolerance("grad_tol")?;
                Some(Some(Box::new(GradCheck::Value { expect, tol })))
            }
        }
    }

    /// `wrt`, the argument the gradient run differentiates (`input` when absent): one `op` takes.
    fn wrt(&mut self, op: Op) -> Option<Role> {
        let name = self.string("wrt")?;
        let Some(role) = Role::parse(&name).filter(|r| op.tensor_args().contains(r)) else {
            self.fail("wrt", format!("`{op}` has no tensor argument `{name}`"));
            return None;
        };
        Some(role)
    }

    /// `upstream`, the upstream gradient of the gradient run (all ones when absent): written out,
    /// of the output's shape, and only with the product it gives stated (`expect_grad`), since
    /// PyTorch's recorded gradients are those of the sum.
    fn upstream(&mut self) -> Option<Literal> {
        if self.has("upstream") && !self.has("expect_grad") {
            self.fail(
                "upstream",
                "a case with `upstream` states its product (`expect_grad`)",
            );
        }
        self.literal("upstream")
    }

    /// `select`: `Some(None)` when absent.
    fn select(&mut self, expect: &Literal) -> Option<Option<Vec<usize>>> {
        let Some(value) = self.table.get("select") else {
            return Some(None);
        };
        let index: Option<Vec<usize>> = value.as_array().and_then(|items| {
            items
                .iter()
                .map(|v| v.as_integer().and_then(|i| usize::try_from(i).ok()))
                .collect()
        });
        match index {
            Some(index) if expect.shape.is_empty() => Some(Some(index)),
            Some(_) => {
                self.fail("select", "with `select`, `expect` is one number");
                None
            }
            None => {
                self.fail("select", "`select` is a list of non-negative indices");
                None
            }
        }
    }

    /// A tolerance named in `key` (defined in a `tolerance` block) or written inline there.
    fn tolerance(&mut self, key: &str) -> Option<Tolerance> {
        let result = match self.table.get(key)? {
            toml::Value::String(name) => self.tolerances.get(name).cloned().ok_or_else(|| {
                let known: BTreeSet<&String> = self.tolerances.keys().collect();
                format!("unknown tolerance `{name}` (known: {known:?})")
            }),
            toml::Value::Table(t) => bounds_from(t).map(|b| Tolerance {
                name: "inline".into(),
                float32: b,
                float64: b,
                float16: b,
                bfloat16: b,
                why: (t.get("why").and_then(|w| w.as_str()))
                    .unwrap_or("stated in the prose above the case")
                    .to_string(),
                at: key_location(self.block, key),
            }),
            _ => Err(format!(
                "`{key}` is a tolerance name or {{ abs = .., rel = .. }}"
            )),
        };
        result.map_err(|m| self.fail(key, m)).ok()
    }
}
