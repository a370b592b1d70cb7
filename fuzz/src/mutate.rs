//! Mutations of an input: byte-level ones (flip, insert, delete, duplicate, splice with another
//! seed) and ones that know what the inputs are made of (the tokens of JSON and of the spec's
//! TOML and expressions, and the numbers that break shapes). Deterministic for a seed.

/// xorshift64*: small, fast, and the same sequence for the same seed on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Fragments that make inputs interesting: the grammar's own tokens, special numbers, shapes
/// that are huge or empty, bytes that are not UTF-8.
const TOKENS: &[&str] = &[
    "\"nan\"",
    "\"inf\"",
    "\"-inf\"",
    "-0.0",
    "1e400",
    "-1e400",
    "9223372036854775807",
    "18446744073709551616",
    "4611686018427387904",
    "1099511627776",
    "0",
    "-1",
    "[]",
    "{}",
    "[[",
    "]]",
    "null",
    "true",
    ",",
    ":",
    "\"",
    "\\",
    "\\u0000",
    "\"shape\":[1099511627776,0]",
    "\"shape\":[0,1099511627776]",
    "\"dtype\":\"int64\"",
    "\"dtype\":\"float64\"",
    "\"grad\":true",
    "\"reduction\":\"none\"",
    "\"ignore_index\":-9223372036854775808",
    "\"label_smoothing\":\"nan\"",
    "\"dim\":-9223372036854775808",
    "torch.exp(",
    "-",
    "torch.rand(",
    "torch.zeros(0, 1099511627776)",
    ".reshape(-1, -1)",
    ".squeeze(9)",
    "```",
    "```case a.b\n",
    "\n```\n",
    "[[[[",
    "= inf",
    "\u{ff}",
    "\u{2028}",
    "seed = 18446744073709551615",
    "dtypes = []",
    "select = [99]",
];

/// One mutation of `input`, using `other` (another seed) for splices.
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    let at = |rng: &mut Rng, len: usize| rng.below(len + 1);
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = at(rng, len);
                out.insert(i, rng.next() as u8);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                out.drain(i..i + n);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let piece: Vec<u8> = out[i..i + n].to_vec();
                let j = at(rng, len);
                out.splice(j..j, piece);
            }
            4 if !other.is_empty() => {
                let (i, j) = (at(rng, len), rng.below(other.len()));
                let n = 1 + rng.below((other.len() - j).min(256));
                out.splice(i..i, other[j..j + n].iter().copied());
            }
            5 => replace_number(rng, &mut out),
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let i = at(rng, len);
                out.splice(i..i, token.iter().copied());
            }
        }
    }
    out
}

/// Replaces one run of digits with an extreme number.
fn replace_number(rng: &mut Rng, out: &mut Vec<u8>) {
    let digits: Vec<usize> = (0..out.len())
        .filter(|&i| out[i].is_ascii_digit())
        .collect();
    if digits.is_empty() {
        return;
    }
    let start = digits[rng.below(digits.len())];
    let end = (start..out.len())
        .find(|&i| !out[i].is_ascii_digit())
        .unwrap_or(out.len());
    let numbers = [
        "0",
        "1",
        "4611686018427387904",
        "99999999999999999999999",
        "-5",
        "16777217",
        "1e308",
    ];
    let n = numbers[rng.below(numbers.len())].as_bytes();
    out.splice(start..end, n.iter().copied());
}

/// A mutation that keeps JSON well-formed, so that inputs get past the decoder: one value deep
/// in the document replaced, removed, duplicated or stretched.
pub fn mutate_json(rng: &mut Rng, input: &[u8]) -> Option<Vec<u8>> {
    let mut value: serde_json::Value = serde_json::from_slice(input).ok()?;
    for _ in 0..1 + rng.below(3) {
        let mut paths = Vec::new();
        collect(&value, &mut Vec::new(), &mut paths);
        let path = paths.get(rng.below(paths.len()))?.clone();
        let target = path.iter().try_fold(&mut value, |v, key| match key {
            Key::Field(k) => v.get_mut(k.as_str()),
            Key::Index(i) => v.get_mut(*i),
        })?;
        *target = replacement(rng, target);
    }
    serde_json::to_vec(&value).ok()
}

#[derive(Clone)]
enum Key {
    Field(String),
    Index(usize),
}

/// Every path to a value of the document (leaves and containers).
fn collect(v: &serde_json::Value, path: &mut Vec<Key>, out: &mut Vec<Vec<Key>>) {
    out.push(path.clone());
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                path.push(Key::Field(k.clone()));
                collect(child, path, out);
                path.pop();
            }
        }
        serde_json::Value::Array(items) => {
            for (i, child) in items.iter().enumerate().take(16) {
                path.push(Key::Index(i));
                collect(child, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn replacement(rng: &mut Rng, old: &serde_json::Value) -> serde_json::Value {
    use serde_json::json;
    let choices = [
        json!(0),
        json!(-1),
        json!(1u64 << 40),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(0.5),
        json!(-0.0),
        json!(1e308),
        json!("nan"),
        json!("inf"),
        json!("-inf"),
        json!(""),
        json!("float64"),
        json!("int64"),
        json!("none"),
        json!("sum"),
        json!(null),
        json!(true),
        json!([]),
        json!([0]),
        json!([1u64 << 40, 0]),
        json!([0, 1u64 << 40]),
        json!({}),
    ];
    match (old, rng.below(4)) {
        (serde_json::Value::Array(items), 0) if !items.is_empty() => {
            let mut items = items.clone();
            let n = rng.below(items.len());
            items.truncate(n);
            serde_json::Value::Array(items)
        }
        (serde_json::Value::Array(items), 1) => {
            let mut items = items.clone();
            items.extend(items.clone());
            serde_json::Value::Array(items)
        }
        _ => choices[rng.below(choices.len())].clone(),
    }
}
