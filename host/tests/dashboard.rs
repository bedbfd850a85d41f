//! The web dashboard in a real headless Chromium (Debian's chromium and
//! chromium-driver, installed by scripts/setup), driven over WebDriver:
//! sign in, start a pipeline and watch its log stream, roll back from the
//! releases page, back up, run the checks, and see the failure page when a
//! viewer tries to change something. A screenshot of each page is kept in
//! target/screenshots. Plus the session's rules checked over plain HTTP:
//! the cookie, CSRF, and reads only.

use crate::{common, support};

use std::path::PathBuf;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::recorder::Recorder;
use common::server::{Server, token};
use fantoccini::{Client, ClientBuilder, Locator};
use support::deploys::Deploys;

/// A chromedriver and the headless Chromium session it drives.
struct Browser {
    driver: Child,
    client: Client,
    base: String,
    shots: PathBuf,
}

impl Drop for Browser {
    /// Stops chromedriver and the Chromium it started (its process group),
    /// whether or not the session ended cleanly.
    fn drop(&mut self) {
        unsafe { libc::kill(-(self.driver.id() as i32), libc::SIGKILL) };
        let _ = self.driver.wait();
    }
}

impl Browser {
    async fn open(base: &str) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("/usr/bin/chromedriver (scripts/setup installs chromium-driver)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let options = serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-crash-reporter", "--disable-breakpad", "--window-size=1280,900"],
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| common::repo_root().join("target"));
        let shots = target.join("screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser { driver, client, base: base.to_string(), shots }
    }

    async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap(),
            Err(e) => panic!("{css}: {e}; at {} the page is: {}", self.path().await, self.client.source().await.unwrap_or_default()),
        }
    }

    async fn click(&self, css: &str) {
        self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
    }

    async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_string()
    }

    /// Waits until the browser is at a path `wanted` accepts (after a click); that path.
    async fn at(&self, wanted: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let path = self.path().await;
            if wanted(&path) {
                return path;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "still at {path}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the element `css` shows text that `done` accepts; that text.
    async fn until(&self, css: &str, done: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
                && done(&text)
            {
                return text;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{css} never showed what was awaited; the page: {}", self.client.source().await.unwrap_or_default());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(self.shots.join(format!("dashboard-{name}.png")), png).unwrap();
    }

    async fn sign_in(&self, token: &str) {
        self.goto("/").await;
        assert_eq!(self.path().await, "/signin", "a page without a session leads to signing in");
        self.client.find(Locator::Id("token")).await.unwrap().send_keys(token).await.unwrap();
        self.click("button[type=submit]").await;
        self.until("main h1", |t| t == "Overview").await;
    }
}

const TALK: &str = "[[pipelines.talk.steps]]\nid = \"count\"\nuses = \"command\"\nwith.argv = [\"/bin/sh\", \"-c\", \"for i in 1 2 3 4 5; do echo line $i; sleep 0.4; done\"]\n\n\
                    [pipelines.nightly]\nschedule = \"0 3 * * *\"\ntimezone = \"UTC\"\n\n[[pipelines.nightly.steps]]\nid = \"say\"\nuses = \"command\"\nwith.argv = [\"/bin/true\"]\n";

fn project(up: &Recorder) -> Deploys {
    let d = Deploys::new("dashboard", "");
    let dir = d.project.path();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/a.txt"), "a").unwrap();
    let extra = format!(
        "{TALK}\n[backups.data]\nstrategy = \"dir-archive\"\ndest = \"{d}/backups\"\npaths = [\"{d}/data\"]\n\n[plugins.dir-archive.grant]\nfs = [\"ro:{d}/data\"]\n\n\
         [checks.home]\nplugin = \"http\"\nurl = \"{u}/\"\n\n[plugins.http]\ngrant.http = [\"{u}\"]\n",
        d = dir.display(),
        u = up.url
    );
    d.configure_with("", &extra);
    d
}

#[test]
fn an_operator_runs_watches_and_rolls_back_and_a_viewer_is_refused() {
    support::require_engine();
    let up = Recorder::start(200, "ok");
    let d = project(&up);
    d.image("1.0", &[]);
    d.image("2.0", &[]);
    for version in ["1.0", "2.0"] {
        let out = d.bosun(&["deploy", "web", version]);
        assert!(out.status.success(), "{}", common::project::stderr(&out));
    }
    let (operator, viewer) = (token(&d.project, "lead", "operator"), token(&d.project, "dash", "viewer"));
    let server = Server::start(&d.project);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let browser = Browser::open(&format!("http://{}", server.addr)).await;
        browser.goto("/signin").await;
        browser.screenshot("signin").await;
        browser.sign_in(&operator).await;
        let cookie = browser.client.get_named_cookie("bosun_session").await.unwrap();
        assert_eq!((cookie.http_only(), format!("{:?}", cookie.same_site())), (Some(true), "Some(Strict)".to_string()), "the session cookie is HttpOnly and SameSite=Strict");
        assert!(!cookie.value().contains(&operator), "the browser keeps a session id, not the token");
        let overview = browser.text("main").await;
        assert!(overview.contains("web") && overview.contains("2.0") && overview.contains("running"), "{overview}");
        browser.screenshot("overview").await;

        // Start a pipeline and watch its lines arrive while it runs.
        browser.goto("/runs").await;
        browser.screenshot("runs").await;
        browser.click("form[action='/ui/pipelines/talk/run'] button").await;
        browser.at(|p| p.starts_with("/runs/")).await;
        let early = browser.until("#log", |log| log.contains("line 2")).await;
        assert!(!early.contains("run succeeded"), "lines show while the run goes on: {early}");
        let log = browser.until("#log", |log| log.contains("run succeeded")).await;
        let positions: Vec<usize> = (1..=5).map(|i| log.find(&format!("count  line {i}")).unwrap_or_else(|| panic!("line {i} in {log}"))).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "in order: {log}");
        assert_eq!(browser.text("#outcome").await, "succeeded");
        assert_eq!(browser.text("[data-step=count]").await, "succeeded");
        browser.screenshot("run").await;

        // Roll back from the releases page.
        browser.goto("/releases").await;
        browser.screenshot("releases").await;
        browser.click("form[action='/ui/services/web/rollback'] button").await;
        browser.at(|p| p.starts_with("/runs/")).await;
        browser.until("#outcome", |o| o == "succeeded").await;
        let (_, releases) = server.json("GET", "/api/v1/releases?service=web", &viewer, None);
        let newest = releases.as_array().unwrap().last().unwrap().clone();
        assert_eq!((newest["kind"].as_str(), newest["version"].as_str(), newest["who"].as_str()), (Some("rollback"), Some("1.0"), Some("token lead")), "{releases}");

        // Back up now, run the checks, and look at every page.
        browser.goto("/backups").await;
        browser.click("form[action='/ui/backups'] button").await;
        browser.at(|p| p.starts_with("/runs/")).await;
        browser.until("#outcome", |o| o == "succeeded").await;
        browser.goto("/backups").await;
        assert!(browser.text("main").await.contains("Verify"), "the new backup is listed");
        browser.screenshot("backups").await;
        browser.goto("/checks").await;
        browser.click("form[action='/ui/checks/run'] button").await;
        let checks = browser.until("main", |t| t.contains("passed")).await;
        assert!(checks.contains("home"), "{checks}");
        let markdown = browser.client.find(Locator::Id("markdown")).await.unwrap().prop("value").await.unwrap().unwrap_or_default();
        assert!(markdown.starts_with("| check | result |") && markdown.contains("| home | passed |"), "{markdown}");
        browser.screenshot("checks").await;
        browser.goto("/schedules").await;
        assert!(browser.text("main").await.contains("nightly"));
        browser.screenshot("schedules").await;
        browser.goto("/").await;
        assert!(browser.text("main").await.contains("1.0"), "the overview shows the release rolled back to");

        // On a phone's screen.
        browser.client.set_window_size(390, 844).await.unwrap();
        browser.goto("/").await;
        browser.screenshot("overview-phone").await;
        let scroll_width = browser.client.execute("return document.documentElement.scrollWidth", vec![]).await.unwrap();
        assert!(scroll_width.as_u64().unwrap() <= 400, "the page fits a phone's width: {scroll_width}");
        browser.client.set_window_size(1280, 900).await.unwrap();

        // A viewer sees the pages, and the failure page when trying a change.
        browser.click("header form button").await;
        browser.at(|p| p == "/signin").await;
        browser.sign_in(&viewer).await;
        browser.goto("/releases").await;
        browser.click("form[action='/ui/services/web/rollback'] button").await;
        browser.at(|p| p.starts_with("/ui/")).await;
        let refused = browser.until("main", |t| t.contains("403")).await;
        assert!(refused.contains("403") && refused.contains("this needs the operator role; token dash has viewer"), "{refused}");
        browser.screenshot("refused").await;
        let (_, after) = server.json("GET", "/api/v1/releases?service=web", &viewer, None);
        assert_eq!(after.as_array().unwrap().len(), releases.as_array().unwrap().len(), "nothing was rolled back");
        browser.client.clone().close().await.unwrap();
    });
}

