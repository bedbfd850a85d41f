//! Tasks: one built-in step run as a pipeline of its own, so a deploy,
//! rollback, backup or verify asked for over HTTP gets what a pipeline run
//! has (a run id at once, events to follow, cancel, a record). What the
//! request gave reaches the step as inputs, which are data: a `${{ }}` in a
//! version or message is never evaluated.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::config::pipeline::{Input, Pipeline, Step};

/// Text arguments by name (none: not given), and flags by name.
type Given<'a> = Vec<(&'static str, Option<&'a String>)>;
type Flags = Vec<(&'static str, bool)>;

/// What a task does.
pub enum Task {
    /// `hosts`: only these of the service's hosts (none: all); `from`: only those running that version.
    Deploy { service: String, version: Option<String>, message: String, force: bool, hosts: Vec<String>, from: Option<String> },
    Rollback { service: String, to: Option<String>, message: String, hosts: Vec<String> },
    Backup { set: String },
    Verify { backup: String, restore_test: bool },
}

impl Task {
    /// The name its run is recorded under (`task:deploy`): no pipeline in
    /// bosun.toml can have it.
    pub fn name(&self) -> &'static str {
        match self {
            Task::Deploy { .. } => "task:deploy",
            Task::Rollback { .. } => "task:rollback",
            Task::Backup { .. } => "task:backup",
            Task::Verify { .. } => "task:backup.verify",
        }
    }

    /// The one-step pipeline that does it, and its inputs.
    pub fn pipeline(&self) -> (Pipeline, Map<String, Value>) {
        let none: &[String] = &[];
        let (uses, given, flags, hosts): (&str, Given<'_>, Flags, &[String]) = match self {
            Task::Deploy { service, version, message, force, hosts, from } => {
                ("deploy", vec![("service", Some(service)), ("version", version.as_ref()), ("message", Some(message)), ("from", from.as_ref())], vec![("force", *force)], hosts)
            }
            Task::Rollback { service, to, message, hosts } => ("rollback", vec![("service", Some(service)), ("to", to.as_ref()), ("message", Some(message))], vec![], hosts),
            Task::Backup { set } => ("backup", vec![("set", Some(set))], vec![], none),
            Task::Verify { backup, restore_test } => ("backup.verify", vec![("backup", Some(backup))], vec![("restore_test", *restore_test)], none),
        };
        let given: Vec<(&str, &String)> = given.into_iter().filter_map(|(name, value)| Some((name, value?))).collect();
        let mut with = toml::Table::new();
        let mut inputs = BTreeMap::new();
        let mut values = Map::new();
        for (name, value) in given {
            with.insert(name.to_string(), toml::Value::String(format!("${{{{ inputs.{name} }}}}")));
            inputs.insert(name.to_string(), Input { kind: Default::default(), default: None, description: String::new(), options: Vec::new() });
            values.insert(name.to_string(), Value::String(value.clone()));
        }
        for (name, on) in flags {
            with.insert(name.to_string(), toml::Value::Boolean(on));
        }
        // A list, an input per item: `hosts = ["${{ inputs.hosts_0 }}", …]`.
        if !hosts.is_empty() {
            let mut items = Vec::new();
            for (index, host) in hosts.iter().enumerate() {
                let name = format!("hosts_{index}");
                items.push(toml::Value::String(format!("${{{{ inputs.{name} }}}}")));
                inputs.insert(name.clone(), Input { kind: Default::default(), default: None, description: String::new(), options: Vec::new() });
                values.insert(name, Value::String(host.clone()));
            }
            with.insert("hosts".into(), toml::Value::Array(items));
        }
        let step = Step {
            id: uses.replace('.', "-"),
            uses: uses.to_string(),
            plugin: None,
            with,
            needs: Vec::new(),
            condition: None,
            retry: None,
            timeout: None,
            continue_on_error: false,
        };
        let pipeline = Pipeline {
            description: format!("{uses}, asked for through bosun serve"),
            inputs,
            steps: vec![step],
            on_failure: Vec::new(),
            concurrency: None,
            max_parallel: None,
            schedule: None,
            timezone: None,
            catch_up: false,
        };
        (pipeline, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_request_gave_reaches_the_step_as_inputs_not_as_expressions() {
        let hosts = vec!["b".to_string(), "${{ env.HOME }}".to_string()];
        let task = Task::Deploy { service: "web".into(), version: Some("${{ env.HOME }}".into()), message: "why".into(), force: true, hosts, from: Some("1.3".into()) };
        let (pipeline, inputs) = task.pipeline();
        let step = &pipeline.steps[0];
        assert_eq!(step.uses, "deploy");
        assert_eq!(step.with["version"].as_str(), Some("${{ inputs.version }}"), "the step reads the input");
        assert_eq!(inputs["version"], "${{ env.HOME }}", "the request's text is the input's value, as given");
        assert_eq!(step.with["force"].as_bool(), Some(true));
        let items: Vec<&str> = step.with["hosts"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(items, ["${{ inputs.hosts_0 }}", "${{ inputs.hosts_1 }}"], "each host an input");
        assert_eq!((inputs["hosts_0"].as_str(), inputs["hosts_1"].as_str(), inputs["from"].as_str()), (Some("b"), Some("${{ env.HOME }}"), Some("1.3")));
        let rollback = Task::Rollback { service: "web".into(), to: None, message: String::new(), hosts: vec![] }.pipeline().0;
        assert!(!rollback.steps[0].with.contains_key("to") && !rollback.steps[0].with.contains_key("hosts"), "an absent value is not passed");
    }
}
