//! `bosun check` as users run it: suites, the concurrency limit and the
//! Markdown report, with the compiled `http` plugin against loopback servers.

use crate::{common, support};

use common::project::{Project, stderr, stdout};
use common::recorder::Recorder;

fn project(ok: &Recorder, missing: &Recorder) -> Project {
    Project::new(&format!(
        "[checks.home]\nplugin = \"http\"\nurl = \"{ok}/\"\nconditions = [\"[STATUS] == 200\"]\n\n\
         [checks.assets]\nplugin = \"http\"\nurl = \"{missing}/app.mjs\"\nconditions = [\"[STATUS] == 200\"]\n\n\
         [checks.api]\nplugin = \"http\"\nurl = \"{ok}/api\"\nconditions = [\"[STATUS] == 200\"]\n\n\
         [suites]\nsmoke = [\"home\", \"assets\"]\n\n\
         [plugins.http]\ngrant.http = [\"{ok}\", \"{missing}\"]\n",
        ok = ok.url,
        missing = missing.url
    ))
}

#[test]
fn suites_expand_and_reports_keep_their_order() {
    let (ok, missing) = (Recorder::start(200, "fine"), Recorder::start(404, "nope"));
    let p = project(&ok, &missing);
    let out = p.bosun(&["check", "smoke", "api", "--json", "--jobs", "1"]);
    assert_eq!(out.status.code(), Some(1), "one check fails: {}", stderr(&out));
    let reports: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<(&str, bool)> = reports.iter().map(|r| (r["name"].as_str().unwrap(), r["passed"].as_bool().unwrap())).collect();
    assert_eq!(names, [("home", true), ("assets", false), ("api", true)]);
    // What a check measured comes back with it, and stays in the run's record.
    assert_eq!((reports[1]["metrics"]["status"].as_str(), reports[1]["metrics"]["body-bytes"].as_str()), (Some("404"), Some("4")), "{}", reports[1]);
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&p.bosun(&["runs", "--json"]).stdout).unwrap();
    let run = p.bosun(&["runs", &runs[0]["id"].to_string()]);
    assert!(stdout(&run).contains("metrics: body-bytes=4 ") && stdout(&run).contains("status=404"), "{}", stdout(&run));

    let out = p.bosun(&["check", "home"]);
    assert!(out.status.success(), "{}", stdout(&out));

    let out = p.bosun(&["check", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no check or suite called nope; checks: api, assets, home; suites: smoke"), "{}", stderr(&out));
}

#[test]
fn the_markdown_report_is_a_table_then_the_failures() {
    let (ok, missing) = (Recorder::start(200, "fine"), Recorder::start(404, "nope"));
    let out = project(&ok, &missing).bosun(&["check", "smoke", "--markdown"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.starts_with("**1 of 2 checks passed**\n\n| | check | plugin | time | result |\n|---|---|---|---|---|\n| ✅ | home | http |"), "{text}");
    assert!(text.contains("| ❌ | assets | http |"), "{text}");
    assert!(text.contains(&format!("\n### ❌ assets\n- **why:** GET {}/app.mjs -> 404 in ", missing.url)), "why it failed, not only what to try: {text}");
    assert!(text.contains("ms; 1 of 1 conditions failed: [STATUS] (404) == 200\n- `✗ [STATUS] == 200 (actual: 404)"), "{text}");
    assert!(text.contains("- **try:** "), "the suggested action: {text}");

    // A login that fails: its answer is why.
    let p = Project::new(&format!(
        "[checks.admin]\nplugin = \"http\"\nurl = \"{u}/me\"\nlogin = {{ url = \"{u}/login\", form = {{ user = \"ops\" }} }}\n\n\
         [plugins.http]\ngrant.http = [\"{u}\"]\n",
        u = missing.url
    ));
    let text = stdout(&p.bosun(&["check", "--markdown"]));
    assert!(text.contains(&format!("\n### ❌ admin\n- **why:** login at {}/login answered 404: nope\n- **try:** ", missing.url)), "{text}");
}

#[test]
fn a_suite_naming_an_unknown_check_is_refused_at_load() {
    let p = Project::new("[checks.home]\nplugin = \"http\"\nurl = \"http://127.0.0.1:1/\"\n\n[suites]\nsmoke = [\"home\", \"login\"]\n");
    let out = p.bosun(&["check", "smoke"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("suites.smoke: no check called login"), "{}", stderr(&out));
}

#[test]
fn the_container_check_sees_a_deployed_service_and_a_crash_loop() {
    support::require_engine();
    let d = support::deploys::Deploys::new("check-container", "");
    d.image("1.0", &[]);
    let looping = support::unique("check-crashloop");
    let _guard = support::ContainerGuard { name: looping.clone() };
    // The loop: the container's command exits at once and the engine restarts it.
    let image = support::test_image();
    support::docker(&["run", "--detach", "--name", &looping, "--label", support::TEST_LABEL, "--restart", "always", "--no-healthcheck", &image, "fail", "1", "boom"]);
    d.configure_with(
        "",
        &format!(
            "[checks.web]\nplugin = \"container\"\nservice = \"web\"\nwindow_ms = 500\n\n\
             [checks.loop]\nplugin = \"container\"\nname = \"{looping}\"\nwindow_ms = 3000\n\n\
             [plugins.container]\ngrant.docker = [\"inspect:*\"]\n"
        ),
    );
    let out = d.bosun(&["check", "web", "--json"]);
    assert_eq!(out.status.code(), Some(1), "nothing deployed yet: {}", stdout(&out));
    let report: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report[0]["summary"].as_str().unwrap().contains("no running container of service web"), "{}", report[0]);

    support::deploys::succeeded(&d.bosun(&["deploy", "web", "1.0"]));
    let out = d.bosun(&["check", "web"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("✓ health == healthy (actual: healthy)"), "{}", stdout(&out));

    let out = d.bosun(&["check", "loop", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let conditions: Vec<&str> = report[0]["conditions"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(conditions.iter().any(|c| c.starts_with("✗ restart count not rising")), "{conditions:?}");
}

#[test]
fn the_process_check_finds_by_command_line_and_port_and_reports_memory() {
    let mut sleeper = std::process::Command::new("sleep").arg("4242.5").spawn().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let p = Project::new(&format!(
        "[checks.sleeper]\nplugin = \"process\"\ncmdline = \"sleep 4242.5\"\n\n\
         [checks.listener]\nplugin = \"process\"\nport = {port}\nmax_rss_mib = 1\n\n\
         [checks.gone]\nplugin = \"process\"\ncmdline = \"no-such-program-*\"\n\n\
         [plugins.process]\ngrant.process = [\"find:*\"]\n"
    ));
    let out = p.bosun(&["check", "--json"]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let reports: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", stderr(&out)));
    let by_name = |n: &str| reports.iter().find(|r| r["name"] == n).unwrap().clone();
    let sleeper_report = by_name("sleeper");
    assert_eq!(sleeper_report["passed"], true, "{sleeper_report}");
    assert!(sleeper_report["summary"].as_str().unwrap().contains(&format!("(pid {}", sleeper.id())), "{sleeper_report}");
    let listener_report = by_name("listener");
    assert_eq!(listener_report["passed"], false, "this test process uses more than 1 MiB: {listener_report}");
    let conditions = listener_report["conditions"].as_array().unwrap();
    assert!(conditions.iter().any(|c| c.as_str().unwrap().starts_with(&format!("✗ pid {} rss <= 1 MiB", std::process::id()))), "{listener_report}");
    let gone = by_name("gone");
    assert_eq!(gone["passed"], false);
    assert!(gone["summary"].as_str().unwrap().starts_with("no process with command line no-such-program-*"), "{gone}");
    assert!(gone["suggestion"].is_string());
    drop(listener);
}

#[test]
fn the_upload_check_names_the_refused_size_and_bisects_the_limit() {
    const LIMIT: usize = 300_000;
    let proxy = Recorder::respond(|r| if r.body.len() > LIMIT { (413, "Request Entity Too Large".into()) } else { (201, "stored".into()) });
    let p = Project::new(&format!(
        "[checks.small]\nplugin = \"upload\"\nurl = \"{u}/upload\"\nsize = \"100k\"\nfield = \"file\"\n\n\
         [checks.big]\nplugin = \"upload\"\nurl = \"{u}/upload\"\nsize = \"1m\"\nbisect = true\n\n\
         [plugins.upload]\ngrant.http = [\"{u}\"]\n",
        u = proxy.url
    ));
    let out = p.bosun(&["check", "--json", "--jobs", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let reports: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let (big, small) = (&reports[0], &reports[1]);
    assert_eq!(small["passed"], true, "{small}");
    let multipart: Vec<_> = proxy.requests().into_iter().filter(|r| r.header("content-type").unwrap().starts_with("multipart/form-data; boundary=")).collect();
    assert_eq!(multipart.len(), 1, "only `small` sends a form");
    assert!(multipart[0].body.contains("name=\"file\"; filename=") && multipart[0].body.len() > 100 * 1024, "the payload is a 100 KiB file field");
    assert_eq!(big["passed"], false);
    let summary = big["summary"].as_str().unwrap();
    assert!(summary.contains("refused with 413 Payload Too Large at 1.0 MiB (1048576 bytes)"), "{summary}");
    let largest: usize = summary.split("the largest accepted is about ").nth(1).and_then(|s| s.split('(').nth(1)).and_then(|s| s.split(' ').next()).unwrap().parse().unwrap();
    assert!(largest <= LIMIT && LIMIT - largest < 1_048_576 >> 11, "bisection lands just under the limit: {largest}");
    assert!(big["suggestion"].as_str().unwrap().contains("client_max_body_size"), "{big}");
}

#[test]
fn login_keeps_the_session_for_follow_ups_and_a_permission_check_expects_a_refusal() {
    use common::recorder::Reply;
    let app = Recorder::respond(|r| {
        let cookie = r.header("cookie").unwrap_or_default().to_string();
        let bearer = r.header("authorization").unwrap_or_default().to_string();
        match (r.method.as_str(), r.uri.as_str()) {
            ("POST", "/login") if r.body == "password=p%40ss+word&user=ops" => {
                Reply { status: 302, headers: vec![("set-cookie", "session=s3cr3t; Path=/; HttpOnly".into())], body: String::new() }
            }
            ("POST", "/api/login") if r.body.contains("\"user\":\"ops\"") => (200, r#"{"data":{"token":"T-42"}}"#.to_string()).into(),
            ("GET", "/me") if cookie == "session=s3cr3t" => (200, r#"{"name":"ops"}"#.to_string()).into(),
            ("GET", "/api/me") if bearer == "Bearer T-42" => (200, r#"{"name":"ops"}"#.to_string()).into(),
            ("GET", "/preview/1") if cookie == "session=s3cr3t" => (200, "preview".to_string()).into(),
            _ => (403, "forbidden".to_string()).into(),
        }
    });
    let p = Project::new(&format!(
        "[checks.form-login]\nplugin = \"http\"\nurl = \"{u}/me\"\nconditions = [\"[STATUS] == 200\", \"[BODY].name == ops\"]\n\
         login = {{ url = \"{u}/login\", form = {{ user = \"ops\", password = \"p@ss word\" }} }}\n\
         follow = [{{ url = \"{u}/preview/1\" }}]\n\n\
         [checks.token-login]\nplugin = \"http\"\nurl = \"{u}/api/me\"\n\
         login = {{ url = \"{u}/api/login\", json = {{ user = \"ops\" }}, token_path = \"data.token\" }}\n\n\
         [checks.no-rights]\nplugin = \"http\"\nurl = \"{u}/me\"\nconditions = [\"[STATUS] == any(401, 403)\"]\n\n\
         [checks.wrong-password]\nplugin = \"http\"\nurl = \"{u}/me\"\nlogin = {{ url = \"{u}/login\", form = {{ user = \"ops\", password = \"nope\" }} }}\n\n\
         [plugins.http]\ngrant.http = [\"{u}\"]\n",
        u = app.url
    ));
    let out = p.bosun(&["check", "--json"]);
    let reports: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", stderr(&out)));
    let by_name = |n: &str| reports.iter().find(|r| r["name"] == n).unwrap().clone();
    let form = by_name("form-login");
    assert_eq!(form["passed"], true, "{form}");
    let conditions: Vec<&str> = form["conditions"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(conditions.iter().any(|c| c.starts_with(&format!("✓ GET {}/preview/1: [STATUS] == 200", app.url))), "the follow-up ran with the session: {conditions:?}");
    assert_eq!(by_name("token-login")["passed"], true, "{}", by_name("token-login"));
    assert_eq!(by_name("no-rights")["passed"], true, "a request without the session is refused: {}", by_name("no-rights"));
    let wrong = by_name("wrong-password");
    assert_eq!(wrong["passed"], false);
    assert!(wrong["summary"].as_str().unwrap().starts_with(&format!("login at {}/login answered 403", app.url)), "{wrong}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn check_settings_take_secrets_from_the_environment() {
    let site = Recorder::respond(|r| if r.header("x-api-key") == Some("k-123") { (200, "ok".to_string()) } else { (401, "who are you".to_string()) });
    let p = Project::new(&format!(
        "[checks.api]\nplugin = \"http\"\nurl = \"{}/\"\nheaders = {{ x-api-key = \"${{BOSUN_TEST_API_KEY}}\" }}\n\n[plugins.http]\ngrant.http = [\"{}\"]\n",
        site.url, site.url
    ));
    let run = |key: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_bosun"));
        command.args(["check", "--json"]).current_dir(p.dir.path()).env_remove("BOSUN_TEST_API_KEY");
        if let Some(key) = key {
            command.env("BOSUN_TEST_API_KEY", key);
        }
        command.output().unwrap()
    };
    let out = run(Some("k-123"));
    assert!(out.status.success(), "{} {}", stdout(&out), stderr(&out));
    assert!(!stdout(&out).contains("k-123"), "the secret is not in the report");
    let out = run(None);
    assert_eq!(out.status.code(), Some(2), "an unset variable is refused at load: {}", stderr(&out));
    assert!(stderr(&out).contains("checks.api: headers.x-api-key: uses ${BOSUN_TEST_API_KEY} but that environment variable is not set"), "{}", stderr(&out));
    assert_eq!(site.requests().len(), 1, "nothing was sent without the key");
}

/// `bosun check --json` parsed, with a lookup by check name.
fn check_all(p: &Project) -> (std::process::Output, Vec<serde_json::Value>) {
    let out = p.bosun(&["check", "--json"]);
    let reports = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{} {}", stdout(&out), stderr(&out)));
    (out, reports)
}

fn by_name<'a>(reports: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    reports.iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("no report for {name}"))
}

#[test]
fn the_tcp_check_tells_open_from_closed_ports_within_its_grant() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let check = |name: &str, host: &str, port: u16, extra: &str| format!("[checks.{name}]\nplugin = \"tcp\"\nhost = \"{host}\"\nport = {port}\n{extra}\n");
    let p = Project::new(&format!(
        "{}{}{}{}[plugins.tcp]\ngrant.net = [\"127.0.0.1:*\"]\n",
        check("db", "127.0.0.1", open, "max_connect_ms = 1000"),
        check("down", "127.0.0.1", closed, ""),
        check("hidden", "127.0.0.1", closed, "open = false"),
        check("exposed", "127.0.0.1", open, "open = false"),
    ));
    let (out, reports) = check_all(&p);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let db = by_name(&reports, "db");
    assert_eq!(db["passed"], true, "{db}");
    assert!(db["summary"].as_str().unwrap().starts_with(&format!("127.0.0.1:{open} open (127.0.0.1:{open}) in ")), "{db}");
    assert_eq!(db["conditions"][0], "✓ [CONNECTED] == true (actual: true)", "{db}");
    let down = by_name(&reports, "down");
    assert_eq!(down["passed"], false, "{down}");
    assert!(down["summary"].as_str().unwrap().starts_with(&format!("connecting to 127.0.0.1:{closed}: connection refused")), "{down}");
    assert!(down["suggestion"].as_str().unwrap().contains("listening on"), "{down}");
    assert_eq!(by_name(&reports, "hidden")["passed"], true, "a port that must stay closed is closed");
    let exposed = by_name(&reports, "exposed");
    assert_eq!((exposed["passed"].as_bool(), exposed["summary"].as_str()), (Some(false), Some(format!("127.0.0.1:{open} is open (127.0.0.1:{open}) but should not be").as_str())));
    // A host outside the grant: a_check_reaching_an_ungranted_host_is_refused_before_any_check_runs.
    drop(listener);
}

#[test]
fn certificate_expiration_is_read_from_the_servers_certificate() {
    let tls = common::tls::TlsServer::start(10);
    let plain = Recorder::start(200, "ok");
    let p = Project::new(&format!(
        "[checks.cert]\nplugin = \"http\"\nurl = \"{tls}/\"\nconditions = [\"[CERTIFICATE_EXPIRATION] > 48h\"]\n\n\
         [checks.cert-month]\nplugin = \"http\"\nurl = \"{tls}/\"\nconditions = [\"[CERTIFICATE_EXPIRATION] > 720h\"]\n\n\
         [checks.plain]\nplugin = \"http\"\nurl = \"{plain}/\"\nconditions = [\"[CERTIFICATE_EXPIRATION] > 48h\"]\n\n\
         [plugins.http]\ngrant.http = [\"{tls}\", \"{plain}\"]\n",
        tls = tls.url,
        plain = plain.url
    ));
    let (_, reports) = check_all(&p);
    assert_eq!(by_name(&reports, "cert")["passed"], true, "{}", by_name(&reports, "cert"));
    let month = by_name(&reports, "cert-month");
    let condition = month["conditions"][0].as_str().unwrap();
    assert!(condition.starts_with("✗ [CERTIFICATE_EXPIRATION] > 720h (actual: 9d"), "the time left, readable: {month}");
    let plain = by_name(&reports, "plain");
    assert_eq!(plain["passed"], false);
    assert_eq!(plain["conditions"][0], "✗ [CERTIFICATE_EXPIRATION] > 48h (actual: 0ms) — [CERTIFICATE_EXPIRATION] (0ms) > 48h", "plain http has no certificate: 0, as in Gatus: {plain}");
}

#[test]
fn redirects_are_followed_unless_ignored_and_a_loop_stops() {
    use common::recorder::Reply;
    let site = Recorder::respond(|r| match r.uri.as_str() {
        "/old" => Reply { status: 301, headers: vec![("location", "/new".into())], body: String::new() },
        "/new" => (200, "moved".to_string()).into(),
        _ => Reply { status: 302, headers: vec![("location", "loop".into())], body: String::new() },
    });
    let p = Project::new(&format!(
        "[checks.moved]\nplugin = \"http\"\nurl = \"{u}/old\"\nconditions = [\"[STATUS] == 200\", \"[BODY] == moved\"]\n\n\
         [checks.kept]\nplugin = \"http\"\nurl = \"{u}/old\"\nignore_redirect = true\nconditions = [\"[STATUS] == 301\", \"[HEADER].location == /new\"]\n\n\
         [checks.loop]\nplugin = \"http\"\nurl = \"{u}/loop\"\n\n\
         [plugins.http]\ngrant.http = [\"{u}\"]\n",
        u = site.url
    ));
    let (_, reports) = check_all(&p);
    let moved = by_name(&reports, "moved");
    assert_eq!(moved["passed"], true, "{moved}");
    assert!(moved["summary"].as_str().unwrap().starts_with(&format!("GET {u}/old -> {u}/new -> 200 in ", u = site.url)), "{moved}");
    assert_eq!(by_name(&reports, "kept")["passed"], true, "{}", by_name(&reports, "kept"));
    let looped = by_name(&reports, "loop");
    assert!(looped["conditions"][0].as_str().unwrap().starts_with("✗ [STATUS] == 200 (actual: 302)"), "{looped}");
    assert_eq!(site.requests().iter().filter(|r| r.uri == "/loop").count(), 11, "the first request and 10 redirects");
}

#[test]
fn https_checks_trust_an_operators_ca_or_an_insecure_origin_and_nothing_else() {
    let tls = common::tls::TlsServer::start(30);
    let project = |tls_settings: &str| {
        let p = Project::new(&format!(
            "[checks.site]\nplugin = \"http\"\nurl = \"{u}/\"\nconditions = [\"[STATUS] == 200\"]\n\n[plugins.http]\ngrant.http = [\"{u}\"]\n{tls_settings}",
            u = tls.url
        ));
        p.write("internal-ca.pem", tls.ca_pem.as_bytes());
        p
    };
    let (_, reports) = check_all(&project(""));
    let refused = by_name(&reports, "site");
    assert_eq!(refused["passed"], false, "a certificate from an unknown CA is refused by default: {refused}");
    assert!(refused["summary"].as_str().unwrap().contains("TLS"), "{refused}");

    let (out, reports) = check_all(&project("tls.ca_files = [\"internal-ca.pem\"]\n"));
    assert_eq!(by_name(&reports, "site")["passed"], true, "the operator's CA is trusted: {} {}", stdout(&out), stderr(&out));

    let (_, reports) = check_all(&project(&format!("tls.insecure = [\"{}\"]\n", tls.url)));
    assert_eq!(by_name(&reports, "site")["passed"], true, "an origin marked insecure is not verified: {}", by_name(&reports, "site"));

    let out = project("tls.ca_files = [\"missing.pem\"]\n").bosun(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("plugins.http.tls: ca_files: ") && stderr(&out).contains("missing.pem: not a readable PEM file"), "{}", stderr(&out));
}

#[test]
fn a_check_that_cannot_run_stops_check_deploy_and_doctor_before_anything_runs() {
    let site = Recorder::start(200, "ok");
    let p = Project::new(&format!(
        "[services.web]\nimage = \"bosun-test/not-pulled\"\nversion = \"1.0\"\nchecks = [\"typo\"]\n\n\
         [checks.home]\nplugin = \"http\"\nurl = \"{u}/\"\n\n\
         [checks.typo]\nplugin = \"http\"\nurl = \"{u}/health\"\nconditions = [\"[STATUS] == 200\", \"[STATUS] === 200\"]\n\n\
         [plugins.http]\ngrant.http = [\"{u}\"]\n",
        u = site.url
    ));
    let expected = "checks.typo: plugin http rejected its configuration: config key `conditions`: condition `[STATUS] === 200`: unexpected `=` after `==`; operators are ==, !=, <, <=, >, >= at column 12";
    let out = p.bosun(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains(expected), "{}", stderr(&out));
    assert!(site.requests().is_empty(), "no check ran, not even the good one");

    let out = p.bosun(&["deploy", "web"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains(&format!("{expected}; nothing was changed")), "{}", stderr(&out));

    let out = p.bosun(&["doctor"]);
    assert!(stdout(&out).contains(&format!("FAIL checks     {expected}")), "{}", stdout(&out));
}

#[test]
fn every_refused_condition_of_every_check_is_reported_at_once() {
    let p = Project::new(
        "[checks.a]\nplugin = \"http\"\nurl = \"http://127.0.0.1:1/\"\nconditions = [\"[STATU] == 200\", \"[STATUS] == 200\", \"[RESPONSE_TIME] < potato\"]\n\n\
         [checks.b]\nplugin = \"http\"\nurl = \"http://127.0.0.1:1/\"\nconditions = [\"1 == 2\"]\n\n\
         [plugins.http]\ngrant.http = [\"http://127.0.0.1:1\"]\n",
    );
    let out = p.bosun(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    for refused in ["checks.a: ", "condition `[STATU] == 200`: unknown placeholder", "; condition `[RESPONSE_TIME] < potato`: `<` compares numbers", "checks.b: ", "condition `1 == 2`: `1 == 2` compares two fixed values"] {
        assert!(err.contains(refused), "{refused}: {err}");
    }
}

#[test]
fn a_check_reaching_an_ungranted_host_is_refused_before_any_check_runs() {
    let (site, other) = (Recorder::start(200, "ok"), Recorder::start(200, "ok"));
    let p = Project::new(&format!(
        "[checks.home]\nplugin = \"http\"\nurl = \"{site}/\"\n\n\
         [checks.elsewhere]\nplugin = \"http\"\nurl = \"{site}/\"\nfollow = [{{ url = \"{other}/next\" }}]\n\n\
         [checks.db]\nplugin = \"tcp\"\nhost = \"127.0.0.1\"\nport = 5432\n\n\
         [plugins.http]\ngrant.http = [\"{site}\"]\n",
        site = site.url,
        other = other.url
    ));
    let out = p.bosun(&["check", "home", "elsewhere"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let expected = format!("checks.elsewhere: plugin http denied http.request GET {other}/next: not granted; to allow it add to bosun.toml: [plugins.http.grant] http = [\"{other}\"]", other = other.url);
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
    assert!(site.requests().is_empty() && other.requests().is_empty(), "no check ran, not even the granted one");

    let out = p.bosun(&["check", "db"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("checks.db: plugin tcp denied net.tcp-connect 127.0.0.1:5432: not granted; to allow it add to bosun.toml: [plugins.tcp.grant] net = [\"127.0.0.1:5432\"]"), "{}", stderr(&out));

    let out = p.bosun(&["check", "home"]);
    assert!(out.status.success(), "the granted check alone runs: {}", stderr(&out));
    assert_eq!(site.requests().len(), 1);
}

#[test]
fn module_scripts_must_be_served_as_javascript() {
    use common::recorder::Reply;
    let site = Recorder::respond(|r| {
        let content_type = if r.uri == "/app.mjs" { "text/javascript; charset=utf-8" } else { "application/octet-stream" };
        Reply { status: 200, headers: vec![("content-type", content_type.into())], body: "export default 1;".into() }
    });
    let check = |name: &str, path: &str| {
        format!("[checks.{name}]\nplugin = \"http\"\nurl = \"{}{path}\"\nconditions = [\"[STATUS] == 200\", \"[HEADER].content-type == pat(*javascript*)\"]\n\n", site.url)
    };
    let p = Project::new(&format!("{}{}[plugins.http]\ngrant.http = [\"{}\"]\n", check("module", "/app.mjs"), check("misconfigured", "/vendor.mjs"), site.url));
    let (_, reports) = check_all(&p);
    assert_eq!(by_name(&reports, "module")["passed"], true, "{}", by_name(&reports, "module"));
    let wrong = by_name(&reports, "misconfigured");
    assert_eq!(wrong["passed"], false);
    assert!(
        wrong["conditions"][1].as_str().unwrap().starts_with("✗ [HEADER].content-type == pat(*javascript*) (actual: application/octet-stream)"),
        "the MIME type the server sent: {wrong}"
    );
}
