//! The small PyTorch-like expression language in which a case may write a tensor, so that a
//! case reads like the notebook it restates: `"torch.rand(4, 5)"`, `"F.log_softmax(inputs, 1)"`,
//! `"torch.empty(3, dtype=torch.long).random_(5)"`. This module parses and checks expressions;
//! the library evaluates them (with the reference implementation and the seeded generator).

use serde::{Deserialize, Serialize};

use crate::floats;
use crate::literal::Literal;
use crate::vocab::Dtype;

/// A parsed tensor expression. Names bound in a `tensors` block are substituted at parse time,
/// so an expression is self-contained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Expr {
    /// A literal tensor (from a bound name).
    Literal(Literal),
    /// `torch.rand(shape, dtype=...)`: uniform in [0, 1).
    Rand { shape: Vec<usize>, dtype: Dtype },
    /// `torch.randn(shape, dtype=...)`: standard normal.
    Randn { shape: Vec<usize>, dtype: Dtype },
    /// `torch.empty(shape, dtype=...).random_(high)` or `torch.randint(0, high, shape)`: integers
    /// in [0, high), stored in `dtype`.
    RandomBelow {
        shape: Vec<usize>,
        high: u64,
        dtype: Dtype,
    },
    /// `torch.arange(start, end)`: int64 `start, start + 1, ..., end - 1`.
    Arange { start: i64, end: i64 },
    /// `torch.zeros(shape)`, `torch.ones(shape)`, `torch.full(shape, value)`: float32.
    Full {
        shape: Vec<usize>,
        #[serde(with = "floats::one")]
        value: f64,
    },
    /// A function applied to a tensor.
    Apply { func: Func, arg: Box<Expr> },
}

/// A function applied to one tensor inside an expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Func {
    Softmax {
        dim: i64,
    },
    LogSoftmax {
        dim: i64,
    },
    Sigmoid,
    Log,
    Exp,
    Neg,
    /// `.mul(c)`: every element times the number `c`, rounded in the run's dtype.
    Mul(f64),
    /// `.add(c)`: every element plus the number `c`, rounded in the run's dtype.
    Add(f64),
    /// `.reshape(...)` / `.view(...)`; one entry may be -1.
    Reshape(Vec<i64>),
    Squeeze(i64),
    Unsqueeze(i64),
    Cast(Dtype),
}

impl Expr {
    /// How many literal numbers the expression holds (its bound names, substituted).
    pub fn literal_elements(&self) -> usize {
        match self {
            Expr::Literal(lit) => lit.numel(),
            Expr::Apply { arg, .. } => arg.literal_elements(),
            _ => 0,
        }
    }

    /// How many elements the tensor has (every function keeps its argument's count), or `None`
    /// when that does not fit a `usize`.
    pub fn numel(&self) -> Option<usize> {
        let product = |shape: &[usize]| shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        match self {
            Expr::Literal(lit) => Some(lit.numel()),
            Expr::Rand { shape, .. } | Expr::Randn { shape, .. } => product(shape),
            Expr::RandomBelow { shape, .. } | Expr::Full { shape, .. } => product(shape),
            Expr::Arange { start, end } => usize::try_from(end.saturating_sub(*start)).ok(),
            Expr::Apply { arg, .. } => arg.numel(),
        }
    }

    /// Whether evaluating the expression draws from the generator (then the case needs a seed).
    pub fn draws(&self) -> bool {
        match self {
            Expr::Rand { .. } | Expr::Randn { .. } | Expr::RandomBelow { .. } => true,
            Expr::Apply { arg, .. } => arg.draws(),
            Expr::Literal(_) | Expr::Arange { .. } | Expr::Full { .. } => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Int(i64),
    Float(f64),
    Punct(char),
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            toks.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || chars[i] == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())
                    || matches!(chars[i], 'e' | 'E'))
            {
                if matches!(chars[i], 'e' | 'E') && matches!(chars.get(i + 1), Some('-' | '+')) {
                    i += 1;
                }
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            if let Ok(v) = text.parse::<i64>() {
                toks.push(Tok::Int(v));
            } else {
                let v = text
                    .parse::<f64>()
                    .map_err(|_| format!("`{text}` is not a number"))?;
                toks.push(Tok::Float(v));
            }
        } else if "().,=-[]".contains(c) {
            toks.push(Tok::Punct(c));
            i += 1;
        } else {
            return Err(format!("unexpected character `{c}`"));
        }
    }
    Ok(toks)
}

