//! A plugin's config schema and the check of a bosun.toml table against it.
//!
//! bosun-sdk derives the schema (JSON Schema, draft 2020-12) from the
//! plugin's config type and the build writes it into the manifest (see
//! `bosun_sdk::manifest`). What the SDK generates from serde types is a small
//! part of JSON Schema, and that part is what is checked here: `type`,
//! `properties`, `required`, `additionalProperties`, `items`, `prefixItems`,
//! `$ref` (within the schema), `anyOf`/`oneOf`/`allOf`, `enum`, `const` and
//! numeric bounds. Other keywords are not checked (the plugin still checks
//! its config when it runs). Each problem is said in bosun.toml's words.

use serde_json::Value;

/// One thing wrong with a table, `at` a dotted key relative to the table
/// (`""` for the table itself, `login`, `follow[1]`).
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// The table at `at` has `key`, which is none of `known`.
    UnknownKey { at: String, key: String, known: Vec<String> },
    /// The table at `at` lacks the required `key`.
    MissingKey { at: String, key: String },
    /// The value at `at` is not what the schema takes.
    Wrong { at: String, message: String },
}

/// One key of the plugin's table, as `bosun plugin inspect` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    /// string, integer, number, boolean, list or table (`or` between several).
    pub kind: String,
    pub required: bool,
    pub description: String,
}

/// The keys of the schema's top-level table (sorted, as the SDK writes them).
pub fn keys(schema: &Value) -> Vec<Key> {
    let schema = resolve(schema, schema);
    let required: Vec<&str> = schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let properties = schema.get("properties").and_then(Value::as_object).into_iter().flatten();
    properties
        .map(|(name, property)| {
            let property = resolve(schema, property);
            let mut kinds: Vec<&str> = match property.get("anyOf").or(property.get("oneOf")).and_then(Value::as_array) {
                Some(branches) => branches.iter().flat_map(|b| branch_types(schema, b)).collect(),
                None => branch_types(schema, property),
            };
            kinds.retain(|k| *k != "null");
            kinds.dedup();
            let kind = kinds.iter().map(|k| match *k {
                "array" => "list",
                "object" => "table",
                other => other,
            });
            Key {
                name: name.clone(),
                kind: kind.collect::<Vec<_>>().join(" or "),
                required: required.contains(&name.as_str()),
                description: property.get("description").and_then(Value::as_str).unwrap_or_default().to_string(),
            }
        })
        .collect()
}

/// Every problem of `table` against `schema`.
pub fn check(table: &toml::Table, schema: &Value) -> Vec<Found> {
    let mut found = Vec::new();
    Check { root: schema, found: &mut found }.value(&toml::Value::Table(table.clone()), schema, "");
    found
}

struct Check<'s, 'f> {
    root: &'s Value,
    found: &'f mut Vec<Found>,
}

