//! `site`: a small spec directory rendered as a reader gets it: the chapter page with its
//! maths as MathML, its case as a card carrying the tolerance's reason, a report's verdict
//! beside the card, the embedded figure copied; and bad input as a typed error.

use std::path::{Path, PathBuf};

use cross_entropy_spec::site::{SiteError, Verdicts, build};

const CHAPTER: &str = r#"# A small chapter

The loss is $$-\log p$$ and inline $x_1$.

![A figure](figures/tiny.svg)

```tolerance tiny
abs = 1e-6
why = "the halves are exact in binary"
```

```case t.softmax.halves
source = "a test document, In [1]"
op = "softmax"
input = [0.0, 0.0]
dim = 0
expect = [0.5, 0.5]
tol = "tiny"
```
"#;

const REPORT: &str = r#"{"implementation": "Some Torch", "runs": [
  {"id": "t.softmax.halves", "request": "t.softmax.halves@float32", "status": "failed",
   "detail": "off by one"}]}"#;

/// A fresh directory under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("site-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn small_spec(root: &Path, with_figure: bool) -> PathBuf {
    let spec = root.join("spec");
    std::fs::create_dir_all(spec.join("figures")).unwrap();
    std::fs::write(spec.join("01-small.md"), CHAPTER).unwrap();
    if with_figure {
        std::fs::write(spec.join("figures/tiny.svg"), "<svg/>").unwrap();
    }
    spec
}

