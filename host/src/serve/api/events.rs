//! Following a run: its events (steps starting and ending, log lines) as
//! Server-Sent Events, from the run's record, so a run started anywhere
//! (CLI, schedule, API) can be followed, and a client that lost the
//! connection resumes with `Last-Event-ID`. The stream ends after the
//! run's `finished` event; a run that has ended with nothing more to send
//! answers 204, which tells a browser's EventSource to stop reconnecting.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Api, Caller, Problem, Viewer, run_id};
use crate::state::{Outcome, RunEvent};

pub fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::new().routes(routes!(events))
}

/// How often a follower looks for new events.
const POLL: Duration = Duration::from_millis(200);
/// The most events read from the store at once.
const BATCH: usize = 500;

/// A run's events as Server-Sent Events (`text/event-stream`): `started`,
/// `retrying`, `line`, `ended` and last `finished`, each with its sequence
/// number as the event id. Send `Last-Event-ID` to resume after it.
#[utoipa::path(get, path = "/api/v1/runs/{id}/events", tag = "runs", security(("token" = ["viewer"])),
    params(("id" = i64, Path), ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event")),
    responses((status = 200, description = "The events, as they happen", content_type = "text/event-stream", body = crate::state::RunEvent),
        (status = 204, description = "The run has ended and nothing is left to send"), (status = 400, body = super::ProblemDocument), (status = 404, body = super::ProblemDocument)))]
async fn events(_: Caller<Viewer>, State(api): State<Arc<Api>>, Path(id): Path<String>, headers: HeaderMap) -> Result<Response, Problem> {
    let run = run_id(&id)?;
    let after = match headers.get("last-event-id").map(|v| v.to_str().map(str::trim)) {
        None => 0,
        Some(Ok(text)) => text.parse::<i64>().map_err(|_| Problem::bad_request(format!("Last-Event-ID {text:?} is not an event id; send the `id` of the last event received")))?,
        Some(Err(_)) => return Err(Problem::bad_request("Last-Event-ID is not text; send the `id` of the last event received")),
    };
    let follow = Follow { api, run, after, pending: VecDeque::new(), ended: false };
    match follow.poll()? {
        Step::Ended => Ok(StatusCode::NO_CONTENT.into_response()),
        step => Ok(Sse::new(follow.stream(step)).keep_alive(KeepAlive::default()).into_response()),
    }
}

/// A follower's place in a run's events.
struct Follow {
    api: Arc<Api>,
    run: i64,
    /// The last event sent.
    after: i64,
    pending: VecDeque<RunEvent>,
    ended: bool,
}

/// What a look at the store found.
enum Step {
    Events(Vec<RunEvent>),
    /// Nothing new yet; the run goes on.
    Wait,
    /// Nothing new, and the run has ended.
    Ended,
}

impl Follow {
    /// Looks once. The run's state is read before its events: a run that
    /// has ended wrote its `finished` event first, so it is among them.
    fn poll(&self) -> Result<Step, Problem> {
        let state = self.api.app.state()?;
        let record = state.run(self.run)?.ok_or_else(|| Problem::not_found(format!("no run {}; GET /api/v1/runs lists the recent ones", self.run)))?;
        let going = matches!(record.outcome, Outcome::Running | Outcome::Waiting);
        let events = state.run_events(self.run, self.after, BATCH)?;
        Ok(match (events.is_empty(), going) {
            (false, _) => Step::Events(events),
            (true, true) => Step::Wait,
            (true, false) => Step::Ended,
        })
    }

    fn take(&mut self, step: Step) {
        match step {
            Step::Events(events) => {
                self.after = events.last().map_or(self.after, |e| e.seq);
                self.pending.extend(events);
            }
            Step::Wait => {}
            Step::Ended => self.ended = true,
        }
    }

    fn stream(mut self, first: Step) -> impl Stream<Item = Result<SseEvent, Infallible>> {
        self.take(first);
        futures_util::stream::unfold(self, |mut follow| async move {
            loop {
                if let Some(event) = follow.pending.pop_front() {
                    follow.ended |= event.kind == "finished";
                    return Some((Ok(sse(&event)), follow));
                }
                if follow.ended {
                    return None;
                }
                tokio::time::sleep(POLL).await;
                match follow.poll() {
                    Ok(step) => follow.take(step),
                    // The store failed: end the stream; the client resumes from its last id.
                    Err(_) => return None,
                }
            }
        })
    }
}

fn sse(event: &RunEvent) -> SseEvent {
    let data = serde_json::json!({ "seq": event.seq, "at": event.at, "kind": event.kind, "data": event.data });
    SseEvent::default().id(event.seq.to_string()).event(&event.kind).data(data.to_string())
}
