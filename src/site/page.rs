//! The pages around the rendered chapters: the shared frame (search box, table of contents,
//! previous and next), the index, and the style sheet. Plain HTML and CSS; the one script,
//! `search.js` (`search`), only searches its own index and folds the contents on a phone.

use std::fmt::Write as _;

use pulldown_cmark::HeadingLevel;

use super::card::escape;
use super::markdown::ChapterPage;
use super::verdicts::Verdicts;
use crate::spec::Spec;
use crate::spec::case::Chapter;

/// The page of a chapter: `02-cross-entropy.html`.
pub fn file_name(chapter: &Chapter) -> String {
    format!("{}.html", chapter.stem())
}

/// A complete page: head, table of contents beside the content.
fn frame(title: &str, toc: &str, content: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{}</title>
<link rel="stylesheet" href="style.css">
</head>
<body>
<nav class="toc">{toc}</nav>
<main>
{content}
</main>
<script src="search.js"></script>
</body>
</html>
"#,
        escape(title)
    )
}

/// A chapter's number as the prose says it ("chapter 4" is `04-...md`), or `None` for a page
/// without one (the protocol).
pub fn number(chapter: &Chapter) -> Option<usize> {
    let digits: String = chapter
        .stem()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A chapter's title with its number in front, as the table of contents shows it.
fn numbered(chapter: &Chapter) -> String {
    let n = number(chapter).map_or(String::new(), |n| n.to_string());
    format!(r#"<span class="num">{n}</span> {}"#, escape(&chapter.title))
}

/// The groups of the contents, after chapter 00's *A path through the chapters*: what a learner
/// reads in order, what an implementer looks up (half precision too: it says what a float16 or
/// bfloat16 run must compute), and how the suite checks (by chapter number; a page without a
/// number, the protocol, goes last).
const GROUPS: [(&str, &[usize]); 3] = [
    ("A path for a learner", &[0, 1, 2, 3, 4, 5, 6]),
    ("Reference", &[7, 8, 10, 14]),
    ("Appendices: how the suite checks", &[9, 11, 12, 13]),
];

/// The group a chapter is listed in.
fn group_of(chapter: &Chapter) -> usize {
    number(chapter)
        .and_then(|n| GROUPS.iter().position(|(_, members)| members.contains(&n)))
        .unwrap_or(GROUPS.len() - 1)
}

/// The search box, then every chapter (numbered as the prose numbers them) in its group, with
/// the sections of the current one; folded on a narrow screen.
fn toc(spec: &Spec, pages: &[ChapterPage], current: Option<usize>) -> String {
    let mut h = String::from(
        r#"<a class="home" href="index.html">The cross-entropy spec</a><div class="search"><input type="search" id="search" placeholder="Search chapters, cases, tolerances" aria-label="Search the spec"><ol id="search-results"></ol></div><details class="chapters" open><summary>Contents</summary>"#,
    );
    for (g, (title, _)) in GROUPS.iter().enumerate() {
        let _ = write!(h, r#"<p class="group">{}</p><ol>"#, escape(title));
        for (i, chapter) in spec.chapters.iter().enumerate() {
            if group_of(chapter) == g {
                toc_entry(&mut h, chapter, &pages[i], current == Some(i));
            }
        }
        h.push_str("</ol>");
    }
    h.push_str("</details>");
    h
}

/// One chapter in the contents, with its sections when it is the current page.
fn toc_entry(h: &mut String, chapter: &Chapter, page: &ChapterPage, current: bool) {
    let here = if current { r#" class="current""# } else { "" };
    let _ = write!(
        h,
        r#"<li{here}><a href="{}">{}</a>"#,
        file_name(chapter),
        numbered(chapter)
    );
    if current {
        h.push_str("<ul>");
        for (level, id, text) in &page.headings {
            if *level == HeadingLevel::H2 {
                let _ = write!(h, r##"<li><a href="#{id}">{}</a></li>"##, escape(text));
            }
        }
        h.push_str("</ul>");
    }
    h.push_str("</li>");
}

/// Previous and next chapter links.
fn prev_next(spec: &Spec, i: usize) -> String {
    let link = |j: Option<usize>, rel: &str| match j.and_then(|j| spec.chapters.get(j)) {
        Some(c) => {
            let title = escape(&c.title);
            let text = if rel == "prev" {
                format!("← {title}")
            } else {
                format!("{title} →")
            };
            format!(r#"<a rel="{rel}" href="{}">{text}</a>"#, file_name(c))
        }
        None => r#"<a rel="up" href="index.html">Contents</a>"#.to_string(),
    };
    format!(
        r#"<nav class="prev-next">{}{}</nav>"#,
        link(i.checked_sub(1), "prev"),
        link(Some(i + 1), "next")
    )
}

/// Chapter `i`'s page.
pub fn chapter(spec: &Spec, pages: &[ChapterPage], i: usize, verdicts: &Verdicts) -> String {
    let nav = prev_next(spec, i);
    let legend = implementations(verdicts);
    let label = match number(&spec.chapters[i]) {
        Some(n) => format!(r#"<p class="chapter-number">Chapter {n}</p>"#),
        None => String::new(),
    };
    let content = format!("{nav}\n{label}{legend}{}\n{nav}", pages[i].body);
    frame(
        &spec.chapters[i].title,
        &toc(spec, pages, Some(i)),
        &content,
    )
}

/// Which implementations' verdicts the cards show.
fn implementations(verdicts: &Verdicts) -> String {
    if verdicts.implementations.is_empty() {
        return String::new();
    }
    let names: Vec<String> = (verdicts.implementations.iter())
        .map(|(name, _)| format!("<b>{}</b>", escape(name)))
        .collect();
    format!(
        r#"<p class="shown-verdicts">Each case shows the verdicts of {}.</p>"#,
        names.join(", ")
    )
}

/// The index: the chapters with their case counts, and a status count per report.
pub fn index(spec: &Spec, pages: &[ChapterPage], verdicts: &Verdicts) -> String {
    let mut h = String::from(
        "<h1>The cross-entropy spec</h1>\n<p>PyTorch's cross-entropy family of losses, specified in Markdown whose examples run. Each chapter's cases are shown as cards.</p>\n<p>New here? <a href=\"00-reading-this-spec.html\">Chapter 0</a> works one sample's loss by hand, then gives a reading path through the chapters and a <a href=\"00-reading-this-spec.html#glossary\">glossary</a>.</p>\n<table><thead><tr><th>Chapter</th><th>Cases</th></tr></thead><tbody>",
    );
    for (chapter, page) in spec.chapters.iter().zip(pages) {
        let _ = write!(
            h,
            r#"<tr><td><a href="{}">{}</a></td><td>{}</td></tr>"#,
            file_name(chapter),
            numbered(chapter),
            page.cases.len()
        );
    }
    h.push_str("</tbody></table>\n");
    for (name, by_case) in &verdicts.implementations {
        let mut counts = std::collections::BTreeMap::new();
        for verdict in by_case.values().flatten() {
            *counts.entry(verdict.status.as_str()).or_insert(0) += 1;
        }
        let counts: Vec<String> = (counts.iter())
            .map(|(s, n)| format!("{n} {}", escape(s)))
            .collect();
        let _ = writeln!(h, "<p><b>{}</b>: {}</p>", escape(name), counts.join(", "));
    }
    frame("The cross-entropy spec", &toc(spec, pages, None), &h)
}

pub const STYLE: &str = r#"body { margin: 0; font: 16px/1.55 Georgia, "DejaVu Serif", serif; color: #1d1d1d; background: #fdfdfb; }
nav.toc { overflow-wrap: anywhere; position: fixed; top: 0; bottom: 0; left: 0; width: 17rem; overflow-y: auto; padding: 1rem; box-sizing: border-box; background: #f3f2ee; border-right: 1px solid #ddd; font: 14px/1.4 system-ui, sans-serif; }
nav.toc ol { padding-left: 0; list-style: none; } nav.toc ul { padding-left: 0.9rem; list-style: none; font-size: 13px; }
nav.toc li { margin: 0.25rem 0; } nav.toc .current > a { font-weight: bold; } nav.toc a { color: #234; text-decoration: none; }
nav.toc .home { font-weight: bold; font-size: 15px; }
main { margin-left: 17rem; max-width: 52rem; padding: 1rem 2.5rem 3rem; }
nav.prev-next { display: flex; justify-content: space-between; font: 14px system-ui, sans-serif; margin: 1rem 0; }
code, pre { font: 13px/1.4 "DejaVu Sans Mono", monospace; } p code, li code { background: #efefea; padding: 0 0.2em; border-radius: 3px; }
pre { background: #f4f4f0; padding: 0.5rem; overflow-x: auto; max-height: 16rem; margin: 0; }
math { font-family: "Latin Modern Math", "STIX Two Math", "DejaVu Math TeX Gyre", math; }
math[display="block"] { margin: 0.8rem 0; font-size: 1.1em; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 0.2rem 0.5rem; }
img { max-width: 100%; }
.card { border: 1px solid #c9c9c0; border-left: 4px solid #0072b2; border-radius: 4px; margin: 1rem 0; background: #fff; font: 14px/1.45 system-ui, sans-serif; }
.card.tolerance { border-left-color: #e69f00; padding: 0 0.8rem 0.6rem; }
.card-head { padding: 0.4rem 0.8rem; background: #eef3f7; border-bottom: 1px solid #dde; overflow-wrap: anywhere; }
.card.tolerance .card-head { background: none; border: none; padding-left: 0; font-weight: bold; }
.case-id { font: bold 14px "DejaVu Sans Mono", monospace; color: #0b3d62; text-decoration: none; }
.op { margin-left: 0.6rem; padding: 0 0.4rem; border-radius: 3px; background: #0072b2; color: #fff; font-size: 12px; }
.dtypes { float: right; color: #555; font-size: 12px; }
.card dl { display: grid; grid-template-columns: 9rem 1fr; margin: 0; padding: 0.5rem 0.8rem; gap: 0.3rem 0.6rem; }
.card dt { color: #555; } .card dd { margin: 0; min-width: 0; }
.why { display: block; color: #444; font-style: italic; }
.verdicts { padding: 0.4rem 0.8rem; border-top: 1px dashed #ccc; font-size: 13px; }
.verdicts .impl { font-weight: bold; margin-right: 0.4rem; }
.verdict { display: inline-block; margin: 0.1rem; padding: 0 0.35rem; border-radius: 3px; background: #ddd; }
.verdict.passed { background: #d4edda; } .verdict.failed, .verdict.errored, .verdict.unexpected_pass { background: #f8d7da; }
.verdict.expected_failure { background: #fff3cd; } .verdict.skipped { background: #e2e3e5; }
.shown-verdicts { font: 13px system-ui, sans-serif; color: #555; }
.tex-error { color: #b22; }
strong.rule { color: #00603f; }
h1 code, h2 code, h3 code { font-size: 0.8em; }
nav.toc p.group { margin: 0.8rem 0 0.2rem; font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; color: #666; }
.num { display: inline-block; min-width: 1.4em; color: #666; font-variant-numeric: tabular-nums; }
.chapter-number { font: 14px system-ui, sans-serif; color: #666; margin: 0; }
.search input { width: 100%; box-sizing: border-box; font: 14px system-ui, sans-serif; padding: 0.3rem; margin: 0.6rem 0 0.2rem; }
#search-results { margin: 0; } #search-results li { margin: 0.3rem 0; } #search-results .kind { display: block; color: #666; font-size: 12px; }
details.chapters > summary { cursor: pointer; font-weight: bold; margin: 0.4rem 0; }
blockquote { margin: 1rem 0; padding: 0.2rem 1rem; border: 1px solid #c9c9c0; border-left: 4px solid #009e73; border-radius: 4px; background: #f6fbf8; }
.card details summary { cursor: pointer; } .card details[open] summary { margin-bottom: 0.2rem; }
@media (min-width: 52.01rem) { details.chapters > summary { display: none; } }
@media (max-width: 52rem) {
  body { font-size: 17px; }
  nav.toc { position: static; width: auto; border-right: none; border-bottom: 1px solid #ddd; }
  main { margin-left: 0; padding: 0.5rem 1rem 2rem; }
  .card dl { grid-template-columns: 1fr; gap: 0.1rem; }
  .card dt { font-weight: bold; margin-top: 0.4rem; }
  .dtypes { float: none; display: block; }
  table { display: block; overflow-x: auto; } td code { overflow-wrap: anywhere; }
  math[display="block"] { display: block; overflow-x: auto; }
  img { height: auto; }
  blockquote { padding: 0.2rem 0.6rem; overflow-x: auto; }
  blockquote ol, main > ol, main > ul { padding-left: 1.2rem; }
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// A numbered chapter missing from `GROUPS` would fall into the appendices unannounced, as
    /// chapter 14 once did; each is named in exactly one group.
    #[test]
    fn every_numbered_chapter_of_the_spec_is_in_one_group() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("spec");
        let (spec, _) = crate::spec::read_dir(&dir, "spec").unwrap();
        for chapter in &spec.chapters {
            if let Some(n) = number(chapter) {
                let groups = GROUPS.iter().filter(|(_, m)| m.contains(&n)).count();
                assert_eq!(groups, 1, "chapter {n} is in {groups} groups");
            }
        }
        let reference = GROUPS.iter().position(|(t, _)| *t == "Reference");
        let half = spec
            .chapters
            .iter()
            .find(|c| number(c) == Some(14))
            .unwrap();
        assert_eq!(Some(group_of(half)), reference);
    }
}
