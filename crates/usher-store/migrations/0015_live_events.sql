-- Notifications about live inputs (`live_input.connected`, `live_input.disconnected`)
-- waiting to be delivered to the account's webhook. A `live_webhook` job names its
-- event by id in `jobs.video_uid` (jobs are keyed by a subject uid, and an event id
-- has a uid's shape); the event row says what happened to which input, and when.
CREATE TABLE IF NOT EXISTS live_events (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL,
    live_input_uid  TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    at              BIGINT NOT NULL
);