/// Signs in over plain HTTP; the session cookie (`bosun_session=…`).
fn session(server: &Server, token: &str) -> String {
    let (status, head, _) = server.send("POST", "/signin", &[("Content-Type", "application/x-www-form-urlencoded")], format!("token={token}").as_bytes());
    assert_eq!(status, 303, "{head}");
    let set = head.lines().find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: "))).expect("a cookie").to_string();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    set.split(';').next().unwrap().to_string()
}

#[test]
fn a_session_reads_but_changes_only_through_forms_with_its_csrf_token() {
    let p = common::project::Project::new(TALK);
    let operator = token(&p, "lead", "operator");
    let server = Server::start(&p);
    let (status, _, page) = server.send("POST", "/signin", &[("Content-Type", "application/x-www-form-urlencoded")], b"token=bosun_wrong");
    assert_eq!(status, 401, "a wrong token is refused on the sign-in page: {page}");
    assert!(page.contains("missing or unknown token"), "{page}");
    let cookie = session(&server, &operator);
    let (status, head, page) = server.send("GET", "/runs", &[("Cookie", &cookie)], b"");
    assert_eq!(status, 200, "{head}");
    assert!(head.to_ascii_lowercase().contains("content-security-policy: default-src 'self'"), "{head}");
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("forms carry the CSRF token").to_string();

    let form = |csrf: &str| format!("csrf={csrf}");
    let (status, _, page) = server.send("POST", "/ui/pipelines/talk/run", &[("Cookie", &cookie), ("Content-Type", "application/x-www-form-urlencoded")], form("forged").as_bytes());
    assert_eq!(status, 403, "a form without this session's token is refused: {page}");
    assert!(page.contains("this form is stale or was not sent from this dashboard"), "{page}");
    let (status, head, _) = server.send("POST", "/ui/pipelines/talk/run", &[("Cookie", &cookie), ("Content-Type", "application/x-www-form-urlencoded")], form(&csrf).as_bytes());
    assert_eq!(status, 303, "{head}");
    assert!(head.contains("/runs/"), "{head}");

    // The cookie reads the API (the live log needs it) but changes nothing there.
    assert_eq!(server.send("GET", "/api/v1/runs", &[("Cookie", &cookie)], b"").0, 200);
    assert_eq!(server.send("POST", "/api/v1/pipelines/talk/runs", &[("Cookie", &cookie)], b"").0, 401);

    // A restarted serve keeps the session, which is in the state store, with its CSRF token.
    drop(server);
    let server = Server::start(&p);
    let (status, head, page) = server.send("GET", "/runs", &[("Cookie", &cookie)], b"");
    assert_eq!(status, 200, "still signed in after a restart: {head}");
    assert!(page.contains(&format!("name=\"csrf\" value=\"{csrf}\"")), "{page}");

    let (status, _, _) = server.send("POST", "/signout", &[("Cookie", &cookie), ("Content-Type", "application/x-www-form-urlencoded")], form(&csrf).as_bytes());
    assert_eq!(status, 303);
    let (status, head, _) = server.send("GET", "/runs", &[("Cookie", &cookie)], b"");
    assert_eq!(status, 303, "signed out: {head}");
    assert_eq!(server.send("GET", "/api/v1/runs", &[("Cookie", &cookie)], b"").0, 401);

    // Revoking the token ends the sessions made with it.
    let cookie = session(&server, &operator);
    assert!(p.bosun(&["token", "revoke", "lead"]).status.success());
    assert_eq!(server.send("GET", "/runs", &[("Cookie", &cookie)], b"").0, 303);
}

