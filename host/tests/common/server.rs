//! A real `bosun serve` on loopback, and a plain HTTP/1.1 client for it:
//! requests over a TcpStream, JSON answers, and Server-Sent Events read as
//! they come.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::project::{Project, stderr};

/// A running `bosun serve`, stopped when dropped.
pub struct Server {
    pub child: std::process::Child,
    pub addr: String,
}

impl Server {
    pub fn start(p: &Project) -> Server {
        Server::start_with(p, &[])
    }

    pub fn start_with(p: &Project, more: &[&str]) -> Server {
        Server::launch(p, more, &[])
    }

    /// [`Server::start`] with these environment variables set.
    pub fn start_env(p: &Project, env: &[(&str, &str)]) -> Server {
        Server::launch(p, &[], env)
    }

    fn launch(p: &Project, more: &[&str], env: &[(&str, &str)]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--listen", &addr];
        args.extend(more);
        let child = p.command(&args).envs(env.iter().copied()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let mut server = Server { child, addr };
        let started = Instant::now();
        while server.request("GET", "/healthz", None, None).0 != 200 {
            if let Ok(Some(status)) = server.child.try_wait() {
                let mut printed = String::new();
                server.child.stderr.take().unwrap().read_to_string(&mut printed).unwrap();
                panic!("serve ended ({status}): {printed}");
            }
            assert!(started.elapsed() < Duration::from_secs(30), "serve did not answer");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// One HTTP/1.1 request: status, content type, body.
    pub fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String, String) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let (status, head, body) = self.send(method, path, &headers, body.unwrap_or("").as_bytes());
        (status, header_of(&head, "content-type").unwrap_or_default(), body)
    }

    /// One request with these headers: status, the response's head, body.
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String, String) {
        let Ok(mut stream) = TcpStream::connect(&self.addr) else { return (0, String::new(), String::new()) };
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n", self.addr, body.len());
        if !body.is_empty() && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            head.push_str("Content-Type: application/json\r\n");
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        // The server may answer (413) and close before the whole body is sent.
        let _ = stream.write_all(body);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, head.to_string(), body.to_string())
    }

    pub fn json(&self, method: &str, path: &str, token: &str, body: Option<&str>) -> (u16, Value) {
        let (status, _, body) = self.request(method, path, Some(token), body);
        (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {body}")))
    }

    /// Polls run `run` until its outcome is `wanted`; the run as shown then.
    pub fn outcome(&self, token: &str, run: i64, wanted: &str) -> Value {
        let started = Instant::now();
        loop {
            let (_, shown) = self.json("GET", &format!("/api/v1/runs/{run}"), token, None);
            if shown["run"]["outcome"] == wanted {
                return shown;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "run {run} never became {wanted}: {shown}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens run `run`'s event stream (after event `after`, when given).
    pub fn events(&self, token: &str, run: i64, after: Option<i64>) -> EventStream {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        let resume = after.map(|id| format!("Last-Event-ID: {id}\r\n")).unwrap_or_default();
        write!(stream, "GET /api/v1/runs/{run}/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n{resume}Connection: close\r\n\r\n", self.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let chunked = header_of(&head, "transfer-encoding").is_some_and(|v| v.contains("chunked"));
        EventStream { status, head, reader, chunked }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn header_of(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string()))
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

/// A response body of Server-Sent Events, read as they arrive.
pub struct EventStream {
    pub status: u16,
    pub head: String,
    reader: BufReader<TcpStream>,
    chunked: bool,
}

impl EventStream {
    /// The next line of the body (chunk sizes skipped); none at its end.
    fn line(&mut self) -> Option<String> {
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            // A chunk size, or the blank line after a chunk's data.
            if self.chunked && !line.is_empty() && line.chars().all(|c| c.is_ascii_hexdigit()) && !line.contains(':') {
                if line == "0" {
                    return None;
                }
                continue;
            }
            return Some(line);
        }
    }

    /// The next event (comments and keep-alives skipped); none when the stream ends.
    pub fn next_event(&mut self) -> Option<Sse> {
        let (mut id, mut event, mut data) = (None, String::from("message"), String::new());
        loop {
            let line = self.line()?;
            if line.is_empty() {
                if data.is_empty() {
                    continue;
                }
                return Some(Sse { id, event, data: serde_json::from_str(&data).unwrap_or(Value::String(data)) });
            }
            match line.split_once(':') {
                Some(("", _)) => {}
                Some(("id", v)) => id = Some(v.trim().to_string()),
                Some(("event", v)) => event = v.trim().to_string(),
                Some(("data", v)) => data.push_str(v.strip_prefix(' ').unwrap_or(v)),
                _ => {}
            }
        }
    }
}

pub fn token(p: &Project, name: &str, role: &str) -> String {
    let out = p.bosun(&["token", "create", name, "--role", role, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<Value>(&out.stdout).unwrap()["token"].as_str().unwrap().to_string()
}
