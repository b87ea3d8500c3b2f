-- Where a video copied from a URL (`POST …/stream/copy`) is fetched from; kept after the
-- copy so a retried job (and an operator) can see the source.
CREATE TABLE IF NOT EXISTS copy_sources (
    uid      TEXT PRIMARY KEY,
    url      TEXT NOT NULL,
    created  BIGINT NOT NULL
);
