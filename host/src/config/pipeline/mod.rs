//! `[pipelines.<name>]`: steps as a graph, with inputs, conditions, retries
//! and timeouts, and the steps that run when one fails. Everything a run
//! could trip over later is checked here, when bosun.toml is loaded: step
//! kinds and their arguments, `needs`, cycles, and every `${{ }}` reference.

pub mod graph;
pub mod schedule;
pub mod steps;

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Config, Problems, parse_duration};
use crate::expr::{self, Reference, Segment};
use steps::{ArgKind, BuiltinStep};

/// The contexts a step's `with` and `if` may read.
pub const STEP_CONTEXTS: &[&str] = &expr::PIPELINE_CONTEXTS;
/// The contexts `concurrency` may read: it is worked out before any step runs.
pub const RUN_CONTEXTS: &[&str] = &["inputs", "env", "run"];
/// What `run.<key>` holds.
pub const RUN_KEYS: &[&str] = &["id", "pipeline", "dry_run"];
/// What `steps.<id>.<key>` holds, as on GitHub: `outcome` is how the step
/// ended, `conclusion` the same after `continue_on_error`.
pub const STEP_KEYS: &[&str] = &["outputs", "outcome", "conclusion"];

pub const DEFAULT_MAX_PARALLEL: usize = 4;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub inputs: BTreeMap<String, Input>,
    pub steps: Vec<Step>,
    /// Run, in their own order, when a step of `steps` failed (rollback,
    /// notify); they see every step's outputs.
    #[serde(default)]
    pub on_failure: Vec<Step>,
    /// A key (`deploy-${{ inputs.service }}`): one run per key at a time; a
    /// second run is refused, naming the run that holds it.
    pub concurrency: Option<String>,
    /// At most this many steps at once (default 4).
    pub max_parallel: Option<usize>,
    /// When `bosun serve` runs it: cron (`0 3 * * *`, seconds first when six
    /// fields, `@daily`), with the inputs' defaults.
    pub schedule: Option<String>,
    /// The schedule's time zone (IANA name; default the machine's).
    pub timezone: Option<String>,
    /// Run a schedule missed while `bosun serve` was not running, once, when
    /// it starts; without it the missed run is recorded as missed.
    #[serde(default)]
    pub catch_up: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    #[serde(rename = "type", default)]
    pub kind: InputKind,
    /// Without one the input is required.
    pub default: Option<toml::Value>,
    #[serde(default)]
    pub description: String,
    /// The values an `enum` input takes.
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    #[default]
    String,
    Int,
    Bool,
    Enum,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: String,
    /// The built-in step it runs (`backup`, `deploy`, `command`, …)…
    #[serde(default)]
    pub uses: String,
    /// …or the pipeline-step plugin (its grants in `[plugins.<name>]`).
    pub plugin: Option<String>,
    /// Its arguments; strings may hold `${{ }}`.
    #[serde(default)]
    pub with: toml::Table,
    /// Ids of the steps that must end first.
    #[serde(default)]
    pub needs: Vec<String>,
    /// Runs only when this holds (default `success()`).
    #[serde(rename = "if")]
    pub condition: Option<String>,
    pub retry: Option<Retry>,
    /// Cancelled after this long (`10m`); each attempt has the whole of it.
    pub timeout: Option<String>,
    /// A failure is recorded but does not fail the run or skip dependents.
    #[serde(default)]
    pub continue_on_error: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// Wait before the second try, doubled before each later one (default 1s).
    pub backoff: Option<String>,
    /// The longest wait between tries (default 5m).
    pub max_delay: Option<String>,
}

impl Step {
    pub fn builtin(&self) -> Option<&'static BuiltinStep> {
        steps::builtin(&self.uses)
    }

    /// What it runs, as tables and records show it: `deploy`, `plugin:notes`.
    pub fn label(&self) -> String {
        match &self.plugin {
            Some(plugin) => format!("plugin:{plugin}"),
            None => self.uses.clone(),
        }
    }
}

