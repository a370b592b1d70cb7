//! `cross-entropy-spec site`: the spec rendered as a static site, one page per chapter plus an
//! index, each case shown as a card and, given `check --json` reports, with each
//! implementation's verdicts beside it.
//!
//! Why not mdBook: the spec's cases are data that only the spec model can read, so a book would
//! need a preprocessor calling this crate anyway, and mdBook brings a web server, a search
//! index, themes and JavaScript (hundreds of crates) for pages that need none of them. The
//! Markdown parser the spec model already uses, pulldown-cmark, has an HTML renderer behind a
//! feature flag; `markdown` drives it, replacing the spec's own fenced blocks by cards built
//! from the parsed [`Spec`](crate::spec::Spec) (the one parser of the spec reads the cases;
//! nothing here parses a case) and the TeX of `$...$` and `$$...$$` by MathML (pulldown-latex,
//! one small dependency), which browsers render natively: no script, no font download, nothing
//! fetched at view time. The one script, `search.js`, carries its own prebuilt index.

mod card;
mod claims;
mod links;
mod markdown;
mod numbers;
mod page;
mod search;
pub mod verdicts;

use std::path::{Path, PathBuf};

use crate::spec::{SpecError, read_dir};
pub use verdicts::Verdicts;

/// Why the site could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("{0}: no such spec directory")]
    NoSpec(PathBuf),
    #[error("{0}: the output is the spec directory (its figures would be copied onto themselves)")]
    OutIsSpec(PathBuf),
    #[error("the spec is malformed:\n  {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Spec(Vec<SpecError>),
    #[error("{path}: not a `check --json` report: {message}")]
    Report { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{chapter}: the image `{image}` is not in the spec directory")]
    MissingImage { chapter: String, image: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SiteError + '_ {
    move |source| SiteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Renders the spec in `spec_dir` into `out`: `index.html`, one page per chapter, the style
/// sheet, and every image a chapter embeds (copied under the same relative path).
pub fn build(spec_dir: &Path, out: &Path, verdicts: &Verdicts) -> Result<(), SiteError> {
    if !spec_dir.is_dir() {
        return Err(SiteError::NoSpec(spec_dir.to_path_buf()));
    }
    if crate::output::same_dir(spec_dir, out) {
        return Err(SiteError::OutIsSpec(out.to_path_buf()));
    }
    let (spec, files) = read_dir(spec_dir, "spec").map_err(SiteError::Spec)?;
    std::fs::create_dir_all(out).map_err(io(out))?;
    let mut pages = Vec::new();
    for path in &files.markdown {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        pages.push(markdown::render(&spec, &text, verdicts));
    }
    for (i, chapter_page) in pages.iter().enumerate() {
        let html = page::chapter(&spec, &pages, i, verdicts);
        let path = out.join(page::file_name(&spec.chapters[i]));
        std::fs::write(&path, html).map_err(io(&path))?;
        copy_images(spec_dir, out, &spec.chapters[i].file, &chapter_page.images)?;
    }
    let index = out.join("index.html");
    std::fs::write(&index, page::index(&spec, &pages, verdicts)).map_err(io(&index))?;
    let search = out.join("search.js");
    std::fs::write(&search, search::script(&spec, &pages)).map_err(io(&search))?;
    let style = out.join("style.css");
    std::fs::write(&style, page::STYLE).map_err(io(&style))
}

/// Copies each image a chapter embeds from the spec directory into the site.
fn copy_images(
    spec_dir: &Path,
    out: &Path,
    chapter: &str,
    images: &[String],
) -> Result<(), SiteError> {
    for image in images {
        let relative = Path::new(image);
        let safe = relative
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        let from = spec_dir.join(relative);
        if !safe || !from.is_file() {
            return Err(SiteError::MissingImage {
                chapter: chapter.to_string(),
                image: image.clone(),
            });
        }
        let to = out.join(relative);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        if !crate::output::same_file(&from, &to) {
            std::fs::copy(&from, &to).map_err(io(&to))?;
        }
    }
    Ok(())
}