/// An argument of a call: positional or `name=value`.
#[derive(Debug, Clone)]
enum Arg {
    Pos(Value),
    Kw(String, Value),
}

/// A value in argument position.
#[derive(Debug, Clone)]
enum Value {
    Int(i64),
    Float(f64),
    Tuple(Vec<i64>),
    /// A dotted constant such as `torch.long`.
    Const(String),
    Tensor(Expr),
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    lookup: &'a dyn Fn(&str) -> Option<Literal>,
    depth: usize,
}

/// How deeply an expression may nest (calls, negations, tuples): the documents need five; a
/// limit keeps a hostile expression from exhausting the stack of the build script.
const MAX_DEPTH: usize = 32;

/// Parses `src`; `lookup` resolves names bound in the spec's `tensors` blocks.
pub fn parse_expr(src: &str, lookup: &dyn Fn(&str) -> Option<Literal>) -> Result<Expr, String> {
    let toks = tokenize(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        lookup,
        depth: 0,
    };
    let e = p.tensor_expr()?;
    if p.pos != p.toks.len() {
        return Err(format!(
            "unexpected `{}` after the end of the expression",
            p.describe()
        ));
    }
    Ok(e)
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn describe(&self) -> String {
        match self.peek() {
            Some(Tok::Ident(s)) => s.clone(),
            Some(Tok::Int(v)) => v.to_string(),
            Some(Tok::Float(v)) => v.to_string(),
            Some(Tok::Punct(c)) => c.to_string(),
            None => "end of expression".into(),
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected `{c}`, found `{}`", self.describe()))
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(format!("expected a name, found `{}`", self.describe())),
        }
    }

    /// A dotted path such as `torch.randn` or `F.softmax`.
    fn path(&mut self) -> Result<String, String> {
        let mut path = self.ident()?;
        while self.peek() == Some(&Tok::Punct('.'))
            && matches!(self.toks.get(self.pos + 1), Some(Tok::Ident(_)))
            && !self.is_method_position(&path)
        {
            self.pos += 1;
            path.push('.');
            path.push_str(&self.ident()?);
        }
        Ok(path)
    }

    /// After a bound name (`inputs.softmax(...)`) the dot starts a method call, not a path.
    fn is_method_position(&self, path: &str) -> bool {
        !matches!(path, "torch" | "F" | "nn" | "nn.functional" | "torch.nn")
            && !path.starts_with("torch.nn")
    }

    /// Runs `f` one level deeper, refusing to go past [`MAX_DEPTH`].
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "the expression nests more than {MAX_DEPTH} levels deep"
            ));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn tensor_expr(&mut self) -> Result<Expr, String> {
        self.nested(Self::unnested_tensor_expr)
    }

    fn unnested_tensor_expr(&mut self) -> Result<Expr, String> {
        if self.eat('-') {
            let arg = self.tensor_expr()?;
            return Ok(Expr::Apply {
                func: Func::Neg,
                arg: Box::new(arg),
            });
        }
        let mut e = self.primary()?;
        while self.eat('.') {
            let method = self.ident()?;
            self.expect('(')?;
            let args = self.args()?;
            e = self.method(e, &method, args)?;
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let path = self.path()?;
        if self.eat('(') {
            let args = self.args()?;
            return self.call(&path, args);
        }
        if path.contains('.') {
            return Err(format!("`{path}` is not a tensor"));
        }
        (self.lookup)(&path)
            .map(Expr::Literal)
            .ok_or_else(|| format!("`{path}` is not bound in any `tensors` block of the spec"))
    }

    fn args(&mut self) -> Result<Vec<Arg>, String> {
        let mut args = Vec::new();
        if self.eat(')') {
            return Ok(args);
        }
        loop {
            let kw = match (self.peek(), self.toks.get(self.pos + 1)) {
                (Some(Tok::Ident(name)), Some(Tok::Punct('='))) => {
                    let name = name.clone();
                    self.pos += 2;
                    Some(name)
                }
                _ => None,
            };
            let value = self.value()?;
            args.push(match kw {
                Some(name) => Arg::Kw(name, value),
                None => Arg::Pos(value),
            });
            if self.eat(')') {
                return Ok(args);
            }
            self.expect(',')?;
            if self.eat(')') {
                return Ok(args);
            }
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.nested(Self::unnested_value)
    }

    fn unnested_value(&mut self) -> Result<Value, String> {
        let negative = matches!(
            (self.peek(), self.toks.get(self.pos + 1)),
            (Some(Tok::Punct('-')), Some(Tok::Int(_) | Tok::Float(_)))
        );
        if negative {
            self.pos += 1;
        }
        let sign = if negative { -1 } else { 1 };
        match self.peek().cloned() {
            Some(Tok::Int(v)) => {
                self.pos += 1;
                Ok(Value::Int(sign * v))
            }
            Some(Tok::Float(v)) => {
                self.pos += 1;
                Ok(Value::Float(sign as f64 * v))
            }
            Some(Tok::Punct('(')) => {
                self.pos += 1;
                let mut items = Vec::new();
                while !self.eat(')') {
                    match self.value()? {
                        Value::Int(v) => items.push(v),
                        _ => return Err("a tuple holds integers only".into()),
                    }
                    if !self.eat(',') {
                        self.expect(')')?;
                        break;
                    }
                }
                Ok(Value::Tuple(items))
            }
            Some(Tok::Ident(name)) if name == "torch" && self.is_constant_ahead() => {
                Ok(Value::Const(self.path()?))
            }
            Some(Tok::Ident(name)) if matches!(name.as_str(), "inf" | "nan") => {
                self.pos += 1;
                let v = if name == "inf" {
                    f64::INFINITY
                } else {
                    f64::NAN
                };
                Ok(Value::Float(sign as f64 * v))
            }
            _ => Ok(Value::Tensor(self.tensor_expr()?)),
        }
    }

    /// `torch.long` and friends: a dotted path not followed by a call.
    fn is_constant_ahead(&self) -> bool {
        let mut i = self.pos + 1;
        while self.toks.get(i) == Some(&Tok::Punct('.'))
            && matches!(self.toks.get(i + 1), Some(Tok::Ident(_)))
        {
            i += 2;
        }
        self.toks.get(i) != Some(&Tok::Punct('('))
    }

    fn call(&mut self, path: &str, args: Vec<Arg>) -> Result<Expr, String> {
        let name = path
            .trim_start_matches("torch.nn.functional.")
            .trim_start_matches("nn.functional.")
            .trim_start_matches("F.")
            .trim_start_matches("torch.");
        let functional = path.starts_with("F.") || path.contains("functional.");
        match name {
            "rand" | "randn" | "zeros" | "ones" | "empty" if !functional => {
                let (shape, kw) = shape_args(&args)?;
                let dtype = dtype_kw(&kw)?;
                match name {
                    "rand" | "randn" => draw(name, shape, dtype),
                    "zeros" | "ones" => {
                        let value = if name == "zeros" { 0.0 } else { 1.0 };
                        Ok(cast_if(Expr::Full { shape, value }, dtype))
                    }
                    _ => self.empty_random(shape, dtype),
                }
            }
            "full" if !functional => {
                let [Arg::Pos(Value::Tuple(shape)), Arg::Pos(v)] = args.as_slice() else {
                    return Err("torch.full takes a shape tuple and a value".into());
                };
                Ok(Expr::Full {
                    shape: to_shape(shape)?,
                    value: number(v)?,
                })
            }
            "randint" if !functional => randint(&args),
            "arange" if !functional => {
                let (pos, kw) = split(&args);
                if !kw.is_empty() {
                    return Err("torch.arange takes no keyword arguments here".into());
                }
                match pos.as_slice() {
                    [Value::Int(end)] => arange(0, *end),
                    [Value::Int(start), Value::Int(end)] => arange(*start, *end),
                    _ => Err("write torch.arange(end) or torch.arange(start, end)".into()),
                }
            }
            "softmax" | "log_softmax" | "sigmoid" | "log" | "exp" => {
                let (pos, kw) = split(&args);
                let Some((Value::Tensor(arg), rest)) = pos.split_first() else {
                    return Err(format!("{path} takes a tensor first"));
                };
                self.function(arg.clone(), name, rest, &kw)
            }
            _ => Err(format!(
                "`{path}(...)` is not part of the expression language"
            )),
        }
    }

    /// `torch.empty(shape)` is uninitialised memory: only its `.random_(n)` is defined.
    fn empty_random(&mut self, shape: Vec<usize>, dtype: Option<Dtype>) -> Result<Expr, String> {
        let random = self.peek() == Some(&Tok::Punct('.'))
            && self.toks.get(self.pos + 1) == Some(&Tok::Ident("random_".into()));
        if !random {
            return Err("torch.empty is uninitialised: follow it with .random_(n)".into());
        }
        self.pos += 2;
        self.expect('(')?;
        let high = random_high(&self.args()?)?;
        Ok(Expr::RandomBelow {
            shape,
            high,
            dtype: dtype.unwrap_or(Dtype::Float32),
        })
    }

    fn method(&mut self, e: Expr, method: &str, args: Vec<Arg>) -> Result<Expr, String> {
        let (pos, kw) = split(&args);
        match method {
            "softmax" | "log_softmax" | "sigmoid" | "log" | "exp" => {
                self.function(e, method, &pos, &kw)
            }
            "reshape" | "view" => {
                let dims = match pos.as_slice() {
                    [Value::Tuple(t)] => t.clone(),
                    items => items
                        .iter()
                        .map(|v| match v {
                            Value::Int(i) => Ok(*i),
                            _ => Err(format!(".{method} takes integers")),
                        })
                        .collect::<Result<_, _>>()?,
                };
                Ok(apply(Func::Reshape(dims), e))
            }
            "squeeze" | "unsqueeze" => match pos.as_slice() {
                [Value::Int(d)] => Ok(apply(
                    if method == "squeeze" {
                        Func::Squeeze(*d)
                    } else {
                        Func::Unsqueeze(*d)
                    },
                    e,
                )),
                _ => Err(format!(".{method} takes one dimension")),
            },
            "float" | "double" | "long" | "half" | "bfloat16" if pos.is_empty() => {
                let d = Dtype::parse(method).ok_or("unknown dtype")?;
                Ok(apply(Func::Cast(d), e))
            }
            "mul" | "add" => match (pos.as_slice(), kw.as_slice()) {
                ([v @ (Value::Int(_) | Value::Float(_))], []) => {
                    let c = number(v)?;
                    if !c.is_finite() {
                        return Err(format!(".{method} takes a finite number"));
                    }
                    Ok(apply(
                        if method == "mul" {
                            Func::Mul(c)
                        } else {
                            Func::Add(c)
                        },
                        e,
                    ))
                }
                _ => Err(format!(".{method} takes one number")),
            },
            "random_" => Err(".random_(n) follows torch.empty(...)".into()),
            _ => Err(format!(
                "`.{method}(...)` is not part of the expression language"
            )),
        }
    }

    fn function(
        &mut self,
        arg: Expr,
        name: &str,
        pos: &[Value],
        kw: &[(String, Value)],
    ) -> Result<Expr, String> {
        let func = match name {
            "softmax" | "log_softmax" => {
                let dim = match (pos, kw) {
                    ([Value::Int(d)], []) => *d,
                    ([], [(k, Value::Int(d))]) if k == "dim" => *d,
                    _ => return Err(format!("{name} needs exactly one `dim`")),
                };
                if name == "softmax" {
                    Func::Softmax { dim }
                } else {
                    Func::LogSoftmax { dim }
                }
            }
            _ if !pos.is_empty() || !kw.is_empty() => {
                return Err(format!("{name} takes no arguments besides the tensor"));
            }
            "sigmoid" => Func::Sigmoid,
            "log" => Func::Log,
            _ => Func::Exp,
        };
        Ok(apply(func, arg))
    }
}

fn apply(func: Func, arg: Expr) -> Expr {
    Expr::Apply {
        func,
        arg: Box::new(arg),
    }
}

/// `torch.rand(shape)` / `torch.randn(shape)`, float32 unless a float dtype is given.
fn draw(name: &str, shape: Vec<usize>, dtype: Option<Dtype>) -> Result<Expr, String> {
    let dtype = dtype.unwrap_or(Dtype::Float32);
    if !dtype.is_float() {
        return Err(format!("torch.{name} draws floats, not {dtype}"));
    }
    Ok(match name {
        "rand" => Expr::Rand { shape, dtype },
        _ => Expr::Randn { shape, dtype },
    })
}

/// `torch.randint(0, high, (shape,))`, int64 unless a dtype is given.
fn randint(args: &[Arg]) -> Result<Expr, String> {
    let (pos, kw) = split(args);
    let [Value::Int(0), Value::Int(high), Value::Tuple(shape)] = pos.as_slice() else {
        return Err("write torch.randint(0, high, (shape,))".into());
    };
    Ok(Expr::RandomBelow {
        shape: to_shape(shape)?,
        high: positive_high(*high)?,
        dtype: dtype_kw(&kw)?.unwrap_or(Dtype::Int64),
    })
}

fn arange(start: i64, end: i64) -> Result<Expr, String> {
    let len = end.saturating_sub(start).max(0);
    to_shape(&[len])?;
    Ok(Expr::Arange { start, end })
}

fn cast_if(e: Expr, dtype: Option<Dtype>) -> Expr {
    match dtype {
        Some(d) if d != Dtype::Float32 => apply(Func::Cast(d), e),
        _ => e,
    }
}

fn split(args: &[Arg]) -> (Vec<Value>, Keywords) {
    let mut pos = Vec::new();
    let mut kw = Vec::new();
    for a in args {
        match a {
            Arg::Pos(v) => pos.push(v.clone()),
            Arg::Kw(k, v) => kw.push((k.clone(), v.clone())),
        }
    }
    (pos, kw)
}

/// `rand(4, 5)`, `rand((4, 5))` and `rand(4, 5, dtype=...)` all name a shape.
/// Keyword arguments, in the order written.
type Keywords = Vec<(String, Value)>;

fn shape_args(args: &[Arg]) -> Result<(Vec<usize>, Keywords), String> {
    let (pos, kw) = split(args);
    let dims: Vec<i64> = match pos.as_slice() {
        [Value::Tuple(t)] => t.clone(),
        items => items
            .iter()
            .map(|v| match v {
                Value::Int(i) => Ok(*i),
                _ => Err("a shape is a list of integers".to_string()),
            })
            .collect::<Result<_, _>>()?,
    };
    Ok((to_shape(&dims)?, kw))
}

fn to_shape(dims: &[i64]) -> Result<Vec<usize>, String> {
    let shape = dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("a dimension cannot be {d}")))
        .collect::<Result<Vec<usize>, _>>()?;
    crate::shape::checked_numel(&shape).map(|_| shape)
}

