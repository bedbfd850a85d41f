use std::path::Path;

use crate::config::Config;

const BASE: &str = r#"
[services.web]
image = "shop-web"

[backups.db]
strategy = "dir-archive"
dest = "/tmp/backups"
paths = ["/tmp/data"]

[checks.home]
plugin = "http"
url = "http://127.0.0.1:1/"

[notify.ops]
url = "generic+http://127.0.0.1:1/hook"
"#;

fn errors(pipelines: &str) -> Vec<String> {
    let text = format!("{BASE}{pipelines}");
    match Config::parse(&text, Path::new("bosun.toml")) {
        Ok(_) => Vec::new(),
        Err(e) => e.to_string().lines().map(str::to_string).collect(),
    }
}

fn line_of(pipelines: &str, needle: &str) -> usize {
    let text = format!("{BASE}{pipelines}");
    text.lines().position(|l| l.contains(needle)).expect("needle is in the text") + 1
}

const DEPLOY: &str = r#"
[pipelines.deploy]
description = "back up, deploy, check; roll back when anything fails"
concurrency = "deploy-${{ inputs.service }}"

[pipelines.deploy.inputs.version]
description = "the tag to deploy"

[pipelines.deploy.inputs.service]
type = "enum"
options = ["web"]
default = "web"

[[pipelines.deploy.steps]]
id = "backup"
uses = "backup"
with = { set = "db" }

[[pipelines.deploy.steps]]
id = "deploy"
uses = "deploy"
needs = ["backup"]
with = { service = "${{ inputs.service }}", version = "${{ inputs.version }}", message = "after backup ${{ steps.backup.outputs.id }}" }
retry = { attempts = 3, backoff = "2s", max_delay = "30s" }
timeout = "10m"

[[pipelines.deploy.steps]]
id = "check"
uses = "check"
needs = ["deploy"]
with = { checks = ["home"] }

[[pipelines.deploy.on_failure]]
id = "rollback"
uses = "rollback"
if = "steps.deploy.outcome == 'success'"
with = { service = "web" }

[[pipelines.deploy.on_failure]]
id = "tell"
uses = "notify"
needs = ["rollback"]
if = "always()"
with = { title = "deploy of ${{ inputs.version }} failed", channels = ["ops"] }
"#;

#[test]
fn a_whole_pipeline_loads() {
    assert_eq!(errors(DEPLOY), Vec::<String>::new());
    let config = Config::parse(&format!("{BASE}{DEPLOY}"), Path::new("bosun.toml")).unwrap();
    let pipeline = &config.pipelines["deploy"];
    assert_eq!(super::Pipeline::waves(&pipeline.steps), vec![vec![0], vec![1], vec![2]]);
    assert_eq!(super::Pipeline::waves(&pipeline.on_failure), vec![vec![0], vec![1]]);
}

#[test]
fn unknown_steps_and_arguments_are_named_with_their_place() {
    let text = r#"
[pipelines.p]
[[pipelines.p.steps]]
id = "a"
uses = "deplyo"
[[pipelines.p.steps]]
id = "b"
uses = "backup"
with = { set = "db", increment = true }
"#;
    let found = errors(text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0], format!("bosun.toml:{}:8: pipelines.p.steps[0].uses: no built-in step `deplyo`; did you mean `deploy`?", line_of(text, "deplyo")));
    assert!(found[1].starts_with(&format!("bosun.toml:{}:", line_of(text, "increment"))), "{found:?}");
    assert!(found[1].contains("pipelines.p.steps[1].with.increment: unknown key; did you mean `incremental`?"), "{found:?}");
}

#[test]
fn a_missing_argument_and_wrong_kinds_are_named() {
    let text = r#"
[pipelines.p]
[[pipelines.p.steps]]
id = "a"
uses = "deploy"
with = { force = "yes" }
[[pipelines.p.steps]]
id = "b"
uses = "wait"
with = { for = "soon" }
[[pipelines.p.steps]]
id = "c"
uses = "backup"
with = { set = "nope" }
[[pipelines.p.steps]]
id = "d"
uses = "gate"
with = { pipeline = "tset", service = "web" }
"#;
    let found = errors(text).join("\n");
    assert!(found.contains("pipelines.p.steps[0].with.service: missing; `deploy` takes a string as `service`"), "{found}");
    assert!(found.contains("pipelines.p.steps[0].with.force: expected true or false, found \"yes\""), "{found}");
    assert!(found.contains("pipelines.p.steps[1].with.for: `soon` is not a duration"), "{found}");
    assert!(found.contains("pipelines.p.steps[2].with.set: no backup set called nope; add a [backups.nope] table"), "{found}");
    assert!(found.contains("pipelines.p.steps[3].with.pipeline: no pipeline called tset; add a [pipelines.tset] table"), "{found}");
}

#[test]
fn needs_must_name_steps_and_a_cycle_is_named() {
    let text = r#"
[pipelines.p]
[[pipelines.p.steps]]
id = "a"
uses = "wait"
with = { for = "0s" }
needs = ["c"]
[[pipelines.p.steps]]
id = "b"
uses = "wait"
with = { for = "0s" }
needs = ["a", "ghost"]
[[pipelines.p.steps]]
id = "c"
uses = "wait"
with = { for = "0s" }
needs = ["b"]
"#;
    let found = errors(text).join("\n");
    assert!(found.contains("pipelines.p.steps[1].needs[1]: no step with id `ghost` in steps; known: a, b, c"), "{found}");
    assert!(found.contains("pipelines.p.steps[0].needs: the steps need each other in a cycle: a → c → b → a"), "{found}");
}

