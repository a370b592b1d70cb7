//! The one parser of the Markdown spec. It reads `spec/*.md` with a real Markdown parser,
//! collects the fenced `case`, `tensors` and `tolerance` blocks, and checks every case
//! completely, so that a malformed case stops the build with its file and line. Every problem is
//! reported, not just the first.

mod blocks;
mod case;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet};

use blocks::{Block, BlockKind, scan_blocks};

use crate::case::{Chapter, Spec, TensorSpec};
use crate::literal::{self, Literal};
use crate::location::{Location, SpecError};
use crate::tolerance::{Bounds, Tolerance, bounds_from};

/// Tensors bound in `tensors` blocks, spec-wide: a document's input is written once and every
/// chapter that restates an example of it names it; each name remembers where it was bound.
type Bindings = BTreeMap<String, (Literal, Location)>;

/// Parses the spec from `(path, text)` pairs (paths as shown in messages, e.g.
/// `spec/01-softmax-and-sigmoid.md`). The result has no recorded data: [`crate::read_dir`]
/// adds the data recorded beside the files.
pub fn parse_spec(files: &[(String, String)]) -> Result<Spec, Vec<SpecError>> {
    let mut errors = Vec::new();
    let mut spec = Spec::default();
    let mut parsed = Vec::new();
    let mut bindings = Bindings::new();
    for (path, text) in files {
        errors.extend(rules::scan_rules(path, text, &mut spec.rules));
        match scan_file(path, text, &mut spec.tolerances, &mut bindings) {
            Ok((chapter, blocks)) => {
                spec.chapters.push(chapter);
                parsed.push(blocks);
            }
            Err(e) => errors.extend(e),
        }
    }
    let bindings: BTreeMap<String, Literal> =
        bindings.into_iter().map(|(k, (lit, _))| (k, lit)).collect();
    let mut ids: BTreeMap<String, Location> = BTreeMap::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut numbers = 0usize;
    for blocks in &parsed {
        for block in blocks {
            let BlockKind::Case(_) = block.kind else {
                continue;
            };
            match case::parse_case(block, &bindings, &spec.tolerances, &spec.rules) {
                Ok(case) => {
                    if let Some(prev) = ids.get(&case.id) {
                        let m =
                            format!("duplicate case id `{}` (first defined at {prev})", case.id);
                        errors.push(SpecError::new(&case.at, m));
                    } else if !names.insert(case.test_name()) {
                        let m =
                            format!("case id `{}` gives the same test name as another", case.id);
                        errors.push(SpecError::new(&case.at, m));
                    } else if let Some(e) = too_many_numbers(&mut numbers, &case) {
                        errors.push(e);
                        break;
                    } else {
                        ids.insert(case.id.clone(), case.at.clone());
                        spec.cases.push(case);
                    }
                }
                Err(e) => errors.extend(e),
            }
        }
    }
    errors.extend(unchecked_rules(&spec));
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(errors)
    }
}

/// A rule that no case names in `rules`: stated but never checked, which a normative paragraph
/// must not be.
fn unchecked_rules(spec: &Spec) -> Vec<SpecError> {
    let checked: BTreeSet<&str> = (spec.cases.iter())
        .flat_map(|c| c.rules.iter().map(String::as_str))
        .collect();
    (spec.rules.iter())
        .filter(|(id, _)| !checked.contains(id.as_str()))
        .map(|(id, at)| {
            SpecError::new(
                at,
                format!("no case checks rule `{id}` (name it in a case's `rules`)"),
            )
        })
        .collect()
}

/// The most literal numbers the cases of a spec may hold in all: a name bound once and used by
/// many cases is a copy in each, and the parsed spec must stay small.
pub const MAX_SPEC_NUMBERS: usize = 1 << 24;

