//! Prints graphloom's classification of each schema pair in
//! `tests/inspector/pairs.json` as JSON, for `tests/inspector/compare.mjs`
//! to compare with graphql-inspector's (scripts/schema-diff-compare.sh).

use graphloom_graphql::diff::diff;
use serde_json::{Value, json};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/inspector/pairs.json");
    let pairs: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let mut out = Vec::new();
    for pair in &pairs {
        let old = pair["old"].as_str().ok_or("a pair without `old`")?;
        let new = pair["new"].as_str().ok_or("a pair without `new`")?;
        let changes: Vec<Value> = diff(old, new)?
            .into_iter()
            .map(|c| json!({ "type": c.kind.code(), "path": c.path, "level": c.level.as_str() }))
            .collect();
        out.push(Value::Array(changes));
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
