-- Videos whose MP4 download is enabled (`POST …/stream/{uid}/downloads`). A table of
-- its own rather than a column: CREATE TABLE IF NOT EXISTS is idempotent on both
-- databases, so processes starting together can all run it.
CREATE TABLE IF NOT EXISTS video_downloads (
    uid      TEXT PRIMARY KEY,
    created  BIGINT NOT NULL
);
