//! Every host call that changes something, tried in turn on what config
//! names; shared by the hostile-dry-* plugins (one per plugin kind), which
//! run it in a dry run: nothing of it may happen. Each attempt's outcome is
//! one line `<call>: ok` or `<call>: <error>`, and the attempts go on after a
//! failure, so one refused call cannot hide the next.
//!
//! Config: `url` (requests with every method but GET/HEAD/OPTIONS, then a
//! GET, which a dry run does send), `dir` (an existing directory holding a
//! file `existing`), `marker` (a file `touch` would create), `container`
//! (a name for the docker calls).

use bosun_sdk::host::wasi::http::outgoing_handler;
use bosun_sdk::host::wasi::http::types::{Fields, Method, OutgoingRequest, Scheme};
use bosun_sdk::host::{docker, fs, notify, process};
use bosun_sdk::http::Request;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Targets {
    pub url: String,
    pub dir: String,
    pub marker: String,
    pub container: String,
}

/// Methods a dry run must hold back: the unsafe ones and a made-up one.
const HELD_BACK: [&str; 6] = ["POST", "PUT", "DELETE", "PATCH", "TRACE", "BOSUN-HOSTILE"];

pub fn attempt_everything(t: &Targets) -> Vec<String> {
    let mut outcomes = Vec::new();
    let mut note = |call: &str, result: Result<(), String>| outcomes.push(format!("{call}: {}", result.err().unwrap_or_else(|| "ok".into())));
    for method in HELD_BACK {
        let sent = Request::new(method, format!("{}/orders/42/cancel", t.url)).body("cancel").timeout_ms(5_000).send();
        note(&format!("http {method}"), sent.map(drop).map_err(|e| e.to_string()));
    }
    // `get` in lower case is not GET (the SDK would spell it GET): raw wasi:http.
    note("http get", raw_request(Method::Other("get".into()), &t.url, "/orders/42/cancel"));
    note("http GET", Request::get(format!("{}/orders/42", t.url)).timeout_ms(5_000).send().map(drop).map_err(|e| e.to_string()));
    let dir = &t.dir;
    let existing = format!("{dir}/existing");
    note("fs.write-small", fs::write_small(&format!("{dir}/written"), b"hostile").map(drop).map_err(|e| format!("{e:?}")));
    note("fs.create-dir", fs::create_dir(&format!("{dir}/created")).map_err(|e| format!("{e:?}")));
    note("fs.copy", fs::copy(&existing, &format!("{dir}/copied")).map(drop).map_err(|e| format!("{e:?}")));
    let archive = fs::ArchiveRequest {
        sources: vec![existing.clone()],
        excludes: vec![],
        dest: format!("{dir}/archived.tar"),
        compression: fs::Compression::None,
        level: None,
        since_manifest: None,
        manifest_dest: None,
    };
    note("fs.archive", fs::archive(&archive).map(drop).map_err(|e| format!("{e:?}")));
    note("fs.rename", fs::rename(&existing, &format!("{dir}/renamed")).map_err(|e| format!("{e:?}")));
    note("fs.remove", fs::remove(&existing).map_err(|e| format!("{e:?}")));
    let touch = vec!["touch".to_string(), t.marker.clone()];
    let options = process::RunOptions { cwd: None, env: vec![], stdin: None, stdout_to: None, timeout_ms: None };
    note("process.run", process::run(&touch, &options).map(drop).map_err(|e| format!("{e:?}")));
    note("docker.stop", docker::stop(&t.container, 1).map_err(|e| format!("{e:?}")));
    note("docker.start", docker::start(&t.container).map_err(|e| format!("{e:?}")));
    note("docker.exec", docker::exec(&t.container, &touch, None).map(drop).map_err(|e| format!("{e:?}")));
    let event = notify::Event {
        kind: "hostile.dry".into(),
        severity: notify::Severity::Warning,
        title: "raised in a dry run".into(),
        body: String::new(),
        facts: vec![],
        link: None,
    };
    note("notify.emit", notify::emit(&event).map_err(|e| format!("{e:?}")));
    outcomes
}

/// A bodiless request with exactly `method`, past the SDK's spelling.
fn raw_request(method: Method, url: &str, path: &str) -> Result<(), String> {
    let request = OutgoingRequest::new(Fields::new());
    request.set_method(&method).map_err(|()| "method refused".to_string())?;
    request.set_scheme(Some(&Scheme::Http)).map_err(|()| "scheme refused".to_string())?;
    request.set_authority(Some(url.trim_start_matches("http://"))).map_err(|()| "authority refused".to_string())?;
    request.set_path_with_query(Some(path)).map_err(|()| "path refused".to_string())?;
    let response = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    response.subscribe().block();
    match response.get() {
        Some(Ok(Ok(_))) => Ok(()),
        Some(Ok(Err(code))) => Err(format!("{code:?}")),
        _ => Err("no response".into()),
    }
}
