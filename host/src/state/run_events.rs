//! A run's events in order (steps starting, retrying, ending, their log
//! lines), for following a run live and resuming where a client left off.
//! What is written is masked like every record.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, params};
use serde::Serialize;

use super::{State, StateError};
use crate::secrets::masked_json_line;

/// The most events written in one transaction.
const BATCH: usize = 512;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunEvent {
    /// 1, 2, … within the run: the id a client resumes after.
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// `started`, `retrying`, `line`, `ended` or `finished`.
    pub kind: String,
    pub data: serde_json::Value,
}

/// Writes a run's events on a thread of its own, with a connection of its
/// own: a command writing thousands of lines a second does not wait for
/// each to reach the disk. What arrives while a batch is written goes in
/// the next one, so a quiet run's lines are written at once. Losing the
/// last events to a power cut is acceptable for a log (the connection does
/// not sync each commit); the run's own records are written as before.
pub struct EventLog {
    sender: Option<mpsc::Sender<Message>>,
    writer: Option<JoinHandle<()>>,
}

enum Message {
    Event { run: i64, at: i64, kind: String, data: String },
    /// Answered once everything sent before it is written.
    Flush(mpsc::Sender<()>),
}

impl EventLog {
    /// Adds an event to run `run`, after the ones it has.
    pub fn add(&self, run: i64, kind: &str, data: &serde_json::Value) {
        let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        let message = Message::Event { run, at, kind: kind.to_string(), data: masked_json_line(data) };
        if let Some(sender) = &self.sender {
            let _ = sender.send(message);
        }
    }

    /// Waits until every event added so far is written.
    pub fn flush(&self) {
        let (done, written) = mpsc::channel();
        if self.sender.as_ref().is_some_and(|s| s.send(Message::Flush(done)).is_ok()) {
            let _ = written.recv_timeout(Duration::from_secs(30));
        }
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        self.sender.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

fn write_events(conn: &mut Connection, messages: mpsc::Receiver<Message>) {
    while let Ok(first) = messages.recv() {
        let mut batch = vec![first];
        batch.extend(messages.try_iter().take(BATCH));
        let written = (|| {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO run_events (run_id, seq, at, kind, data) SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4 FROM run_events WHERE run_id = ?1",
                )?;
                for message in &batch {
                    if let Message::Event { run, at, kind, data } = message {
                        insert.execute(params![run, at, kind, data])?;
                    }
                }
            }
            tx.commit()
        })();
        if let Err(e) = written {
            tracing::warn!("recording a run's events: {e}");
        }
        for message in batch {
            if let Message::Flush(done) = message {
                let _ = done.send(());
            }
        }
    }
}

impl State {
    /// A writer of run events (see [`EventLog`]).
    pub fn event_log(&self) -> Result<EventLog, StateError> {
        let open_error = |source| StateError::Open { path: self.path.clone(), source };
        let mut conn = Connection::open(&self.path).map_err(open_error)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(open_error)?;
        conn.pragma_update(None, "synchronous", "normal").map_err(open_error)?;
        let (sender, messages) = mpsc::channel();
        let writer = std::thread::Builder::new().name("run-events".into()).spawn(move || write_events(&mut conn, messages)).map_err(|e| StateError::Dir { path: self.path.clone(), source: e })?;
        Ok(EventLog { sender: Some(sender), writer: Some(writer) })
    }

    /// Run `run`'s events after `after`, in order, at most `limit`.
    pub fn run_events(&self, run: i64, after: i64, limit: usize) -> Result<Vec<RunEvent>, StateError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached("SELECT seq, at, kind, data FROM run_events WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")?;
        let rows = statement.query_map(params![run, after, limit as i64], |row| {
            let data: String = row.get(3)?;
            Ok(RunEvent { seq: row.get(0)?, at: row.get(1)?, kind: row.get(2)?, data: serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data)) })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_back_in_order_after_the_one_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let run = state.start_run("pipeline", "p").unwrap();
        let other = state.start_run("pipeline", "q").unwrap();
        let log = state.event_log().unwrap();
        for n in 1..=3 {
            log.add(run, "line", &serde_json::json!({ "text": format!("line {n}") }));
        }
        log.add(other, "line", &serde_json::json!({ "text": "elsewhere" }));
        log.flush();
        let all = state.run_events(run, 0, 100).unwrap();
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        let rest = state.run_events(run, 1, 100).unwrap();
        assert_eq!(rest.iter().map(|e| e.data["text"].as_str().unwrap()).collect::<Vec<_>>(), ["line 2", "line 3"]);
        assert_eq!(state.run_events(other, 0, 100).unwrap()[0].seq, 1, "each run counts from 1");
        assert_eq!(state.run_events(run, 0, 2).unwrap().len(), 2, "limit holds");
    }
}
