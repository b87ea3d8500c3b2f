-- Resumable (tus) uploads. The video row is `pendingupload` until the last byte is in.
-- `received` is the offset made durable (fsynced) and acknowledged so far: a restart,
-- even after kill -9, resumes from it. `secret_hash` is set for `?direct_user=true`
-- uploads, whose URL works without API credentials (only its SHA-256 digest is kept).
-- `done` is 1 once the upload is complete and the video queued.
CREATE TABLE IF NOT EXISTS tus_uploads (
    uid          TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    length       BIGINT NOT NULL,
    received     BIGINT NOT NULL,
    metadata     TEXT NOT NULL,
    secret_hash  TEXT,
    expires      BIGINT NOT NULL,
    done         BIGINT NOT NULL,
    created      BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS tus_uploads_by_secret ON tus_uploads (secret_hash);
