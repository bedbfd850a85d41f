-- One row per operation bosun ran (backup, prune, verify, restore, deploy, ...).
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    operation   TEXT NOT NULL,
    target      TEXT NOT NULL,
    who         TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT NOT NULL DEFAULT 'running',
    summary     TEXT NOT NULL DEFAULT '',
    log         TEXT NOT NULL DEFAULT ''
);

-- The backup catalog: a row exists only for a complete, renamed, fsynced backup set.
CREATE TABLE backups (
    id               TEXT PRIMARY KEY,
    set_name         TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('full', 'incremental')),
    base_id          TEXT REFERENCES backups(id),
    dir              TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    strategy         TEXT NOT NULL,
    strategy_version TEXT NOT NULL,
    artifacts        INTEGER NOT NULL,
    bytes            INTEGER NOT NULL,
    run_id           INTEGER REFERENCES runs(id),
    verified_at      INTEGER,
    verify_error     TEXT
);
CREATE INDEX backups_by_set ON backups(set_name, created_at);

-- What was deployed where; backup_id is the backup a pipeline took before it.
CREATE TABLE releases (
    id             INTEGER PRIMARY KEY,
    service        TEXT NOT NULL,
    env            TEXT NOT NULL,
    version        TEXT NOT NULL,
    image          TEXT NOT NULL DEFAULT '',
    image_digest   TEXT NOT NULL DEFAULT '',
    container_id   TEXT NOT NULL DEFAULT '',
    container_name TEXT NOT NULL DEFAULT '',
    config_hash    TEXT NOT NULL DEFAULT '',
    who            TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    note           TEXT NOT NULL DEFAULT '',
    backup_id      TEXT REFERENCES backups(id),
    checks         TEXT NOT NULL DEFAULT '[]',
    outcome        TEXT NOT NULL,
    run_id         INTEGER REFERENCES runs(id)
);
CREATE INDEX releases_by_service ON releases(service, env, created_at);
