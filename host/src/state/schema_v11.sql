-- What a run showed as it went, in order: steps starting, retrying and
-- ending, and their log lines. `bosun serve` streams it (Server-Sent Events,
-- the sequence number is the event id a client resumes from).
CREATE TABLE run_events (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    seq INTEGER NOT NULL,
    -- Milliseconds since the Unix epoch.
    at INTEGER NOT NULL,
    -- started, retrying, line, ended, finished
    kind TEXT NOT NULL,
    -- A JSON object.
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- The last result of each check, by check: what the dashboard, the status
-- overview and /metrics show without running anything.
CREATE TABLE check_results (
    check_name TEXT PRIMARY KEY,
    run_id INTEGER REFERENCES runs(id),
    at INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    elapsed_ms INTEGER NOT NULL,
    -- The check's report, a JSON object.
    report TEXT NOT NULL
);

-- Webhook deliveries taken, by trigger and the sender's delivery id: the
-- same delivery sent again is refused.
CREATE TABLE webhook_deliveries (
    trigger_name TEXT NOT NULL,
    delivery TEXT NOT NULL,
    at INTEGER NOT NULL,
    run_id INTEGER,
    PRIMARY KEY (trigger_name, delivery)
);
