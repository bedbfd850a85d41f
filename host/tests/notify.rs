//! Notifications as users configure them: channels in bosun.toml, the real
//! `bosun` binary and the compiled `chat` and `webhook` plugins, with a
//! recording HTTP server on loopback standing in for each chat service.
//! Requests are checked against what each service documents, signatures
//! included.

use crate::{common, support};

use base64::Engine as _;
use common::project::{Project, stderr, stdout};
use common::recorder::{Recorded, Recorder};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

const ROBOT_OK: &str = r#"{"errcode":0,"errmsg":"ok"}"#;

fn hmac_base64(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `bosun notify test <channel> --json` → (exit code, the deliveries: one per chat).
fn notify_test(project: &Project, channel: &str) -> (Option<i32>, Vec<Value>) {
    let out = project.bosun(&["notify", "test", channel, "--json"]);
    let deliveries = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("no JSON: {} {}", stdout(&out), stderr(&out)));
    (out.status.code(), deliveries)
}

fn only(requests: Vec<Recorded>) -> Recorded {
    assert_eq!(requests.len(), 1, "{requests:?}");
    requests.into_iter().next().unwrap()
}

#[test]
fn each_chat_service_gets_the_request_it_documents() {
    let dingtalk = Recorder::start(200, ROBOT_OK);
    let feishu = Recorder::start(200, r#"{"code":0,"msg":"success"}"#);
    let wecom = Recorder::start(200, ROBOT_OK);
    let telegram = Recorder::start(200, r#"{"ok":true}"#);
    let slack = Recorder::start(200, "ok");
    let discord = Recorder::start(204, "");
    let webhook = Recorder::start(200, "thanks");
    let config = format!(
        "[project]\nname = \"shop\"\n\n\
         [notify.ding]\nurl = \"dingtalk://DTOKEN?secret=${{DING_SECRET}}\"\nendpoint = \"{}\"\ntitle = \"[{{{{env}}}}] {{{{title}}}}\"\n\n\
         [notify.fei]\nurl_file = \"feishu.url\"\nendpoint = \"{}\"\n\n\
         [notify.we]\nurl = \"wecom://WKEY\"\nendpoint = \"{}\"\n\n\
         [notify.tg]\nurl = \"telegram://123:ABC@telegram?chats=@ops,42\"\nendpoint = \"{}\"\n\n\
         [notify.sl]\nurl = \"slack://T1/B2/X3\"\nendpoint = \"{}\"\n\n\
         [notify.dc]\nurl = \"discord://DTOK@987\"\nendpoint = \"{}\"\n\n\
         [notify.hook]\nurl = \"generic+{}/hooks/bosun\"\n",
        dingtalk.url, feishu.url, wecom.url, telegram.url, slack.url, discord.url, webhook.url
    );
    let project = Project::new(&config);
    project.write("feishu.url", b"feishu://FTOKEN?secret=FSECRET\n");
    // The DingTalk secret comes from the environment.
    let run = |channel: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bosun"))
            .args(["notify", "test", channel, "--json"])
            .current_dir(project.dir.path())
            .env("DING_SECRET", "DSECRET")
            .output()
            .unwrap();
        assert!(out.status.success(), "{channel}: {} {}", stdout(&out), stderr(&out));
        let deliveries: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert!(deliveries.iter().all(|d| d["ok"] == true), "{deliveries:?}");
        assert!(!stderr(&out).contains("DSECRET") && !stdout(&out).contains("DSECRET"), "secrets never printed");
        deliveries.into_iter().next().unwrap()
    };

    let answered = run("ding");
    assert_eq!(answered["answer"], format!("HTTP 200: {ROBOT_OK}"));
    let ding = only(dingtalk.requests());
    assert_eq!(ding.method, "POST");
    assert!(ding.uri.starts_with("/robot/send?access_token=DTOKEN&timestamp="), "{}", ding.uri);
    let timestamp = ding.query("timestamp").unwrap();
    assert_eq!(ding.query("sign").unwrap(), hmac_base64(b"DSECRET", format!("{timestamp}\nDSECRET").as_bytes()), "DingTalk: HMAC-SHA256 of timestamp\\nsecret");
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert!((now_ms - timestamp.parse::<i64>().unwrap()).abs() < 60_000, "a millisecond timestamp of now");
    assert_eq!(ding.header("content-type"), Some("application/json"));
    let body = ding.json();
    assert_eq!(body["msgtype"], "markdown");
    assert_eq!(body["markdown"]["title"], "[prod] bosun test message for shop", "the channel's title template");
    assert!(body["markdown"]["text"].as_str().unwrap().contains("Channel ding of shop (prod) works."));

    run("fei");
    let fei = only(feishu.requests());
    assert_eq!(fei.uri, "/open-apis/bot/v2/hook/FTOKEN");
    let body = fei.json();
    let seconds = body["timestamp"].as_str().unwrap();
    assert_eq!(body["sign"], hmac_base64(format!("{seconds}\nFSECRET").as_bytes(), b""), "Feishu: HMAC-SHA256 keyed by timestamp\\nsecret");
    assert_eq!(body["msg_type"], "text");
    assert!(body["content"]["text"].as_str().unwrap().starts_with("bosun test message for shop\n"));

    run("we");
    let we = only(wecom.requests());
    assert_eq!(we.uri, "/cgi-bin/webhook/send?key=WKEY");
    assert_eq!(we.json()["msgtype"], "markdown");

    run("tg");
    let tg = telegram.requests();
    assert_eq!(tg.len(), 2, "one message per chat");
    assert!(tg.iter().all(|r| r.uri == "/bot123:ABC/sendMessage"));
    let mut chats: Vec<String> = tg.iter().map(|r| r.json()["chat_id"].as_str().unwrap().to_string()).collect();
    chats.sort();
    assert_eq!(chats, ["42", "@ops"]);

    run("sl");
    let sl = only(slack.requests());
    assert_eq!(sl.uri, "/services/T1/B2/X3");
    assert!(sl.json()["text"].as_str().unwrap().starts_with("*bosun test message for shop*"));

    run("dc");
    let dc = only(discord.requests());
    assert_eq!(dc.uri, "/api/webhooks/987/DTOK");
    assert!(dc.json()["content"].as_str().unwrap().starts_with("**bosun test message for shop**"));

    run("hook");
    let hook = only(webhook.requests());
    assert_eq!(hook.uri, "/hooks/bosun");
    let body = hook.json();
    assert_eq!((body["kind"].as_str(), body["severity"].as_str()), (Some("test.message"), Some("info")));
    assert_eq!(body["facts"]["channel"], "hook");
}

#[test]
fn a_refusing_service_is_retried_then_reported() {
    let robot = Recorder::start(200, r#"{"errcode":310000,"errmsg":"sign not match"}"#);
    let project = Project::new(&format!("[notify.ding]\nurl = \"dingtalk://T?secret=S\"\nendpoint = \"{}\"\n", robot.url));
    let (code, deliveries) = notify_test(&project, "ding");
    let delivery = &deliveries[0];
    assert_eq!(code, Some(1));
    assert_eq!(delivery["ok"], false);
    assert_eq!(delivery["attempts"], 3);
    assert!(delivery["error"].as_str().unwrap().contains("sign not match"), "{delivery}");
    assert_eq!(robot.requests().len(), 3);
    let out = project.bosun(&["notify", "test", "ding"]);
    assert!(stdout(&out).contains("notifying ding failed after 3 attempt(s)"), "{}", stdout(&out));
}

#[test]
fn bad_channels_are_refused_at_load() {
    let cases = [
        ("url = \"dingtalk://\"", "notify.x.url: dingtalk:// URL has no token; write dingtalk://TOKEN or dingtalk://TOKEN?secret=SECRET"),
        ("url = \"gopher://x\"", "notify.x.url: unknown scheme gopher://"),
        ("url = \"telegram://t@telegram\"", "URL has no chats"),
        ("url = \"slack://${BOSUN_TEST_UNSET_VAR}\"", "${BOSUN_TEST_UNSET_VAR} but that environment variable is not set"),
        ("url = \"wecom://K\"\nbody = \"{{servce}} down\"", "notify.x.body: unknown placeholder {{servce}}"),
        ("url = \"wecom://K\"\non = [\"deploy.[\"]", "notify.x.on: `deploy.[` is not an event-kind pattern"),
        ("url = \"generic+https://h/x\"\njson = { a = { b = \"{{sevrice}}\" } }", "notify.x.json.a.b: unknown placeholder {{sevrice}}"),
        ("url = \"wecom://K\"\njson = { text = \"{{title}}\" }", "notify.x.json: a JSON body is for webhook channels"),
    ];
    for (table, expected) in cases {
        let project = Project::new(&format!("[notify.x]\n{table}\n"));
        let out = project.bosun(&["notify", "test", "x"]);
        assert_eq!(out.status.code(), Some(2), "{table}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("bosun.toml:") && err.contains(expected), "{table}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn deploys_notify_subscribed_channels_and_a_dead_channel_fails_nothing() {
    support::require_engine();
    let failures = Recorder::start(200, "ok");
    let everything = Recorder::start(200, "ok");
    let d = support::deploys::Deploys::new("notify-deploy", "health_timeout = \"20s\"");
    d.image("1.0", &[]);
    d.image("2.0-bad", &[("HEALTH", "fail")]);
    let dead = format!("http://127.0.0.1:{}", support::deploys::free_port());
    d.configure_with(
        "health_timeout = \"20s\"",
        &format!(
            "[notify.oncall]\nurl = \"generic+{}/failures\"\non = [\"deploy.failed\", \"rollback.*\"]\n\n\
             [notify.log]\nurl = \"generic+{}/all\"\n\n\
             [notify.dead]\nurl = \"generic+{dead}/nobody\"\non = [\"deploy.succeeded\"]\n",
            failures.url, everything.url
        ),
    );
    let out = d.bosun(&["deploy", "web", "1.0", "-m", "first"]);
    assert!(out.status.success(), "a dead channel does not fail the deploy: {}", stderr(&out));
    let out = d.bosun(&["deploy", "web", "2.0-bad"]);
    assert_eq!(out.status.code(), Some(1));

    let kinds = |r: &Recorder| r.requests().iter().map(|q| q.json()["kind"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(kinds(&failures), ["deploy.failed"]);
    let mut all = kinds(&everything);
    all.sort();
    assert_eq!(all, ["deploy.failed", "deploy.started", "deploy.started", "deploy.succeeded"]);
    let failed = failures.requests()[0].json();
    assert_eq!(failed["facts"]["service"], "web");
    assert_eq!(failed["facts"]["version"], "2.0-bad");
    assert!(failed["facts"]["error"].as_str().unwrap().contains("unhealthy"), "{failed}");
    assert_eq!(failed["severity"], "failure");

    let releases = d.releases();
    let state = rusqlite::Connection::open(d.project.dir.path().join(".bosun/state.db")).unwrap();
    let log: String = state.query_row("SELECT log FROM runs WHERE id = ?1", [releases[0]["run_id"].as_i64().unwrap()], |r| r.get(0)).unwrap();
    assert!(log.contains("deploy.succeeded: notifying dead failed after 3 attempt(s)"), "the run record shows the failed notification: {log}");
    assert!(log.contains("deploy.succeeded: notified log: HTTP 200"), "{log}");
}

#[test]
fn email_goes_through_a_real_smtp_conversation() {
    let sink = common::smtp::SmtpSink::start();
    let project = Project::new(&format!(
        "[project]\nname = \"shop\"\n\n[notify.mail]\nurl = \"smtp://127.0.0.1:{}/?from=bosun@shop.example&to=ops@shop.example,oncall@shop.example&tls=none\"\nbody = \"{{{{body}}}} (env {{{{env}}}})\"\n",
        sink.port
    ));
    let (code, deliveries) = notify_test(&project, "mail");
    assert_eq!(code, Some(0), "{deliveries:?}");
    assert!(deliveries[0]["answer"].as_str().unwrap().starts_with("SMTP 250"), "{deliveries:?}");
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].from, "bosun@shop.example");
    assert_eq!(mails[0].to, ["ops@shop.example", "oncall@shop.example"]);
    assert!(mails[0].data.contains("Subject: bosun test message for shop"), "{}", mails[0].data);
    assert!(mails[0].data.contains("Channel mail of shop (prod) works. (env prod)"), "{}", mails[0].data);

    // STARTTLS is the default: a server that does not offer it gets nothing.
    let plain = Project::new(&format!("[notify.mail]\nurl = \"smtp://127.0.0.1:{}/?from=a@b.example&to=c@d.example\"\n", sink.port));
    let (code, deliveries) = notify_test(&plain, "mail");
    assert_eq!(code, Some(1), "{deliveries:?}");
    assert_eq!(sink.mails().len(), 1, "nothing sent without TLS");
}

#[test]
fn a_failed_check_is_notified_with_the_checks_that_failed_and_a_link_to_the_run() {
    let site = Recorder::start(404, "not here");
    let ops = Recorder::start(200, "ok");
    let project = Project::new(&format!(
        "[project]\nruns_url = \"https://ops.example/bosun/runs/{{{{run}}}}\"\n\n\
         [checks.home]\nplugin = \"http\"\nurl = \"{site}/\"\nconditions = [\"[STATUS] == 200\"]\n\n\
         [plugins.http]\ngrant.http = [\"{site}\"]\n\n\
         [notify.ops]\nurl = \"generic+{ops}/checks\"\non = [\"check.*\"]\n\n\
         [notify.hook]\nurl = \"generic+{ops}/custom\"\non = [\"check.failed\"]\n\
         json = {{ text = \"{{{{title}}}} ({{{{env}}}})\", retries = 0, labels = {{ checks = [\"{{{{checks}}}}\"] }} }}\n",
        site = site.url,
        ops = ops.url
    ));
    let out = project.bosun(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let requests = ops.requests();
    let to = |path: &str| requests.iter().filter(|r| r.uri == path).map(|r| r.json()).collect::<Vec<Value>>();
    let mut kinds: Vec<String> = to("/checks").iter().map(|n| n["kind"].as_str().unwrap().to_string()).collect();
    kinds.sort();
    assert_eq!(kinds, ["check.failed", "check.started"], "a channel on check.* hears the start too");
    assert_eq!(to("/custom"), [serde_json::json!({"text": "1 of 1 check(s) failed: home (prod)", "retries": 0, "labels": {"checks": ["home"]}})], "the channel's own JSON body");
    let notice = to("/checks").into_iter().find(|n| n["kind"] == "check.failed").unwrap();
    assert_eq!(notice["facts"]["checks"], "home");
    assert!(notice["body"].as_str().unwrap().contains("[STATUS] == 200 (actual: 404)"), "{notice}");
    let run = notice["facts"]["run"].as_str().expect("the run's id is a fact");
    assert!(run.parse::<i64>().is_ok(), "{notice}");
    assert_eq!(notice["link"], format!("https://ops.example/bosun/runs/{run}"), "{notice}");

    // The run the link names: listed, and shown with the delivery in its log.
    let listed: Value = serde_json::from_slice(&project.bosun(&["runs", "--json"]).stdout).unwrap();
    assert_eq!((listed[0]["id"].to_string(), &listed[0]["operation"], &listed[0]["outcome"]), (run.to_string(), &Value::from("check"), &Value::from("failed")), "{listed}");
    let shown = project.bosun(&["runs", run]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let text = stdout(&shown);
    assert!(text.contains(" check home  failed  ") && text.contains("check.failed: notified ops: "), "the run and how notifying went: {text}");
    let missing = project.bosun(&["runs", "999999"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no run 999999 in this project's state; `bosun runs` lists the recent ones"), "{}", stderr(&missing));
}

/// A plugin's own event (`notify.emit`) reaches the channels subscribed to
/// it, within the plugin's `grant.notify`; one outside it is refused.
#[test]
fn a_plugin_event_reaches_the_channels_subscribed_to_it() {
    let hook = Recorder::start(200, "thanks");
    let project = Project::new(&format!(
        "[checks.disk]\nplugin = \"hostile-limits\"\nmode = \"emit\"\nkind = \"disk.warning\"\n\n\
         [checks.other]\nplugin = \"hostile-limits\"\nmode = \"emit\"\nkind = \"other.warning\"\n\n\
         [plugins.hostile-limits]\ngrant.notify = [\"disk.*\"]\n\n\
         [notify.ops]\nurl = \"generic+{}/hooks/bosun\"\non = [\"disk.*\"]\n",
        hook.url
    ));
    let wasm = project.write("hostile-limits.wasm", &common::test_plugin("hostile-limits"));
    assert!(project.bosun(&["plugin", "install", &wasm, "--yes"]).status.success());

    let out = project.bosun(&["check", "disk"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let sent = only(hook.requests()).json();
    assert_eq!((sent["kind"].as_str(), sent["title"].as_str()), (Some("disk.warning"), Some("disk almost full")), "{sent}");
    assert_eq!((sent["facts"]["disk"].as_str(), sent["facts"]["plugin"].as_str()), (Some("/srv"), Some("hostile-limits")), "{sent}");
    // run-context.run-id is the state store's id of the check's run.
    let runs: Vec<Value> = serde_json::from_slice(&project.bosun(&["runs", "--json"]).stdout).unwrap();
    assert_eq!(sent["facts"]["run-id"].as_str(), Some(runs[0]["id"].to_string().as_str()), "{sent}");
    assert_eq!(sent["facts"]["run"], sent["facts"]["run-id"], "and the notice is the run's: {sent}");

    let out = project.bosun(&["check", "other"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("denied notify.emit other.warning"), "{}", stdout(&out));
    assert_eq!(hook.requests().len(), 1, "nothing more sent for a refused event");
}