impl Check<'_, '_> {
    fn value(&mut self, value: &toml::Value, schema: &Value, at: &str) {
        let schema = resolve(self.root, schema);
        match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return self.wrong(at, "is not allowed here".into()),
            _ => {}
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            all.iter().for_each(|part| self.value(value, part, at));
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(branches) = schema.get(keyword).and_then(Value::as_array) {
                self.any_of(value, branches, at);
            }
        }
        if let Some(types) = schema.get("type") {
            let types: Vec<&str> = match types {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if !types.is_empty() && !types.iter().any(|t| is_type(value, t)) {
                return self.wrong(at, format!("expected {}, found {}", expected(&types, value), found(value)));
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            let json = to_json(value);
            if !allowed.contains(&json) {
                let names: Vec<String> = allowed.iter().map(literal).collect();
                return self.wrong(at, format!("expected one of {}, found {}", names.join(", "), found(value)));
            }
        }
        if let Some(constant) = schema.get("const")
            && to_json(value) != *constant
        {
            return self.wrong(at, format!("expected {}, found {}", literal(constant), found(value)));
        }
        match value {
            toml::Value::Integer(_) | toml::Value::Float(_) => self.bounds(value, schema, at),
            toml::Value::Table(table) => self.table(table, schema, at),
            toml::Value::Array(items) => self.items(items, schema, at),
            _ => {}
        }
    }

    fn table(&mut self, table: &toml::Table, schema: &Value, at: &str) {
        let schema = resolve(self.root, schema);
        if !table_schema(schema) {
            return;
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let others = schema.get("additionalProperties");
        for (key, value) in table {
            match (properties.and_then(|p| p.get(key)), others) {
                (Some(property), _) => self.value(value, property, &join(at, key)),
                (None, Some(Value::Bool(false))) => {
                    let known = properties.map(|p| p.keys().cloned().collect()).unwrap_or_default();
                    self.found.push(Found::UnknownKey { at: at.to_string(), key: key.clone(), known });
                }
                (None, Some(other)) => self.value(value, other, &join(at, key)),
                (None, None) => {}
            }
        }
        let required = schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
        for key in required.filter(|key| !table.contains_key(*key)) {
            self.found.push(Found::MissingKey { at: at.to_string(), key: key.to_string() });
        }
    }

    fn items(&mut self, items: &[toml::Value], schema: &Value, at: &str) {
        let prefix = schema.get("prefixItems").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let rest = schema.get("items");
        for (index, item) in items.iter().enumerate() {
            let at = format!("{at}[{index}]");
            match (prefix.get(index), rest) {
                (Some(schema), _) | (None, Some(schema)) => self.value(item, schema, &at),
                (None, None) => {}
            }
        }
        let count = |keyword| schema.get(keyword).and_then(Value::as_u64);
        match (count("minItems"), count("maxItems")) {
            (Some(min), Some(max)) if min == max && items.len() as u64 != min => self.wrong(at, format!("expected a list of {min}, found {}", items.len())),
            (Some(min), _) if (items.len() as u64) < min => self.wrong(at, format!("expected a list of at least {min}, found {}", items.len())),
            (_, Some(max)) if items.len() as u64 > max => self.wrong(at, format!("expected a list of at most {max}, found {}", items.len())),
            _ => {}
        }
    }

    fn bounds(&mut self, value: &toml::Value, schema: &Value, at: &str) {
        let number = match value {
            toml::Value::Integer(n) => *n as f64,
            toml::Value::Float(n) => *n,
            _ => return,
        };
        let bound = |keyword| schema.get(keyword).and_then(Value::as_f64);
        let low = bound("minimum").map(|n| (n, number >= n)).or(bound("exclusiveMinimum").map(|n| (n, number > n)));
        let high = bound("maximum").map(|n| (n, number <= n)).or(bound("exclusiveMaximum").map(|n| (n, number < n)));
        if low.is_none_or(|(_, ok)| ok) && high.is_none_or(|(_, ok)| ok) {
            return;
        }
        let expected = match (low, high) {
            (Some((low, _)), Some((high, _))) => format!("a number from {low} to {high}"),
            (Some((low, _)), None) => format!("a number of at least {low}"),
            (_, Some((high, _))) => format!("a number of at most {high}"),
            (None, None) => return,
        };
        self.wrong(at, format!("expected {expected}, found {}", found(value)));
    }

    /// Fine when a branch takes the value; else the problems of the branch
    /// that takes its type (an `Option<Login>` given a table with a typo),
    /// or a type mismatch naming every branch's type.
    fn any_of(&mut self, value: &toml::Value, branches: &[Value], at: &str) {
        let mut by_type: Option<Vec<Found>> = None;
        for branch in branches {
            let mut found = Vec::new();
            Check { root: self.root, found: &mut found }.value(value, branch, at);
            if found.is_empty() {
                return;
            }
            let branch = resolve(self.root, branch);
            let types = branch_types(self.root, branch);
            if by_type.is_none() && types.iter().any(|t| is_type(value, t)) {
                by_type = Some(found);
            }
        }
        match by_type {
            Some(found) => self.found.extend(found),
            None => {
                let mut types: Vec<&str> = branches.iter().flat_map(|b| branch_types(self.root, resolve(self.root, b))).collect();
                types.dedup();
                self.wrong(at, format!("expected {}, found {}", expected(&types, value), found(value)));
            }
        }
    }

    fn wrong(&mut self, at: &str, message: String) {
        self.found.push(Found::Wrong { at: at.to_string(), message });
    }
}

/// A schema that describes a table by its keys.
fn table_schema(schema: &Value) -> bool {
    ["properties", "additionalProperties", "required"].iter().any(|k| schema.get(k).is_some())
}

/// The types a branch of `anyOf` takes (a table when it has properties).
fn branch_types<'s>(root: &'s Value, branch: &'s Value) -> Vec<&'s str> {
    let branch = resolve(root, branch);
    match branch.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ if table_schema(branch) => vec!["object"],
        _ => vec![],
    }
}

/// `schema` with its `$ref`s (within `root`) followed.
fn resolve<'s>(root: &'s Value, schema: &'s Value) -> &'s Value {
    let mut schema = schema;
    for _ in 0..32 {
        let Some(pointer) = schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) else { break };
        match root.pointer(pointer) {
            Some(target) => schema = target,
            None => break,
        }
    }
    schema
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() { key.to_string() } else { format!("{at}.{key}") }
}

