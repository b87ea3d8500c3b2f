-- One webhook subscription per account (`PUT …/stream/webhook`). The signing secret is
-- kept in the clear: it is the HMAC key every delivery is signed with, and the API shows
-- it again on GET as Cloudflare does, so a digest would not do.
CREATE TABLE IF NOT EXISTS webhooks (
    account_id        TEXT PRIMARY KEY,
    notification_url  TEXT NOT NULL,
    secret            TEXT NOT NULL,
    modified          BIGINT NOT NULL
);
-- The reaper looks for videos whose scheduledDeletion or uploadExpiry has passed.
CREATE INDEX IF NOT EXISTS videos_by_scheduled_deletion ON videos (scheduled_deletion);
CREATE INDEX IF NOT EXISTS videos_by_upload_expiry ON videos (state, upload_expiry);
