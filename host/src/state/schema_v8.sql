-- The last time each scheduled pipeline was due, as `bosun serve` saw it:
-- what a restarted serve compares with the schedule to find missed runs.
CREATE TABLE pipeline_schedules (
    pipeline TEXT PRIMARY KEY,
    last_due INTEGER NOT NULL
);
