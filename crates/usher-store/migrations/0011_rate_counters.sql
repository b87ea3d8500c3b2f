-- Request counters shared by every API process (SPEC §9): `POST …/token` calls per
-- account and failed authentications per client address and per account, each in
-- one-minute windows (`minute` = unix time / 60). Old windows are deleted by the reaper.
CREATE TABLE IF NOT EXISTS rate_counters (
    counter  TEXT NOT NULL,
    minute   BIGINT NOT NULL,
    hits     BIGINT NOT NULL,
    PRIMARY KEY (counter, minute)
);
