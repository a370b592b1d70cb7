//! Finds the spec's own fenced blocks (`case <id>`, `tensors`, `tolerance <name>`) in a
//! Markdown file with a real Markdown parser, and the headings above them.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Parser, Tag, TagEnd};

use crate::location::{Lines, Location, SpecError};

/// A fenced block of ours, before its body is interpreted.
pub(super) struct Block {
    pub kind: BlockKind,
    pub at: Location,
    pub body: String,
    pub section: String,
    pub chapter: String,
}

pub(super) enum BlockKind {
    Case(String),
    Tensors,
    Tolerance(String),
}

/// Finds our fenced blocks and the headings above them.
pub(super) fn scan_blocks(path: &str, text: &str) -> Result<(String, Vec<Block>), Vec<SpecError>> {
    let lines = Lines::new(text);
    let mut blocks = Vec::new();
    let mut errors = Vec::new();
    let (mut chapter, mut section) = (String::new(), String::new());
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
                let at = Location::new(path, lines.line_of(range.start));
                if !closed(&text[range.clone()]) && block_kind(&info).is_ok_and(|k| k.is_some()) {
                    let m = format!(
                        "the `{info}` block is never closed: its fence runs to the end of the file"
                    );
                    errors.push(SpecError::new(&at, m));
                    continue;
                }
                open = match block_kind(&info) {
                    Ok(kind) => kind.map(|kind| Block {
                        kind,
                        at,
                        body: String::new(),
                        section: section.clone(),
                        chapter: chapter.clone(),
                    }),
                    Err(m) => {
                        errors.push(SpecError::new(&at, m));
                        None
                    }
                };
            }
            Event::Text(t) => {
                if let Some(block) = open.as_mut() {
                    block.body.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => blocks.extend(open.take()),
            _ => {}
        }
    }
    if chapter.is_empty() {
        errors.push(SpecError::new(
            &Location::new(path, 1),
            "a spec file starts with a first-level heading (its chapter title)",
        ));
    }
    if errors.is_empty() {
        Ok((chapter, blocks))
    } else {
        Err(errors)
    }
}

/// Whether a fenced block's source ends with a closing fence (CommonMark closes an unclosed
/// one at the end of the document, which would swallow the rest of the file).
fn closed(block: &str) -> bool {
    let mut lines = block.trim_end().lines();
    let first = lines.next().unwrap_or_default().trim_start();
    let fence: String = first
        .chars()
        .take_while(|&c| c == '`' || c == '~')
        .collect();
    lines.last().is_some_and(|last| {
        last.trim().starts_with(&fence)
            && last
                .trim()
                .chars()
                .all(|c| c == fence.chars().next().unwrap_or('`'))
    })
}

/// What a fence's info string makes of the block: one of ours, or `None` for any other code
/// block (Rust, text, ...).
fn block_kind(info: &str) -> Result<Option<BlockKind>, String> {
    let words: Vec<&str> = info.split_whitespace().collect();
    match words.as_slice() {
        ["case", id] => check_id(id).map(|()| Some(BlockKind::Case(id.to_string()))),
        ["tensors"] => Ok(Some(BlockKind::Tensors)),
        ["tolerance", name] => Ok(Some(BlockKind::Tolerance(name.to_string()))),
        [first, ..] if matches!(*first, "case" | "tensors" | "tolerance") => Err(format!(
            "malformed info string `{info}`: write `case <id>`, `tensors` or `tolerance <name>`"
        )),
        _ => Ok(None),
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