fn is_type(value: &toml::Value, ty: &str) -> bool {
    match (value, ty) {
        (toml::Value::String(_), "string") => true,
        (toml::Value::Integer(_), "integer" | "number") => true,
        (toml::Value::Float(_), "number") => true,
        (toml::Value::Float(n), "integer") => n.fract() == 0.0,
        (toml::Value::Boolean(_), "boolean") => true,
        (toml::Value::Array(_), "array") => true,
        (toml::Value::Table(_), "object") => true,
        _ => false,
    }
}

/// The schema's types in TOML's words: `a string or a list`.
fn expected(types: &[&str], value: &toml::Value) -> String {
    let mut words: Vec<&str> = types
        .iter()
        .filter_map(|ty| match *ty {
            "string" => Some("a string"),
            "integer" if matches!(value, toml::Value::Float(_)) => Some("a whole number"),
            "integer" | "number" => Some("a number"),
            "boolean" => Some("true or false"),
            "array" => Some("a list"),
            "object" => Some("a table"),
            _ => None,
        })
        .collect();
    words.dedup();
    if words.is_empty() { "nothing".into() } else { words.join(" or ") }
}

/// What the value is, as the config errors say it: `the string "five"`.
fn found(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("the string {s:?}"),
        toml::Value::Integer(n) => format!("the number {n}"),
        toml::Value::Float(n) => format!("the number {n}"),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => format!("the date {d}"),
        toml::Value::Array(_) => "a list".into(),
        toml::Value::Table(_) => "a table".into(),
    }
}

/// A JSON value as a TOML reader writes it: strings in backticks.
fn literal(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        other => other.to_string(),
    }
}

