-- One counter bumped by every change that can alter an edge decision (key revoked,
-- policy edited, video published, errored or deleted). Edges poll it and drop their
-- caches when it moves, so a change reaches every process within a poll interval.
CREATE TABLE IF NOT EXISTS access_version (
    id       BIGINT PRIMARY KEY,
    version  BIGINT NOT NULL
);
INSERT INTO access_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
