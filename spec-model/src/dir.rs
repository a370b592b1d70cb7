//! Reading a spec directory: every `*.md` in it, sorted by name, and the data recorded in its
//! `recorded/` folder. The build script and `--spec DIR` both read a spec this way, and only this
//! way.

use std::fs;
use std::path::{Path, PathBuf};

use crate::case::Spec;
use crate::location::{Location, SpecError};
use crate::parse::parse_spec;
use crate::recorded::{EXACT_FILE, GRADIENTS_FILE, Recorded};

/// The files a spec was read from, for a build script's `rerun-if-changed`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpecFiles {
    pub markdown: Vec<PathBuf>,
    pub recorded: Vec<PathBuf>,
}

/// Reads and parses the spec in `dir`. Files are named in messages as `<label>/<name>`, so that
/// the crate's own spec reads `spec/02-cross-entropy.md:41` wherever it is built.
pub fn read_dir(dir: &Path, label: &str) -> Result<(Spec, SpecFiles), Vec<SpecError>> {
    let at_dir = Location::new(label, 0);
    let fail = |m: String| vec![SpecError::new(&at_dir, m)];
    let entries =
        fs::read_dir(dir).map_err(|e| fail(format!("cannot read {}: {e}", dir.display())))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(fail(format!("{}: no spec files (*.md)", dir.display())));
    }
    let mut files = SpecFiles::default();
    let mut texts = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let shown = format!("{label}/{name}");
        let bytes =
            fs::read(&path).map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            vec![SpecError::new(&Location::new(&shown, line), "not UTF-8")]
        })?;
        texts.push((shown, text));
        files.markdown.push(path);
    }
    let mut spec = parse_spec(&texts)?;
    let gradients = dir.join(GRADIENTS_FILE);
    // Present but unreadable (a directory of that name) is an error, not an absence.
    if gradients.exists() {
        let shown = Location::new(&format!("{label}/{GRADIENTS_FILE}"), 0);
        let text = fs::read_to_string(&gradients)
            .map_err(|e| vec![SpecError::new(&shown, e.to_string())])?;
        let parsed =
            Recorded::parse_gradients(&text).map_err(|m| vec![SpecError::new(&shown, m)])?;
        spec.recorded.gradients = Some(parsed);
        files.recorded.push(gradients);
    }
    let exact = dir.join(EXACT_FILE);
    if exact.exists() {
        let shown = Location::new(&format!("{label}/{EXACT_FILE}"), 0);
        let text =
            fs::read_to_string(&exact).map_err(|e| vec![SpecError::new(&shown, e.to_string())])?;
        let parsed = Recorded::parse_exact(&text).map_err(|m| vec![SpecError::new(&shown, m)])?;
        spec.recorded.exact = Some(parsed);
        files.recorded.push(exact);
    }
    Ok((spec, files))
}
