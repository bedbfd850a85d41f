//! testsrv: the one binary inside bosun's test images (`FROM scratch`).
//!
//! - `testsrv serve`: HTTP on `$PORT` (default 8080). `GET /` answers
//!   `$VERSION` (default `dev`), `GET /health` answers `ok` (503 when
//!   `HEALTH=fail`, to make a bad version); each request is
//!   logged to stdout. SIGTERM exits at once (as PID 1 it would otherwise be ignored).
//! - `testsrv echo TEXT...`: prints TEXT.
//! - `testsrv cat PATH`: copies a file to stdout.
//! - `testsrv gen BYTES`: prints BYTES bytes of a repeating pattern.
//! - `testsrv fail CODE TEXT...`: prints TEXT on stderr and exits with CODE.
//! - `testsrv sleep SECS`: sleeps.
//! - `testsrv probe [PORT]`: exits 0 when `GET /health` on 127.0.0.1 answers 200 (for healthchecks).
//! - `testsrv spin`: keeps one core busy until killed (SIGTERM ends it at once).
//! - `testsrv hold MIB`: allocates and touches MIB MiB, then sleeps until killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str).unwrap_or("serve") {
        "serve" => serve(),
        "echo" => writeln!(std::io::stdout(), "{}", rest.join(" ")),
        "cat" => cat(rest.first().map_or("", String::as_str)),
        "write" => write(rest.first().map_or("", String::as_str)),
        "gen" => generate(number(rest.first(), 0)),
        "fail" => {
            eprintln!("{}", rest.get(1..).unwrap_or_default().join(" "));
            return ExitCode::from(number(rest.first(), 1) as u8);
        }
        "sleep" => {
            std::thread::sleep(Duration::from_secs(number(rest.first(), 1)));
            Ok(())
        }
        "probe" => return probe(number(rest.first(), port())),
        "spin" => spin(),
        "hold" => hold(number(rest.first(), 1)),
        other => {
            eprintln!("testsrv: unknown command {other:?}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("testsrv: {e}");
            ExitCode::FAILURE
        }
    }
}

fn number(arg: Option<&String>, default: u64) -> u64 {
    arg.and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn port() -> u64 {
    std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8080)
}

fn cat(path: &str) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path).map_err(|e| std::io::Error::new(e.kind(), format!("{path}: {e}")))?;
    std::io::copy(&mut file, &mut std::io::stdout().lock()).map(|_| ())
}

/// stdin into a file, as a database's restore tool reads a dump.
fn write(path: &str) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path).map_err(|e| std::io::Error::new(e.kind(), format!("{path}: {e}")))?;
    std::io::copy(&mut std::io::stdin().lock(), &mut file).map(|_| ())
}

fn generate(mut remaining: u64) -> std::io::Result<()> {
    let pattern: Vec<u8> = (0..4096u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut out = std::io::stdout().lock();
    while remaining > 0 {
        let n = remaining.min(pattern.len() as u64) as usize;
        out.write_all(&pattern[..n])?;
        remaining -= n as u64;
    }
    out.flush()
}

unsafe extern "C" {
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    fn _exit(status: i32) -> !;
}

extern "C" fn exit_now(_: i32) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { _exit(0) }
}

/// SIGTERM and SIGINT end the program at once (as PID 1 they would otherwise be ignored).
fn exit_on_sigterm() {
    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;
    // SAFETY: installs a handler that only calls _exit.
    unsafe {
        signal(SIGTERM, exit_now);
        signal(SIGINT, exit_now);
    }
}

fn serve() -> std::io::Result<()> {
    exit_on_sigterm();
    let version = std::env::var("VERSION").unwrap_or_else(|_| "dev".to_string());
    let listener = TcpListener::bind(format!("0.0.0.0:{}", port()))?;
    println!("testsrv {version} listening on {}", listener.local_addr()?);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let version = version.clone();
        std::thread::spawn(move || {
            if let Err(e) = answer(stream, &version) {
                eprintln!("testsrv: {e}");
            }
        });
    }
    Ok(())
}

fn answer(stream: TcpStream, version: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Skip the headers; requests have no body worth reading.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    println!("{}", request_line.trim_end());
    let (status, body) = match path {
        "/" => ("200 OK", format!("{version}\n")),
        "/health" if std::env::var("HEALTH").is_ok_and(|h| h == "fail") => ("503 Service Unavailable", "failing\n".to_string()),
        "/health" => ("200 OK", "ok\n".to_string()),
        _ => ("404 Not Found", "not found\n".to_string()),
    };
    let mut stream = stream;
    write!(stream, "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    stream.flush()
}

fn probe(port: u64) -> ExitCode {
    let check = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect(("127.0.0.1", port as u16))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(b"GET /health HTTP/1.0\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response.starts_with("HTTP/1.1 200"))
    };
    match check() {
        Ok(true) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

fn spin() -> std::io::Result<()> {
    exit_on_sigterm();
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn hold(mib: u64) -> std::io::Result<()> {
    exit_on_sigterm();
    let held: Vec<u8> = (0..mib << 20).map(|i| i as u8).collect();
    std::hint::black_box(&held);
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