#[test]
fn a_chapter_renders_with_maths_cards_verdicts_and_its_figure() {
    let root = scratch("render");
    let spec = small_spec(&root, true);
    let mut verdicts = Verdicts::default();
    verdicts.add(REPORT).unwrap();
    let out = root.join("site");
    build(&spec, &out, &verdicts).unwrap();
    let page = std::fs::read_to_string(out.join("01-small.html")).unwrap();
    assert!(page.contains(r#"<math display="block">"#), "{page}");
    assert!(!page.contains("$$"), "{page}");
    assert!(page.contains(r#"id="case-t.softmax.halves""#), "{page}");
    assert!(page.contains("the halves are exact in binary"), "{page}");
    assert!(page.contains("a test document, In [1]"), "{page}");
    assert!(page.contains("spec/01-small.md:"), "{page}");
    assert!(page.contains("Some Torch"), "{page}");
    assert!(page.contains(r#"class="verdict failed""#), "{page}");
    assert!(out.join("figures/tiny.svg").is_file());
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains(r#"href="01-small.html""#), "{index}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn without_a_report_no_verdict_is_shown() {
    let root = scratch("no-report");
    let spec = small_spec(&root, true);
    build(&spec, &root.join("site"), &Verdicts::default()).unwrap();
    let page = std::fs::read_to_string(root.join("site/01-small.html")).unwrap();
    assert!(!page.contains("class=\"verdict"), "{page}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn bad_input_is_a_typed_error() {
    let root = scratch("bad");
    let missing = build(
        &root.join("nowhere"),
        &root.join("site"),
        &Verdicts::default(),
    );
    assert!(matches!(missing, Err(SiteError::NoSpec(_))));
    let report = root.join("report.json");
    std::fs::write(&report, r#"{"runs": "not a list"}"#).unwrap();
    let malformed = Verdicts::read(&[&report]);
    assert!(matches!(malformed, Err(SiteError::Report { .. })));
    let spec = small_spec(&root, false);
    let no_figure = build(&spec, &root.join("site"), &Verdicts::default());
    assert!(
        matches!(no_figure, Err(SiteError::MissingImage { .. })),
        "{no_figure:?}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// The values of every `name="..."` attribute in `html`, unescaped.
fn attribute_values(html: &str, name: &str) -> Vec<String> {
    let needle = format!(" {name}=\"");
    let mut values = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(&needle) {
        rest = &rest[at + needle.len()..];
        let end = rest.find('"').unwrap_or(rest.len());
        values.push(rest[..end].replace("&amp;", "&").replace("&quot;", "\""));
        rest = &rest[end..];
    }
    values
}

/// Every internal link of the site whose page or anchor does not exist, as `page: href`.
fn broken_links(site: &Path) -> Vec<String> {
    let mut pages = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(site).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "html") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            pages.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    let ids: std::collections::BTreeMap<&str, std::collections::BTreeSet<String>> = pages
        .iter()
        .map(|(name, html)| {
            (
                name.as_str(),
                attribute_values(html, "id").into_iter().collect(),
            )
        })
        .collect();
    let mut broken = Vec::new();
    for (name, html) in &pages {
        let links = attribute_values(html, "href").into_iter();
        for href in links.chain(attribute_values(html, "src")) {
            if href.contains("://") || href.starts_with("mailto:") {
                continue;
            }
            let (file, fragment) = href.split_once('#').unwrap_or((&href, ""));
            let file = if file.is_empty() { name.as_str() } else { file };
            let found = match ids.get(file) {
                Some(anchors) => fragment.is_empty() || anchors.contains(fragment),
                None => fragment.is_empty() && site.join(file).is_file(),
            };
            if !found {
                broken.push(format!("{name}: {href}"));
            }
        }
    }
    broken
}

#[test]
fn every_internal_link_and_anchor_of_the_spec_site_resolves() {
    let root = scratch("links");
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("spec");
    let out = root.join("site");
    build(&spec, &out, &Verdicts::default()).unwrap();
    let broken = broken_links(&out);
    assert!(
        broken.is_empty(),
        "{} broken:\n{}",
        broken.len(),
        broken.join("\n")
    );
    let protocol = std::fs::read_to_string(out.join("protocol.html")).unwrap();
    assert!(!protocol.contains(".md\""), "a link to a .md file is left");
    // Case ids and tolerance names in the prose link to their cards.
    let chapter = std::fs::read_to_string(out.join("01-softmax-and-sigmoid.html")).unwrap();
    assert!(
        chapter.contains(r##"href="00-reading-this-spec.html#case-softmax.doc004.vector_1122""##)
    );
    assert!(
        chapter
            .contains(r##"href="13-appendix-tolerances.html#tolerance-printed4_inputs4_lip05""##)
    );
    assert!(out.join("search.js").is_file());
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "html") {
            let page = std::fs::read_to_string(&path).unwrap();
            assert!(
                !page.contains("tex-error"),
                "{}: TeX that did not convert",
                path.display()
            );
        }
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn the_link_check_finds_a_missing_page_and_a_missing_anchor() {
    let root = scratch("broken");
    std::fs::write(
        root.join("a.html"),
        r##"<p id="here"><a href="#here">ok</a> <a href="#gone">x</a> <a href="b.html">y</a> <a href="https://example.org/">z</a></p>"##,
    )
    .unwrap();
    assert_eq!(broken_links(&root), ["a.html: #gone", "a.html: b.html"]);
    std::fs::remove_dir_all(&root).unwrap();
}

/// Every field a report brings (implementation, request, status, detail) is escaped on every
/// page: a report is data from elsewhere, and nothing in it runs when the site is opened.
#[test]
fn every_report_field_is_escaped() {
    let root = scratch("injection");
    let spec = small_spec(&root, true);
    let evil = "<script>alert(1)</script>";
    let report = serde_json::json!({
        "implementation": evil,
        "runs": [{
            "id": "t.softmax.halves",
            "request": format!("t.softmax.halves@{evil}"),
            "status": evil,
            "detail": evil,
        }],
    });
    let mut verdicts = Verdicts::default();
    verdicts.add(&report.to_string()).unwrap();
    let out = root.join("site");
    build(&spec, &out, &verdicts).unwrap();
    for page in ["index.html", "01-small.html"] {
        let html = std::fs::read_to_string(out.join(page)).unwrap();
        // The site's own `<script src="search.js">` is there; the report's never is.
        assert!(!html.contains(evil), "{page}: {html}");
        assert!(html.contains("&lt;script&gt;alert(1)"), "{page}");
    }
    std::fs::remove_dir_all(&root).unwrap();
}
