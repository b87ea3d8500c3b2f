-- Resumable uploads that any API process can take (issue 14 item 5). The bytes of an
-- unfinished upload are staged in the media store as part blobs,
-- `uploads/{uid}/parts/{start}-{writer}`, listed here in order: the recorded parts tile
-- `[0, received)`. Nothing else of the media store counts, so a part a crash left
-- unrecorded is garbage.
--
-- `writer` is the lease of the one request appending to (or completing) the upload,
-- until `writer_until` (unix micros): only it may record parts and move `received`, so
-- of two PATCHes at once one is refused, and a process killed mid-PATCH holds the upload
-- only until its lease lapses.
ALTER TABLE tus_uploads ADD COLUMN writer TEXT;
ALTER TABLE tus_uploads ADD COLUMN writer_until BIGINT;

CREATE TABLE IF NOT EXISTS tus_parts (
    uid           TEXT NOT NULL,
    start_offset  BIGINT NOT NULL,
    end_offset    BIGINT NOT NULL,
    writer        TEXT NOT NULL,
    PRIMARY KEY (uid, start_offset)
);

-- Unfinished uploads were staged on one machine's disk (`tmp/tus/`), which nothing reads
-- any more: they resume from the start (clients ask HEAD where to resume).
UPDATE tus_uploads SET received = 0 WHERE done = 0;