fn dtype_kw(kw: &[(String, Value)]) -> Result<Option<Dtype>, String> {
    let mut dtype = None;
    for (k, v) in kw {
        match (k.as_str(), v) {
            ("dtype", Value::Const(c)) => {
                dtype = Some(Dtype::parse(c).ok_or_else(|| format!("unknown dtype `{c}`"))?)
            }
            _ => return Err(format!("unexpected keyword argument `{k}`")),
        }
    }
    Ok(dtype)
}

fn number(v: &Value) -> Result<f64, String> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        _ => Err("expected a number".into()),
    }
}

fn positive_high(high: i64) -> Result<u64, String> {
    u64::try_from(high)
        .ok()
        .filter(|&h| h > 0)
        .ok_or_else(|| format!("the upper bound of a random draw must be positive, not {high}"))
}

fn random_high(args: &[Arg]) -> Result<u64, String> {
    match args {
        [Arg::Pos(Value::Int(high))] => positive_high(*high),
        _ => Err(".random_ takes one upper bound: .random_(n)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Expr, String> {
        parse_expr(src, &|name| {
            (name == "x").then(|| Literal {
                dtype: None,
                shape: vec![2],
                data: vec![1.0, 2.0],
                integral: true,
            })
        })
    }

    #[test]
    fn reads_the_documents_expressions() {
        assert_eq!(
            parse("torch.rand(4, 5)").unwrap(),
            Expr::Rand {
                shape: vec![4, 5],
                dtype: Dtype::Float32
            }
        );
        assert_eq!(
            parse("torch.empty(3, dtype=torch.long).random_(5)").unwrap(),
            Expr::RandomBelow {
                shape: vec![3],
                high: 5,
                dtype: Dtype::Int64
            }
        );
        let e = parse("torch.randn(3, 5).softmax(dim=1)").unwrap();
        assert!(matches!(
            e,
            Expr::Apply {
                func: Func::Softmax { dim: 1 },
                ..
            }
        ));
        let e = parse("torch.arange(1, 13).reshape(3, 4).float()").unwrap();
        assert!(matches!(
            e,
            Expr::Apply {
                func: Func::Cast(Dtype::Float32),
                ..
            }
        ));
        let e = parse("torch.log(F.softmax(x, dim=1))").unwrap();
        assert!(!e.draws());
        let e = parse("torch.empty(6, 1, 5, 5, dtype=torch.long).random_(3).squeeze(1)").unwrap();
        assert!(e.draws());
        let e = parse("torch.randn(2, 1000).mul(3).add(-1e3)").unwrap();
        let Expr::Apply { func, arg } = e else {
            panic!("an application")
        };
        assert_eq!(func, Func::Add(-1000.0));
        assert!(matches!(
            *arg,
            Expr::Apply {
                func: Func::Mul(3.0),
                ..
            }
        ));
        assert!(
            parse("torch.rand(3).mul()")
                .unwrap_err()
                .contains("one number")
        );
        assert!(parse("torch.rand(3).add(x)").is_err());
        assert_eq!(
            parse("torch.randn(2, 1000).mul(3)").unwrap().numel(),
            Some(2000)
        );
        assert_eq!(
            parse("torch.arange(1, 13).reshape(3, 4)").unwrap().numel(),
            Some(12)
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let minus = format!("{}torch.rand(3)", "-".repeat(30_000));
        assert!(parse(&minus).unwrap_err().contains("nests more than"));
        let exp = format!(
            "{}torch.rand(3){}",
            "torch.exp(".repeat(10_000),
            ")".repeat(10_000)
        );
        assert!(parse(&exp).unwrap_err().contains("nests more than"));
        let tuple = format!("torch.rand({}3{})", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&tuple).unwrap_err().contains("nests more than"));
        assert!(parse(&format!("{}torch.rand(3)", "-".repeat(20))).is_ok());
    }

    #[test]
    fn rejects_what_it_does_not_know() {
        assert!(parse("torch.empty(3)").unwrap_err().contains("random_"));
        assert!(parse("y").unwrap_err().contains("not bound"));
        assert!(parse("torch.foo(3)").unwrap_err().contains("not part"));
        assert!(parse("torch.rand(3) extra").is_err());
        assert!(parse("torch.randint(1, 5, (3,))").is_err());
    }
}
