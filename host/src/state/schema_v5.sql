-- Tags given at `bosun backup run --tag` (comma-separated, sorted), for
-- retention's keep-tag.
ALTER TABLE backups ADD COLUMN tags TEXT NOT NULL DEFAULT '';