impl Pipeline {
    /// Steps and `on_failure` steps, with the dotted key of each.
    fn all_steps<'a>(&'a self, at: &'a str) -> impl Iterator<Item = (String, &'a Step)> + 'a {
        let main = self.steps.iter().enumerate().map(move |(i, s)| (format!("{at}.steps[{i}]"), s));
        main.chain(self.on_failure.iter().enumerate().map(move |(i, s)| (format!("{at}.on_failure[{i}]"), s)))
    }

    /// Indices (in `steps`) of each step's needs; unknown ids left out.
    pub fn needs_of(steps: &[Step]) -> Vec<Vec<usize>> {
        steps.iter().map(|s| s.needs.iter().filter_map(|n| steps.iter().position(|o| &o.id == n)).collect()).collect()
    }

    /// The waves `steps` run in (see [`graph::waves`]); validation made sure
    /// there is no cycle.
    pub fn waves(steps: &[Step]) -> Vec<Vec<usize>> {
        let ids: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
        graph::waves(&ids, &Pipeline::needs_of(steps)).unwrap_or_default()
    }
}

/// Every problem of pipeline `name`, under its dotted keys.
pub fn validate(name: &str, pipeline: &Pipeline, config: &Config, problems: &mut Problems) {
    let at = format!("pipelines.{name}");
    if !valid_id(name) {
        problems.add(&at, format!("`{name}` is not a pipeline name: letters, digits, `-` and `_`, starting with a letter or `_`"));
    }
    for (input, spec) in &pipeline.inputs {
        validate_input(&format!("{at}.inputs.{input}"), spec, problems);
    }
    if pipeline.steps.is_empty() {
        problems.add(format!("{at}.steps"), "a pipeline needs at least one step; add a [[pipelines.NAME.steps]] table");
    }
    if pipeline.max_parallel == Some(0) {
        problems.add(format!("{at}.max_parallel"), "must be at least 1");
    }
    validate_schedule(&at, pipeline, problems);
    if let Some(key) = &pipeline.concurrency {
        let check = Checker { pipeline, config, steps: &[], reachable: Vec::new() };
        check.template(&format!("{at}.concurrency"), key, RUN_CONTEXTS, problems);
    }
    let mut seen: BTreeMap<&str, String> = BTreeMap::new();
    for (key, step) in pipeline.all_steps(&at) {
        if !valid_id(&step.id) {
            problems.add(format!("{key}.id"), format!("`{}` is not a step id: letters, digits, `-` and `_`, starting with a letter or `_`", step.id));
        }
        if let Some(first) = seen.insert(&step.id, key.clone()) {
            problems.add(format!("{key}.id"), format!("`{}` is also the id of {first}; ids are unique within a pipeline", step.id));
        }
    }
    validate_group(&format!("{at}.steps"), pipeline, config, &pipeline.steps, &[], problems);
    validate_group(&format!("{at}.on_failure"), pipeline, config, &pipeline.on_failure, &pipeline.steps, problems);
}

/// `group`'s needs, their order, and each step; `before` are the steps that
/// have all ended when `group` starts (the main steps, for `on_failure`).
fn validate_group(at: &str, pipeline: &Pipeline, config: &Config, group: &[Step], before: &[Step], problems: &mut Problems) {
    for (i, step) in group.iter().enumerate() {
        for (n, need) in step.needs.iter().enumerate() {
            if !group.iter().any(|s| &s.id == need) {
                let message = match before.iter().any(|s| &s.id == need) {
                    true => format!("`{need}` has always ended before on_failure steps start; leave it out of needs"),
                    false => format!("no step with id `{need}` {}; known: {}", if before.is_empty() { "in steps" } else { "in on_failure" }, ids(group)),
                };
                problems.add(format!("{at}[{i}].needs[{n}]"), message);
            }
        }
    }
    let names: Vec<&str> = group.iter().map(|s| s.id.as_str()).collect();
    let needs = Pipeline::needs_of(group);
    if let Err(cycle) = graph::waves(&names, &needs) {
        let first = group.iter().position(|s| s.id == cycle[0]).unwrap_or(0);
        problems.add(format!("{at}[{first}].needs"), format!("the steps need each other in a cycle: {}; remove one of these needs", cycle.join(" → ")));
    }
    for (i, step) in group.iter().enumerate() {
        let mut reachable: Vec<&Step> = graph::ancestors(i, &needs).into_iter().map(|a| &group[a]).collect();
        reachable.extend(before);
        let check = Checker { pipeline, config, steps: group, reachable };
        check.step(&format!("{at}[{i}]"), step, problems);
    }
}

