-- Approvals of a pipeline run's `approve` step: who decided, how, why, when.
CREATE TABLE pipeline_approvals (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    step TEXT NOT NULL,
    approved INTEGER NOT NULL,
    who TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    at INTEGER NOT NULL,
    PRIMARY KEY (run_id, step)
);