#[test]
fn the_overview_shows_alerts_firing_and_the_watched_processes_with_their_samples() {
    let mut sleeper = std::process::Command::new("sleep").arg("4248.3").spawn().unwrap();
    let p = common::project::Project::new(
        "[watch]\ninterval = \"1s\"\n\n[watch.processes.sleeper]\ncmdline = \"sleep 4248.3\"\n\n[watch.processes.gone]\nname = \"no-such-program\"\n\n\
         [alerts.gone-missing]\nwhen = \"exited\"\ntargets = [\"gone\"]\nseverity = \"critical\"\n",
    );
    let viewer = token(&p, "dash", "viewer");
    let server = Server::start(&p);
    let cookie = session(&server, &viewer);
    // serve's watcher fires the rule on its first collections.
    let started = std::time::Instant::now();
    let page = loop {
        let (status, _, page) = server.send("GET", "/", &[("Cookie", &cookie)], b"");
        assert_eq!(status, 200, "{page}");
        if page.contains("Alerts firing") || started.elapsed() > std::time::Duration::from_secs(10) {
            break page;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    for expected in ["Alerts firing", "gone-missing", "process gone on local is missing", "Processes", "<strong>sleeper</strong>", "<td>running</td>", " MiB</td>"] {
        assert!(page.contains(expected), "{expected}: {page}");
    }
}
