-- Dashboard sessions, so a restarted `bosun serve` keeps its people signed in.
-- A session's id is kept only as its SHA-256, as tokens are, and its forms'
-- CSRF token is derived from the id: a copy of state.db signs nobody in and
-- forges no form.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    -- The token it was signed in with; the session ends when that token does.
    token_name TEXT NOT NULL,
    -- Seconds since the Unix epoch.
    started_at INTEGER NOT NULL
);
