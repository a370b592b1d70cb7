//! One chapter's Markdown to HTML with pulldown-cmark's renderer, after substitutions in its
//! event stream: the spec's `case` and `tolerance` blocks become cards built from the parsed
//! spec, `$...$` and `$$...$$` become MathML, a code span naming a chapter file, a case or a
//! tolerance becomes a link to its page or card (`links`), and a link to a chapter's `.md` file
//! is pointed at its page. Headings get ids, for the table of contents, and each section's text
//! is kept for the search index.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use pulldown_latex::config::DisplayMode;
use pulldown_latex::{RenderConfig, Storage, push_mathml};

use super::card::{Shown, case_card, escape};
use super::links;
use super::verdicts::Verdicts;
use crate::spec::Spec;

/// A chapter rendered: its body, its section headings, the images it embeds, its case ids, and
/// the plain text under each heading (by the heading's index; before the first, under none).
pub struct ChapterPage {
    pub body: String,
    pub headings: Vec<(HeadingLevel, String, String)>,
    pub images: Vec<String>,
    pub cases: Vec<String>,
    pub section_text: Vec<String>,
}

/// Renders `text`, the Markdown of one of `spec`'s chapters.
pub fn render(spec: &Spec, text: &str, verdicts: &Verdicts) -> ChapterPage {
    let options = Options::ENABLE_TABLES | Options::ENABLE_MATH;
    let events: Vec<Event> = Parser::new_ext(text, options).collect();
    let mut page = ChapterPage {
        body: String::new(),
        headings: Vec::new(),
        images: Vec::new(),
        cases: Vec::new(),
        section_text: Vec::new(),
    };
    let mut out = Vec::with_capacity(events.len());
    let mut i = 0;
    let mut depth = Depth::default();
    let mut shown = Shown::new();
    while i < events.len() {
        i = match &events[i] {
            Event::Start(Tag::Heading { level, .. }) => {
                heading(&events, i, *level, &mut page, &mut out)
            }
            Event::Start(Tag::Strong) if rule_at(&events, i).is_some() => {
                let id = rule_at(&events, i).unwrap_or_default();
                out.push(Event::InlineHtml(rule_anchor(id).into()));
                i + 3
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                match our_block(spec, info, verdicts, &mut page, &mut shown) {
                    Some(html) => {
                        out.push(Event::Html(html.into()));
                        skip_block(&events, i)
                    }
                    None => {
                        depth.track(&events[i]);
                        out.push(events[i].clone());
                        i + 1
                    }
                }
            }
            other => {
                depth.track(other);
                keep_text(other, &depth, &mut page);
                let before_tolerance = matches!(events.get(i + 1),
                    Some(Event::Text(t)) if t.starts_with(" tolerance"));
                let context = Context {
                    depth: &depth,
                    before_tolerance,
                };
                out.push(substitute(spec, other.clone(), &context, &mut page));
                i + 1
            }
        };
    }
    pulldown_cmark::html::push_html(&mut page.body, out.into_iter());
    page
}

/// The rule whose bold opening (`**Rule ce.mean.**`: strong, its text, end) starts at `i`.
fn rule_at<'e>(events: &'e [Event], i: usize) -> Option<&'e str> {
    match events.get(i..i + 3)? {
        [
            Event::Start(Tag::Strong),
            Event::Text(t),
            Event::End(TagEnd::Strong),
        ] => crate::spec::parse::rules::rule_id(t),
        _ => None,
    }
}

/// A rule's bold opening, with the anchor cases and the search link to.
fn rule_anchor(id: &str) -> String {
    format!(
        r#"<strong class="rule" id="{}">Rule {}.</strong>"#,
        escape(&links::rule_anchor(id)),
        escape(id)
    )
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
    page.section_text.push(String::new());
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
    shown: &mut Shown,
) -> Option<String> {
    let words: Vec<&str> = info.split_whitespace().collect();
    match words.as_slice() {
        ["case", id] => {
            page.cases.push(id.to_string());
            spec.case(id).map(|case| case_card(spec, case, verdicts, shown))
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

/// Where the event stream is: inside how many links or images and code blocks (no link may be
/// made inside a link or an image's text, and a code block's text is code, not prose).
#[derive(Default)]
struct Depth {
    links: usize,
    code: usize,
}

impl Depth {
    fn track(&mut self, event: &Event) {
        match event {
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => self.links += 1,
            Event::End(TagEnd::Link | TagEnd::Image) => self.links = self.links.saturating_sub(1),
            Event::Start(Tag::CodeBlock(_)) => self.code += 1,
            Event::End(TagEnd::CodeBlock) => self.code = self.code.saturating_sub(1),
            _ => {}
        }
    }
}

/// The first few hundred characters of prose under each heading, for the search index.
fn keep_text(event: &Event, depth: &Depth, page: &mut ChapterPage) {
    const KEPT: usize = 200;
    let (Event::Text(t) | Event::Code(t)) = event else {
        return;
    };
    if depth.code > 0 {
        return;
    }
    if page.section_text.is_empty() {
        page.section_text.push(String::new());
    }
    if let Some(text) = page.section_text.last_mut() {
        if text.len() < KEPT {
            text.push_str(t);
            text.push(' ');
        }
    }
}

/// What an event's substitution depends on: where it is, and whether the word "tolerance"
/// follows it (then a code span naming a tolerance is one, even `exact` or `gradient`).
struct Context<'d> {
    depth: &'d Depth,
    before_tolerance: bool,
}

/// Maths to MathML, names to links, `.md` links to pages, images recorded for copying.
fn substitute<'a>(
    spec: &Spec,
    event: Event<'a>,
    context: &Context,
    page: &mut ChapterPage,
) -> Event<'a> {
    let depth = context.depth;
    match event {
        Event::InlineMath(tex) => Event::InlineHtml(mathml(&tex, DisplayMode::Inline).into()),
        Event::DisplayMath(tex) => Event::Html(mathml(&tex, DisplayMode::Block).into()),
        Event::Code(code) if depth.links == 0 => {
            match links::code_target(spec, &code, context.before_tolerance) {
                Some(href) => Event::InlineHtml(
                    format!(
                        r#"<a href="{}"><code>{}</code></a>"#,
                        escape(&href),
                        escape(&code)
                    )
                    .into(),
                ),
                None => Event::Code(code),
            }
        }
        Event::Text(text) if depth.links == 0 && depth.code == 0 => {
            match links::chapter_mentions(spec, &text) {
                Some(html) => Event::InlineHtml(html.into()),
                None => Event::Text(text),
            }
        }
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: links::rewrite_href(spec, &dest_url).map_or(dest_url, CowStr::from),
            title,
            id,
        }),
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
