-- Pipeline runs: the run itself is a row of `runs` (operation `pipeline`,
-- target the pipeline's name); this holds what a resume needs and each step.
CREATE TABLE pipeline_runs (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id),
    pipeline TEXT NOT NULL,
    -- The inputs as given and defaulted, a JSON object.
    inputs TEXT NOT NULL,
    dry_run INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE pipeline_steps (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    step TEXT NOT NULL,
    -- `steps` or `on_failure`, and the step's place in that list.
    phase TEXT NOT NULL,
    position INTEGER NOT NULL,
    -- pending, running, succeeded, failed, skipped, cancelled
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at INTEGER,
    finished_at INTEGER,
    -- A JSON object of the step's outputs.
    outputs TEXT NOT NULL DEFAULT '{}',
    summary TEXT NOT NULL DEFAULT '',
    log TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, step)
);

-- Who holds a pipeline's concurrency key: one run at a time per key.
CREATE TABLE pipeline_keys (
    key TEXT PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id)
);
