-- One schema text for SQLite and PostgreSQL: TEXT ids, BIGINT microsecond times,
-- BIGINT 0/1 flags (sqlx's Any driver cannot decode SQLite booleans), TEXT JSON.

CREATE TABLE IF NOT EXISTS accounts (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL,
    api_token_hash  TEXT NOT NULL,
    api_key_hash    TEXT NOT NULL,
    created         BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS signing_keys (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL,
    -- 'account': Usher's own key for POST /token; 'user': created through the API, public half only.
    kind            TEXT NOT NULL,
    public_key      TEXT NOT NULL,
    private_key     TEXT,
    created         BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX IF NOT EXISTS signing_keys_by_account ON signing_keys (account_id, kind, revoked_at);

CREATE TABLE IF NOT EXISTS videos (
    uid                   TEXT PRIMARY KEY,
    account_id            TEXT NOT NULL,
    created               BIGINT NOT NULL,
    modified              BIGINT NOT NULL,
    uploaded              BIGINT,
    creator               TEXT,
    meta                  TEXT NOT NULL,
    name_lower            TEXT,
    size                  BIGINT NOT NULL,
    duration              DOUBLE PRECISION NOT NULL,
    width                 BIGINT NOT NULL,
    height                BIGINT NOT NULL,
    state                 TEXT NOT NULL,
    pct_complete          DOUBLE PRECISION NOT NULL,
    error_reason          TEXT,
    ready_at              BIGINT,
    require_signed_urls   BIGINT NOT NULL,
    allowed_origins       TEXT NOT NULL,
    thumbnail_pct         DOUBLE PRECISION NOT NULL,
    max_duration_seconds  BIGINT,
    scheduled_deletion    BIGINT,
    upload_expiry         BIGINT,
    media_generation      TEXT
);
CREATE INDEX IF NOT EXISTS videos_by_account ON videos (account_id, created);

CREATE TABLE IF NOT EXISTS jobs (
    id            TEXT PRIMARY KEY,
    video_uid     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    -- queued | running | done | failed
    state         TEXT NOT NULL,
    attempts      BIGINT NOT NULL,
    run_after     BIGINT NOT NULL,
    lease_until   BIGINT,
    worker        TEXT,
    last_error    TEXT,
    created       BIGINT NOT NULL,
    updated       BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, run_after);
CREATE INDEX IF NOT EXISTS jobs_by_video ON jobs (video_uid);
