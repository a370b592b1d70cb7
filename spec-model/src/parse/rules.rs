//! The spec's normative rules: a paragraph that opens with a bold rule id, `**Rule ce.mean.**`,
//! states a rule; a case names the rules it checks in `rules`. Everything else in the prose
//! explains, derives or reports measurements (chapter 00, *Rules and the rest*).

use std::collections::BTreeMap;

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

use crate::location::{Lines, Location, SpecError};

/// The id of a rule if `strong` is the bold text that opens one: `Rule ce.mean.` gives
/// `ce.mean`. An id is lower-case ASCII letters, digits and `_`, in dot-joined segments.
pub fn rule_id(strong: &str) -> Option<&str> {
    let id = strong.strip_prefix("Rule ")?.strip_suffix('.')?;
    let segment = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    id.split('.').all(segment).then_some(id)
}

/// Every rule stated in `text`, with its line; a rule stated twice is an error.
pub(super) fn scan_rules(
    path: &str,
    text: &str,
    rules: &mut BTreeMap<String, Location>,
) -> Vec<SpecError> {
    let lines = Lines::new(text);
    let mut errors = Vec::new();
    let mut strong: Option<(String, usize)> = None;
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Start(Tag::Strong) => strong = Some((String::new(), range.start)),
            Event::Text(t) => {
                if let Some((s, _)) = strong.as_mut() {
                    s.push_str(&t);
                }
            }
            Event::End(TagEnd::Strong) => {
                let Some((s, start)) = strong.take() else {
                    continue;
                };
                let Some(id) = rule_id(&s) else { continue };
                let at = Location::new(path, lines.line_of(start));
                match rules.get(id) {
                    Some(prev) => errors.push(SpecError::new(
                        &at,
                        format!("rule `{id}` is already stated at {prev}"),
                    )),
                    None => {
                        rules.insert(id.to_string(), at);
                    }
                }
            }
            _ => {}
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_is_a_bold_opening_with_an_id() {
        assert_eq!(rule_id("Rule ce.mean."), Some("ce.mean"));
        assert_eq!(rule_id("Rule ce.mean"), None);
        assert_eq!(rule_id("Rule Ce.mean."), None);
        assert_eq!(rule_id("Rules and the rest."), None);
        let mut rules = BTreeMap::new();
        let text = "**Rule a.b.** one\n\n**Rule a.b.** again\n";
        let errors = scan_rules("x.md", text, &mut rules);
        assert_eq!(rules["a.b"].line, 1);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().contains("already stated at x.md:1"));
    }

    #[test]
    fn a_case_may_name_only_a_stated_rule() {
        let chapter = |rules: &str| {
            format!(
                "# T\n\n**Rule t.one.** A rule.\n\n```case t.sm.one\nop = \"sigmoid\"\ninput = [0.0]\nexpect = [0.5]\ntol = {{ abs = 0.0 }}\nrules = {rules}\n```\n"
            )
        };
        let spec = crate::parse_spec(&[("t.md".into(), chapter(r#"["t.one"]"#))]).unwrap();
        assert_eq!(spec.cases[0].rules, ["t.one"]);
        assert_eq!(spec.rules["t.one"].line, 3);
        let errors = crate::parse_spec(&[("t.md".into(), chapter(r#"["t.two"]"#))]).unwrap_err();
        assert!(
            errors[0].to_string().contains("states rule `t.two`"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn a_rule_no_case_checks_stops_the_spec() {
        let text = "# T\n\n**Rule t.one.** A rule.\n\n**Rule t.two.** Another.\n\n```case t.sm.one\nop = \"sigmoid\"\ninput = [0.0]\nexpect = [0.5]\ntol = { abs = 0.0 }\nrules = [\"t.one\"]\n```\n";
        let errors = crate::parse_spec(&[("t.md".into(), text.into())]).unwrap_err();
        assert_eq!(errors.len(), 1);
        let message = errors[0].to_string();
        assert!(
            message.contains("t.md:5") && message.contains("no case checks rule `t.two`"),
            "{message}"
        );
    }
}
