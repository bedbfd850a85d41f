//! `bosun serve`'s HTTP API over real HTTP on loopback: the real binary, a
//! real state store, tokens made with `bosun token create`.

use crate::common;

use std::time::{Duration, Instant};

use common::project::{Project, stderr, stdout};
use common::server::{Server, token};
use serde_json::Value;

const PIPELINE: &str = "[pipelines.p.inputs.word]\ndefault = \"hi\"\n\n[[pipelines.p.steps]]\nid = \"say\"\nuses = \"command\"\nwith.argv = [\"/bin/echo\", \"${{ inputs.word }}\"]\n";

#[test]
fn every_route_needs_a_token_with_the_role_it_names() {
    let p = Project::new(PIPELINE);
    let (viewer, operator, admin) = (token(&p, "dash", "viewer"), token(&p, "ci", "operator"), token(&p, "root", "admin"));
    let server = Server::start(&p);

    let (status, kind, body) = server.request("GET", "/api/v1/pipelines", None, None);
    assert_eq!((status, kind.as_str()), (401, "application/problem+json"), "{body}");
    assert!(body.contains("bosun token create"), "{body}");
    assert_eq!(server.request("GET", "/api/v1/pipelines", Some("bosun_0000"), None).0, 401);
    let (status, listed) = server.json("GET", "/api/v1/pipelines", &viewer, None);
    assert_eq!((status, listed[0]["name"].as_str()), (200, Some("p")));

    let (status, refused) = server.json("POST", "/api/v1/pipelines/p/runs", &viewer, None);
    assert_eq!(status, 403);
    assert_eq!(refused["detail"], "this needs the operator role; token dash has viewer");

    let (status, started) = server.json("POST", "/api/v1/pipelines/p/runs", &operator, Some(r#"{"inputs": {"word": "from-the-api"}}"#));
    assert_eq!(status, 202, "{started}");
    let run = started["run_id"].as_i64().unwrap();
    let started_at = Instant::now();
    let shown = loop {
        let (_, shown) = server.json("GET", &format!("/api/v1/runs/{run}"), &viewer, None);
        if shown["run"]["outcome"] == "succeeded" {
            break shown;
        }
        assert!(started_at.elapsed() < Duration::from_secs(30), "{shown}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(shown["run"]["who"], "token ci", "the run says which token started it");
    assert_eq!(shown["steps"][0]["outputs"]["stdout"], "from-the-api");
    let (_, runs) = server.json("GET", "/api/v1/runs?limit=5", &viewer, None);
    assert_eq!(runs[0]["id"].as_i64(), Some(run));

    assert_eq!(server.json("GET", "/api/v1/tokens", &operator, None).0, 403);
    let (status, tokens) = server.json("GET", "/api/v1/tokens", &admin, None);
    assert_eq!(status, 200);
    assert_eq!(tokens.as_array().unwrap().len(), 3);
    let text = tokens.to_string();
    assert!(!text.contains("bosun_") && !text.contains("hash"), "no token or hash is ever shown: {text}");
    assert!(tokens.as_array().unwrap().iter().any(|t| t["name"] == "ci" && t["last_used_at"].is_i64()), "{text}");

    let revoked = p.bosun(&["token", "revoke", "ci"]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    assert_eq!(server.request("POST", "/api/v1/pipelines/p/runs", Some(&operator), None).0, 401, "a revoked token is refused at once");
    let listed = stdout(&p.bosun(&["token", "list"]));
    assert!(listed.contains("REVOKED") && !listed.contains("bosun_"), "{listed}");
}

#[test]
fn bad_requests_get_a_problem_with_the_cli_message() {
    let p = Project::new(PIPELINE);
    let operator = token(&p, "ci", "operator");
    let server = Server::start(&p);
    let (status, problem) = server.json("POST", "/api/v1/pipelines/nope/runs", &operator, None);
    assert_eq!((status, problem["detail"].as_str()), (404, Some("no pipeline called nope; GET /api/v1/pipelines lists them")));
    let (status, problem) = server.json("POST", "/api/v1/pipelines/p/runs", &operator, Some(r#"{"inputs": {"wrod": "x"}}"#));
    assert_eq!(status, 400);
    assert_eq!(problem["detail"], "pipeline p has no input `wrod`; it takes word");
    let (status, problem) = server.json("POST", "/api/v1/pipelines/p/runs", &operator, Some(r#"{"input": {}}"#));
    assert_eq!(status, 400);
    assert!(problem["detail"].as_str().unwrap().contains("unknown field `input`"), "{problem}");
    let (status, problem) = server.json("POST", "/api/v1/pipelines/p/runs", &operator, Some("{not json"));
    assert_eq!(status, 400, "{problem}");
    for path in ["/api/v1/runs/abc", "/api/v1/runs/..%2F..%2Fetc%2Fpasswd", "/api/v1/runs/999", "/etc/passwd"] {
        let (status, kind, body) = server.request("GET", path, Some(&operator), None);
        assert_eq!((status, kind.as_str()), (404, "application/problem+json"), "{path}: {body}");
    }
    let (status, kind, body) = server.request("GET", "/api/v1/runs?limit=lots", Some(&operator), None);
    assert_eq!((status, kind.as_str()), (400, "application/problem+json"), "{body}");
    assert!(body.contains("the query string") && body.contains("limit"), "{body}");
    let (status, _, body) = server.request("GET", "/api/v1/runs?limt=5", Some(&operator), None);
    assert_eq!(status, 400);
    assert!(body.contains("unknown field `limt`"), "{body}");
}

#[test]
fn changes_through_the_cli_and_the_api_are_in_the_audit_log() {
    let p = Project::new(PIPELINE);
    let (operator, admin) = (token(&p, "ci", "operator"), token(&p, "root", "admin"));
    assert!(p.bosun(&["run", "p", "word=local"]).status.success());
    assert!(p.bosun(&["run", "p", "--dry-run"]).status.success(), "a dry run changes nothing: not audited");
    assert_eq!(p.bosun(&["run", "p", "nope=1"]).status.code(), Some(2));
    let server = Server::start(&p);
    let (status, started) = server.json("POST", "/api/v1/pipelines/p/runs", &operator, None);
    assert_eq!(status, 202, "{started}");
    assert_eq!(server.json("POST", "/api/v1/pipelines/p/runs", &operator, Some(r#"{"inputs": {"x": "1"}}"#)).0, 400);
    assert_eq!(server.json("GET", "/api/v1/audit", &operator, None).0, 403);
    let (status, entries) = server.json("GET", "/api/v1/audit", &admin, None);
    assert_eq!(status, 200);
    let seen: Vec<(String, String, String)> =
        entries.as_array().unwrap().iter().map(|e| (e["via"].as_str().unwrap().into(), e["action"].as_str().unwrap().into(), e["outcome"].as_str().unwrap().into())).collect();
    let expected_api = format!("accepted: run {}", started["run_id"]);
    assert!(seen.contains(&("cli".into(), "token create ci --role operator".into(), "ok".into())), "{seen:?}");
    assert!(seen.contains(&("cli".into(), "run p word=local".into(), "ok".into())), "{seen:?}");
    assert!(!seen.iter().any(|(_, action, _)| action == "run p nope=1"), "a command refused as bad input changed nothing: {seen:?}");
    assert!(!seen.iter().any(|(_, action, _)| action.contains("--dry-run")), "{seen:?}");
    assert!(seen.contains(&("api".into(), "POST /api/v1/pipelines/p/runs".into(), expected_api)), "{seen:?}");
    assert!(entries.as_array().unwrap().iter().any(|e| e["who"] == "token ci" && e["source"] == "127.0.0.1"), "{entries}");
    let text = stdout(&p.bosun(&["audit"]));
    assert!(text.contains("api  token ci") && text.contains("POST /api/v1/pipelines/p/runs"), "{text}");
    assert!(!text.contains("bosun_"), "no token in the log: {text}");
}

#[test]
fn a_client_guessing_tokens_is_refused_for_a_while() {
    let p = Project::new(PIPELINE);
    let viewer = token(&p, "dash", "viewer");
    let server = Server::start(&p);
    for guess in 0..10 {
        assert_eq!(server.request("GET", "/api/v1/runs", Some(&format!("bosun_{guess:064}")), None).0, 401);
    }
    let (status, _, body) = server.request("GET", "/api/v1/runs", Some(&viewer), None);
    assert_eq!(status, 429, "even a good token waits once the address guessed too often: {body}");
    assert!(body.contains("too many failed credentials from 127.0.0.1; wait a minute"), "{body}");
}

#[test]
fn read_routes_answer_viewers_and_checks_run_for_operators() {
    use common::recorder::Recorder;
    let up = Recorder::start(200, "ok");
    let down = Recorder::start(503, "no");
    let p = Project::new("");
    let dir = p.path();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/a.txt"), "a").unwrap();
    let config = format!(
        "[services.web]\nimage = \"bosun-test/not-pulled\"\n\n\
         [backups.data]\nstrategy = \"dir-archive\"\ndest = \"{d}/backups\"\npaths = [\"{d}/data\"]\n\n[plugins.dir-archive.grant]\nfs = [\"ro:{d}/data\"]\n\n\
         [checks.up]\nplugin = \"http\"\nurl = \"{u}/\"\n\n[checks.down]\nplugin = \"http\"\nurl = \"{w}/\"\n\n[plugins.http]\ngrant.http = [\"{u}\", \"{w}\"]\n",
        d = dir.display(),
        u = up.url,
        w = down.url
    );
    std::fs::write(dir.join("bosun.toml"), config).unwrap();
    assert!(p.bosun(&["backup", "run", "data"]).status.success());
    let (viewer, operator) = (token(&p, "dash", "viewer"), token(&p, "ci", "operator"));
    let server = Server::start(&p);

    let (status, backups) = server.json("GET", "/api/v1/backups?set=data", &viewer, None);
    assert_eq!((status, backups.as_array().map(Vec::len)), (200, Some(1)), "{backups}");
    let (status, problem) = server.json("GET", "/api/v1/backups?set=nope", &viewer, None);
    assert_eq!(status, 404, "{problem}");
    assert_eq!(server.json("GET", "/api/v1/releases?service=web", &viewer, None), (200, serde_json::json!([])));
    assert_eq!(server.json("GET", "/api/v1/releases?service=nope", &viewer, None).0, 404);
    assert_eq!(server.json("GET", "/api/v1/locks", &viewer, None), (200, serde_json::json!([])));
    let (_, checks) = server.json("GET", "/api/v1/checks", &viewer, None);
    assert_eq!(checks["checks"].as_array().unwrap().len(), 2, "{checks}");
    assert_eq!(server.request("GET", "/api/v1/backups", None, None).0, 401);

    assert_eq!(server.json("POST", "/api/v1/checks/run", &viewer, None).0, 403);
    let (status, passed) = server.json("POST", "/api/v1/checks/run", &operator, Some(r#"{"names": ["up"]}"#));
    assert_eq!((status, passed["passed"].as_bool()), (200, Some(true)), "{passed}");
    let (status, failed) = server.json("POST", "/api/v1/checks/run", &operator, Some(r#"{"names": ["up", "down"]}"#));
    assert_eq!((status, failed["passed"].as_bool()), (200, Some(false)), "{failed}");
    assert_eq!(failed["reports"].as_array().unwrap().len(), 2);
    let (status, problem) = server.json("POST", "/api/v1/checks/run", &operator, Some(r#"{"names": ["ghost"]}"#));
    assert_eq!(status, 400);
    assert!(problem["detail"].as_str().unwrap().starts_with("no check or suite called ghost"), "{problem}");
    assert_eq!((down.requests().len(), up.requests().len()), (1, 2));
}

const LONG: &str = "[[pipelines.long.steps]]\nid = \"sleep\"\nuses = \"command\"\nwith.argv = [\"/bin/sleep\", \"60\"]\n\n[[pipelines.long.steps]]\nid = \"after\"\nuses = \"command\"\nneeds = [\"sleep\"]\nwith.argv = [\"/bin/true\"]\n";

#[test]
fn a_run_started_here_can_be_cancelled_here() {
    let p = Project::new(LONG);
    let operator = token(&p, "ci", "operator");
    let server = Server::start(&p);
    let (_, started) = server.json("POST", "/api/v1/pipelines/long/runs", &operator, None);
    let run = started["run_id"].as_i64().unwrap();
    server.outcome(&operator, run, "running");
    let (status, cancelled) = server.json("POST", &format!("/api/v1/runs/{run}/cancel"), &operator, None);
    assert_eq!(status, 202, "{cancelled}");
    let shown = server.outcome(&operator, run, "cancelled");
    assert_eq!((shown["steps"][0]["state"].as_str(), shown["steps"][1]["state"].as_str()), (Some("cancelled"), Some("pending")), "{shown}");
    let (status, problem) = server.json("POST", &format!("/api/v1/runs/{run}/cancel"), &operator, None);
    assert_eq!(status, 404, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("is not running in this bosun serve"), "{problem}");
}

#[test]
fn sigterm_stops_serving_and_cancels_what_outlives_the_grace() {
    let p = Project::new(LONG);
    let operator = token(&p, "ci", "operator");
    let mut server = Server::start_with(&p, &["--grace", "1s"]);
    let (_, started) = server.json("POST", "/api/v1/pipelines/long/runs", &operator, None);
    let run = started["run_id"].as_i64().unwrap();
    server.outcome(&operator, run, "running");
    let asked = Instant::now();
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    let status = server.child.wait().unwrap();
    assert!(status.success(), "serve ends cleanly: {status:?}");
    assert!(asked.elapsed() < Duration::from_secs(20), "{:?}", asked.elapsed());
    let mut printed = String::new();
    std::io::Read::read_to_string(server.child.stderr.as_mut().unwrap(), &mut printed).unwrap();
    assert!(printed.contains("1 run(s) get 1.0s to end") && printed.contains("cancelling 1 run(s)"), "{printed}");
    let shown: Value = serde_json::from_slice(&p.bosun(&["runs", &run.to_string(), "--json"]).stdout).unwrap();
    assert_eq!(shown["run"]["outcome"], "cancelled", "recorded as cancelled, not left running: {shown}");
}

#[test]
fn an_approval_can_be_given_over_http_and_names_the_token() {
    let p = Project::new(
        "[[pipelines.gated.steps]]\nid = \"ok\"\nuses = \"approve\"\n\n[[pipelines.gated.steps]]\nid = \"go\"\nuses = \"command\"\nneeds = [\"ok\"]\nwith.argv = [\"/bin/echo\", \"${{ steps.ok.outputs.approved_by }}\"]\n",
    );
    let (viewer, operator) = (token(&p, "dash", "viewer"), token(&p, "lead", "operator"));
    let server = Server::start(&p);
    let (_, started) = server.json("POST", "/api/v1/pipelines/gated/runs", &operator, None);
    let run = started["run_id"].as_i64().unwrap();
    server.outcome(&operator, run, "waiting");
    assert_eq!(server.json("POST", &format!("/api/v1/runs/{run}/approve"), &viewer, None).0, 403);
    let (status, decided) = server.json("POST", &format!("/api/v1/runs/{run}/approve"), &operator, Some(r#"{"message": "looks right"}"#));
    assert_eq!(status, 200, "{decided}");
    let shown = server.outcome(&operator, run, "succeeded");
    assert_eq!(shown["steps"][1]["outputs"]["stdout"], "token lead", "{shown}");
    assert!(shown["steps"][0]["summary"].as_str().unwrap().starts_with("approved by token lead at "), "{shown}");
    let (status, problem) = server.json("POST", &format!("/api/v1/runs/{run}/reject"), &operator, None);
    assert_eq!(status, 409, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("waits for no approval"), "{problem}");
}