fn ids(steps: &[Step]) -> String {
    steps.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ")
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn validate_schedule(at: &str, pipeline: &Pipeline, problems: &mut Problems) {
    let Some(pattern) = &pipeline.schedule else {
        for (key, set) in [("timezone", pipeline.timezone.is_some()), ("catch_up", pipeline.catch_up)] {
            if set {
                problems.add(format!("{at}.{key}"), "is for a pipeline with a schedule; add schedule = \"…\" or remove it");
            }
        }
        return;
    };
    match schedule::Schedule::parse(pattern, pipeline.timezone.as_deref()) {
        Err(e) if pipeline.timezone.is_some() && e.contains("time zone") => problems.add(format!("{at}.timezone"), e),
        Err(e) => problems.add(format!("{at}.schedule"), e),
        Ok(_) => {}
    }
    for (name, _) in pipeline.inputs.iter().filter(|(_, input)| input.default.is_none()) {
        problems.add(format!("{at}.inputs.{name}"), "a scheduled run has nobody to give it: add a default");
    }
}

fn validate_input(at: &str, input: &Input, problems: &mut Problems) {
    match (input.kind, input.options.is_empty()) {
        (InputKind::Enum, true) => problems.add(format!("{at}.options"), "an enum input lists its values: options = [\"a\", \"b\"]"),
        (InputKind::Enum, false) | (_, true) => {}
        (_, false) => problems.add(format!("{at}.options"), "options are for `type = \"enum\"` inputs"),
    }
    if let Some(default) = &input.default
        && let Err(message) = input_value(input, default)
    {
        problems.add(format!("{at}.default"), message);
    }
}

/// `value` as input `input` takes it, or why it does not fit.
pub fn input_value(input: &Input, value: &toml::Value) -> Result<toml::Value, String> {
    match (input.kind, value) {
        (InputKind::String, toml::Value::String(_)) | (InputKind::Int, toml::Value::Integer(_)) | (InputKind::Bool, toml::Value::Boolean(_)) => Ok(value.clone()),
        (InputKind::Enum, toml::Value::String(s)) if input.options.contains(s) => Ok(value.clone()),
        (InputKind::Enum, _) => Err(format!("expected one of {}, found {value}", input.options.join(", "))),
        (InputKind::Int, _) => Err(format!("expected a whole number, found {value}")),
        (InputKind::Bool, _) => Err(format!("expected true or false, found {value}")),
        (InputKind::String, _) => Err(format!("expected a string, found {value}")),
    }
}

/// Checks one step against the pipeline and the rest of bosun.toml.
struct Checker<'a> {
    pipeline: &'a Pipeline,
    config: &'a Config,
    /// The step's group (to tell a step that is not needed from none at all).
    steps: &'a [Step],
    /// The steps that have ended whenever this one runs.
    reachable: Vec<&'a Step>,
}

