-- Who changed what, through the CLI or the HTTP API: every mutating command
-- and request, with where it came from and how it ended.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    who TEXT NOT NULL,
    via TEXT NOT NULL,
    action TEXT NOT NULL,
    source TEXT NOT NULL,
    outcome TEXT NOT NULL,
    run_id INTEGER
);
CREATE INDEX audit_at ON audit (at);