/// Counts a case's literal numbers into `numbers`; an error once the spec holds too many.
fn too_many_numbers(numbers: &mut usize, case: &crate::case::Case) -> Option<SpecError> {
    let own: usize = case
        .tensors
        .values()
        .map(TensorSpec::literal_elements)
        .sum();
    *numbers = numbers.saturating_add(own);
    (*numbers > MAX_SPEC_NUMBERS).then(|| {
        let m = format!(
            "the spec's cases hold more than {MAX_SPEC_NUMBERS} literal numbers by this case (each use of a bound name is a copy): write large inputs as expressions"
        );
        SpecError::new(&case.at, m)
    })
}

/// Scans one file: its chapter and its blocks; tolerances and bound tensors go into the shared
/// tables.
fn scan_file(
    path: &str,
    text: &str,
    tolerances: &mut BTreeMap<String, Tolerance>,
    bindings: &mut Bindings,
) -> Result<(Chapter, Vec<Block>), Vec<SpecError>> {
    let text = text.replace("\r\n", "\n");
    let (title, blocks) = scan_blocks(path, &text)?;
    let mut errors = Vec::new();
    let mut cases = 0;
    for block in &blocks {
        let result = match &block.kind {
            BlockKind::Tensors => parse_bindings(block, bindings),
            BlockKind::Tolerance(name) => {
                parse_tolerance(name, block).and_then(|tol| match tolerances.get(name) {
                    Some(prev) => Err(SpecError::new(
                        &block.at,
                        format!("tolerance `{name}` is already defined at {}", prev.at),
                    )),
                    None => {
                        tolerances.insert(name.clone(), tol);
                        Ok(())
                    }
                })
            }
            BlockKind::Case(_) => {
                cases += 1;
                Ok(())
            }
        };
        errors.extend(result.err());
    }
    if cases == 0 {
        errors.push(SpecError::new(
            &Location::new(path, 1),
            "this spec file has no case: every page of the spec must be executable",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let chapter = Chapter {
        file: path.to_string(),
        title,
    };
    Ok((chapter, blocks))
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
    let at = Location::new(&block.at.file, block.at.line + line);
    SpecError::new(&at, format!("invalid TOML: {}", e.message()))
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
    Location::new(&block.at.file, block.at.line + offset)
}

fn parse_bindings(block: &Block, bindings: &mut Bindings) -> Result<(), SpecError> {
    let table: toml::Table = toml::from_str(&block.body).map_err(|e| toml_error(block, &e))?;
    for (name, value) in &table {
        let at = key_location(block, name);
        if let Some((_, prev)) = bindings.get(name) {
            let m = format!("tensor `{name}` is already bound at {prev}");
            return Err(SpecError::new(&at, m));
        }
        if let toml::Value::String(_) = value {
            let m = format!(
                "tensor `{name}`: a `tensors` block holds literal numbers; random draws belong in a case, which carries the seed"
            );
            return Err(SpecError::new(&at, m));
        }
        let lit = literal::literal_from_toml(value)
            .map_err(|m| SpecError::new(&at, format!("tensor `{name}`: {m}")))?;
        bindings.insert(name.clone(), (lit, at));
    }
    Ok(())
}

fn parse_tolerance(name: &str, block: &Block) -> Result<Tolerance, SpecError> {
    let t: toml::Table = toml::from_str(&block.body).map_err(|e| toml_error(block, &e))?;
    let shared = bounds_from(&t).map_err(|m| SpecError::new(&block.at, m))?;
    let per = |key: &str| -> Result<Bounds, SpecError> {
        let at = || key_location(block, key);
        match t.get(key) {
            None => Ok(shared),
            Some(toml::Value::Table(v)) => bounds_from(v).map_err(|m| SpecError::new(&at(), m)),
            Some(_) => Err(SpecError::new(
                &at(),
                "expected a table { abs = .., rel = .. }",
            )),
        }
    };
    let why = match t.get("why") {
        Some(toml::Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            let m =
                format!("tolerance `{name}` needs a `why`: tolerances are justified, not guessed");
            return Err(SpecError::new(&block.at, m));
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
