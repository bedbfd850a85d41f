//! A loopback HTTP server on its own thread that records every request in
//! full and answers each with a fixed status and body: the stand-in for a
//! chat service or a webhook receiver.

use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{} sent a body that is not JSON ({e}): {}", self.uri, self.body))
    }

    /// The query parameter `name`, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.uri.split_once('?')?.1;
        query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| percent_decode(v))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn percent_decode(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// What the server answers: status, extra headers, body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl From<(u16, String)> for Reply {
    fn from((status, body): (u16, String)) -> Reply {
        Reply { status, headers: vec![], body }
    }
}

pub struct Recorder {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    seen: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorder {
    pub fn start(status: u16, answer: &'static str) -> Recorder {
        Recorder::respond(move |_| (status, answer.to_string()))
    }

    /// A server whose answer depends on the request.
    pub fn respond<R: Into<Reply>>(answer: impl Fn(&Recorded) -> R + Send + Sync + 'static) -> Recorder {
        let answer = Arc::new(answer);
        let seen: Arc<Mutex<Vec<Recorded>>> = Default::default();
        let record = seen.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
                    let record = record.clone();
                    let answer = answer.clone();
                    async move {
                        let method = req.method().to_string();
                        let uri = req.uri().to_string();
                        let headers = req.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string())).collect();
                        let bytes = axum::body::to_bytes(req.into_body(), 64 << 20).await.unwrap();
                        let recorded = Recorded { method, uri, headers, body: String::from_utf8_lossy(&bytes).into_owned() };
                        let reply: Reply = answer(&recorded).into();
                        record.lock().unwrap().push(recorded);
                        let mut response = axum::response::Response::new(axum::body::Body::from(reply.body));
                        *response.status_mut() = axum::http::StatusCode::from_u16(reply.status).unwrap();
                        for (name, value) in reply.headers {
                            response.headers_mut().append(name, value.parse().unwrap());
                        }
                        response
                    }
                });
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        Recorder { url, seen }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }
}
