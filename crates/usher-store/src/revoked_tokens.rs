//! Single revoked tokens (SPEC §9): a token can be refused everywhere without revoking
//! the key that signed it. Each entry moves the access version, so every edge drops the
//! verified tokens it cached and checks again; it lasts until the token's own expiry,
//! after which the token is refused anyway and the reaper removes the entry.

use usher_core::time_fmt::Micros;
use usher_core::{AccountId, VideoId};

use crate::db::Db;
use crate::error::Result;

impl Db {
    /// Revokes token `token_id` of the account's video until `expires` (unix seconds);
    /// `None` if the account has no such video. Revoking twice keeps the later expiry.
    pub async fn revoke_token(
        &self,
        account: &AccountId,
        uid: &VideoId,
        token_id: &str,
        expires: i64,
        now: Micros,
    ) -> Result<Option<()>> {
        let mut tx = self.write_tx().await?;
        if crate::videos::owned_in(self, &mut tx, account, uid)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO revoked_tokens (video_uid, token_id, expires, created) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (video_uid, token_id) \
             DO UPDATE SET expires = CASE WHEN revoked_tokens.expires > excluded.expires \
             THEN revoked_tokens.expires ELSE excluded.expires END",
        )
        .bind(uid.as_str())
        .bind(token_id)
        .bind(expires)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        self.bump_access_version(&mut *tx).await?;
        tx.commit().await?;
        self.mark_access_stale();
        Ok(Some(()))
    }

    /// Whether token `token_id` of video `uid` is revoked.
    pub async fn is_token_revoked(&self, uid: &VideoId, token_id: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM revoked_tokens WHERE video_uid = $1 AND token_id = $2",
        )
        .bind(uid.as_str())
        .bind(token_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Forgets revocations of tokens past their expiry (unix seconds `now`, less
    /// `skew` more seconds of grace); returns how many.
    pub async fn forget_expired_revocations(&self, now_secs: i64, skew: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM revoked_tokens WHERE expires < $1")
            .bind(now_secs.saturating_sub(skew.max(0)))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
