-- Adaptive delivery (SPEC §7): the published master-manifest revision, clips,
-- watermarks, captions and additional audio tracks. Migrations run one process at a time
-- (see db.rs), so ALTER TABLE is safe here on both databases.

-- The masters (video.m3u8/video.mpd with captions and audio tracks) the edge serves:
-- `videos/{uid}/masters/{manifest_revision}`. `tracks_version` moves with every change
-- to the video's captions or audio tracks; `published_tracks_version` is the version the
-- current revision was rendered from, so a slower publisher never replaces a newer one.
ALTER TABLE videos ADD COLUMN manifest_revision TEXT;
ALTER TABLE videos ADD COLUMN tracks_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE videos ADD COLUMN published_tracks_version BIGINT NOT NULL DEFAULT -1;
-- The audio tracks (JSON array of uids) the current masters list: the edge serves a
-- track's files only while they do.
ALTER TABLE videos ADD COLUMN published_audio TEXT NOT NULL DEFAULT '[]';
-- Clips: the source video and the span of it (seconds).
ALTER TABLE videos ADD COLUMN clipped_from TEXT;
ALTER TABLE videos ADD COLUMN clip_start DOUBLE PRECISION;
ALTER TABLE videos ADD COLUMN clip_end DOUBLE PRECISION;
-- The watermark profile (JSON) as it was when the video was uploaded.
ALTER TABLE videos ADD COLUMN watermark TEXT;

-- Watermark profiles; the image is the blob `watermarks/{account_id}/{uid}`.
CREATE TABLE IF NOT EXISTS watermarks (
    uid              TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    name             TEXT NOT NULL,
    size             BIGINT NOT NULL,
    width            BIGINT NOT NULL,
    height           BIGINT NOT NULL,
    opacity          DOUBLE PRECISION NOT NULL,
    padding          DOUBLE PRECISION NOT NULL,
    scale            DOUBLE PRECISION NOT NULL,
    position         TEXT NOT NULL,
    downloaded_from  TEXT,
    created          BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS watermarks_by_account ON watermarks (account_id, created);

-- Captions, one per video and language (BCP 47 tag as given, canonical case). The
-- WebVTT text is kept here (converted from SRT when uploaded as SRT): captions are
-- small, and row and text then change together in one transaction.
-- status: ready | inprogress | error (inprogress/error only for generated captions).
CREATE TABLE IF NOT EXISTS captions (
    video_uid  TEXT NOT NULL,
    language   TEXT NOT NULL,
    label      TEXT NOT NULL,
    generated  BIGINT NOT NULL,
    status     TEXT NOT NULL,
    vtt        TEXT NOT NULL,
    created    BIGINT NOT NULL,
    modified   BIGINT NOT NULL,
    PRIMARY KEY (video_uid, language)
);

-- Additional audio tracks. Media is under `videos/{video_uid}/audio/{uid}`; `rendition`
-- is its segment index (JSON) once encoded. status: queued | ready | error.
CREATE TABLE IF NOT EXISTS audio_tracks (
    uid         TEXT PRIMARY KEY,
    video_uid   TEXT NOT NULL,
    label       TEXT NOT NULL,
    is_default  BIGINT NOT NULL,
    status      TEXT NOT NULL,
    source_url  TEXT NOT NULL,
    rendition   TEXT,
    error       TEXT,
    created     BIGINT NOT NULL,
    modified    BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS audio_tracks_by_label ON audio_tracks (video_uid, label);
