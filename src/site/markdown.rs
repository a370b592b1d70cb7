//! One chapter's Markdown to HTML with pulldown-cmark's renderer, after three substitutions in
//! its event stream: the spec's `case` and `tolerance` blocks become cards built from the
//! parsed spec, `$...$` and `$$...$$` become MathML, and a code span naming a chapter file
//! becomes a link to its page. Headings get ids, for the table of contents.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use pulldown_latex::config::DisplayMode;
use pulldown_latex::{RenderConfig, Storage, push_mathml};

use super::card::{case_card, escape};
use super::page::file_name;
use super::verdicts::Verdicts;
use crate::spec::Spec;

/// A chapter rendered: its body, its section headings, the images it embeds, its case count.
pub struct ChapterPage {
    pub body: String,
    pub headings: Vec<(HeadingLevel, String, String)>,
    pub images: Vec<String>,
    pub cases: usize,
}

/// Renders `text`, the Markdown of one of `spec`'s chapters.
pub fn render(spec: &Spec, text: &str, verdicts: &Verdicts) -> ChapterPage {
    let options = Options::ENABLE_TABLES | Options::ENABLE_MATH;
    let events: Vec<Event> = Parser::new_ext(text, options).collect();
    let mut page = ChapterPage {
        body: String::new(),
        headings: Vec::new(),
        images: Vec::new(),
        cases: 0,
    };
    let mut out = Vec::with_capacity(events.len());
    let mut i = 0;
    while i < events.len() {
        i = match &events[i] {
            Event::Start(Tag::Heading { level, .. }) => {
                heading(&events, i, *level, &mut page, &mut out)
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                match our_block(spec, info, verdicts, &mut page) {
                    Some(html) => {
                        out.push(Event::Html(html.into()));
                        skip_block(&events, i)
                    }
                    None => {
                        out.push(events[i].clone());
                        i + 1
                    }
                }
            }
            other => {
                out.push(substitute(spec, other.clone(), &mut page));
                i + 1
            }
        };
    }
    pulldown_cmark::html::push_html(&mut page.body, out.into_iter());
    page
}

/// A heading with an id made from its text; returns the index after its end.
fn heading<'a>(
    events: &[Event<'a>],
    start: usize,
    level: HeadingLevel,
    page: &mut ChapterPage,
    out: &mut Vec<Event<'a>>,
) -> usize {
    let end = (start..events.len())
        .find(|&j| matches!(events[j], Event::End(TagEnd::Heading(_))))
        .unwrap_or(events.len() - 1);
    let text: String = events[start + 1..end]
        .iter()
        .filter_map(|e| match e {
            Event::Text(t) | Event::Code(t) => Some(t.as_ref()),
            _ => None,
        })
        .collect();
    let id = unique(&slug(&text), &page.headings);
    page.headings.push((level, id.clone(), text));
    out.push(Event::Start(Tag::Heading {
        level,
        id: Some(CowStr::from(id)),
        classes: Vec::new(),
        attrs: Vec::new(),
    }));
    out.extend(events[start + 1..=end].iter().cloned());
    end + 1
}

/// Lower-case letters and digits, runs of anything else as one hyphen.
fn slug(text: &str) -> String {
    let mut s = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s = s.trim_end_matches('-');
    if s.is_empty() {
        "section".into()
    } else {
        s.into()
    }
}

/// `id`, or `id-2`, `id-3`, ... if an earlier heading took it.
fn unique(id: &str, taken: &[(HeadingLevel, String, String)]) -> String {
    let used = |c: &str| taken.iter().any(|(_, t, _)| t == c);
    let mut candidate = id.to_string();
    let mut n = 1;
    while used(&candidate) {
        n += 1;
        candidate = format!("{id}-{n}");
    }
    candidate
}

/// The card for a `case` or `tolerance` block, or `None` for any other code block.
fn our_block(
    spec: &Spec,
    info: &str,
    verdicts: &Verdicts,
    page: &mut ChapterPage,
) -> Option<String> {
    let words: Vec<&str> = info.split_whitespace().collect();
    match words.as_slice() {
        ["case", id] => {
            page.cases += 1;
            spec.case(id).map(|case| case_card(case, verdicts))
        }
        ["tolerance", name] => spec.tolerances.get(*name).map(|tol| {
            format!(
                r#"<div class="card tolerance" id="tolerance-{}"><div class="card-head">tolerance</div>{}</div>"#,
                escape(name),
                super::card::tolerance(tol)
            )
        }),
        _ => None,
    }
}

/// The index after the code block starting at `start`.
fn skip_block(events: &[Event], start: usize) -> usize {
    (start..events.len())
        .find(|&j| matches!(events[j], Event::End(TagEnd::CodeBlock)))
        .map_or(events.len(), |j| j + 1)
}

/// Maths to MathML, chapter file names to links, images recorded for copying.
fn substitute<'a>(spec: &Spec, event: Event<'a>, page: &mut ChapterPage) -> Event<'a> {
    match event {
        Event::InlineMath(tex) => Event::InlineHtml(mathml(&tex, DisplayMode::Inline).into()),
        Event::DisplayMath(tex) => Event::Html(mathml(&tex, DisplayMode::Block).into()),
        Event::Code(code) => match spec.chapters.iter().find(|c| c.file == code.as_ref()) {
            Some(chapter) => Event::InlineHtml(
                format!(
                    r#"<a href="{}"><code>{}</code></a>"#,
                    file_name(chapter),
                    escape(&code)
                )
                .into(),
            ),
            None => Event::Code(code),
        },
        Event::Start(Tag::Image { ref dest_url, .. }) => {
            if !dest_url.contains("://") {
                page.images.push(dest_url.to_string());
            }
            event
        }
        other => other,
    }
}

/// TeX to MathML; TeX the converter cannot read is shown as it was written, in red.
fn mathml(tex: &str, display_mode: DisplayMode) -> String {
    let storage = Storage::new();
    let parser = pulldown_latex::Parser::new(tex, &storage);
    let config = RenderConfig {
        display_mode,
        annotation: Some(tex),
        ..RenderConfig::default()
    };
    let mut html = String::new();
    match push_mathml(&mut html, parser, config) {
        Ok(()) => html,
        Err(_) => format!(r#"<code class="tex-error">{}</code>"#, escape(tex)),
    }
}
