//! Webhook subscriptions: at most one notification URL per account, with the secret its
//! deliveries are signed with. The secret is stored as is (not a digest) because the
//! dispatcher needs it to compute every signature.

use usher_core::AccountId;
use usher_core::time_fmt::Micros;

use crate::db::Db;
use crate::error::Result;
use crate::row::{get, parse};

/// The job that delivers one notification about one video.
pub const WEBHOOK_JOB: &str = "webhook";

/// An account's webhook subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub account_id: AccountId,
    pub notification_url: String,
    /// The HMAC-SHA256 key for `Webhook-Signature`; shown to the account's owner only.
    pub secret: String,
    pub modified: Micros,
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<WebhookRecord> {
    Ok(WebhookRecord {
        account_id: parse(r, "account_id")?,
        notification_url: get(r, "notification_url")?,
        secret: get(r, "secret")?,
        modified: get(r, "modified")?,
    })
}

/// Whether the video's account has a webhook, read inside the caller's transaction so the
/// job it enqueues and the state change it reports commit together.
pub(crate) async fn video_account_subscribed(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    uid: &str,
) -> Result<bool> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT w.account_id FROM webhooks w JOIN videos v ON v.account_id = w.account_id \
         WHERE v.uid = $1",
    )
    .bind(uid)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}

impl Db {
    /// Creates or replaces the account's webhook.
    pub async fn put_webhook(&self, w: &WebhookRecord) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO webhooks (account_id, notification_url, secret, modified) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account_id) DO UPDATE SET \
             notification_url = excluded.notification_url, secret = excluded.secret, \
             modified = excluded.modified",
        )
        .bind(w.account_id.as_str())
        .bind(&w.notification_url)
        .bind(&w.secret)
        .bind(w.modified)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn webhook(&self, account: &AccountId) -> Result<Option<WebhookRecord>> {
        let row = sqlx::query(
            "SELECT account_id, notification_url, secret, modified FROM webhooks \
             WHERE account_id = $1",
        )
        .bind(account.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Removes the account's webhook; false if it had none. Notifications already queued
    /// are dropped by the dispatcher when it finds no subscription.
    pub async fn delete_webhook(&self, account: &AccountId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM webhooks WHERE account_id = $1")
            .bind(account.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
