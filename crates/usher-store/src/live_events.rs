//! Webhook notifications about live inputs: an event row and the job that delivers it,
//! written together (only for accounts with a webhook), so a notification exists
//! exactly when what it reports happened.

use usher_core::time_fmt::Micros;
use usher_core::{AccountId, LiveInputId, VideoId};

use crate::db::Db;
use crate::error::Result;
use crate::jobs::{self, NewJob};
use crate::row::{get, parse};

/// The job that delivers one live input notification.
pub const LIVE_WEBHOOK_JOB: &str = "live_webhook";

/// Something that happened to a live input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    pub id: String,
    pub account_id: AccountId,
    pub live_input_uid: LiveInputId,
    /// `live_input.connected` or `live_input.disconnected`.
    pub event_type: String,
    pub at: Micros,
}

impl Db {
    /// Records `event_type` for `input` and queues its delivery, if the account has a
    /// webhook; returns whether it did.
    pub async fn record_live_event(
        &self,
        account: &AccountId,
        input: &LiveInputId,
        event_type: &str,
        at: Micros,
    ) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let subscribed: Option<String> =
            sqlx::query_scalar("SELECT account_id FROM webhooks WHERE account_id = $1")
                .bind(account.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if subscribed.is_none() {
            return Ok(false);
        }
        let id = VideoId::generate();
        sqlx::query(
            "INSERT INTO live_events (id, account_id, live_input_uid, event_type, at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.as_str())
        .bind(account.as_str())
        .bind(input.as_str())
        .bind(event_type)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        jobs::insert(
            &mut tx,
            &id,
            NewJob {
                kind: LIVE_WEBHOOK_JOB,
            },
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The event a `live_webhook` job delivers.
    pub async fn live_event(&self, id: &VideoId) -> Result<Option<LiveEvent>> {
        let row = sqlx::query(
            "SELECT id, account_id, live_input_uid, event_type, at FROM live_events WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(LiveEvent {
                id: get(&r, "id")?,
                account_id: parse(&r, "account_id")?,
                live_input_uid: parse(&r, "live_input_uid")?,
                event_type: get(&r, "event_type")?,
                at: get(&r, "at")?,
            })
        })
        .transpose()
    }
}
