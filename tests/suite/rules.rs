//! Normative rules and the cases that check them (chapter 00, *Rules and the rest*). The spec
//! model already refuses a case naming an unstated rule and a rule that no case checks; this
//! asks the converse for the chapters that state what the functions compute.

use cross_entropy_spec::bundle;
use cross_entropy_spec::spec::Check;

/// The chapters whose every case checks a stated rule: the learner's path (01–06) and the
/// reference chapters on edge values and errors (07, 08). The appendices restate measurements
/// and history, whose cases check the rules' consequences rather than one rule.
const RULED: [&str; 8] = ["01-", "02-", "03-", "04-", "05-", "06-", "07-", "08-"];

#[test]
fn every_case_of_the_normative_chapters_names_a_rule() {
    let spec = bundle::spec().expect("the bundled spec parses");
    let unruled: Vec<String> = (spec.cases.iter())
        .filter(|c| {
            RULED
                .iter()
                .any(|p| c.at.file.starts_with(&format!("spec/{p}")))
        })
        .filter(|c| c.rules.is_empty())
        .map(|c| format!("{} at {}", c.id, c.at))
        .collect();
    assert!(
        unruled.is_empty(),
        "cases that name no rule:\n{}",
        unruled.join("\n")
    );
}

#[test]
fn every_error_case_checks_the_rejection_rule() {
    let spec = bundle::spec().expect("the bundled spec parses");
    for case in spec
        .cases
        .iter()
        .filter(|c| matches!(c.check, Check::Error { .. }))
    {
        assert!(
            case.rules.iter().any(|r| r == "errors.reject")
                || !RULED
                    .iter()
                    .any(|p| case.at.file.starts_with(&format!("spec/{p}"))),
            "{} at {} expects an error but does not name errors.reject",
            case.id,
            case.at
        );
    }
}
