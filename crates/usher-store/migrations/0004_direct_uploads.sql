-- One-time upload URLs (`POST …/stream/direct_upload`). Only the SHA-256 digest of the
-- URL's secret is kept. state: open | receiving (an upload is in flight) | used.
CREATE TABLE IF NOT EXISTS direct_uploads (
    uid         TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL,
    expires     BIGINT NOT NULL,
    state       TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS direct_uploads_by_hash ON direct_uploads (token_hash);
