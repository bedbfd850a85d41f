-- A release also says how it came about and what the service's config was
-- (bosun.toml's table as JSON; env-file values are never stored), so a
-- rollback can recreate it.
ALTER TABLE releases ADD COLUMN kind TEXT NOT NULL DEFAULT 'deploy';
ALTER TABLE releases ADD COLUMN service_config TEXT NOT NULL DEFAULT '{}';

-- One deploy, rollback or image update per service and env at a time.
CREATE TABLE locks (
    scope       TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    acquired_at INTEGER NOT NULL,
    version     TEXT NOT NULL DEFAULT '',
    message     TEXT NOT NULL DEFAULT ''
);
