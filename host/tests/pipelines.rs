//! Pipelines as users run them: the real `bosun` binary, real commands,
//! real checks against loopback servers, the real Docker engine for deploys.

use crate::{common, support};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::project::{Project, stderr, stdout};
use common::recorder::Recorder;
use serde_json::Value;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(out), stderr(out)))
}

fn step<'a>(ran: &'a Value, id: &str) -> &'a Value {
    ran["steps"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("no step {id} in {ran}"))
}

/// A command step that runs `script` with `sh -c`.
fn sh(id: &str, script: &str, extra: &str) -> String {
    format!("[[pipelines.p.steps]]\nid = \"{id}\"\nuses = \"command\"\nwith.argv = [\"/bin/sh\", \"-c\", {script:?}]\n{extra}\n")
}

#[test]
fn steps_run_in_needs_order_and_a_wave_runs_at_once() {
    let p = Project::new("");
    let dir = p.path();
    let stamp = |name: &str| format!("date +%s%N > {name}.start; sleep 1; date +%s%N > {name}.end; echo size=4{name} >> \"$BOSUN_OUTPUT\"");
    let config = [
        "[pipelines.p]\ndescription = \"two at once, then one\"\n".to_string(),
        sh("a", &stamp("a"), ""),
        sh("b", &stamp("b"), ""),
        sh("c", "echo \"$A $B\" > c.out", "needs = [\"a\", \"b\"]\nwith.env = { A = \"${{ steps.a.outputs.size }}\", B = \"${{ steps.b.outputs.size }}\" }"),
    ]
    .concat();
    std::fs::write(dir.join("bosun.toml"), &config).unwrap();
    let out = p.bosun(&["run", "p", "--json"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let ran = json(&out);
    assert_eq!(ran["outcome"], "succeeded");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap().trim().parse::<u128>().unwrap();
    assert!(read("a.start") < read("b.end") && read("b.start") < read("a.end"), "a and b overlapped");
    assert_eq!(std::fs::read_to_string(dir.join("c.out")).unwrap().trim(), "4a 4b", "c read both outputs");
    assert_eq!((step(&ran, "a")["wave"].as_u64(), step(&ran, "c")["wave"].as_u64()), (Some(0), Some(1)));

    let run_id = ran["run_id"].as_i64().unwrap().to_string();
    let shown = json(&p.bosun(&["runs", &run_id, "--json"]));
    let states: Vec<(&str, &str)> = shown["steps"].as_array().unwrap().iter().map(|s| (s["step"].as_str().unwrap(), s["state"].as_str().unwrap())).collect();
    assert_eq!(states, [("a", "succeeded"), ("b", "succeeded"), ("c", "succeeded")]);
    assert_eq!(shown["run"]["outcome"], "succeeded");
    assert_eq!(shown["steps"][0]["outputs"]["size"], "4a");
}

#[test]
fn a_check_is_tried_again_until_the_server_answers() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let site = Recorder::respond(move |_| if counted.fetch_add(1, Ordering::SeqCst) < 2 { (503, "not yet".to_string()) } else { (200, "ok".to_string()) });
    let p = Project::new(&format!(
        "[checks.api]\nplugin = \"http\"\nurl = \"{u}/health\"\n\n[plugins.http]\ngrant.http = [\"{u}\"]\n\n\
         [[pipelines.p.steps]]\nid = \"up\"\nuses = \"check\"\nwith = {{ checks = [\"api\"] }}\nretry = {{ attempts = 3, backoff = \"100ms\" }}\n",
        u = site.url
    ));
    let out = p.bosun(&["run", "p"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(site.requests().len(), 3, "failed twice, then passed");
    let progress = stderr(&out);
    assert!(progress.contains("up: try 1 failed") && progress.contains("up: try 2 failed"), "{progress}");
    assert!(stdout(&out).contains("succeeded"), "{}", stdout(&out));
}

#[test]
fn a_timeout_ends_the_step_and_its_processes_and_on_failure_runs() {
    let p = Project::new("");
    let config = [
        sh("slow", "echo $$ > slow.pid; exec sleep 60", "timeout = \"1s\""),
        "[[pipelines.p.on_failure]]\nid = \"tell\"\nuses = \"command\"\nwith.argv = [\"/bin/sh\", \"-c\", \"echo ${{ steps.slow.outcome }} > told\"]\n".into(),
    ]
    .concat();
    std::fs::write(p.path().join("bosun.toml"), config).unwrap();
    let started = Instant::now();
    let out = p.bosun(&["run", "p", "--json"]);
    assert!(started.elapsed() < Duration::from_secs(20), "the timeout stopped the step: {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let ran = json(&out);
    assert_eq!(ran["outcome"], "failed");
    assert_eq!(step(&ran, "slow")["summary"], "step slow timed out after 1.0s");
    assert_eq!(std::fs::read_to_string(p.path().join("told")).unwrap().trim(), "failure", "on_failure ran and saw the outcome");
    let pid = std::fs::read_to_string(p.path().join("slow.pid")).unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{}", pid.trim())).exists(), "the timed-out command was killed");
}

#[test]
fn conditions_skips_and_continue_on_error_follow_github() {
    let p = Project::new("");
    let config = [
        sh("flaky", "exit 3", "continue_on_error = true"),
        sh("after", "touch after", "needs = [\"flaky\"]"),
        sh("noticed", "touch noticed", "needs = [\"flaky\"]\nif = \"steps.flaky.outcome == 'failure' && steps.flaky.conclusion == 'success'\""),
        sh("nothing", "exit 75", ""),
        sh("blocked", "touch blocked", "needs = [\"nothing\"]"),
        sh("anyway", "touch anyway", "needs = [\"nothing\"]\nif = \"always()\""),
        sh("unless", "touch unless", "needs = [\"nothing\"]\nif = \"${{ !cancelled() }}\""),
    ]
    .concat();
    std::fs::write(p.path().join("bosun.toml"), config).unwrap();
    let out = p.bosun(&["run", "p", "--json"]);
    assert!(out.status.success(), "a failure with continue_on_error does not fail the run: {}\n{}", stdout(&out), stderr(&out));
    let ran = json(&out);
    let state = |id: &str| step(&ran, id)["state"].as_str().unwrap().to_string();
    assert_eq!(state("flaky"), "failed");
    assert_eq!(step(&ran, "flaky")["continued"], true);
    assert_eq!(state("nothing"), "skipped", "exit 75 is skipped");
    assert_eq!(state("blocked"), "skipped", "a step needing a skipped step is skipped");
    for (id, ran_it) in [("after", true), ("noticed", true), ("blocked", false), ("anyway", true), ("unless", true)] {
        assert_eq!(p.path().join(id).exists(), ran_it, "{id}");
    }
}

#[test]
fn bad_pipelines_are_refused_with_their_place_before_anything_runs() {
    let p = Project::new(&[sh("a", "touch ran", "needs = [\"b\"]"), sh("b", "touch ran", "needs = [\"a\"]")].concat());
    let out = p.bosun(&["run", "p"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bosun.toml:5:9: pipelines.p.steps[0].needs: the steps need each other in a cycle: a → b → a"), "{}", stderr(&out));
    assert!(!p.path().join("ran").exists());

    let p = Project::new(&format!("[pipelines.p.inputs.version]\n{}", sh("a", "touch ran", "")));
    let out = p.bosun(&["run", "p", "verison=1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("error: pipeline p has no input `verison`; it takes version") && err.contains("error: pipeline p needs input `version`: pass version=…"), "{err}");
    assert!(!p.path().join("ran").exists());
}

#[test]
fn a_second_run_on_a_held_key_is_refused_naming_the_holder() {
    let hold = "touch holding-${{ inputs.service }}; while [ ! -e release-${{ inputs.service }} ]; do sleep 0.05; done";
    let config = format!("[pipelines.p]\nconcurrency = \"deploy-${{{{ inputs.service }}}}\"\n[pipelines.p.inputs.service]\n{}", sh("hold", hold, ""));
    let p = Project::new(&config);
    let mut first = p.command(&["run", "p", "service=web"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    while !p.path().join("holding-web").exists() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::write(p.path().join("release-db"), "").unwrap();
    let other = p.bosun(&["run", "p", "service=db"]);
    assert!(other.status.success(), "another key runs at once: {}", stderr(&other));
    let second = p.bosun(&["run", "p", "service=web"]);
    assert_eq!(second.status.code(), Some(11), "{}", stderr(&second));
    let err = stderr(&second);
    assert!(err.contains("pipeline p: run 1 (") && err.contains("holds concurrency key p:deploy-web; wait for it to end, or see `bosun runs 1`"), "{err}");
    std::fs::write(p.path().join("release-web"), "").unwrap();
    assert!(first.wait().unwrap().success());
    assert!(p.bosun(&["run", "p", "service=web"]).status.success(), "the key is free once its run ended");
}

#[test]
fn a_dry_run_shows_resolved_arguments_and_runs_nothing() {
    let p = Project::new(&format!("[pipelines.p.inputs.version]\ndefault = \"1.4\"\n{}", sh("say", "touch ran; echo ${{ inputs.version }}", "")));
    let out = p.bosun(&["run", "p", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("run 1 of pipeline p (dry run): succeeded"), "{text}");
    assert!(text.contains("with {\"argv\":[\"/bin/sh\",\"-c\",\"touch ran; echo 1.4\"]}"), "{text}");
    assert!(text.contains("would: run /bin/sh -c 'touch ran; echo 1.4' in"), "{text}");
    assert!(!p.path().join("ran").exists(), "nothing ran");
    let shown = json(&p.bosun(&["runs", "1", "--json"]));
    assert_eq!(shown["steps"][0]["state"], "succeeded", "a dry run's steps are recorded at its end: {shown}");
    assert!(shown["steps"][0]["summary"].as_str().unwrap().starts_with("would run /bin/sh"), "{shown}");
}

#[test]
fn ctrl_c_cancels_the_run_and_records_it() {
    let p = Project::new(&[sh("long", "touch started; exec sleep 60", ""), sh("later", "touch later", "needs = [\"long\"]")].concat());
    let child = p.command(&["run", "p"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while !p.path().join("started").exists() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let shown = json(&p.bosun(&["runs", "1", "--json"]));
    assert_eq!(shown["run"]["outcome"], "cancelled");
    assert_eq!(shown["steps"][0]["state"], "cancelled");
    assert_eq!(shown["steps"][1]["state"], "pending", "a step that never started is left to a resume");
    assert!(!p.path().join("later").exists());
}

#[test]
fn a_killed_run_is_found_interrupted_and_its_key_let_go() {
    let p = Project::new(&format!("[pipelines.p]\nconcurrency = \"only\"\n{}", sh("long", "touch started; exec sleep 60", "")));
    let mut child = p.command(&["run", "p"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    while !p.path().join("started").exists() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let shown = json(&p.bosun(&["runs", "1", "--json"]));
    assert_eq!(shown["run"]["outcome"], "interrupted");
    assert_eq!(shown["steps"][0]["state"], "interrupted");
    let again = p.bosun(&["run", "p", "--dry-run"]);
    assert!(again.status.success(), "the dead run's key is free: {}", stderr(&again));
}

#[test]
fn a_failing_check_after_a_deploy_rolls_back() {
    support::require_engine();
    let port = support::deploys::free_port();
    let d = support::deploys::Deploys::new("pipeline-rollback", &format!("ports = [\"127.0.0.1:{port}:8080\"]\nstop_timeout = 2"));
    d.image("1.0", &[]);
    d.image("2.0", &[]);
    support::deploys::succeeded(&d.bosun(&["deploy", "web", "1.0"]));
    let pipeline = format!(
        "[checks.version]\nplugin = \"http\"\nurl = \"http://127.0.0.1:{port}/\"\nconditions = [\"[BODY] == pat(1.0*)\"]\n\n\
         [plugins.http]\ngrant.http = [\"http://127.0.0.1:{port}\"]\n\n\
         [pipelines.ship.inputs.version]\n\n\
         [[pipelines.ship.steps]]\nid = \"deploy\"\nuses = \"deploy\"\nwith = {{ service = \"web\", version = \"${{{{ inputs.version }}}}\" }}\n\n\
         [[pipelines.ship.steps]]\nid = \"check\"\nuses = \"check\"\nneeds = [\"deploy\"]\nwith = {{ checks = [\"version\"] }}\n\n\
         [[pipelines.ship.on_failure]]\nid = \"back\"\nuses = \"rollback\"\nif = \"steps.deploy.outcome == 'success'\"\nwith = {{ service = \"web\", message = \"check failed after ${{{{ steps.deploy.outputs.version }}}}\" }}\n"
    );
    d.configure_with(&format!("ports = [\"127.0.0.1:{port}:8080\"]\nstop_timeout = 2"), &pipeline);
    let out = d.bosun(&["run", "ship", "version=2.0", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    let ran = json(&out);
    assert_eq!(step(&ran, "deploy")["outputs"]["previous_version"], "1.0");
    assert_eq!(step(&ran, "check")["state"], "failed");
    assert_eq!(step(&ran, "back")["state"], "succeeded", "{ran}");
    assert!(support::deploys::running(&d.container("1.0")), "1.0 runs again");
    assert!(!support::deploys::running(&d.container("2.0")));
    let releases = d.releases();
    let last = releases.last().unwrap();
    assert_eq!((last["kind"].as_str(), last["version"].as_str()), (Some("rollback"), Some("1.0")));
    assert_eq!(last["note"], "check failed after 2.0");
}

#[test]
fn after_kill_9_a_resume_continues_without_repeating_finished_steps() {
    let p = Project::new(&format!(
        "[pipelines.p.inputs.tag]\n{}",
        [
            sh("first", "echo ran >> first.log; echo v=${{ inputs.tag }}-1 >> \"$BOSUN_OUTPUT\"", ""),
            sh("second", "touch second.started; [ -e go ] || exec sleep 60; echo ran >> second.log", "needs = [\"first\"]"),
            sh("third", "echo ${{ steps.first.outputs.v }} >> third.log", "needs = [\"second\"]"),
        ]
        .concat()
    ));
    let mut child = p.command(&["run", "p", "tag=x"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    while !p.path().join("second.started").exists() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::write(p.path().join("go"), "").unwrap();

    let out = p.bosun(&["run", "--resume", "1", "--json"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let ran = json(&out);
    assert_eq!((ran["run_id"].as_i64(), ran["outcome"].as_str()), (Some(1), Some("succeeded")));
    assert!(step(&ran, "first")["summary"].as_str().unwrap().starts_with("kept from before the resume"), "{ran}");
    let lines = |name: &str| std::fs::read_to_string(p.path().join(name)).unwrap_or_default().lines().count();
    assert_eq!((lines("first.log"), lines("second.log")), (1, 1), "first ran once, second finished on the resume");
    assert_eq!(std::fs::read_to_string(p.path().join("third.log")).unwrap().trim(), "x-1", "the kept step's outputs and the run's inputs are there");
    let shown = json(&p.bosun(&["runs", "1", "--json"]));
    assert_eq!(shown["run"]["outcome"], "succeeded");

    let again = p.bosun(&["run", "--resume", "1"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("run 1 succeeded; only a failed, cancelled or interrupted run can be resumed"), "{}", stderr(&again));
}

#[test]
fn an_image_update_then_a_check_reports_what_it_recreated() {
    support::require_engine();
    let registry = support::Registry::start();
    let port = support::deploys::free_port();
    let d = support::deploys::Deploys::new("pipeline-images", "");
    d.image("v1", &[]);
    d.image("v2", &[]);
    let (live, _) = registry.push(&format!("{}:v1", d.repo), &format!("{}/web:live", d.name));
    let repo = live.rsplit_once(':').unwrap().0.to_string();
    let service = format!("version = \"live\"\nports = [\"127.0.0.1:{port}:8080\"]\nstop_timeout = 2");
    d.configure_image(&repo, &service);
    support::deploys::succeeded(&d.bosun(&["deploy", "web"]));
    registry.push(&format!("{}:v2", d.repo), &format!("{}/web:live", d.name));
    support::docker(&["tag", &format!("{}:v1", d.repo), &live]);
    let pipeline = format!(
        "[checks.up]\nplugin = \"http\"\nurl = \"http://127.0.0.1:{port}/\"\n\n[plugins.http]\ngrant.http = [\"http://127.0.0.1:{port}\"]\n\n\
         [[pipelines.refresh.steps]]\nid = \"update\"\nuses = \"images.update\"\nwith = {{ image = \"{live}\" }}\n\n\
         [[pipelines.refresh.steps]]\nid = \"up\"\nuses = \"check\"\nneeds = [\"update\"]\nif = \"steps.update.outputs.updated\"\nwith = {{ checks = [\"up\"] }}\nretry = {{ attempts = 5, backoff = \"500ms\" }}\n"
    );
    std::fs::write(d.project.dir.path().join("bosun.toml"), format!("[project]\nname = \"{}\"\n\n[services.web]\nimage = \"{repo}\"\n{service}\n\n{pipeline}", d.name)).unwrap();
    let planned = d.bosun(&["run", "refresh", "--dry-run"]);
    assert!(planned.status.success(), "{}", stderr(&planned));
    assert!(stdout(&planned).contains("would: recreate "), "{}", stdout(&planned));

    let out = d.bosun(&["run", "refresh", "--json"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let ran = json(&out);
    assert_eq!(step(&ran, "update")["outputs"]["updated"], true);
    assert_eq!(step(&ran, "update")["outputs"]["recreated"], 1);
    assert_eq!(step(&ran, "up")["state"], "succeeded", "{ran}");
    let again = json(&d.bosun(&["run", "refresh", "--json"]));
    assert_eq!(step(&again, "update")["outputs"]["updated"], false, "{again}");
    assert_eq!(step(&again, "up")["state"], "skipped", "nothing changed, nothing to check: {again}");
}

#[test]
fn the_quickstart_pipeline_backs_up_verifies_prunes_and_checks() {
    let site = Recorder::start(200, "the shop is up");
    let port = site.url.rsplit(':').next().unwrap().to_string();
    let p = Project::new("");
    let dir = p.path();
    std::fs::create_dir_all(dir.join("site")).unwrap();
    std::fs::write(dir.join("site/index.html"), "the shop is up").unwrap();
    let template = std::fs::read_to_string(common::repo_root().join("examples/quickstart/bosun.toml.in")).unwrap();
    std::fs::write(dir.join("bosun.toml"), template.replace("@DIR@", &dir.display().to_string()).replace("@PORT@", &port)).unwrap();
    let out = p.bosun(&["run", "nightly", "--json"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let ran = json(&out);
    let id = step(&ran, "backup")["outputs"]["id"].as_str().unwrap().to_string();
    assert_eq!(step(&ran, "verify")["outputs"]["id"], id.as_str(), "verify got the new backup's id");
    assert_eq!(step(&ran, "prune")["outputs"]["kept"], 1);
    assert_eq!(step(&ran, "check")["outputs"]["passed"], 1);
    assert_eq!(step(&ran, "check")["wave"], 0, "the check needs nothing, so it ran beside the backup");
}

#[test]
fn the_example_pipelines_load_and_show_their_graphs() {
    let dir = common::repo_root().join("examples/pipelines");
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
    names.sort();
    assert_eq!(names.len(), 5, "{names:?}");
    for path in names {
        let p = Project::new(&std::fs::read_to_string(&path).unwrap());
        let listed = p.bosun(&["pipeline", "list", "--json"]);
        assert!(listed.status.success(), "{}: {}", path.display(), stderr(&listed));
        let name = json(&listed)[0]["name"].as_str().unwrap().to_string();
        let dot = p.bosun(&["pipeline", "show", &name, "--dot"]);
        assert!(dot.status.success() && stdout(&dot).starts_with(&format!("digraph \"{name}\" {{")), "{}: {}", path.display(), stderr(&dot));
    }
    let p = Project::new(&std::fs::read_to_string(dir.join("deploy-with-safety.toml")).unwrap());
    let shown = stdout(&p.bosun(&["pipeline", "show", "deploy"]));
    assert!(shown.contains("  1  backup") && shown.contains("  1  pull") && shown.contains("  2  deploy") && shown.contains("  3  smoke"), "{shown}");
    let dot = stdout(&p.bosun(&["pipeline", "show", "deploy", "--dot"]));
    assert!(dot.contains("\"backup\" -> \"deploy\";") && dot.contains("\"rollback\" -> \"tell\";"), "{dot}");
}

#[test]
fn a_command_that_writes_without_end_fills_at_most_its_share_of_the_run_events() {
    let p = Project::new(&sh("flood", "seq 1 25000", ""));
    let out = p.bosun(&["run", "p"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let state = bosun::state::State::open(&p.path().join(".bosun")).unwrap();
    let lines: Vec<String> = state.run_events(1, 0, 100_000).unwrap().into_iter().filter(|e| e.kind == "line").map(|e| e.data["text"].as_str().unwrap().to_string()).collect();
    assert_eq!(lines.len(), bosun::pipeline::MAX_RECORDED_LINES + 1, "the cap, then one line saying so");
    assert_eq!(lines[0], "1");
    assert!(lines.last().unwrap().contains("more lines than the 10000 kept here; `bosun runs 1`"), "{:?}", lines.last());
    let shown = stdout(&p.bosun(&["runs", "1"]));
    assert!(shown.contains("25000"), "the record keeps the end of the output: {shown}");
}

#[test]
fn secrets_a_step_is_given_stay_out_of_output_and_records() {
    // A quote and a backslash: JSON escapes them, so a masker that looks at
    // serialized JSON would miss this one.
    let token = "s3cr3t\"token\\value-42";
    // printf, not echo: dash's echo would read `\v` in it as an escape.
    let p = Project::new(&sh("call", "printf '%s\\n' \"$API_TOKEN\" > seen; printf 'the token is %s\\n' \"$API_TOKEN\"", "with.env = { API_TOKEN = \"${{ env.DEPLOY_TOKEN }}\", MODE = \"${{ env.PLAIN_SETTING }}\" }"));
    for args in [&["run", "p", "--json"][..], &["run", "p", "--dry-run"][..]] {
        let out = p.command(args).env("DEPLOY_TOKEN", token).env("PLAIN_SETTING", "fast").output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(!stdout(&out).contains("s3cr3t") && !stderr(&out).contains("s3cr3t"), "{}\n{}", stdout(&out), stderr(&out));
    }
    assert_eq!(std::fs::read_to_string(p.path().join("seen")).unwrap().trim(), token, "the command got the real value");
    let shown = p.bosun(&["runs", "1", "--json"]);
    assert!(!stdout(&shown).contains("s3cr3t"), "{}", stdout(&shown));
    // Nor in what the store keeps: the run's events (its live log) and its steps' records.
    let state = bosun::state::State::open(&p.path().join(".bosun")).unwrap();
    let events = serde_json::to_string(&state.run_events(1, 0, 1000).unwrap()).unwrap();
    assert!(events.contains("the token is") && !events.contains("s3cr3t"), "{events}");
    let steps = serde_json::to_string(&state.pipeline_steps(1).unwrap()).unwrap();
    assert!(steps.contains("the token is") && !steps.contains("s3cr3t"), "{steps}");
    let raw = std::fs::read(p.path().join(".bosun/state.db")).unwrap();
    assert!(!raw.windows(6).any(|w| w == b"s3cr3t"), "not in the database file either");
    let plain = p.command(&["run", "p", "--json"]).env("DEPLOY_TOKEN", token).env("PLAIN_SETTING", "fast").output().unwrap();
    assert!(stdout(&plain).contains("\"MODE\": \"fast\""), "a setting that is no secret is shown: {}", stdout(&plain));
}

#[test]
fn a_deploy_step_that_times_out_is_undone_and_the_old_version_serves() {
    support::require_engine();
    let port = support::deploys::free_port();
    let service = format!("ports = [\"127.0.0.1:{port}:8080\"]\nstop_timeout = 2");
    let d = support::deploys::Deploys::new("pipeline-timeout", &service);
    d.image("1.0", &[]);
    d.image("2.0", &[]);
    support::deploys::succeeded(&d.bosun(&["deploy", "web", "1.0"]));
    // 2.0 waits up to a minute for a check that never passes; the step gives it 3 s.
    let pipeline = "[checks.never]\nplugin = \"http\"\nurl = \"http://127.0.0.1:1/\"\n\n[plugins.http]\ngrant.http = [\"http://127.0.0.1:1\"]\n\n\
         [[pipelines.ship.steps]]\nid = \"deploy\"\nuses = \"deploy\"\nwith = { service = \"web\", version = \"2.0\" }\ntimeout = \"3s\"\n";
    d.configure_with(&format!("{service}\nhealth_timeout = \"60s\"\nchecks = [\"never\"]"), pipeline);
    let started = Instant::now();
    let out = d.bosun(&["run", "ship", "--json"]);
    assert!(started.elapsed() < Duration::from_secs(40), "{:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    let summary = step(&json(&out), "deploy")["summary"].as_str().unwrap().to_string();
    assert!(summary.starts_with("step deploy timed out after 3.0s; ") && summary.contains("cancelled before it finished"), "{summary}");
    assert!(summary.contains("is back on version 1.0"), "the deploy undid itself: {summary}");
    assert!(support::deploys::running(&d.container("1.0")), "1.0 runs again");
    assert!(support::deploys::inspect(&d.container("2.0")).is_none(), "2.0's container is removed");
    assert_eq!(support::deploys::http_get(port), "1.0");
    let last = d.releases().last().cloned().unwrap();
    assert_eq!((last["version"].as_str(), last["outcome"].as_str()), (Some("2.0"), Some("failed")));
}

/// Polls `bosun runs --json` until a pipeline run waits; its id and steps.
fn waiting_run(d: &support::deploys::Deploys) -> (String, Value) {
    let started = Instant::now();
    loop {
        let runs = json(&d.bosun(&["runs", "--json"]));
        if let Some(run) = runs.as_array().unwrap().iter().find(|r| r["outcome"] == "waiting" && r["operation"] == "pipeline") {
            let id = run["id"].to_string();
            return (id.clone(), json(&d.bosun(&["runs", &id, "--json"])));
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no run came to wait: {runs}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn prod_waits_for_the_same_image_to_pass_test_and_for_an_approval() {
    support::require_engine();
    let hook = Recorder::start(200, "ok");
    let d = support::deploys::Deploys::new("pipeline-gate", "stop_timeout = 2");
    d.image("1.0", &[]);
    let pipelines = format!(
        "[notify.ops]\nurl = \"generic+{u}/hook\"\non = [\"pipeline.*\"]\n\n\
         [pipelines.test.inputs.version]\n[[pipelines.test.steps]]\nid = \"deploy\"\nuses = \"deploy\"\nwith = {{ service = \"web\", version = \"${{{{ inputs.version }}}}\" }}\n\n\
         [pipelines.prod.inputs.version]\n\
         [[pipelines.prod.steps]]\nid = \"gate\"\nuses = \"gate\"\nwith = {{ pipeline = \"test\", service = \"web\", version = \"${{{{ inputs.version }}}}\", within = \"1h\" }}\n\n\
         [[pipelines.prod.steps]]\nid = \"ok\"\nuses = \"approve\"\nneeds = [\"gate\"]\nwith = {{ message = \"ship ${{{{ inputs.version }}}} to prod?\" }}\n\n\
         [[pipelines.prod.steps]]\nid = \"ship\"\nuses = \"command\"\nneeds = [\"ok\"]\nwith.argv = [\"/bin/sh\", \"-c\", \"echo ${{{{ steps.ok.outputs.approved_by }}}} > shipped\"]\n",
        u = hook.url
    );
    d.configure_with("stop_timeout = 2", &pipelines);

    let refused = d.bosun(&["run", "prod", "version=1.0", "--json"]);
    assert_eq!(refused.status.code(), Some(1));
    let summary = step(&json(&refused), "gate")["summary"].as_str().unwrap().to_string();
    assert!(summary.starts_with("gate: no successful run of pipeline test deployed ") && summary.contains("(image sha256:"), "{summary}");

    support::deploys::succeeded(&d.bosun(&["run", "test", "version=1.0"]));
    let approved = d.project.command(&["run", "prod", "version=1.0", "--json"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let (run, waiting) = waiting_run(&d);
    assert_eq!(waiting["steps"][1]["state"], "waiting", "{waiting}");
    let asked = |hook: &Recorder| hook.requests().iter().map(|r| r.body.clone()).find(|b| b.contains("waits for approval"));
    let started = Instant::now();
    while asked(&hook).is_none() && started.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let asked = asked(&hook).unwrap_or_else(|| panic!("the channel was asked: {:?}", hook.requests()));
    assert!(asked.contains(&format!("bosun approve {run}")), "{asked}");
    let said = d.bosun(&["approve", &run, "-m", "tested in test"]);
    assert!(said.status.success(), "{}", stderr(&said));
    let out = approved.wait_with_output().unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let ran = json(&out);
    assert!(step(&ran, "gate")["outputs"]["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(step(&ran, "ok")["summary"].as_str().unwrap().ends_with(": tested in test"), "{ran}");
    assert_eq!(std::fs::read_to_string(d.project.path().join("shipped")).unwrap().trim(), step(&ran, "ok")["outputs"]["approved_by"].as_str().unwrap());

    let rejected = d.project.command(&["run", "prod", "version=1.0", "--json"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let (second, _) = waiting_run(&d);
    assert_eq!(d.bosun(&["approve", &run]).status.code(), Some(2), "the first run waits for nothing now");
    assert!(d.bosun(&["reject", &second, "-m", "not today"]).status.success());
    let out = rejected.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(step(&json(&out), "ok")["summary"].as_str().unwrap().contains(": not today"));
}

#[test]
fn lock_and_unlock_steps_hold_a_service_as_bosun_lock_does() {
    let config = "[services.web]\nimage = \"bosun-test/not-pulled\"\n\n\
        [[pipelines.hold.steps]]\nid = \"lock\"\nuses = \"lock\"\nwith = { service = \"web\", message = \"migrating\" }\n\n\
        [[pipelines.free.steps]]\nid = \"unlock\"\nuses = \"unlock\"\nwith = { service = \"web\" }\n";
    let p = Project::new(config);
    assert!(p.bosun(&["run", "hold"]).status.success());
    let locks = json(&p.bosun(&["lock", "status", "--json"]));
    assert_eq!(locks[0]["scope"], "web@prod");
    assert_eq!(locks[0]["message"], "pipeline hold run 1: migrating");
    let again = p.bosun(&["run", "hold", "--json"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(step(&json(&again), "lock")["summary"].as_str().unwrap().contains("pipeline hold run 1: migrating"), "the refusal names the holder");
    assert!(p.bosun(&["run", "free"]).status.success());
    assert_eq!(json(&p.bosun(&["lock", "status", "--json"])), serde_json::json!([]));
}

#[test]
fn a_restore_step_brings_a_backup_back_under_a_target() {
    let p = Project::new("");
    let dir = p.path();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/a.txt"), "first").unwrap();
    let config = format!(
        "[backups.data]\nstrategy = \"dir-archive\"\ndest = \"{d}/backups\"\npaths = [\"{d}/data\"]\n\n[plugins.dir-archive.grant]\nfs = [\"ro:{d}/data\"]\n\n\
         [[pipelines.p.steps]]\nid = \"take\"\nuses = \"backup\"\nwith = {{ set = \"data\" }}\n\n\
         [[pipelines.p.steps]]\nid = \"back\"\nuses = \"restore\"\nneeds = [\"take\"]\nwith = {{ backup = \"${{{{ steps.take.outputs.id }}}}\", target = \"restored\" }}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("bosun.toml"), config).unwrap();
    let out = p.bosun(&["run", "p", "--json"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let ran = json(&out);
    assert_eq!(step(&ran, "back")["outputs"]["id"], step(&ran, "take")["outputs"]["id"]);
    let restored = dir.join("restored").join(dir.join("data/a.txt").strip_prefix("/").unwrap());
    assert_eq!(std::fs::read_to_string(&restored).unwrap(), "first", "{}", restored.display());
}

/// `bosun serve` in the background; SIGINT ends it when dropped.
struct Serving(std::process::Child);

impl Serving {
    fn start(p: &Project) -> Serving {
        Serving(p.command(&["serve", "--listen", "127.0.0.1:0"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap())
    }

    /// Asks it to stop (Ctrl-C) and returns what it printed.
    fn stop(mut self) -> String {
        unsafe { libc::kill(self.0.id() as i32, libc::SIGINT) };
        let child = std::mem::replace(&mut self.0, std::process::Command::new("true").spawn().unwrap());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "serve ended badly: {}", stderr(&out));
        stderr(&out)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(30), "{what} did not happen");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_seconds_level_schedule_fires_under_serve() {
    let p = Project::new(&format!("[pipelines.p]\nschedule = \"*/2 * * * * *\"\ntimezone = \"UTC\"\n{}", sh("tick", "echo tick >> ticks", "")));
    let serving = Serving::start(&p);
    let ticks = || std::fs::read_to_string(p.path().join("ticks")).unwrap_or_default().lines().count();
    until("two scheduled runs", || ticks() >= 2);
    let printed = serving.stop();
    assert!(printed.contains("p: next run at ") && printed.contains("(UTC)"), "{printed}");
    let listed = json(&p.bosun(&["schedule", "list", "--json"]));
    assert_eq!((listed[0]["pipeline"].as_str(), listed[0]["timezone"].as_str()), (Some("p"), Some("UTC")));
    assert!(listed[0]["last_due"].as_str().is_some(), "{listed}");
}

#[test]
fn a_schedule_missed_while_serve_was_down_is_recorded_or_caught_up() {
    let config = |catch_up: bool| format!("[pipelines.p]\nschedule = \"0 3 * * *\"\ntimezone = \"UTC\"\ncatch_up = {catch_up}\n{}", sh("night", "echo ran >> nights", ""));
    let p = Project::new(&config(false));
    let two_days_ago = || {
        let state = bosun::state::State::open(&p.path().join(".bosun")).unwrap();
        state.set_schedule_mark("p", bosun::state::now_unix() - 2 * 86_400).unwrap();
    };
    two_days_ago();
    let serving = Serving::start(&p);
    let runs = || json(&p.bosun(&["runs", "--json"]));
    until("the missed run recorded", || runs().as_array().unwrap().iter().any(|r| r["summary"].as_str().unwrap_or_default().starts_with("missed: due at ")));
    serving.stop();
    assert!(!p.path().join("nights").exists(), "without catch_up nothing ran");
    let missed = runs().as_array().unwrap().iter().find(|r| r["target"] == "p").cloned().unwrap();
    assert_eq!(missed["outcome"], "skipped", "{missed}");

    std::fs::write(p.path().join("bosun.toml"), config(true)).unwrap();
    two_days_ago();
    let serving = Serving::start(&p);
    until("the caught-up run", || p.path().join("nights").exists());
    serving.stop();
    assert_eq!(std::fs::read_to_string(p.path().join("nights")).unwrap().lines().count(), 1, "caught up once");
}

#[test]
fn a_step_plugin_returns_outputs_and_is_held_to_its_grants() {
    let p = Project::new("");
    let wasm = p.write("step-probe.wasm", &common::test_plugin("step-probe"));
    let installed = p.bosun(&["plugin", "install", &wasm, "--yes"]);
    assert!(installed.status.success(), "{}", stderr(&installed));
    let steps = |grant: &str| {
        format!(
            "{grant}[[pipelines.p.steps]]\nid = \"probe\"\nplugin = \"step-probe\"\nwith = {{ outputs = {{ version = \"${{{{ run.id }}}}-a\" }}, argv = [\"/bin/echo\", \"hi\"] }}\n\n\
             {}",
            sh("after", "echo ${{ steps.probe.outputs.version }} ${{ steps.probe.outputs.stdout }} > seen", "needs = [\"probe\"]")
        )
    };
    std::fs::write(p.path().join("bosun.toml"), steps("")).unwrap();
    let denied = p.bosun(&["run", "p", "--json"]);
    assert_eq!(denied.status.code(), Some(1), "{}", stderr(&denied));
    let summary = step(&json(&denied), "probe")["summary"].as_str().unwrap().to_string();
    assert!(summary.contains("process.run") && summary.contains("not granted"), "no grant, no command: {summary}");
    assert!(!p.path().join("seen").exists());

    std::fs::write(p.path().join("bosun.toml"), steps("[plugins.step-probe]\ngrant.process = [\"run:/bin/echo hi\"]\n\n")).unwrap();
    let out = p.bosun(&["run", "p", "--json"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let ran = json(&out);
    assert_eq!(step(&ran, "probe")["uses"], "plugin:step-probe");
    assert_eq!(std::fs::read_to_string(p.path().join("seen")).unwrap().trim(), format!("{}-a hi", ran["run_id"]));

    std::fs::write(p.path().join("bosun.toml"), "[[pipelines.p.steps]]\nid = \"probe\"\nplugin = \"step-probe\"\nuses = \"wait\"\n").unwrap();
    let both = p.bosun(&["run", "p"]);
    assert_eq!(both.status.code(), Some(2));
    assert!(stderr(&both).contains("pipelines.p.steps[0].plugin: a step runs a built-in step (`uses`) or a plugin (`plugin`), not both"), "{}", stderr(&both));
}

/// The path the README shows: `examples/custom-step` built, installed, used
/// as a step; its `with` checked against its schema when bosun.toml is read.
#[test]
fn the_custom_step_example_builds_installs_and_runs_in_a_pipeline() {
    let site = Recorder::start(201, "ok");
    let example = common::repo_root().join("examples/custom-step");
    let step_table = |with: &str| format!("[plugins.release-marker.grant]\nhttp = [\"{}\"]\n\n[[pipelines.p.steps]]\nid = \"mark\"\nplugin = \"release-marker\"\nwith = {{ {with} }}\n", site.url);
    let p = Project::new(&step_table(&format!("url = \"{}/notes\", text = \"web ${{{{ run.id }}}}\"", site.url)));
    let out = p.bosun(&["plugin", "build", &example.display().to_string(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let component = json(&out)["components"][0].as_str().expect("one component").to_string();
    assert!(p.bosun(&["plugin", "install", &component]).status.success());
    let out = p.bosun(&["run", "p", "--json"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(step(&json(&out), "mark")["outputs"]["status"], "201");
    let posted = site.requests();
    assert_eq!((posted.len(), posted[0].body.as_str()), (1, "web 1"));

    std::fs::write(p.path().join("bosun.toml"), step_table(&format!("url = \"{}/notes\", txet = \"typo\"", site.url))).unwrap();
    let refused = p.bosun(&["run", "p"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("pipelines.p.steps[0].with.txet: unknown key; did you mean `text`?"), "{}", stderr(&refused));
}

#[test]
fn plugin_new_pipeline_step_scaffolds_a_step_that_builds() {
    let work = tempfile::tempdir().unwrap();
    let p = Project::new("");
    let out = p.bosun(&["plugin", "new", "pipeline-step", "tell-deploy", "--dir", &work.path().display().to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let crate_dir = work.path().join("tell-deploy").display().to_string();
    let out = p.bosun(&["plugin", "install", &crate_dir]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let shown = stdout(&p.bosun(&["plugin", "inspect", "tell-deploy"]));
    assert!(shown.contains("pipeline-step") && shown.contains("url (string, required): URL to tell that the step ran"), "{shown}");
}

#[test]
fn a_step_plugin_in_a_dry_run_changes_nothing_and_says_what_it_held_back() {
    let p = Project::new("");
    let wasm = p.write("step-probe.wasm", &common::test_plugin("step-probe"));
    assert!(p.bosun(&["plugin", "install", &wasm, "--yes"]).status.success());
    let marker = p.path().join("touched");
    let config = format!(
        "[plugins.step-probe]\ngrant.process = [\"run:/usr/bin/touch {m}\"]\n\n[[pipelines.p.steps]]\nid = \"probe\"\nplugin = \"step-probe\"\nwith = {{ argv = [\"/usr/bin/touch\", \"{m}\"] }}\n",
        m = marker.display()
    );
    std::fs::write(p.path().join("bosun.toml"), config).unwrap();
    let out = p.bosun(&["run", "p", "--dry-run"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(!marker.exists(), "a dry run ran no command");
    assert!(stdout(&out).contains("would: process.run") && stdout(&out).contains("touch"), "{}", stdout(&out));
    assert!(p.bosun(&["run", "p"]).status.success());
    assert!(marker.exists(), "the real run did");
}

#[test]
fn a_step_plugin_cannot_flood_the_run_with_outputs_and_can_skip() {
    let p = Project::new("");
    let wasm = p.write("step-probe.wasm", &common::test_plugin("step-probe"));
    assert!(p.bosun(&["plugin", "install", &wasm, "--yes"]).status.success());
    let config = |with: &str| format!("[[pipelines.p.steps]]\nid = \"probe\"\nplugin = \"step-probe\"\nwith = {{ {with} }}\n\n{}", sh("after", "touch after", "needs = [\"probe\"]"));
    std::fs::write(p.path().join("bosun.toml"), config("flood = 2000000")).unwrap();
    let out = p.bosun(&["run", "p", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(out.stdout.len() < 100_000, "the flood is in no output: {} bytes", out.stdout.len());
    let summary = step(&json(&out), "probe")["summary"].as_str().unwrap().to_string();
    assert_eq!(summary, "step probe: plugin step-probe returned 2000005 bytes of outputs; a step's outputs hold at most 1048576");
    let state = std::fs::metadata(p.path().join(".bosun/state.db")).unwrap().len();
    assert!(state < 1_000_000, "the flood is not in the record: {state} bytes");

    std::fs::write(p.path().join("bosun.toml"), config("skip = true")).unwrap();
    let out = p.bosun(&["run", "p", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ran = json(&out);
    assert_eq!((step(&ran, "probe")["state"].as_str(), step(&ran, "after")["state"].as_str()), (Some("skipped"), Some("skipped")), "{ran}");

    std::fs::write(p.path().join("bosun.toml"), sh("chatty", "yes k=vvvvvvvv | head -c 1100000 >> \"$BOSUN_OUTPUT\"", "")).unwrap();
    let out = p.bosun(&["run", "p", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let summary = step(&json(&out), "chatty")["summary"].as_str().unwrap().to_string();
    assert!(summary.ends_with("wrote more than 1048576 bytes to $BOSUN_OUTPUT; a step's outputs hold at most that"), "{summary}");
}
