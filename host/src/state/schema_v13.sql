-- What `[watch]` saw: a row per target per collection, and 5-minute
-- averages that older rows fold into (span 300), so the table stays bounded.
CREATE TABLE samples (
    -- container or process
    kind TEXT NOT NULL,
    -- A service, a container's name, or a [watch.processes] name.
    target TEXT NOT NULL,
    host TEXT NOT NULL,
    -- Seconds since the Unix epoch; a 5-minute average is at its bucket's start.
    at INTEGER NOT NULL,
    -- Seconds the row stands for: 0 as taken, 300 for a 5-minute average.
    span INTEGER NOT NULL,
    -- running, exited, restarting, missing, unknown, ...
    state TEXT NOT NULL,
    health TEXT,
    restarts INTEGER,
    cpu_percent REAL,
    memory_bytes INTEGER,
    memory_limit INTEGER,
    net_rx INTEGER,
    net_tx INTEGER,
    block_read INTEGER,
    block_write INTEGER,
    -- How many processes matched (a container: its processes).
    pids INTEGER,
    threads INTEGER,
    fds INTEGER,
    uptime_secs INTEGER,
    -- What it was this time: a container's name, the pids and ports of processes.
    detail TEXT
);
CREATE INDEX samples_by_target ON samples (target, kind, host, at);
CREATE INDEX samples_by_age ON samples (span, at);

-- Alerts that fire now, by rule and target: a restarted bosun serve neither
-- tells the same firing twice nor forgets to tell its resolution.
CREATE TABLE alerts (
    rule TEXT NOT NULL,
    target TEXT NOT NULL,
    host TEXT NOT NULL,
    -- When the condition began to hold, and when it fired (seconds since the epoch).
    since INTEGER NOT NULL,
    fired_at INTEGER NOT NULL,
    -- When alert.firing was last sent; NULL while a silence covered it throughout.
    notified_at INTEGER,
    severity TEXT NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (rule, target, host)
);

-- `bosun alert silence`: a rule (or one target of it) not told until `until`.
CREATE TABLE silences (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    target TEXT,
    until INTEGER NOT NULL,
    by TEXT NOT NULL,
    why TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- How many runs in a row each check has failed (`check failing 3`).
ALTER TABLE check_results ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
