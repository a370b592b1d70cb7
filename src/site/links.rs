//! What becomes a link in a chapter's prose: a code span naming a chapter file, a case (or a
//! family of cases, `ce.torch.kdim1.*`) or a tolerance; the words "chapter 7"; and a Markdown
//! link to a chapter's `.md` file, which on the site is its `.html` page.

use super::card::{anchor, escape, tolerance_href};
use super::page::file_name;
use crate::spec::Spec;
use crate::spec::case::Chapter;

/// Tolerance names that are also ordinary words of the prose (`exact`, `gradient`) stay text;
/// a name with a digit or an underscore (`pytorch8`, `rounding_grad`) is only ever a tolerance.
fn is_tolerance_name(spec: &Spec, code: &str) -> bool {
    spec.tolerances.contains_key(code) && code.contains(|c: char| c == '_' || c.is_ascii_digit())
}

/// The page of a chapter named by its file (`spec/02-cross-entropy.md` or `02-cross-entropy.md`).
fn chapter_named<'a>(spec: &'a Spec, path: &str) -> Option<&'a Chapter> {
    let name = path.rsplit('/').next()?;
    spec.chapters
        .iter()
        .find(|c| c.file == path || c.file.rsplit('/').next() == Some(name))
}

/// The HTML id of a rule's statement.
pub fn rule_anchor(id: &str) -> String {
    format!("rule-{id}")
}

/// Where a rule is stated: its chapter's page and its anchor.
pub fn rule_href(spec: &Spec, id: &str) -> Option<String> {
    let at = spec.rules.get(id)?;
    let chapter = spec.chapters.iter().find(|c| c.file == at.file)?;
    Some(format!("{}#{}", file_name(chapter), rule_anchor(id)))
}

/// Where a case's card is: its chapter's page and its anchor.
pub fn case_href(spec: &Spec, id: &str) -> Option<String> {
    let case = spec.case(id)?;
    let chapter = spec.chapter_of(case)?;
    Some(format!("{}#{}", file_name(chapter), anchor(&case.id)))
}

/// The link target of a code span, if it names something the site has a page or card for;
/// `before_tolerance` when the word "tolerance" follows the span.
pub fn code_target(spec: &Spec, code: &str, before_tolerance: bool) -> Option<String> {
    if code.ends_with(".md") && !code.contains(' ') {
        return chapter_named(spec, code).map(file_name);
    }
    if let Some(href) = case_href(spec, code) {
        return Some(href);
    }
    if let Some(prefix) = code.strip_suffix('*').filter(|p| p.ends_with('.')) {
        let first = spec.cases.iter().find(|c| c.id.starts_with(prefix))?;
        return case_href(spec, &first.id);
    }
    if is_tolerance_name(spec, code) || before_tolerance {
        return tolerance_href(spec, code);
    }
    None
}

/// A Markdown link's target on the site: a chapter's `.md` (with any fragment) becomes its
/// page; anything else is left as written.
pub fn rewrite_href(spec: &Spec, dest: &str) -> Option<String> {
    if dest.contains("://") || dest.starts_with('#') {
        return None;
    }
    let (path, fragment) = match dest.split_once('#') {
        Some((p, f)) => (p, Some(f)),
        None => (dest, None),
    };
    if !path.ends_with(".md") {
        return None;
    }
    let page = file_name(chapter_named(spec, path)?);
    Some(match fragment {
        Some(f) => format!("{page}#{f}"),
        None => page,
    })
}

/// Prose text with every "chapter N" that names a chapter turned into a link to it, as HTML;
/// `None` when there is none.
pub fn chapter_mentions(spec: &Spec, text: &str) -> Option<String> {
    let mut html = String::new();
    let mut rest = text;
    let mut found = false;
    while let Some(at) = find_mention(rest) {
        let (before, from) = rest.split_at(at);
        let digits: String = from["chapter ".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let end = "chapter ".len() + digits.len();
        html.push_str(&escape(before));
        let number: usize = digits.parse().ok()?;
        let prefix = format!("{number:02}-");
        match spec.chapters.iter().find(|c| c.stem().starts_with(&prefix)) {
            Some(chapter) => {
                found = true;
                html.push_str(&format!(
                    r#"<a href="{}">{}</a>"#,
                    file_name(chapter),
                    escape(&from[..end])
                ));
            }
            None => html.push_str(&escape(&from[..end])),
        }
        rest = &from[end..];
    }
    html.push_str(&escape(rest));
    found.then_some(html)
}

/// The byte offset of the next "chapter N" or "Chapter N" (N a number).
fn find_mention(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find("hapter ") {
        let at = from + i;
        let starts = at >= 1 && matches!(&text[at - 1..at], "c" | "C");
        let word_start = at < 2 || !text[..at - 1].ends_with(char::is_alphanumeric);
        let digit = text[at + "hapter ".len()..].starts_with(|c: char| c.is_ascii_digit());
        if starts && word_start && digit {
            return Some(at - 1);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_of_chapters_are_found_only_as_words() {
        assert_eq!(find_mention("see chapter 7 and"), Some(4));
        assert_eq!(find_mention("Chapter 12 derives"), Some(0));
        assert_eq!(find_mention("subchapter 7"), None);
        assert_eq!(find_mention("the chapter on softmax"), None);
    }
}
