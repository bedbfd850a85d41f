//! `bosun serve` beyond pipelines: following a run's events live, deploy
//! and rollback, backups and verify, the status overview, `/metrics`,
//! signed webhooks, plugins, and the limits on what a request may be. The
//! real binary on loopback, the real Docker engine, a real state store.

use crate::{common, support};

use common::project::Project;
use common::server::{Server, token};
use serde_json::Value;

const LINES: &str = "[[pipelines.talk.steps]]\nid = \"count\"\nuses = \"command\"\nwith.argv = [\"/bin/sh\", \"-c\", \"for i in 1 2 3 4 5 6; do echo line $i; sleep 0.3; done\"]\n\n\
                     [[pipelines.talk.steps]]\nid = \"bye\"\nuses = \"command\"\nneeds = [\"count\"]\nwith.argv = [\"/bin/echo\", \"bye\"]\n";

/// The `text` of each `line` event of step `step`.
fn lines_of(events: &[common::server::Sse], step: &str) -> Vec<String> {
    events.iter().filter(|e| e.event == "line" && e.data["data"]["step"] == step).map(|e| e.data["data"]["text"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_runs_events_stream_live_in_order_and_resume_after_a_disconnect() {
    let p = Project::new(LINES);
    let (viewer, operator) = (token(&p, "dash", "viewer"), token(&p, "ci", "operator"));
    let server = Server::start(&p);
    let (status, started) = server.json("POST", "/api/v1/pipelines/talk/runs", &operator, None);
    assert_eq!(status, 202, "{started}");
    let run = started["run_id"].as_i64().unwrap();
    assert_eq!(started["events"], format!("/api/v1/runs/{run}/events"));

    assert_eq!(server.events("bosun_nope", run, None).status, 401, "the stream needs a token like every route");
    let mut first = server.events(&viewer, run, None);
    assert_eq!(first.status, 200, "{}", first.head);
    assert!(first.head.to_ascii_lowercase().contains("content-type: text/event-stream"), "{}", first.head);
    let mut seen = Vec::new();
    // Live: the first lines arrive while the command still runs.
    while lines_of(&seen, "count").len() < 2 {
        seen.push(first.next_event().expect("the stream goes on while the run does"));
    }
    let (_, shown) = server.json("GET", &format!("/api/v1/runs/{run}"), &viewer, None);
    assert_eq!(shown["run"]["outcome"], "running", "two lines came before the command ended: {shown}");
    drop(first);

    let last_id: i64 = seen.last().unwrap().id.as_deref().unwrap().parse().unwrap();
    let mut resumed = server.events(&viewer, run, Some(last_id));
    assert_eq!(resumed.status, 200);
    while let Some(event) = resumed.next_event() {
        seen.push(event);
    }
    let ids: Vec<i64> = seen.iter().map(|e| e.id.as_deref().unwrap().parse().unwrap()).collect();
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>(), "every event once, in order, across the reconnect");
    let expected: Vec<String> = (1..=6).map(|i| format!("line {i}")).chain(["/bin/sh -c 'for i in 1 2 3 4 5 6; do echo line $i; sleep 0.3; done': exit 0".to_string()]).collect();
    assert_eq!(lines_of(&seen, "count"), expected);
    assert_eq!(lines_of(&seen, "bye"), ["bye", "/bin/echo bye: exit 0"]);
    let kinds: Vec<&str> = seen.iter().filter(|e| e.event != "line").map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, ["started", "ended", "started", "ended", "finished"]);
    assert_eq!(seen.last().unwrap().data["data"]["outcome"], "succeeded");

    // The run has ended and nothing is left to send: 204 stops a browser's reconnecting.
    assert_eq!(server.events(&viewer, run, Some(*ids.last().unwrap())).status, 204);
    let (status, _, body) = server.send("GET", &format!("/api/v1/runs/{run}/events"), &[("Authorization", &format!("Bearer {viewer}")), ("Last-Event-ID", "x")], b"");
    assert_eq!(status, 400, "{body}");
    assert_eq!(server.events(&viewer, 9999, None).status, 404);
}

#[test]
fn deploy_rollback_status_and_metrics_over_http() {
    support::require_engine();
    let d = support::deploys::Deploys::new("serve-deploy", "");
    d.image("1.0", &[]);
    d.image("2.0", &[]);
    let p = &d.project;
    let (viewer, operator) = (token(p, "dash", "viewer"), token(p, "ci", "operator"));
    let server = Server::start(p);

    let (status, refused) = server.json("POST", "/api/v1/services/web/deploy", &viewer, Some(r#"{"version": "1.0"}"#));
    assert_eq!((status, refused["detail"].as_str()), (403, Some("this needs the operator role; token dash has viewer")));
    let (status, missing) = server.json("POST", "/api/v1/services/nope/deploy", &operator, Some(r#"{"version": "1.0"}"#));
    assert_eq!(status, 404, "{missing}");
    assert!(missing["detail"].as_str().unwrap().starts_with("no service called nope"), "{missing}");
    let (status, bad) = server.json("POST", "/api/v1/services/web/deploy", &operator, Some(r#"{"versoin": "1.0"}"#));
    assert_eq!(status, 400);
    assert!(bad["detail"].as_str().unwrap().contains("unknown field `versoin`"), "{bad}");

    for version in ["1.0", "2.0"] {
        let (status, started) = server.json("POST", "/api/v1/services/web/deploy", &operator, Some(&format!(r#"{{"version": "{version}", "message": "over http"}}"#)));
        assert_eq!(status, 202, "{started}");
        let shown = server.outcome(&viewer, started["run_id"].as_i64().unwrap(), "succeeded");
        assert_eq!(shown["steps"][0]["outputs"]["version"], version, "{shown}");
        assert_eq!(shown["run"]["who"], "token ci");
    }
    let (_, releases) = server.json("GET", "/api/v1/releases?service=web", &viewer, None);
    assert!(releases.as_array().unwrap().iter().all(|r| r["who"] == "token ci"), "the release names the token that asked: {releases}");
    let (_, status) = server.json("GET", "/api/v1/status", &viewer, None);
    let web = &status["services"][0];
    assert_eq!((web["name"].as_str(), web["current"]["version"].as_str(), web["container"]["state"].as_str()), (Some("web"), Some("2.0"), Some("running")), "{status}");
    assert_eq!(web["light"], "green", "{status}");

    // Hosts are passed as data too: one the service does not run on is refused by name.
    let (_, started) = server.json("POST", "/api/v1/services/web/deploy", &operator, Some(r#"{"version": "2.0", "hosts": ["${{ env.HOME }}"]}"#));
    let shown = server.outcome(&viewer, started["run_id"].as_i64().unwrap(), "failed");
    let summary = shown["steps"][0]["summary"].as_str().unwrap();
    assert!(summary.contains("--hosts: web does not run on a host called ${{ env.HOME }}; it runs on: local"), "{summary}");

    let (status, started) = server.json("POST", "/api/v1/services/web/rollback", &operator, Some(r#"{"message": "2.0 is slow", "hosts": ["local"]}"#));
    assert_eq!(status, 202, "{started}");
    server.outcome(&viewer, started["run_id"].as_i64().unwrap(), "succeeded");
    let (_, releases) = server.json("GET", "/api/v1/releases?service=web", &viewer, None);
    let newest = releases.as_array().unwrap().last().unwrap();
    assert_eq!((newest["kind"].as_str(), newest["version"].as_str(), newest["note"].as_str()), (Some("rollback"), Some("1.0"), Some("2.0 is slow")), "{releases}");

    // A version is data: an expression in it is never evaluated.
    let (_, started) = server.json("POST", "/api/v1/services/web/deploy", &operator, Some(r#"{"version": "${{ env.HOME }}"}"#));
    let shown = server.outcome(&viewer, started["run_id"].as_i64().unwrap(), "failed");
    let summary = shown["steps"][0]["summary"].as_str().unwrap();
    assert!(summary.contains("${{ env.HOME }}") && !summary.contains(&std::env::var("HOME").unwrap()), "{summary}");

    let (status, _, text) = server.request("GET", "/metrics", Some(&viewer), None);
    assert_eq!(status, 200, "{text}");
    let samples = common::prometheus::Samples::parse(&text);
    let sample = |name: &str, labels: &[(&str, &str)]| samples.value(name, labels);
    assert_eq!(sample("bosun_release_current", &[("service", "web"), ("version", "1.0")]), Some(1.0), "{text}");
    assert_eq!(sample("bosun_releases_total", &[("service", "web"), ("kind", "deploy"), ("outcome", "succeeded")]), Some(2.0), "{text}");
    assert_eq!(sample("bosun_releases_total", &[("service", "web"), ("kind", "rollback"), ("outcome", "succeeded")]), Some(1.0), "{text}");
    assert_eq!(sample("bosun_pipeline_run_duration_seconds_count", &[("pipeline", "task:deploy"), ("outcome", "succeeded")]), Some(2.0), "{text}");
    assert_eq!(server.request("GET", "/metrics", None, None).0, 401);

    // The same overview on the command line; a stopped container turns it red (exit 1).
    let shown = p.bosun(&["status"]);
    let text = common::project::stdout(&shown);
    assert!(shown.status.success() && text.contains("green  service web: 1.0 (release") && text.contains("running"), "{text}");
    let container = newest["container_name"].as_str().unwrap();
    assert!(std::process::Command::new("docker").args(["stop", "-t", "1", container]).output().unwrap().status.success());
    let red = p.bosun(&["status"]);
    let text = common::project::stdout(&red);
    assert_eq!(red.status.code(), Some(1), "{text}");
    assert!(text.contains("red    service web") && text.contains(&format!("container {container} is exited")), "{text}");
}

#[test]
fn backups_run_and_verify_over_http_and_only_recorded_ones() {
    let p = Project::new("");
    let dir = p.path();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/a.txt"), "a").unwrap();
    let config = format!(
        "[backups.data]\nstrategy = \"dir-archive\"\ndest = \"{d}/backups\"\npaths = [\"{d}/data\"]\n\n[plugins.dir-archive.grant]\nfs = [\"ro:{d}/data\"]\n",
        d = dir.display()
    );
    std::fs::write(dir.join("bosun.toml"), config).unwrap();
    let (viewer, operator) = (token(&p, "dash", "viewer"), token(&p, "ci", "operator"));
    let server = Server::start(&p);
    assert_eq!(server.json("POST", "/api/v1/backups", &viewer, Some(r#"{"set": "data"}"#)).0, 403);
    let (status, problem) = server.json("POST", "/api/v1/backups", &operator, Some(r#"{"set": "nope"}"#));
    assert_eq!(status, 404, "{problem}");
    assert!(problem["detail"].as_str().unwrap().starts_with("no backup set called nope"), "{problem}");
    assert_eq!(server.json("POST", "/api/v1/backups", &operator, None).0, 400, "a set must be named");

    let (status, started) = server.json("POST", "/api/v1/backups", &operator, Some(r#"{"set": "data"}"#));
    assert_eq!(status, 202, "{started}");
    let shown = server.outcome(&viewer, started["run_id"].as_i64().unwrap(), "succeeded");
    let id = shown["steps"][0]["outputs"]["id"].as_str().unwrap().to_string();
    let (status, backup) = server.json("GET", &format!("/api/v1/backups/{id}"), &viewer, None);
    assert_eq!((status, backup["set"].as_str()), (200, Some("data")), "{backup}");

    let (status, started) = server.json("POST", &format!("/api/v1/backups/{id}/verify"), &operator, Some(r#"{"restore_test": true}"#));
    assert_eq!(status, 202, "{started}");
    server.outcome(&viewer, started["run_id"].as_i64().unwrap(), "succeeded");
    let (_, backup) = server.json("GET", &format!("/api/v1/backups/{id}"), &viewer, None);
    assert!(backup["verified_at"].is_i64(), "{backup}");
    let (status, _, text) = server.request("GET", "/metrics", Some(&viewer), None);
    assert_eq!(status, 200, "{text}");
    let samples = common::prometheus::Samples::parse(&text);
    assert!(samples.value("bosun_backup_last_size_bytes", &[("set", "data")]).is_some_and(|b| b > 0.0), "{text}");
    assert_eq!(samples.value("bosun_runs_total", &[("operation", "backup"), ("outcome", "succeeded")]), Some(1.0), "{text}");
    assert!(samples.value("bosun_plugin_call_duration_seconds_count", &[("plugin", "dir-archive"), ("kind", "backup-strategy"), ("outcome", "ok")]).is_some_and(|n| n >= 1.0), "the backup's plugin ran in this serve: {text}");

    // The CLI verifies a directory too; over HTTP only a recorded id is taken.
    let backups_dir = format!("{}/backups", dir.display()).replace('/', "%2F");
    for junk in ["..%2F..%2Fetc", "nope", backups_dir.as_str()] {
        let (status, _, body) = server.request("POST", &format!("/api/v1/backups/{junk}/verify"), Some(&operator), None);
        assert_eq!(status, 404, "{junk}: {body}");
        assert_eq!(server.request("GET", &format!("/api/v1/backups/{junk}"), Some(&viewer), None).0, 404, "{junk}");
    }
}

const SECRET: &str = "a-long-shared-secret-for-tests";

fn hooked() -> Project {
    Project::new(&format!(
        "[pipelines.ship.inputs.version]\n\n[[pipelines.ship.steps]]\nid = \"say\"\nuses = \"command\"\nwith.argv = [\"/bin/echo\", \"${{{{ inputs.version }}}}\"]\n\n\
         [triggers.github]\npipeline = \"ship\"\nsignature = \"github\"\nsecret = \"${{HOOK_SECRET}}\"\nif = \"payload.ref_type == 'tag'\"\ninputs.version = \"${{{{ payload.ref }}}}\"\n\n\
         [triggers.gitlab]\npipeline = \"ship\"\nsignature = \"gitlab\"\nsecret = \"{SECRET}\"\ninputs.version = \"${{{{ payload.ref }}}}\"\n\n\
         [triggers.plain]\npipeline = \"ship\"\nsignature = \"hmac\"\nsecret = \"{SECRET}\"\ninputs.version = \"${{{{ payload.version }}}}\"\n"
    ))
}

fn signed(body: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[test]
fn webhooks_start_a_pipeline_only_when_signed_and_only_once() {
    let p = hooked();
    let made = p.command(&["token", "create", "root", "--role", "admin", "--json"]).env("HOOK_SECRET", SECRET).output().unwrap();
    let admin = serde_json::from_slice::<Value>(&made.stdout).unwrap_or_default()["token"].as_str().unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&made.stderr))).to_string();
    let server = Server::start_env(&p, &[("HOOK_SECRET", SECRET)]);
    let tag = r#"{"ref": "v1.4", "ref_type": "tag"}"#;
    let post = |hook: &str, headers: &[(&str, &str)], body: &str| server.send("POST", &format!("/hooks/{hook}"), headers, body.as_bytes());

    let (status, _, body) = post("github", &[("X-GitHub-Delivery", "d-1")], tag);
    assert_eq!(status, 401, "unsigned: {body}");
    assert!(body.contains("no x-hub-signature-256 header"), "{body}");
    let (status, _, body) = post("github", &[("X-Hub-Signature-256", &signed("{}")), ("X-GitHub-Delivery", "d-1")], tag);
    assert_eq!(status, 401, "signed over another body: {body}");
    let (status, _, body) = post("github", &[("X-Hub-Signature-256", &signed(tag)), ("X-GitHub-Delivery", "d-1")], tag);
    assert_eq!(status, 202, "{body}");
    let run = serde_json::from_str::<Value>(&body).unwrap()["run_id"].as_i64().unwrap();
    let shown = server.outcome(&admin, run, "succeeded");
    assert_eq!((shown["steps"][0]["outputs"]["stdout"].as_str(), shown["run"]["who"].as_str()), (Some("v1.4"), Some("trigger github")), "{shown}");
    let (status, _, body) = post("github", &[("X-Hub-Signature-256", &signed(tag)), ("X-GitHub-Delivery", "d-1")], tag);
    assert_eq!(status, 409, "the same delivery again is a replay: {body}");
    let branch = r#"{"ref": "main", "ref_type": "branch"}"#;
    let (status, _, body) = post("github", &[("X-Hub-Signature-256", &signed(branch)), ("X-GitHub-Delivery", "d-2")], branch);
    assert_eq!(status, 200, "a push that is no tag is taken and ignored: {body}");
    assert!(body.contains("ignored"), "{body}");

    // What a delivery carries is data: an expression in it is never evaluated.
    let sly = r#"{"ref": "${{ env.HOOK_SECRET }}", "ref_type": "tag"}"#;
    let (status, _, body) = post("github", &[("X-Hub-Signature-256", &signed(sly)), ("X-GitHub-Delivery", "d-3")], sly);
    assert_eq!(status, 202, "{body}");
    let shown = server.outcome(&admin, serde_json::from_str::<Value>(&body).unwrap()["run_id"].as_i64().unwrap(), "succeeded");
    assert_eq!(shown["steps"][0]["outputs"]["stdout"], "${{ env.HOOK_SECRET }}", "{shown}");

    let (status, _, body) = post("gitlab", &[("X-Gitlab-Token", "wrong"), ("X-Gitlab-Event-UUID", "g-1")], tag);
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = post("gitlab", &[("X-Gitlab-Token", SECRET), ("X-Gitlab-Event-UUID", "g-1")], tag);
    assert_eq!(status, 202, "{body}");
    let (status, _, body) = post("gitlab", &[("X-Gitlab-Token", SECRET)], tag);
    assert_eq!(status, 400, "without a delivery id a replay cannot be told apart: {body}");

    let plain = r#"{"version": "2.0"}"#;
    let (status, _, body) = post("plain", &[("X-Bosun-Signature", &signed(plain)), ("X-Bosun-Delivery", "p-1")], plain);
    assert_eq!(status, 202, "{body}");
    let (status, _, body) = post("plain", &[("X-Bosun-Signature", &signed("not json")), ("X-Bosun-Delivery", "p-2")], "not json");
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = post("plain", &[("X-Bosun-Signature", &signed(plain)), ("X-Bosun-Delivery", "p-2")], plain);
    assert_eq!(status, 202, "a delivery refused as not JSON was not taken: sent again, fixed, it runs: {body}");
    assert_eq!(post("nope", &[], "{}").0, 404);

    let (_, entries) = server.json("GET", "/api/v1/audit", &admin, None);
    let webhook: Vec<&Value> = entries.as_array().unwrap().iter().filter(|e| e["via"] == "webhook").collect();
    assert!(webhook.iter().any(|e| e["who"] == "trigger github" && e["outcome"] == format!("accepted: run {run}")), "{entries}");
    assert!(!entries.to_string().contains(SECRET), "the secret is never recorded");
}

#[test]
fn bad_signatures_count_as_failed_credentials() {
    let p = hooked();
    let server = Server::start_env(&p, &[("HOOK_SECRET", SECRET)]);
    for n in 0..10 {
        let delivery = format!("d-{n}");
        assert_eq!(server.send("POST", "/hooks/github", &[("X-Hub-Signature-256", "sha256=00"), ("X-GitHub-Delivery", &delivery)], b"{}").0, 401);
    }
    let tag = r#"{"ref": "v1", "ref_type": "tag"}"#;
    let (status, _, body) = server.send("POST", "/hooks/github", &[("X-Hub-Signature-256", &signed(tag)), ("X-GitHub-Delivery", "d-ok")], tag.as_bytes());
    assert_eq!(status, 429, "{body}");
}

#[test]
fn plugins_and_the_limits_on_a_request() {
    let p = Project::new("[serve]\nbody_limit = \"1k\"\n\n[pipelines.p.inputs.word]\ndefault = \"x\"\n\n[[pipelines.p.steps]]\nid = \"say\"\nuses = \"command\"\nwith.argv = [\"/bin/echo\"]\n");
    let (viewer, operator) = (token(&p, "dash", "viewer"), token(&p, "ci", "operator"));
    let server = Server::start(&p);
    let (status, plugins) = server.json("GET", "/api/v1/plugins", &viewer, None);
    assert_eq!(status, 200);
    assert!(plugins.as_array().unwrap().iter().any(|p| p["name"] == "http" && p["source"] == "built-in"), "{plugins}");
    let (status, http) = server.json("GET", "/api/v1/plugins/http", &viewer, None);
    assert_eq!((status, http["manifest"]["kind"].as_str()), (200, Some("smoke-check")), "{http}");
    for junk in ["nope", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd"] {
        assert_eq!(server.request("GET", &format!("/api/v1/plugins/{junk}"), Some(&viewer), None).0, 404, "{junk}");
    }

    let big = format!(r#"{{"inputs": {{"word": "{}"}}}}"#, "x".repeat(2048));
    let (status, kind, body) = server.request("POST", "/api/v1/pipelines/p/runs", Some(&operator), Some(&big));
    assert_eq!((status, kind.as_str()), (413, "application/problem+json"), "{body}");
    assert!(body.contains("serve.body_limit"), "{body}");
    let (status, problem) = server.json("POST", "/api/v1/pipelines/p/runs", &operator, Some(r#"{"inputs": {}, "extra": 1}"#));
    assert_eq!(status, 400);
    assert!(problem["detail"].as_str().unwrap().contains("unknown field `extra`"), "{problem}");
    let (status, pipeline) = server.json("GET", "/api/v1/pipelines/p", &viewer, None);
    assert_eq!((status, pipeline["inputs"]["word"]["default"].as_str()), (200, Some("x")), "{pipeline}");
    assert_eq!(server.json("GET", "/api/v1/pipelines/nope", &viewer, None).0, 404);
    let (status, problem) = server.json("GET", "/api/v1/runs?outcome=great", &viewer, None);
    assert_eq!(status, 400, "{problem}");

    let (_, started) = server.json("POST", "/api/v1/pipelines/p/runs", &operator, None);
    server.outcome(&viewer, started["run_id"].as_i64().unwrap(), "succeeded");
    let (_, listed) = server.json("GET", "/api/v1/runs?operation=pipeline&target=p&outcome=succeeded", &viewer, None);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let (_, none) = server.json("GET", "/api/v1/runs?operation=backup", &viewer, None);
    assert_eq!(none, serde_json::json!([]));
}

/// A small deterministic generator: the fuzz below is the same every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.next() as usize % from.len()]
    }

    fn bytes(&mut self, most: usize) -> Vec<u8> {
        let n = self.next() as usize % (most + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn random_requests_to_every_route_never_get_a_500() {
    let p = Project::new(
        "[serve]\nbody_limit = \"4k\"\n\n[pipelines.p.inputs.word]\ndefault = \"x\"\n\n[[pipelines.p.steps]]\nid = \"say\"\nuses = \"command\"\nwith.argv = [\"/bin/echo\", \"${{ inputs.word }}\"]\n\n\
         [services.web]\nimage = \"bosun-test/never-built\"\n\n[triggers.t]\npipeline = \"p\"\nsignature = \"hmac\"\nsecret = \"a-long-shared-secret-for-tests\"\n",
    );
    let tokens = [token(&p, "dash", "viewer"), token(&p, "ci", "operator"), token(&p, "root", "admin")];
    let server = Server::start(&p);
    let paths = [
        "/healthz", "/metrics", "/api/v1/pipelines", "/api/v1/pipelines/p", "/api/v1/pipelines/p/runs", "/api/v1/pipelines/%00/runs", "/api/v1/runs", "/api/v1/runs/1",
        "/api/v1/runs/-1", "/api/v1/runs/99999999999999999999", "/api/v1/runs/1/events", "/api/v1/runs/1/cancel", "/api/v1/runs/1/approve", "/api/v1/runs/1/reject",
        "/api/v1/releases", "/api/v1/releases?service=%2e%2e", "/api/v1/services/web/deploy", "/api/v1/services/web/rollback", "/api/v1/services/..%2f/deploy",
        "/api/v1/backups", "/api/v1/backups/x", "/api/v1/backups/..%2F..%2Fetc/verify", "/api/v1/locks", "/api/v1/locks/web", "/api/v1/checks", "/api/v1/checks/results",
        "/api/v1/checks/run", "/api/v1/images/required", "/api/v1/plugins", "/api/v1/plugins/http", "/api/v1/plugins/%2e%2e", "/api/v1/status", "/api/v1/tokens",
        "/api/v1/audit", "/api/v1/audit?since=-99999999999999999999", "/api/v1/runs?limit=-1", "/hooks/t", "/hooks/%ff", "/nowhere",
    ];
    let bodies: [&[u8]; 8] = [b"", b"{}", b"null", b"[]", b"{\"inputs\": {\"word\": 1}}", b"{\"version\": {\"a\": []}}", b"{\"set\": \"\\u0000\"}", b"{\"names\": [\"\"]}"];
    let mut random = Lcg(24);
    for _ in 0..400 {
        let path = random.pick(&paths);
        let method = random.pick(&["GET", "POST", "DELETE", "PUT", "PATCH"]);
        let body = match random.next() % 3 {
            0 => random.bytes(64),
            1 => bodies[random.next() as usize % bodies.len()].to_vec(),
            _ => random.bytes(6000),
        };
        let auth = match random.next() % 4 {
            3 => "Bearer".to_string(),
            n => format!("Bearer {}", tokens[n as usize]),
        };
        let junk = String::from_utf8_lossy(&random.bytes(20)).replace(['\r', '\n'], "");
        let extra = random.pick(&["Last-Event-ID", "Content-Type", "X-Bosun-Signature", "X-Bosun-Delivery", "Accept"]);
        let (status, head, answer) = server.send(method, path, &[("Authorization", &auth), (extra, &junk)], &body);
        assert!(status != 0 && status < 500, "{method} {path} with {extra}: {junk:?} and {} body bytes: {head}\n{answer}", body.len());
    }
    assert_eq!(server.request("GET", "/healthz", None, None).0, 200, "still serving");
}

#[test]
fn the_openapi_document_matches_the_routes_and_its_reference_page_works_offline() {
    let p = Project::new(LINES);
    let (viewer, operator) = (token(&p, "dash", "viewer"), token(&p, "ci", "operator"));
    let server = Server::start(&p);
    assert_eq!(server.request("GET", "/api/v1/openapi.json", None, None).0, 401);
    let (status, document) = server.json("GET", "/api/v1/openapi.json", &viewer, None);
    assert_eq!(status, 200);
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"), "{}", document["openapi"]);
    let paths = document["paths"].as_object().unwrap();
    for expected in ["/api/v1/pipelines/{name}/runs", "/api/v1/runs/{id}/events", "/api/v1/services/{service}/rollback", "/api/v1/backups/{id}/verify", "/api/v1/status", "/metrics", "/hooks/{name}"] {
        assert!(paths.contains_key(expected), "{expected} is documented");
    }
    let (status, kind, page) = server.request("GET", "/api/docs", Some(&viewer), None);
    assert_eq!((status, kind.starts_with("text/html")), (200, true), "{kind}");
    for path in paths.keys() {
        assert!(page.contains(path.as_str()), "the page shows {path}");
    }
    assert!(page.contains("needs operator") && page.contains("ProblemDocument"), "roles and schemas are shown");
    assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("href=\"http"), "nothing is fetched from elsewhere");
    // Every route refuses the role below the one it documents, naming it.
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let concrete = path.replace("{name}", "p").replace("{id}", "1").replace("{service}", "web");
            let (below, name) = match operation["security"][0]["token"][0].as_str() {
                Some("operator") => (&viewer, "dash"),
                Some("admin") => (&operator, "ci"),
                _ => continue,
            };
            let role = operation["security"][0]["token"][0].as_str().unwrap();
            let (status, _, body) = server.request(&method.to_uppercase(), &concrete, Some(below), Some("{}"));
            assert_eq!(status, 403, "{method} {concrete}: {body}");
            assert!(body.contains(&format!("this needs the {role} role; token {name} has")), "{method} {concrete}: {body}");
        }
    }
    let mut secured = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let concrete = path.replace("{name}", "p").replace("{id}", "1").replace("{service}", "web");
            let Some(role) = operation["security"][0]["token"][0].as_str() else {
                assert_eq!(path, "/hooks/{name}", "only webhooks go without a token");
                continue;
            };
            assert!(["viewer", "operator", "admin"].contains(&role), "{method} {path}: {role}");
            for status in ["401", "403", "429"] {
                assert!(operation["responses"][status].is_object(), "{method} {path} documents {status}");
            }
            // The document and the router agree: the route exists and wants a
            // token (429 once this client has failed ten times: also not the fallback's 404).
            let (status, _, body) = server.request(&method.to_uppercase(), &concrete, None, None);
            assert!(status == 401 || status == 429, "{method} {concrete}: {status} {body}");
            secured += 1;
        }
    }
    assert!(secured >= 29, "{secured} operations");
}

/// A self-signed certificate for 127.0.0.1 named `name`: (cert PEM, key PEM, cert DER).
fn certificate(name: &str) -> (String, String, Vec<u8>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem(), cert.der().to_vec())
}

/// GET /healthz over TLS trusting only `trusted`: the body, and the certificate the server showed.
fn https_healthz(addr: &str, trusted: &[&[u8]]) -> Result<(String, Vec<u8>), String> {
    use std::io::{Read, Write};
    use std::sync::Arc;
    let mut roots = rustls::RootCertStore::empty();
    for der in trusted {
        roots.add(rustls::pki_types::CertificateDer::from(der.to_vec())).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider())).with_safe_default_protocol_versions().unwrap().with_root_certificates(roots).with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let tcp = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    tls.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer);
    let shown = tls.conn.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec()).ok_or("no certificate")?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    Ok((answer.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or(answer), shown))
}

#[test]
fn https_serves_its_certificate_and_rereads_it_on_sighup() {
    let p = Project::new("[serve]\ntls = { cert = \"cert.pem\", key = \"key.pem\" }\n");
    let dir = p.path();
    let (first_pem, first_key, first_der) = certificate("first");
    let (second_pem, second_key, second_der) = certificate("second");
    std::fs::write(dir.join("cert.pem"), &first_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &first_key).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = p.command(&["serve", "--listen", &addr]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let trusted = [first_der.as_slice(), second_der.as_slice()];
    let wait_for = |wanted: &[u8]| {
        let started = std::time::Instant::now();
        loop {
            match https_healthz(&addr, &trusted) {
                Ok((body, shown)) if shown == wanted => return body,
                other => assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", other.map(|(body, _)| body)),
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    assert_eq!(wait_for(&first_der), "ok");
    let plain = std::net::TcpStream::connect(&addr).and_then(|mut s| {
        use std::io::{Read, Write};
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        Ok(answer)
    });
    assert!(!String::from_utf8_lossy(&plain.unwrap_or_default()).contains("200 OK"), "no plain HTTP on an HTTPS listener");

    std::fs::write(dir.join("cert.pem"), &second_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &second_key).unwrap();
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    assert_eq!(wait_for(&second_der), "ok", "the renewed certificate, without a restart");

    std::fs::write(dir.join("cert.pem"), "not a certificate").unwrap();
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(https_healthz(&addr, &trusted).map(|(body, shown)| (body, shown == second_der)), Ok(("ok".to_string(), true)), "a bad file keeps the certificate read before");
    let _ = child.kill();
    let mut printed = String::new();
    let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut printed);
    let _ = child.wait();
    assert!(printed.contains("listening on https://") && printed.contains("still serving the certificate read before"), "{printed}");
}

#[test]
fn serving_goes_on_while_a_run_goes_on_and_a_client_reads_its_events_slowly() {
    let p = Project::new("[[pipelines.long.steps]]\nid = \"talk\"\nuses = \"command\"\nwith.argv = [\"/bin/sh\", \"-c\", \"while true; do echo a line that fills a slow reader; sleep 0.01; done\"]\n");
    let operator = token(&p, "ci", "operator");
    let server = Server::start(&p);
    let (_, started) = server.json("POST", "/api/v1/pipelines/long/runs", &operator, None);
    let run = started["run_id"].as_i64().unwrap();
    // Opened and never read: its socket fills while the run writes lines.
    let slow = server.events(&operator, run, None);
    assert_eq!(slow.status, 200);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let began = std::time::Instant::now();
    for _ in 0..50 {
        assert_eq!(server.request("GET", "/api/v1/runs?limit=5", Some(&operator), None).0, 200);
    }
    assert!(began.elapsed() < std::time::Duration::from_secs(10), "50 requests took {:?}", began.elapsed());
    let (status, cancelled) = server.json("POST", &format!("/api/v1/runs/{run}/cancel"), &operator, None);
    assert_eq!(status, 202, "{cancelled}");
    server.outcome(&operator, run, "cancelled");
    drop(slow);
}

#[test]
fn locks_schedules_check_results_and_images_over_http() {
    support::require_engine();
    let up = common::recorder::Recorder::start(200, "ok");
    let p = Project::new(&format!(
        "[services.web]\nimage = \"bosun-test/never-built\"\nversion = \"1.0\"\n\n[checks.home]\nplugin = \"http\"\nurl = \"{u}/\"\n\n[plugins.http]\ngrant.http = [\"{u}\"]\n\n\
         [alerts.home-failing]\nwhen = \"check failing 2\"\n\n\
         [pipelines.nightly]\nschedule = \"0 3 * * *\"\ntimezone = \"UTC\"\n\n[[pipelines.nightly.steps]]\nid = \"say\"\nuses = \"command\"\nwith.argv = [\"/bin/true\"]\n",
        u = up.url
    ));
    let (viewer, operator, admin) = (token(&p, "dash", "viewer"), token(&p, "ci", "operator"), token(&p, "root", "admin"));
    let state = bosun::state::State::open(&p.path().join(".bosun")).unwrap();
    state.acquire_lock("web@prod", std::process::id(), "1.0", "by hand").unwrap();
    drop(state);
    let server = Server::start(&p);

    let (_, locks) = server.json("GET", "/api/v1/locks", &viewer, None);
    assert_eq!(locks[0]["scope"], "web@prod", "{locks}");
    let (status, released) = server.json("DELETE", "/api/v1/locks/web", &admin, None);
    assert_eq!(status, 200, "{released}");
    assert_eq!(released["released"]["message"], "by hand");
    let (status, problem) = server.json("DELETE", "/api/v1/locks/web", &admin, None);
    assert_eq!((status, problem["detail"].as_str()), (404, Some("web@prod is not locked")));
    assert_eq!(server.json("DELETE", "/api/v1/locks/nope", &admin, None).0, 404);

    let (_, schedules) = server.json("GET", "/api/v1/schedules", &viewer, None);
    assert_eq!((schedules[0]["pipeline"].as_str(), schedules[0]["timezone"].as_str()), (Some("nightly"), Some("UTC")), "{schedules}");
    assert!(schedules[0]["next"].as_str().unwrap().contains("03:00:00"), "{schedules}");

    assert_eq!(server.json("GET", "/api/v1/checks/results", &viewer, None).1, serde_json::json!([]));
    assert_eq!(server.json("POST", "/api/v1/checks/run", &operator, None).1["passed"], true);
    let (_, results) = server.json("GET", "/api/v1/checks/results", &viewer, None);
    assert_eq!((results[0]["check"].as_str(), results[0]["passed"].as_bool()), (Some("home"), Some(true)), "{results}");
    let (_, listed) = server.json("GET", "/api/v1/checks", &viewer, None);
    assert_eq!(listed["checks"][0]["last"]["passed"], true, "{listed}");

    let (status, silence) = server.json("POST", "/api/v1/alerts/silences", &operator, Some(r#"{"rule": "home-failing", "for": "2h", "message": "new login page"}"#));
    assert_eq!(status, 200, "{silence}");
    assert_eq!((silence["rule"].as_str(), silence["by"].as_str()), (Some("home-failing"), Some("token ci")), "{silence}");
    let (_, alerts) = server.json("GET", "/api/v1/alerts", &viewer, None);
    assert_eq!((alerts["firing"].clone(), alerts["silences"][0]["why"].as_str()), (serde_json::json!([]), Some("new login page")), "{alerts}");
    let (status, problem) = server.json("POST", "/api/v1/alerts/silences", &operator, Some(r#"{"rule": "nope", "for": "2h", "message": "x"}"#));
    assert!(status == 400 && problem["detail"].as_str().unwrap().contains("no alert rule called nope"), "{problem}");
    let path = format!("/api/v1/alerts/silences/{}", silence["id"]);
    assert_eq!(server.json("DELETE", &path, &operator, None).0, 200);
    assert_eq!(server.json("DELETE", &path, &operator, None).0, 400, "ended already");
    assert_eq!(server.json("GET", "/api/v1/alerts", &viewer, None).1["silences"], serde_json::json!([]));

    let (status, required) = server.json("GET", "/api/v1/images/required", &viewer, None);
    assert_eq!(status, 200, "{required}");
    assert_eq!((required[0]["image"].as_str(), required[0]["present"].as_bool()), (Some("bosun-test/never-built:1.0"), Some(false)), "{required}");
    let (status, checked) = server.json("GET", "/api/v1/images/check", &viewer, None);
    assert_eq!(status, 200, "{checked}");
    assert!(checked.as_array().unwrap().iter().all(|c| c["image"].is_string()), "{checked}");
}
