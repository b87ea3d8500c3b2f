-- The broadcast each live input is running now (SPEC §8): at most one per input, held by
-- the ingest process that accepted its publisher under a lease it renews. A second
-- publisher, on any process, finds the row held and is refused; a crashed ingest's run
-- is taken over once its lease has run out. The edges serve `live/{input}/{run_id}/`.
CREATE TABLE IF NOT EXISTS live_runs (
    live_input_uid TEXT PRIMARY KEY,
    run_id         TEXT NOT NULL,
    started        BIGINT NOT NULL,
    lease_until    BIGINT NOT NULL
);
