//! Chapter 10's table of the arguments PyTorch differentiates against what PyTorch answered
//! (`spec/recorded/pytorch-differentiability.json`, `scripts/observe_differentiability.py`):
//! every cell, and the chapter's claim that the answer depends on neither the reduction, nor
//! the dtype, nor label smoothing.

use serde_json::Value;

const CHAPTER: &str = include_str!("../../spec/10-gradients.md");
const RECORDED: &str = include_str!("../../spec/recorded/pytorch-differentiability.json");
const SECTION: &str = "## Which arguments PyTorch differentiates";
const COLUMNS: [&str; 4] = ["input", "target", "weight", "pos_weight"];

/// The table's rows: the first cell and the four argument cells.
fn table() -> Vec<(String, Vec<String>)> {
    let section = CHAPTER
        .split(SECTION)
        .nth(1)
        .expect("chapter 10 has the section");
    let rows = section.lines().skip_while(|l| !l.starts_with("| op"));
    let rows = rows.skip(2).take_while(|l| l.starts_with('|'));
    rows.map(|line| {
        let cells: Vec<String> = line
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect();
        assert_eq!(cells.len(), 5, "{line}");
        (cells[0].clone(), cells[1..].to_vec())
    })
    .collect()
}

/// Whether a recorded row belongs to a table row: its op is one of the `ops` named in the first
/// cell, and its variant is the one the first cell names after them.
fn belongs(label: &str, row: &Value) -> bool {
    let op = row["op"].as_str().unwrap();
    let variant = row["variant"].as_str().unwrap();
    let named = label.split(", ").any(|part| part == format!("`{op}`"));
    let kind = match label.rsplit_once(", ") {
        Some((_, "class indices")) => variant.starts_with("class indices"),
        Some((_, "class probabilities")) => variant.starts_with("probability targets"),
        _ => variant.is_empty(),
    };
    named && kind
}

/// The cell that one recorded outcome reads as in the table.
fn cell(outcome: &Value) -> String {
    match outcome["result"].as_str().unwrap() {
        "differentiable" => "✓".to_string(),
        "refused" => {
            let stage = match outcome["stage"].as_str().unwrap() {
                "requires_grad" => "`requires_grad_`",
                "forward" => "the call",
                other => other,
            };
            let message = outcome["message"].as_str().unwrap();
            format!("refused at {stage}: “{message}”")
        }
        other => panic!("unexpected outcome {other}"),
    }
}

#[test]
fn chapter_10_states_what_pytorch_differentiates() {
    let file: Value = serde_json::from_str(RECORDED).unwrap();
    assert!(
        file["torch_version"]
            .as_str()
            .unwrap()
            .starts_with("2.15.0")
    );
    let recorded = file["rows"].as_array().unwrap();
    let table = table();
    assert_eq!(table.len(), 6);
    let mut covered = 0;
    for (label, cells) in &table {
        for (arg, stated) in COLUMNS.iter().zip(cells) {
            let rows: Vec<&Value> = recorded
                .iter()
                .filter(|r| belongs(label, r) && r["wrt"] == *arg)
                .collect();
            covered += rows.len();
            // Every reduction, dtype and variant of the row reads as the same cell.
            let outcomes = rows.iter().flat_map(|r| [&r["float32"], &r["float64"]]);
            let mut read: Vec<String> = outcomes.map(cell).collect();
            read.dedup();
            match read.as_slice() {
                [] => assert_eq!(stated, "–", "{label} / {arg}"),
                [one] => assert_eq!(stated, one, "{label} / {arg}"),
                many => panic!("{label} / {arg}: the recorded rows disagree: {many:?}"),
            }
            // What PyTorch differentiates, finite differences confirm.
            for r in rows
                .iter()
                .filter(|r| r["float64"]["result"] == "differentiable")
            {
                assert_eq!(r["float64"]["gradcheck"], true, "{r}");
            }
        }
    }
    assert_eq!(
        covered,
        recorded.len(),
        "every recorded row is in the table"
    );
}
