//! Outputs of a live input (`…/live_inputs/{uid}/outputs`): other RTMP servers its
//! broadcast is re-streamed to. The API reaches them only through the account's input;
//! the ingest lists an input's outputs by uid.

use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use usher_core::time_fmt::Micros;
use usher_core::{AccountId, LiveInputId, LiveOutputId, Secret};

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::live_inputs::owned_in;
use crate::row::{flag, get, parse};

/// Outputs per live input: each is a process re-streaming the broadcast, so this
/// bounds what one broadcaster can make the server do.
pub const MAX_LIVE_OUTPUTS: usize = 50;

const COLUMNS: &str =
    "uid, live_input_uid, account_id, url, stream_key, enabled, created, modified";

/// One output. `Debug` does not show the target's stream key.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveOutputRecord {
    pub uid: LiveOutputId,
    pub live_input_uid: LiveInputId,
    pub account_id: AccountId,
    /// Where to re-stream: `rtmp://`, `rtmps://` or `srt://`.
    pub url: String,
    /// The target service's key for this stream.
    pub stream_key: Secret,
    /// Whether the broadcast is sent there.
    pub enabled: bool,
    pub created: Micros,
    pub modified: Micros,
}

fn from_row(r: &AnyRow) -> Result<LiveOutputRecord> {
    Ok(LiveOutputRecord {
        uid: parse(r, "uid")?,
        live_input_uid: parse(r, "live_input_uid")?,
        account_id: parse(r, "account_id")?,
        url: get(r, "url")?,
        stream_key: Secret::new(get::<String>(r, "stream_key")?),
        enabled: flag(r, "enabled")?,
        created: get(r, "created")?,
        modified: get(r, "modified")?,
    })
}

impl Db {
    /// Adds an output to its account's input; `false` if the account has no such
    /// input. Refuses once the input has [`MAX_LIVE_OUTPUTS`].
    pub async fn insert_live_output(&self, output: &LiveOutputRecord) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        // Locked: outputs racing each other, or the input's deletion, count and insert
        // one after the other, so neither the limit nor an orphan slips through.
        let input = owned_in(self, &mut tx, &output.account_id, &output.live_input_uid).await?;
        if input.is_none() {
            return Ok(false);
        }
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM live_outputs WHERE live_input_uid = $1")
                .bind(output.live_input_uid.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if usize::try_from(n).unwrap_or(usize::MAX) >= MAX_LIVE_OUTPUTS {
            return Err(StoreError::LimitReached("live outputs"));
        }
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO live_outputs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )))
        .bind(output.uid.as_str())
        .bind(output.live_input_uid.as_str())
        .bind(output.account_id.as_str())
        .bind(&output.url)
        .bind(output.stream_key.expose())
        .bind(i64::from(output.enabled))
        .bind(output.created)
        .bind(output.modified)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The outputs of the account's input, oldest first; `None` if the account has no
    /// such input.
    pub async fn list_live_outputs(
        &self,
        account: &AccountId,
        input: &LiveInputId,
    ) -> Result<Option<Vec<LiveOutputRecord>>> {
        if self.account_live_input(account, input).await?.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM live_outputs WHERE live_input_uid = $1 AND account_id = $2 \
             ORDER BY created, uid"
        )))
        .bind(input.as_str())
        .bind(account.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect::<Result<_>>().map(Some)
    }

    /// Turns the account's output on or off and returns it, or `None` if the account
    /// has no such output on that input.
    pub async fn set_live_output_enabled(
        &self,
        account: &AccountId,
        input: &LiveInputId,
        output: &LiveOutputId,
        enabled: bool,
        now: Micros,
    ) -> Result<Option<LiveOutputRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE live_outputs SET enabled = $1, modified = $2 \
             WHERE uid = $3 AND live_input_uid = $4 AND account_id = $5 RETURNING {COLUMNS}"
        )))
        .bind(i64::from(enabled))
        .bind(now)
        .bind(output.as_str())
        .bind(input.as_str())
        .bind(account.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Removes the account's output; `false` if the account has no such output on that
    /// input.
    pub async fn delete_live_output(
        &self,
        account: &AccountId,
        input: &LiveInputId,
        output: &LiveOutputId,
    ) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM live_outputs WHERE uid = $1 AND live_input_uid = $2 AND account_id = $3",
        )
        .bind(output.as_str())
        .bind(input.as_str())
        .bind(account.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The outputs of an input whatever its account, oldest first: for the ingest,
    /// which re-streams to the enabled ones.
    pub async fn live_outputs_of(&self, input: &LiveInputId) -> Result<Vec<LiveOutputRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM live_outputs WHERE live_input_uid = $1 ORDER BY created, uid"
        )))
        .bind(input.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_stream_key() {
        let output = LiveOutputRecord {
            uid: LiveOutputId::generate(),
            live_input_uid: LiveInputId::generate(),
            account_id: AccountId::generate(),
            url: "rtmp://live.example/app".into(),
            stream_key: Secret::new("target-service-key"),
            enabled: true,
            created: 0,
            modified: 0,
        };
        assert!(!format!("{output:?}").contains("target-service-key"));
    }
}
