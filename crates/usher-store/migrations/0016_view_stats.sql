-- Viewing analytics (SPEC §10), counted by the edges and flushed in batches.
-- One row per video (or live input) per UTC day; `day` is YYYY-MM-DD, which sorts and
-- compares as dates on both SQLite and PostgreSQL. Minutes are kept as integer
-- milliseconds so that sums are exact.
CREATE TABLE IF NOT EXISTS view_stats (
    account_id       TEXT NOT NULL,
    uid              TEXT NOT NULL,
    day              TEXT NOT NULL,
    views            BIGINT NOT NULL DEFAULT 0,
    millis_delivered BIGINT NOT NULL DEFAULT 0,
    bytes_delivered  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, uid, day)
);
CREATE INDEX IF NOT EXISTS view_stats_by_day ON view_stats (account_id, day);

CREATE TABLE IF NOT EXISTS view_denials (
    account_id TEXT NOT NULL,
    uid        TEXT NOT NULL,
    day        TEXT NOT NULL,
    reason     TEXT NOT NULL,
    denials    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, uid, day, reason)
);

-- Who has been counted as a view of which video in which 30-minute window, shared by
-- every edge so that a viewer moving between edges is one view. `viewer` is a hash of
-- the token or client address; rows are deleted once their window is over.
CREATE TABLE IF NOT EXISTS view_sessions (
    uid    TEXT NOT NULL,
    viewer TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    PRIMARY KEY (uid, viewer, bucket)
);

-- Batches already applied: a flush retried after an ambiguous failure (the commit may
-- have happened) is recognised and not counted twice.
CREATE TABLE IF NOT EXISTS view_batches (
    id      TEXT PRIMARY KEY,
    applied BIGINT NOT NULL
);

-- Live viewers now, as each edge process saw them at its last flush (SPEC §8/§10): the
-- count of a broadcast is the sum over the edges that reported lately.
CREATE TABLE IF NOT EXISTS live_viewers (
    edge           TEXT NOT NULL,
    live_input_uid TEXT NOT NULL,
    viewers        BIGINT NOT NULL,
    reported       BIGINT NOT NULL,
    PRIMARY KEY (edge, live_input_uid)
);
