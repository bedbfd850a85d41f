//! A plain HTTP/1.1 GET on the engine's Unix socket, its body read on one
//! blocking thread. Used for `docker save`: through bollard, every piece of
//! the stream crossed tokio tasks and threads (39k futex calls for 2.5k reads
//! of a 512 MiB save), CPU that dockerd, itself busy on one core, then lacked.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Instant;

/// What the engine answered, when it was not a 200.
#[derive(Debug, PartialEq)]
pub struct Refused {
    pub status: u16,
    pub message: String,
}

/// Sends `GET path_and_query` and returns the body of a 200 as a reader, or
/// what the engine said instead. Every read fails with `TimedOut` once
/// `deadline` has passed.
pub fn get(socket: &Path, path_and_query: &str, deadline: Instant) -> io::Result<Result<Body, Refused>> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_write_timeout(Some(left(deadline)?))?;
    write!(stream, "GET {path_and_query} HTTP/1.1\r\nHost: docker\r\nUser-Agent: bosun\r\nConnection: close\r\n\r\n")?;
    let mut body = Body { conn: BufReader::with_capacity(1 << 20, stream), framing: Framing::UntilClose, deadline };
    let status_line = body.line()?;
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse::<u16>().ok()).ok_or_else(|| bad(format!("not an HTTP status line: {status_line:?}")))?;
    loop {
        let header = body.line()?;
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") && value.to_ascii_lowercase().contains("chunked") {
            body.framing = Framing::Chunked { left: 0, done: false };
        } else if name.eq_ignore_ascii_case("content-length") && !matches!(body.framing, Framing::Chunked { .. }) {
            body.framing = Framing::Length(value.parse().map_err(|_| bad(format!("bad content-length {value:?}")))?);
        }
    }
    if status == 200 {
        return Ok(Ok(body));
    }
    let mut text = Vec::new();
    body.take(64 * 1024).read_to_end(&mut text)?;
    #[derive(serde::Deserialize)]
    struct EngineMessage {
        message: String,
    }
    let message = match serde_json::from_slice::<EngineMessage>(&text) {
        Ok(m) => m.message,
        Err(_) => String::from_utf8_lossy(&text).trim().to_string(),
    };
    Ok(Err(Refused { status, message }))
}

/// How the body's end is known.
enum Framing {
    /// `left` bytes remain in the current chunk; `done` after the last one.
    Chunked { left: u64, done: bool },
    Length(u64),
    UntilClose,
}

/// A response body, decoded from its framing.
pub struct Body {
    conn: BufReader<UnixStream>,
    framing: Framing,
    deadline: Instant,
}

impl Body {
    /// One header or chunk-size line, without its CRLF.
    fn line(&mut self) -> io::Result<String> {
        self.arm()?;
        let mut line = String::new();
        if self.conn.by_ref().take(8 * 1024).read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the engine closed the connection mid-response"));
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }

    /// Bounds the next read from the socket by what is left of the deadline
    /// (reads served from the buffer need no syscall for it).
    fn arm(&mut self) -> io::Result<()> {
        match self.conn.buffer().is_empty() {
            true => self.conn.get_ref().set_read_timeout(Some(left(self.deadline)?)),
            false => Ok(()),
        }
    }

    fn read_some(&mut self, buf: &mut [u8], most: u64) -> io::Result<usize> {
        self.arm()?;
        let want = buf.len().min(usize::try_from(most).unwrap_or(usize::MAX));
        match self.conn.read(&mut buf[..want])? {
            0 => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the engine closed the connection mid-body")),
            read => Ok(read),
        }
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.framing {
            Framing::UntilClose => {
                self.arm()?;
                self.conn.read(buf)
            }
            Framing::Length(0) | Framing::Chunked { done: true, .. } => Ok(0),
            Framing::Length(left) => {
                let read = self.read_some(buf, left)?;
                self.framing = Framing::Length(left - read as u64);
                Ok(read)
            }
            Framing::Chunked { left: 0, .. } => {
                let line = self.line()?;
                let size = line.split(';').next().unwrap_or_default().trim();
                let size = u64::from_str_radix(size, 16).map_err(|_| bad(format!("bad chunk size {line:?}")))?;
                if size == 0 {
                    // Trailers, if any, end with an empty line.
                    while !self.line()?.is_empty() {}
                    self.framing = Framing::Chunked { left: 0, done: true };
                    return Ok(0);
                }
                self.framing = Framing::Chunked { left: size, done: false };
                self.read(buf)
            }
            Framing::Chunked { left, .. } => {
                let read = self.read_some(buf, left)?;
                let left = left - read as u64;
                if left == 0 && !self.line()?.is_empty() {
                    return Err(bad("a chunk is longer than its size".into()));
                }
                self.framing = Framing::Chunked { left, done: false };
                Ok(read)
            }
        }
    }
}

fn left(deadline: Instant) -> io::Result<std::time::Duration> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(io::Error::new(io::ErrorKind::TimedOut, "the plugin call's time ran out")),
    }
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("the engine's response: {what}"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixListener;
    use std::time::Duration;

    use super::*;

    /// Serves `response` once on a fresh socket, and returns the socket
    /// path and the request it received.
    fn serve(response: &'static [u8]) -> (tempfile::TempDir, std::path::PathBuf, std::thread::JoinHandle<String>) {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8];
            while !request.ends_with(b"\r\n\r\n") {
                if conn.read_exact(&mut byte).is_err() {
                    return String::new(); // the client gave up before asking
                }
                request.push(byte[0]);
            }
            // Written in small pieces, as a stream arrives; the client may stop reading early.
            for piece in response.chunks(7) {
                if conn.write_all(piece).is_err() {
                    break;
                }
            }
            String::from_utf8(request).unwrap()
        });
        (dir, socket, server)
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[test]
    fn a_chunked_body_is_decoded_across_chunk_and_read_boundaries() {
        let (_dir, socket, server) = serve(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n \r\nB\r\nworld, tar!\r\n0\r\n\r\n");
        let mut body = get(&socket, "/images/get?names=a%3A1", soon()).unwrap().unwrap();
        let mut text = String::new();
        body.read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello world, tar!");
        assert!(server.join().unwrap().starts_with("GET /images/get?names=a%3A1 HTTP/1.1\r\n"));
    }

    #[test]
    fn a_sized_body_ends_at_its_length_and_a_cut_one_is_an_error() {
        let (_dir, socket, _server) = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcdEXTRA");
        let mut text = String::new();
        get(&socket, "/x", soon()).unwrap().unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "abcd");

        let (_dir, socket, _server) = serve(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly this");
        let error = get(&socket, "/x", soon()).unwrap().unwrap().read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error}");
    }

    #[test]
    fn a_refusal_carries_the_engines_status_and_message() {
        let (_dir, socket, _server) = serve(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 39\r\n\r\n{\"message\":\"reference does not exist\"}\n");
        let refused = get(&socket, "/x", soon()).unwrap().err().unwrap();
        assert_eq!(refused, Refused { status: 404, message: "reference does not exist".into() });
    }

    #[test]
    fn a_passed_deadline_is_a_timeout() {
        let (_dir, socket, _server) = serve(b"HTTP/1.1 200 OK\r\n\r\n");
        let error = get(&socket, "/x", Instant::now()).err().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }
}
