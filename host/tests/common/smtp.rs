//! A loopback SMTP sink: speaks enough SMTP (no TLS, no AUTH) for a client to
//! deliver, and records each mail's envelope and data.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body, dot-stuffing undone).
    pub data: String,
}

pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails: Arc<Mutex<Vec<Mail>>> = Default::default();
        let record = mails.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let record = record.clone();
                std::thread::spawn(move || {
                    let mut out = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    let mut mail = Mail::default();
                    let mut say = |line: &str| out.write_all(format!("{line}\r\n").as_bytes()).is_ok();
                    say("220 sink ESMTP");
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                        let command = line.trim_end().to_string();
                        line.clear();
                        let upper = command.to_ascii_uppercase();
                        let ok = if upper.starts_with("EHLO") {
                            say("250-sink") && say("250 8BITMIME")
                        } else if let Some(from) = upper.strip_prefix("MAIL FROM:") {
                            mail.from = command[command.len() - from.len()..].trim_matches(|c| c == '<' || c == '>' || c == ' ').to_string();
                            say("250 ok")
                        } else if let Some(to) = upper.strip_prefix("RCPT TO:") {
                            mail.to.push(command[command.len() - to.len()..].trim_matches(|c| c == '<' || c == '>' || c == ' ').to_string());
                            say("250 ok")
                        } else if upper == "DATA" {
                            say("354 go ahead");
                            let mut data = String::new();
                            let mut part = String::new();
                            while reader.read_line(&mut part).is_ok_and(|n| n > 0) {
                                if part == ".\r\n" {
                                    break;
                                }
                                data.push_str(part.strip_prefix('.').unwrap_or(&part));
                                part.clear();
                            }
                            mail.data = data;
                            record.lock().unwrap().push(std::mem::take(&mut mail));
                            say("250 queued as 42")
                        } else if upper == "QUIT" {
                            say("221 bye");
                            break;
                        } else {
                            say("250 ok")
                        };
                        if !ok {
                            break;
                        }
                    }
                });
            }
        });
        SmtpSink { port, mails }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}