#[test]
fn references_to_unknown_inputs_steps_and_outputs_are_refused() {
    let text = r#"
[pipelines.p.inputs.version]
[[pipelines.p.steps]]
id = "first"
uses = "backup"
with = { set = "db" }
[[pipelines.p.steps]]
id = "second"
uses = "command"
with = { argv = ["echo", "${{ inputs.verison }}", "${{ steps.first.outputs.size }}", "${{ steps.third.outputs.x }}", "${{ run.who }}"] }
[[pipelines.p.steps]]
id = "third"
uses = "command"
needs = ["second"]
if = "steps.second.outputs.anything == 'x' && steps.second.result == 'ok'"
with = { argv = ["true"] }
"#;
    let found = errors(text).join("\n");
    assert!(found.contains("`inputs.verison`: the pipeline has no input `verison`; known: version"), "{found}");
    assert!(found.contains("`steps.first.outputs.size`: step `first` may not have run yet; add it to this step's needs"), "{found}");
    assert!(found.contains("`steps.third.outputs.x`: step `third` may not have run yet"), "{found}");
    assert!(found.contains("`run.who`: run has no `who`; known: id, pipeline, dry_run"), "{found}");
    assert!(found.contains("pipelines.p.steps[2].if: `steps.second.result`: a step has outputs, outcome, conclusion, not `result`"), "{found}");
    assert!(!found.contains("anything"), "a command may set any output: {found}");
}

#[test]
fn outputs_a_step_does_not_have_are_refused() {
    let text = r#"
[[pipelines.p.steps]]
id = "b"
uses = "backup"
with = { set = "db" }
[[pipelines.p.steps]]
id = "t"
uses = "notify"
needs = ["b"]
with = { title = "${{ steps.b.outputs.size }}" }
"#;
    let found = errors(text).join("\n");
    assert!(found.contains("`steps.b.outputs.size`: `backup` has no output `size`; its outputs: id, dir, bytes, skipped"), "{found}");
}

#[test]
fn inputs_are_typed_and_their_defaults_and_options_checked() {
    let text = r#"
[pipelines.p.inputs.mode]
type = "colour"
[pipelines.p.inputs.keep]
type = "int"
default = "three"
[pipelines.p.inputs.env]
type = "enum"
[[pipelines.p.steps]]
id = "w"
uses = "wait"
with = { for = "0s" }
"#;
    let found = errors(text).join("\n");
    assert!(found.contains("pipelines.p.inputs.mode.type: `colour` is not one of string, int, bool, enum"), "{found}");
    let found = errors(&text.replace("colour", "string")).join("\n");
    assert!(found.contains("pipelines.p.inputs.keep.default: expected a whole number, found \"three\""), "{found}");
    assert!(found.contains("pipelines.p.inputs.env.options: an enum input lists its values"), "{found}");
}

#[test]
fn ids_are_unique_and_on_failure_needs_stay_in_on_failure() {
    let text = r#"
[[pipelines.p.steps]]
id = "a"
uses = "wait"
with = { for = "0s" }
[[pipelines.p.on_failure]]
id = "a"
uses = "wait"
with = { for = "0s" }
[[pipelines.p.on_failure]]
id = "z"
uses = "wait"
needs = ["a"]
with = { for = "0s" }
"#;
    let found = errors(text).join("\n");
    assert!(found.contains("pipelines.p.on_failure[0].id: `a` is also the id of pipelines.p.steps[0]"), "{found}");
}

#[test]
fn a_bad_expression_says_where_in_it() {
    let text = r#"
[[pipelines.p.steps]]
id = "a"
uses = "wait"
if = "inputs.x =="
with = { for = "${{ inputs.x " }
"#;
    let found = errors(text).join("\n");
    assert!(found.contains("pipelines.p.steps[0].if: "), "{found}");
    assert!(found.contains("pipelines.p.steps[0].with.for: ") && found.contains("'}}'"), "{found}");
}

#[test]
fn schedules_are_checked_with_their_time_zone_and_inputs() {
    let text = r#"
[pipelines.p]
schedule = "at night"
[pipelines.q]
schedule = "0 3 * * *"
timezone = "Mars/Olympus"
[pipelines.q.inputs.version]
[pipelines.r]
catch_up = true
"#;
    let steps = "[[pipelines.NAME.steps]]\nid = \"w\"\nuses = \"wait\"\nwith = { for = \"0s\" }\n";
    let text = format!("{text}{}{}{}", steps.replace("NAME", "p"), steps.replace("NAME", "q"), steps.replace("NAME", "r"));
    let found = errors(&text).join("\n");
    assert!(found.contains("pipelines.p.schedule: `at night` is not a cron schedule"), "{found}");
    assert!(found.contains("pipelines.q.timezone: `Mars/Olympus` is not a time zone"), "{found}");
    assert!(found.contains("pipelines.q.inputs.version: a scheduled run has nobody to give it: add a default"), "{found}");
    assert!(found.contains("pipelines.r.catch_up: is for a pipeline with a schedule"), "{found}");
}
