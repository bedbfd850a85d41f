-- Which process runs a run (host, pid, and its start time against pid
-- reuse), so a run left `running` by a killed bosun is found and marked
-- `interrupted` by the next one.
ALTER TABLE runs ADD COLUMN host TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN pid_started TEXT NOT NULL DEFAULT '';
