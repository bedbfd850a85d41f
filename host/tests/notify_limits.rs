//! Notifications that fit the service and fail honestly: loopback stand-ins
//! for each chat service that refuse an over-long message as the real one
//! does (its limit, counted its way, and its error answer), a permanent
//! refusal tried once, and a channel whose first chat fails.

use crate::common;

use common::project::{Project, stderr, stdout};
use common::recorder::{Recorded, Recorder};
use serde_json::{Value, json};

/// A stand-in for `service` that refuses what the real one refuses for size.
fn enforcing(service: &'static str) -> Recorder {
    Recorder::respond(move |r: &Recorded| {
        let body = r.json();
        let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string();
        match service {
            // https://core.telegram.org/bots/api#sendmessage: 1-4096 characters (UTF-16 units).
            "telegram" if text("/text").encode_utf16().count() > 4096 => {
                (400, json!({"ok": false, "error_code": 400, "description": "Bad Request: message is too long"}).to_string())
            }
            "telegram" => (200, json!({"ok": true, "result": {"message_id": 1}}).to_string()),
            "discord" if text("/content").chars().count() > 2000 => (
                400,
                json!({"message": "Invalid Form Body", "code": 50035, "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}}}).to_string(),
            ),
            "discord" => (204, String::new()),
            // WeCom answers 200 with an error code.
            "wecom" if text("/markdown/content").len() > 4096 => {
                (200, json!({"errcode": 40058, "errmsg": "markdown.content exceed max length 4096. invalid Request Parameter"}).to_string())
            }
            "dingtalk" if r.body.len() > 20_000 => (200, json!({"errcode": 460101, "errmsg": "message too long, exceed 20000 bytes"}).to_string()),
            "wecom" | "dingtalk" => (200, json!({"errcode": 0, "errmsg": "ok"}).to_string()),
            "feishu" if r.body.len() > 20_000 => (200, json!({"code": 9499, "msg": "Bad Request", "data": {}}).to_string()),
            "feishu" => (200, json!({"code": 0, "msg": "success", "data": {}}).to_string()),
            // The real Slack cuts `text` past 40,000 characters and says so in a
            // warning; refusing is stricter, and a cut message would lose its link.
            "slack" if text("/text").chars().count() > 40_000 => (400, "msg_too_long".to_string()),
            "slack" => (200, "ok".to_string()),
            other => panic!("no stand-in for {other}"),
        }
    })
}

/// The message text a chat service got.
fn message_text(service: &str, request: &Recorded) -> String {
    let body = request.json();
    let pointer = match service {
        "telegram" | "slack" => "/text",
        "discord" => "/content",
        "wecom" => "/markdown/content",
        "dingtalk" => "/markdown/text",
        _ => "/content/text",
    };
    body.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("{service}: no text in {body}")).to_string()
}

/// The newest run's id and its record as `bosun runs <id>` shows it.
fn newest_run(project: &Project) -> (i64, String) {
    let listed: Value = serde_json::from_slice(&project.bosun(&["runs", "--json"]).stdout).unwrap();
    let id = listed[0]["id"].as_i64().expect("a run id");
    let shown = project.bosun(&["runs", &id.to_string()]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    (id, stdout(&shown))
}

/// The first and last 300 characters, for a failure message.
fn ends(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let head: String = chars.iter().take(300).collect();
    let tail: String = chars[chars.len().saturating_sub(300)..].iter().collect();
    format!("{head} … {tail}")
}

#[test]
fn a_long_check_failure_fits_each_chat_service_failures_first_with_the_link() {
    const FAILING: usize = 150;
    let site = Recorder::respond(|r: &Recorded| if r.uri.starts_with("/ok") { (200, "fine".to_string()) } else { (404, "gone".to_string()) });
    let services = ["telegram", "discord", "wecom", "dingtalk", "feishu", "slack"];
    let stand_ins: Vec<(&str, Recorder)> = services.iter().map(|&s| (s, enforcing(s))).collect();
    let mut config = String::from("[project]\nruns_url = \"https://ops.example/bosun/runs/{{run}}\"\n\n");
    for i in 0..FAILING {
        // Three passing checks among the failing ones: the message counts them, never lists them.
        if i % 50 == 25 {
            config.push_str(&format!("[checks.fine{i:03}]\nplugin = \"http\"\nurl = \"{}/ok/{i}\"\n\n", site.url));
        }
        config.push_str(&format!("[checks.c{i:03}]\nplugin = \"http\"\nurl = \"{}/page/{i}\"\nconditions = [\"[STATUS] == 200\"]\n\n", site.url));
    }
    config.push_str(&format!("[plugins.http]\ngrant.http = [\"{}\"]\n\n", site.url));
    for (service, stand_in) in &stand_ins {
        let url = match *service {
            "telegram" => "telegram://1:T@telegram?chats=@ops,42",
            "discord" => "discord://DTOK@987",
            "wecom" => "wecom://KEY",
            "dingtalk" => "dingtalk://TOKEN",
            "feishu" => "feishu://TOKEN",
            _ => "slack://T1/B2/X3",
        };
        config.push_str(&format!("[notify.{service}]\nurl = \"{url}\"\nendpoint = \"{}\"\non = [\"check.failed\"]\n\n", stand_in.url));
    }
    let project = Project::new(&config);
    let out = project.bosun(&["check", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let reports: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((reports.len(), reports.iter().filter(|r| r["passed"] == false).count()), (FAILING + 3, FAILING));

    let (run, log) = newest_run(&project);
    assert!(!log.contains("notifying "), "every service took its message: {log}");
    for (service, stand_in) in &stand_ins {
        let requests = stand_in.requests();
        assert_eq!(requests.len(), if *service == "telegram" { 2 } else { 1 }, "{service}: one message per chat, each taken the first time");
        for request in &requests {
            let text = message_text(service, request);
            assert!(text.ends_with(&format!("https://ops.example/bosun/runs/{run}")), "{service}: the link survives: {}", ends(&text));
            assert!(text.contains("150 failed, 3 passed"), "{service}: passing checks are a count: {}", ends(&text));
            assert!(!text.contains("fine0") && !text.contains("PASS"), "{service}: passing checks are not listed");
            let shown = text.matches("FAIL c").count();
            let more: usize = text.split("… and ").nth(1).and_then(|rest| rest.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{service}: no `… and N more`"));
            assert!(shown > 0 && (FAILING - shown - 1..=FAILING - shown).contains(&more), "{service}: {shown} shown, {more} more of {FAILING}");
            assert!(text.find("FAIL c000").unwrap() < text.find("FAIL c001").unwrap(), "{service}: in order");
            assert!(!text.contains('\u{FFFD}'), "{service}: no character cut in half");
        }
    }
    assert!(log.contains("check.failed: notified telegram (chat @ops): HTTP 200") && log.contains("check.failed: notified telegram (chat 42): HTTP 200"), "{log}");
}

#[test]
fn a_permanent_refusal_is_tried_once_and_a_busy_service_again() {
    let refused_once = || {
        let seen = std::sync::atomic::AtomicUsize::new(0);
        Recorder::respond(move |_: &Recorded| match seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => (400, "invalid_payload".to_string()),
            _ => (200, "ok".to_string()),
        })
    };
    let (slack, hook) = (refused_once(), refused_once());
    let busy = {
        let seen = std::sync::atomic::AtomicUsize::new(0);
        Recorder::respond(move |_: &Recorded| match seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => (429, json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1"}).to_string()),
            _ => (200, json!({"ok": true}).to_string()),
        })
    };
    let project = Project::new(&format!(
        "[notify.sl]\nurl = \"slack://T1/B2/X3\"\nendpoint = \"{}\"\n\n[notify.hook]\nurl = \"generic+{}/hooks/x\"\n\n\
         [notify.tg]\nurl = \"telegram://1:T@telegram?chats=42\"\nendpoint = \"{}\"\n",
        slack.url, hook.url, busy.url
    ));
    for (channel, stand_in) in [("sl", &slack), ("hook", &hook)] {
        let out = project.bosun(&["notify", "test", channel, "--json"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let deliveries: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!((deliveries[0]["ok"].as_bool(), deliveries[0]["attempts"].as_u64()), (Some(false), Some(1)), "{channel}: {deliveries:?}");
        assert!(deliveries[0]["error"].as_str().unwrap().contains("HTTP 400: invalid_payload"), "{deliveries:?}");
        assert_eq!(stand_in.requests().len(), 1, "{channel}: a 400 is not tried again");
    }
    let out = project.bosun(&["notify", "test", "tg"]);
    assert!(out.status.success(), "{} {}", stdout(&out), stderr(&out));
    assert_eq!(busy.requests().len(), 2, "a 429 is tried again");
    assert!(stdout(&out).starts_with("notified tg (chat 42): HTTP 200"), "{}", stdout(&out));
}

#[test]
fn a_chat_that_fails_does_not_stop_the_channels_other_chats_and_each_is_recorded() {
    let telegram = Recorder::respond(|r: &Recorded| match r.json()["chat_id"].as_str() {
        Some("@gone") => (400, json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}).to_string()),
        _ => (200, json!({"ok": true}).to_string()),
    });
    let site = Recorder::start(503, "down");
    let project = Project::new(&format!(
        "[checks.home]\nplugin = \"http\"\nurl = \"{site}/\"\n\n[plugins.http]\ngrant.http = [\"{site}\"]\n\n\
         [notify.tg]\nurl = \"telegram://1:T@telegram?chats=@gone,42\"\nendpoint = \"{tg}\"\non = [\"check.failed\"]\n",
        site = site.url,
        tg = telegram.url
    ));
    let out = project.bosun(&["notify", "test", "tg", "--json"]);
    assert_eq!(out.status.code(), Some(1), "one chat failed: {}", stderr(&out));
    let deliveries: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let outcome = |d: &Value| (d["chat"].as_str().unwrap().to_string(), d["ok"].as_bool().unwrap(), d["attempts"].as_u64().unwrap());
    assert_eq!(deliveries.iter().map(outcome).collect::<Vec<_>>(), [("@gone".into(), false, 1), ("42".into(), true, 1)], "{deliveries:?}");

    let out = project.bosun(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let delivered: Vec<String> = telegram.requests().iter().map(|r| r.json()["chat_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(delivered.iter().filter(|c| *c == "42").count(), 2, "the second chat got the test and the failure: {delivered:?}");
    let (_, log) = newest_run(&project);
    assert!(log.contains("check.failed: notifying tg (chat @gone) failed after 1 attempt(s): ") && log.contains("Bad Request: chat not found"), "{log}");
    assert!(log.contains("check.failed: notified tg (chat 42): HTTP 200"), "{log}");
}
