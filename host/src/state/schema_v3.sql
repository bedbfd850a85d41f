-- One row per container recreated by `bosun images update`.
CREATE TABLE image_updates (
    id           INTEGER PRIMARY KEY,
    image        TEXT NOT NULL,
    container    TEXT NOT NULL,
    old_image_id TEXT NOT NULL,
    new_image_id TEXT NOT NULL,
    was_running  INTEGER NOT NULL,
    outcome      TEXT NOT NULL,
    error        TEXT,
    who          TEXT NOT NULL,
    at           INTEGER NOT NULL,
    run_id       INTEGER REFERENCES runs(id)
);
