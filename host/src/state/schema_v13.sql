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
