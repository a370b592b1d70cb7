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
        assert!(!html.contains("<script"), "{page}: {html}");
        assert!(html.contains("&lt;script&gt;"), "{page}");
    }
    std::fs::remove_dir_all(&root).unwrap();
}