impl Checker<'_> {
    fn step(&self, at: &str, step: &Step, problems: &mut Problems) {
        if let Some(condition) = &step.condition {
            match expr::condition(condition, STEP_CONTEXTS) {
                Ok(parsed) => expr::references(&parsed).iter().for_each(|r| self.reference(&format!("{at}.if"), r, problems)),
                Err(e) => problems.add(format!("{at}.if"), e.to_string()),
            }
        }
        if let Some(timeout) = &step.timeout {
            problems.check(format!("{at}.timeout"), positive_duration(timeout));
        }
        if let Some(retry) = &step.retry {
            if retry.attempts == 0 {
                problems.add(format!("{at}.retry.attempts"), "must be at least 1 (the first try counts)");
            }
            for (key, value) in [("backoff", &retry.backoff), ("max_delay", &retry.max_delay)] {
                if let Some(value) = value {
                    problems.check(format!("{at}.retry.{key}"), parse_duration(value));
                }
            }
        }
        match (&step.plugin, step.uses.is_empty()) {
            (Some(_), false) => return problems.add(format!("{at}.plugin"), "a step runs a built-in step (`uses`) or a plugin (`plugin`), not both; remove one"),
            (Some(_), true) => return each_string_value(&step.with, &mut |key, text| self.template(&format!("{at}.with.{key}"), text, STEP_CONTEXTS, problems)),
            (None, true) => return problems.add(format!("{at}.uses"), "missing; add `uses = \"…\"` (a built-in step) or `plugin = \"…\"` (a pipeline-step plugin)"),
            (None, false) => {}
        }
        let Some(builtin) = step.builtin() else {
            let known = steps::builtin_names();
            let message = match super::words::closest(&step.uses, &known) {
                Some(likely) => format!("no built-in step `{}`; did you mean `{likely}`?", step.uses),
                None => format!("no built-in step `{}`; known: {}", step.uses, known.join(", ")),
            };
            problems.add(format!("{at}.uses"), message);
            return;
        };
        for arg in builtin.args.iter().filter(|a| a.required && !step.with.contains_key(a.name)) {
            problems.add(format!("{at}.with.{}", arg.name), format!("missing; `{}` takes {} as `{}`", builtin.name, arg.kind.words(), arg.name));
        }
        for (name, value) in &step.with {
            let key = format!("{at}.with.{name}");
            match builtin.arg(name) {
                Some(arg) => self.argument(&key, arg.kind, value, problems),
                None => problems.unknown_key(&format!("{at}.with"), name, &builtin.args.iter().map(|a| a.name).collect::<Vec<_>>()),
            }
        }
    }

    /// A `with` value: its templates' references, and, when it is literal,
    /// its kind and the names it refers to.
    fn argument(&self, at: &str, kind: ArgKind, value: &toml::Value, problems: &mut Problems) {
        let mut templated = false;
        each_string(value, &mut |text| {
            templated |= text.contains("${{");
            self.template(at, text, STEP_CONTEXTS, problems);
        });
        if templated && value.is_str() {
            return;
        }
        if let Err(message) = literal(kind, value, self.config) {
            problems.add(at, message);
        }
    }

    fn template(&self, at: &str, text: &str, contexts: &[&str], problems: &mut Problems) {
        match expr::Template::parse(text, contexts) {
            Ok(template) => template.references().iter().for_each(|r| self.reference(at, r, problems)),
            Err(e) => problems.add(at, e.to_string()),
        }
    }

    fn reference(&self, at: &str, reference: &Reference, problems: &mut Problems) {
        let key = |i: usize| match reference.path.get(i) {
            Some(Segment::Key(key)) => Some(key.as_str()),
            _ => None,
        };
        match reference.context.to_ascii_lowercase().as_str() {
            "inputs" => {
                if let Some(name) = key(0).filter(|n| !self.pipeline.inputs.keys().any(|k| k.eq_ignore_ascii_case(n))) {
                    let known: Vec<&str> = self.pipeline.inputs.keys().map(String::as_str).collect();
                    problems.add(at, format!("`{reference}`: the pipeline has no input `{name}`; known: {}", list_or_none(&known)));
                }
            }
            "run" => {
                if let Some(name) = key(0).filter(|n| !RUN_KEYS.contains(n)) {
                    problems.add(at, format!("`{reference}`: run has no `{name}`; known: {}", RUN_KEYS.join(", ")));
                }
            }
            "steps" => self.step_reference(at, reference, key(0), key(1), key(2), problems),
            _ => {}
        }
    }

    fn step_reference(&self, at: &str, reference: &Reference, id: Option<&str>, what: Option<&str>, output: Option<&str>, problems: &mut Problems) {
        let Some(id) = id else { return };
        let Some(step) = self.reachable.iter().find(|s| s.id.eq_ignore_ascii_case(id)) else {
            let message = match self.steps.iter().any(|s| s.id.eq_ignore_ascii_case(id)) {
                true => format!("`{reference}`: step `{id}` may not have run yet; add it to this step's needs"),
                false => format!("`{reference}`: no step `{id}` has ended before this one"),
            };
            problems.add(at, message);
            return;
        };
        match what {
            Some(w) if !STEP_KEYS.contains(&w) => problems.add(at, format!("`{reference}`: a step has {}, not `{w}`", STEP_KEYS.join(", "))),
            Some("outputs") => {
                let builtin = step.builtin();
                if let (Some(output), Some(builtin)) = (output, builtin)
                    && !builtin.any_output
                    && !builtin.outputs.contains(&output)
                {
                    problems.add(at, format!("`{reference}`: `{}` has no output `{output}`; its outputs: {}", builtin.name, list_or_none(builtin.outputs)));
                }
            }
            _ => {}
        }
    }
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

