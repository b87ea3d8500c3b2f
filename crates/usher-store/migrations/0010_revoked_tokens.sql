-- Single tokens revoked without revoking their key (SPEC §9, `POST …/token/revoke`).
-- `token_id` is `jti:` + the token's jti, or for a token without one `sha256:` + the
-- SHA-256 of the token itself. Kept only until the token would have expired anyway.
CREATE TABLE IF NOT EXISTS revoked_tokens (
    video_uid  TEXT NOT NULL,
    token_id   TEXT NOT NULL,
    expires    BIGINT NOT NULL,
    created    BIGINT NOT NULL,
    PRIMARY KEY (video_uid, token_id)
);
CREATE INDEX IF NOT EXISTS revoked_tokens_by_expiry ON revoked_tokens (expires);