fn to_json(value: &toml::Value) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// What bosun-sdk writes for the http plugin's config (trimmed).
    fn http() -> Value {
        json!({
            "$defs": {
                "Probe": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {"url": {"type": "string"}, "conditions": {"type": "array", "items": {"type": "string"}}},
                    "required": ["url"]
                },
                "Login": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {"url": {"type": "string"}, "form": {"type": "object", "additionalProperties": {"type": "string"}}, "json": true},
                    "required": ["url"]
                }
            },
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "url": {"type": "string", "description": "URL to request"},
                "conditions": {"type": "array", "items": {"type": "string"}},
                "timeout_ms": {"type": "integer", "format": "uint64", "minimum": 0},
                "port": {"type": ["integer", "null"], "format": "uint16", "minimum": 0, "maximum": 65535},
                "ignore_redirect": {"type": "boolean"},
                "login": {"anyOf": [{"$ref": "#/$defs/Login"}, {"type": "null"}]},
                "follow": {"type": "array", "items": {"$ref": "#/$defs/Probe"}},
                "mode": {"enum": ["fast", "slow"]}
            },
            "required": ["url"]
        })
    }

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    fn wrong(at: &str, message: &str) -> Found {
        Found::Wrong { at: at.into(), message: message.into() }
    }

    #[test]
    fn a_valid_table_has_no_problems() {
        let valid = table(
            "url = \"http://x/\"\nconditions = [\"[STATUS] == 200\"]\ntimeout_ms = 5\nport = 80\nmode = \"fast\"\n\
             login = { url = \"http://x/login\", form = { user = \"a\" }, json = { any = [1, 2] } }\nfollow = [{ url = \"http://x/2\" }]\n",
        );
        assert_eq!(check(&valid, &http()), vec![]);
    }

    #[test]
    fn unknown_keys_at_every_depth_name_the_known_ones() {
        let found = check(&table("condtions = []\nfollow = [{ methd = \"GET\", url = \"f\" }]\nlogin = { frm = {}, url = \"l\" }\nurl = \"u\"\n"), &http());
        let unknown: Vec<(&str, &str)> = found
            .iter()
            .map(|f| match f {
                Found::UnknownKey { at, key, known } => {
                    assert!(!known.is_empty());
                    (at.as_str(), key.as_str())
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(unknown, [("", "condtions"), ("follow[0]", "methd"), ("login", "frm")]);
        let Found::UnknownKey { known, .. } = &found[0] else { unreachable!() };
        assert!(known.contains(&"conditions".to_string()), "{known:?}");
    }

    #[test]
    fn wrong_types_in_toml_words() {
        let found = check(&table("conditions = \"[STATUS] == 200\"\nignore_redirect = \"yes\"\nlogin = \"x\"\ntimeout_ms = 1.5\nurl = 5\n"), &http());
        assert_eq!(
            found,
            vec![
                wrong("conditions", "expected a list, found the string \"[STATUS] == 200\""),
                wrong("ignore_redirect", "expected true or false, found the string \"yes\""),
                wrong("login", "expected a table, found the string \"x\""),
                wrong("timeout_ms", "expected a whole number, found the number 1.5"),
                wrong("url", "expected a string, found the number 5"),
            ]
        );
        let found = check(&table("conditions = [1]\nmode = \"fats\"\nport = 70000\ntimeout_ms = -1\nurl = \"u\"\n"), &http());
        assert_eq!(
            found,
            vec![
                wrong("conditions[0]", "expected a string, found the number 1"),
                wrong("mode", "expected one of `fast`, `slow`, found the string \"fats\""),
                wrong("port", "expected a number from 0 to 65535, found the number 70000"),
                wrong("timeout_ms", "expected a number of at least 0, found the number -1"),
            ]
        );
    }

    #[test]
    fn missing_required_keys_name_their_table() {
        let found = check(&table("follow = [{}]\nlogin = { form = {} }\n"), &http());
        let missing = |at: &str| Found::MissingKey { at: at.into(), key: "url".into() };
        assert_eq!(found, vec![missing("follow[0]"), missing("login"), missing("")]);
    }

    #[test]
    fn top_level_keys_with_type_and_description() {
        let mut listed: Vec<String> = keys(&http()).iter().map(|k| format!("{} {} {} {:?}", k.name, k.kind, k.required, k.description)).collect();
        listed.sort();
        assert_eq!(listed[..4], ["conditions list false \"\"", "follow list false \"\"", "ignore_redirect boolean false \"\"", "login table false \"\""]);
        assert_eq!(listed[6..], ["timeout_ms integer false \"\"", "url string true \"URL to request\""]);
        assert!(keys(&json!(true)).is_empty());
    }
}