/// Calls `f` with each top-level key of `with` and every string under it.
fn each_string_value(with: &toml::Table, f: &mut impl FnMut(&str, &str)) {
    for (key, value) in with {
        each_string(value, &mut |text| f(key, text));
    }
}

/// Calls `f` on every string in `value`, nested ones too.
fn each_string(value: &toml::Value, f: &mut impl FnMut(&str)) {
    match value {
        toml::Value::String(s) => f(s),
        toml::Value::Array(items) => items.iter().for_each(|v| each_string(v, f)),
        toml::Value::Table(table) => table.values().for_each(|v| each_string(v, f)),
        _ => {}
    }
}

/// Whether a literal `value` is of `kind` and names what exists.
fn literal(kind: ArgKind, value: &toml::Value, config: &Config) -> Result<(), String> {
    let wrong = || Err(format!("expected {}, found {value}", kind.words()));
    let strings = |value: &toml::Value| match value {
        toml::Value::Array(items) if items.iter().all(toml::Value::is_str) => Some(items.iter().filter_map(toml::Value::as_str).map(str::to_string).collect::<Vec<_>>()),
        _ => None,
    };
    match kind {
        ArgKind::Text if value.is_str() => Ok(()),
        ArgKind::Int if value.is_integer() => Ok(()),
        ArgKind::Bool if value.is_bool() => Ok(()),
        ArgKind::Duration => match value.as_str() {
            Some(text) => parse_duration(text).map(drop),
            None => wrong(),
        },
        ArgKind::Table => match value.as_table() {
            Some(table) if table.values().all(toml::Value::is_str) => Ok(()),
            _ => wrong(),
        },
        ArgKind::List if strings(value).is_some() => Ok(()),
        ArgKind::Service => named(value.as_str(), config.services.contains_key(value.as_str().unwrap_or_default()), "service", "services"),
        ArgKind::Pipeline => named(value.as_str(), config.pipelines.contains_key(value.as_str().unwrap_or_default()), "pipeline", "pipelines"),
        ArgKind::BackupSet => named(value.as_str(), config.backups.contains_key(value.as_str().unwrap_or_default()), "backup set", "backups"),
        ArgKind::Checks => match strings(value) {
            Some(names) => match names.iter().find(|n| !config.checks.contains_key(*n) && !config.suites.contains_key(*n)) {
                Some(missing) => Err(format!("no check or suite called {missing}; add a [checks.{missing}] table or a suite")),
                None => Ok(()),
            },
            None => wrong(),
        },
        ArgKind::Channels => match strings(value) {
            Some(names) => match names.iter().find(|n| !config.notify.contains_key(*n)) {
                Some(missing) => Err(format!("no channel called {missing}; add a [notify.{missing}] table")),
                None => Ok(()),
            },
            None => wrong(),
        },
        _ => wrong(),
    }
}

/// A name of a `[table.*]` entry: `exists` says whether bosun.toml has it.
fn named(name: Option<&str>, exists: bool, what: &str, table: &str) -> Result<(), String> {
    match name {
        None => Err(format!("expected the name of a {what}")),
        Some(name) if !exists => Err(format!("no {what} called {name}; add a [{table}.{name}] table")),
        Some(_) => Ok(()),
    }
}

fn positive_duration(text: &str) -> Result<(), String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err("must be more than 0".into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
