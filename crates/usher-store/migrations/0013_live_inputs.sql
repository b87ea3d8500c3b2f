-- Live inputs (SPEC §8, `…/stream/live_inputs`): what a broadcaster streams to. The
-- stream key and SRT passphrase are kept as they are, not as digests: the API shows them
-- to the owner on every GET, as Cloudflare does. A key is `{uid}k{32 hex}`, so the
-- ingest finds its row by primary key and compares the whole key in constant time.
-- `status_state` is null until the input has ever connected.
CREATE TABLE IF NOT EXISTS live_inputs (
    uid                          TEXT PRIMARY KEY,
    account_id                   TEXT NOT NULL,
    meta                         TEXT NOT NULL,
    enabled                      BIGINT NOT NULL,
    default_creator              TEXT,
    delete_recording_after_days  BIGINT,
    prefer_low_latency           BIGINT NOT NULL,
    -- 'off' | 'automatic'
    recording_mode               TEXT NOT NULL,
    require_signed_urls          BIGINT NOT NULL,
    allowed_origins              TEXT NOT NULL,
    timeout_seconds              BIGINT NOT NULL,
    hide_live_viewer_count       BIGINT NOT NULL,
    stream_key                   TEXT NOT NULL,
    srt_passphrase               TEXT NOT NULL,
    status_state                 TEXT,
    status_entered_at            BIGINT,
    created                      BIGINT NOT NULL,
    modified                     BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS live_inputs_by_account ON live_inputs (account_id, created);

-- Where a live input's broadcast is re-streamed (simulcast). The target's stream key is
-- the customer's secret for another service, kept as given because the restreamer
-- needs it.
CREATE TABLE IF NOT EXISTS live_outputs (
    uid             TEXT PRIMARY KEY,
    live_input_uid  TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    url             TEXT NOT NULL,
    stream_key      TEXT NOT NULL,
    enabled         BIGINT NOT NULL,
    created         BIGINT NOT NULL,
    modified        BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS live_outputs_by_input ON live_outputs (live_input_uid, created);

-- The live input a video is a recording of (`liveInput` in the video object).
ALTER TABLE videos ADD COLUMN live_input TEXT;
CREATE INDEX IF NOT EXISTS videos_by_live_input ON videos (live_input, created);
