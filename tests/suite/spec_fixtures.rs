//! The spec parser against malformed and hostile spec directories: each is refused with the file,
//! the line and the reason — never a panic, a stack overflow, an unbounded allocation or a hang.
//! `tests/data/bad-specs/` is a corpus (each file's first line says what it must be refused
//! for); the rest are generated here because they are large or not text.

use std::path::{Path, PathBuf};

use cross_entropy_spec::spec::{SpecError, read_dir};

/// A fresh directory holding one spec file.
fn spec_dir(name: &str, file: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ces-spec-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    std::fs::write(dir.join(file), bytes).expect("written");
    dir
}

fn errors(dir: &Path) -> Vec<String> {
    let result = read_dir(dir, "fixtures");
    let _ = std::fs::remove_dir_all(dir);
    match result {
        Ok(_) => panic!("{} was accepted", dir.display()),
        Err(errors) => errors.iter().map(SpecError::to_string).collect(),
    }
}

#[test]
fn every_malformed_spec_of_the_corpus_is_refused_where_and_why_it_says() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad-specs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&corpus).expect("the corpus") {
        let path = entry.expect("an entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a file name")
            .to_string();
        let text = std::fs::read_to_string(&path).expect("text");
        let expect = (text.lines().next())
            .and_then(|l| l.strip_prefix("<!-- expect: "))
            .and_then(|l| l.strip_suffix(" -->"))
            .expect("the first line says `<!-- expect: FILE:LINE: reason -->`");
        let (place, reason) = expect.split_once(": ").expect("FILE:LINE: reason");
        let found = errors(&spec_dir(&name, &name, text.as_bytes()));
        let wanted = format!("fixtures/{place}: ");
        assert!(
            found
                .iter()
                .any(|e| e.starts_with(&wanted) && e.contains(reason)),
            "{name}: expected `{wanted}...{reason}`, got {found:#?}"
        );
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} fixtures");
}

#[test]
fn a_file_that_is_not_utf8_is_refused_at_its_line() {
    let found = errors(&spec_dir(
        "utf8",
        "01.md",
        b"# A chapter\n\nfine\n\xff\xfe bad bytes\n",
    ));
    assert_eq!(found, ["fixtures/01.md:4: not UTF-8"]);
}

#[test]
fn hostile_expressions_are_refused_without_exhausting_the_stack() {
    for (name, input) in [
        ("minus", format!("{}torch.zeros(3)", "-".repeat(30_000))),
        (
            "exp",
            format!(
                "{}torch.zeros(3){}",
                "torch.exp(".repeat(10_000),
                ")".repeat(10_000)
            ),
        ),
    ] {
        let text = format!(
            "# Deep\n\n```case fixture.deep\nop = \"sigmoid\"\ninput = \"{input}\"\nexpect = [0.5, 0.5, 0.5]\ntol = {{ abs = 1 }}\n```\n"
        );
        let found = errors(&spec_dir(name, "01.md", text.as_bytes()));
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("fixtures/01.md:5: ") && e.contains("nests more than")),
            "{found:?}"
        );
    }
}

/// A name bound to 2^20 numbers and used by 300 cases would be 300 copies (2.5 GB): the spec is
/// refused once its cases hold 2^24 numbers, after a few copies.
#[test]
fn a_large_binding_used_by_many_cases_is_refused_not_copied_without_end() {
    let numbers = vec!["0.5"; 1 << 20].join(", ");
    let mut text = format!("# Big\n\n```tensors\nbig = [{numbers}]\n```\n");
    for i in 0..300 {
        text.push_str(&format!(
            "\n```case fixture.big{i}\nop = \"sigmoid\"\ninput = \"big\"\nexpect = 0.5\nselect = [0]\ntol = {{ abs = 1 }}\n```\n"
        ));
    }
    let found = errors(&spec_dir("big", "01.md", text.as_bytes()));
    assert!(
        found.iter().any(|e| e.contains("literal numbers")),
        "{found:?}"
    );
}

/// Twenty thousand cases in one file parse (finding each case's line no longer rescans the file).
#[test]
fn many_cases_in_one_file_parse() {
    let mut text = String::from("# Many\n");
    for i in 0..20_000 {
        text.push_str(&format!(
            "\n```case fixture.many{i}\nop = \"sigmoid\"\ninput = 0.0\nexpect = 0.5\ntol = {{ abs = 0 }}\n```\n"
        ));
    }
    let dir = spec_dir("many", "01.md", text.as_bytes());
    let (spec, _) = read_dir(&dir, "fixtures").expect("parses");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(spec.cases.len(), 20_000);
    assert_eq!(spec.cases[19_999].at.line, 2 + 19_999 * 7 + 1);
}

/// A spec directory of several files.
fn spec_files(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = spec_dir(name, files[0].0, files[0].1.as_bytes());
    for (file, text) in &files[1..] {
        std::fs::write(dir.join(file), text).expect("written");
    }
    dir
}

const BINDS_X: &str = "# Binds\n\n```tensors\nx = [0.0, 1.0]\n```\n\n```case fixture.here\nop = \"sigmoid\"\ninput = \"x\"\nexpect = [0.5, 0.7310586]\ntol = { abs = 1e-6 }\n```\n";
const USES_X: &str = "# Uses\n\n```case fixture.there\nop = \"sigmoid\"\ninput = \"x\"\nexpect = [0.5, 0.7310586]\ntol = { abs = 1e-6 }\n```\n";

#[test]
fn a_tensor_bound_in_one_chapter_is_used_by_another() {
    let dir = spec_files("bound-elsewhere", &[("01.md", USES_X), ("02.md", BINDS_X)]);
    let parsed = read_dir(&dir, "fixtures");
    let _ = std::fs::remove_dir_all(&dir);
    let (spec, _) = parsed.expect("a name bound in a later chapter resolves in an earlier one");
    assert_eq!(spec.cases.len(), 2);
}

#[test]
fn a_tensor_is_bound_once_in_the_whole_spec() {
    let found = errors(&spec_files(
        "bound-twice",
        &[("01.md", BINDS_X), ("02.md", BINDS_X)],
    ));
    assert!(
        found.iter().any(|e| e.starts_with("fixtures/02.md:4: ")
            && e.contains("tensor `x` is already bound at fixtures/01.md:4")),
        "{found:#?}"
    );
}
