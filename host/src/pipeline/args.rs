//! A step's `with` table, its `${{ }}` parts evaluated when the step starts,
//! read back by argument name and kind.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::parse_duration;
use crate::config::pipeline::STEP_CONTEXTS;
use crate::expr::{Scope, Template};
use crate::failure::Failure;

/// The arguments of one step, as JSON values.
#[derive(Debug, Clone)]
pub struct Args {
    step: String,
    values: Map<String, Value>,
}

impl Args {
    /// `with` with every string template evaluated in `scope`; a template
    /// that is one `${{ }}` keeps its value's type (a number stays one).
    pub fn resolve(step: &str, with: &toml::Table, scope: &Scope) -> Result<Args, Failure> {
        let values = with.iter().map(|(key, value)| Ok((key.clone(), resolve_value(value, scope).map_err(|e| Failure::failed(format!("step {step}: with.{key}: {e}")))?)));
        let values: Map<String, Value> = values.collect::<Result<_, Failure>>()?;
        register_secrets(&values);
        Ok(Args { step: step.to_string(), values })
    }

    pub fn as_json(&self) -> &Map<String, Value> {
        &self.values
    }

    fn wrong(&self, name: &str, wanted: &str, found: &Value) -> Failure {
        Failure::failed(format!("step {}: with.{name} is {found}, not {wanted}", self.step))
    }

    /// A string (numbers and booleans as written), if given.
    pub fn text(&self, name: &str) -> Result<Option<String>, Failure> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
            Some(other) => Err(self.wrong(name, "a string", other)),
        }
    }

    /// A string that must be given (validation made sure it is written).
    pub fn required(&self, name: &str) -> Result<String, Failure> {
        self.text(name)?.filter(|s| !s.is_empty()).ok_or_else(|| Failure::failed(format!("step {}: with.{name} is empty", self.step)))
    }

    pub fn flag(&self, name: &str) -> Result<bool, Failure> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
            Some(other) => Err(self.wrong(name, "true or false", other)),
        }
    }

    /// A list of strings; a single string is a list of one.
    pub fn list(&self, name: &str) -> Result<Vec<String>, Failure> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    v @ (Value::Number(_) | Value::Bool(_)) => Ok(v.to_string()),
                    other => Err(self.wrong(name, "a list of strings", other)),
                })
                .collect(),
            Some(other) => Err(self.wrong(name, "a list of strings", other)),
        }
    }

    pub fn duration(&self, name: &str) -> Result<Option<Duration>, Failure> {
        self.text(name)?.map(|text| parse_duration(&text).map_err(|e| Failure::failed(format!("step {}: with.{name}: {e}", self.step)))).transpose()
    }

    /// A table of strings (environment variables).
    pub fn table(&self, name: &str) -> Result<BTreeMap<String, String>, Failure> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    v @ (Value::Number(_) | Value::Bool(_)) => Ok((k.clone(), v.to_string())),
                    other => Err(self.wrong(&format!("{name}.{k}"), "a string", other)),
                })
                .collect(),
            Some(other) => Err(self.wrong(name, "a table of strings", other)),
        }
    }
}

/// Values under secret-named keys (`API_TOKEN`, `password`) are masked in
/// every output and record from now on, whatever they were filled from.
fn register_secrets(values: &Map<String, Value>) {
    for (key, value) in values {
        match value {
            Value::String(s) if crate::config::secret_key(key) => crate::secrets::register(s),
            Value::Object(inner) => register_secrets(inner),
            _ => {}
        }
    }
}

fn resolve_value(value: &toml::Value, scope: &Scope) -> Result<Value, String> {
    Ok(match value {
        toml::Value::String(text) if text.contains("${{") => {
            let template = Template::parse(text, STEP_CONTEXTS).map_err(|e| e.to_string())?;
            template.evaluate(scope).map_err(|e| e.to_string())?.to_json()
        }
        toml::Value::Array(items) => Value::Array(items.iter().map(|v| resolve_value(v, scope)).collect::<Result<_, _>>()?),
        toml::Value::Table(table) => Value::Object(table.iter().map(|(k, v)| Ok((k.clone(), resolve_value(v, scope)?))).collect::<Result<_, String>>()?),
        other => serde_json::to_value(other).map_err(|e| e.to_string())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::JobStatus;

    #[test]
    fn templates_keep_their_values_type_and_strings_interpolate() {
        let scope = Scope::new(JobStatus::Success).with("inputs", serde_json::json!({ "keep": 3, "version": "1.4" }));
        let with: toml::Table = toml::from_str(r#"keep = "${{ inputs.keep }}"
message = "deploying ${{ inputs.version }} (keep ${{ inputs.keep }})"
argv = ["echo", "${{ inputs.version }}"]
force = true"#)
        .unwrap();
        let args = Args::resolve("s", &with, &scope).unwrap();
        assert_eq!(args.as_json()["keep"], serde_json::json!(3));
        assert_eq!(args.text("message").unwrap().as_deref(), Some("deploying 1.4 (keep 3)"));
        assert_eq!(args.list("argv").unwrap(), vec!["echo", "1.4"]);
        assert!(args.flag("force").unwrap());
        assert_eq!(args.text("keep").unwrap().as_deref(), Some("3"));
        let err = args.flag("message").unwrap_err().message;
        assert_eq!(err, "step s: with.message is \"deploying 1.4 (keep 3)\", not true or false");
    }
}
