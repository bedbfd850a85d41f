//! A run's inputs from `key=value` words: typed as the pipeline declares,
//! defaults filled in, anything unknown or missing refused before the run.

use serde_json::{Map, Value};

use crate::config::pipeline::{Input, InputKind, Pipeline, input_value};
use crate::failure::Failure;

/// The inputs of a run of `pipeline` (called `name`) given as `key=value`.
pub fn resolve(name: &str, pipeline: &Pipeline, given: &[String]) -> Result<Map<String, Value>, Failure> {
    let mut inputs = Map::new();
    let mut problems = Vec::new();
    for word in given {
        let Some((key, text)) = word.split_once('=') else {
            problems.push(format!("`{word}` is not an input: write key=value, e.g. version=1.4.2"));
            continue;
        };
        match pipeline.inputs.get(key) {
            None => {
                let known: Vec<&str> = pipeline.inputs.keys().map(String::as_str).collect();
                let known = if known.is_empty() { "it takes none".to_string() } else { format!("it takes {}", known.join(", ")) };
                problems.push(format!("pipeline {name} has no input `{key}`; {known}"));
            }
            Some(input) => match typed(input, text) {
                Ok(value) => {
                    inputs.insert(key.to_string(), value);
                }
                Err(e) => problems.push(format!("input {key}={text}: {e}")),
            },
        }
    }
    for (key, input) in &pipeline.inputs {
        if inputs.contains_key(key) {
            continue;
        }
        match &input.default {
            Some(default) => {
                inputs.insert(key.clone(), serde_json::to_value(default).expect("TOML values are JSON"));
            }
            None => problems.push(format!("pipeline {name} needs input `{key}`{}: pass {key}=…", describe(input))),
        }
    }
    match problems.is_empty() {
        true => Ok(inputs),
        false => Err(Failure::bad_input_each(problems)),
    }
}

fn describe(input: &Input) -> String {
    if input.description.is_empty() { String::new() } else { format!(" ({})", input.description) }
}

/// `text` as a value of the input's type.
fn typed(input: &Input, text: &str) -> Result<Value, String> {
    let value = match input.kind {
        InputKind::String | InputKind::Enum => toml::Value::String(text.to_string()),
        InputKind::Int => text.parse::<i64>().map(toml::Value::Integer).map_err(|_| "expected a whole number".to_string())?,
        InputKind::Bool => text.parse::<bool>().map(toml::Value::Boolean).map_err(|_| "expected true or false".to_string())?,
    };
    input_value(input, &value).map(|v| serde_json::to_value(v).expect("TOML values are JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline() -> Pipeline {
        let text = r#"
[inputs.version]
description = "the tag"
[inputs.keep]
type = "int"
default = 3
[inputs.env]
type = "enum"
options = ["test", "prod"]
default = "test"
[[steps]]
id = "w"
uses = "wait"
with = { for = "0s" }
"#;
        toml::from_str(text).unwrap()
    }

    #[test]
    fn typed_with_defaults() {
        let inputs = resolve("p", &pipeline(), &["version=1.4".into(), "keep=5".into()]).unwrap();
        assert_eq!(Value::Object(inputs), serde_json::json!({ "version": "1.4", "keep": 5, "env": "test" }));
    }

    #[test]
    fn every_problem_at_once() {
        let err = resolve("p", &pipeline(), &["keep=many".into(), "env=staging".into(), "colour=red".into(), "loose".into()]).unwrap_err();
        assert_eq!(err.code, crate::failure::BAD_INPUT);
        let lines: Vec<&str> = err.message.lines().collect();
        assert_eq!(
            lines,
            vec![
                "input keep=many: expected a whole number",
                "input env=staging: expected one of test, prod, found \"staging\"",
                "pipeline p has no input `colour`; it takes env, keep, version",
                "`loose` is not an input: write key=value, e.g. version=1.4.2",
                "pipeline p needs input `version` (the tag): pass version=…",
            ]
        );
    }
}
