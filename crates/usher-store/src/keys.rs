//! Signing keys. A `user` key is created through the API: its private half is shown
//! once and never stored, only the public key (SPKI DER, base64) stays. Each account
//! also has one `account` key that Usher itself signs `POST …/token` requests with.

use sqlx::AssertSqlSafe;
use usher_core::{AccountId, KeyId};

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::row::{get, parse};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Account,
    User,
}

impl KeyKind {
    fn as_str(self) -> &'static str {
        match self {
            KeyKind::Account => "account",
            KeyKind::User => "user",
        }
    }
}

#[derive(Clone)]
pub struct KeyRecord {
    pub id: KeyId,
    pub account_id: AccountId,
    pub kind: KeyKind,
    /// Base64 SubjectPublicKeyInfo DER.
    pub public_key: String,
    /// Only ever set for the `account` kind: its PKCS#8 DER sealed under the master
    /// key (see [`crate::master_key`]); in the clear (base64) only in rows written
    /// before sealing existed, which `usher serve` seals when it starts.
    pub private_key: Option<String>,
    /// The master key that sealed `private_key`.
    pub master_key_id: Option<String>,
    pub created: i64,
    pub revoked_at: Option<i64>,
}

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("kind", &self.kind)
            .field("created", &self.created)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str =
    "id, account_id, kind, public_key, private_key, created, revoked_at, master_key_id";

fn from_row(r: &sqlx::any::AnyRow) -> Result<KeyRecord> {
    let kind: String = get(r, "kind")?;
    Ok(KeyRecord {
        id: parse(r, "id")?,
        account_id: parse(r, "account_id")?,
        kind: match kind.as_str() {
            "account" => KeyKind::Account,
            "user" => KeyKind::User,
            other => return Err(StoreError::Corrupt(format!("key kind {other:?}"))),
        },
        public_key: get(r, "public_key")?,
        private_key: get(r, "private_key")?,
        master_key_id: get(r, "master_key_id")?,
        created: get(r, "created")?,
        revoked_at: get(r, "revoked_at")?,
    })
}

impl Db {
    /// Inserts a key; for `user` keys, refuses once the account has `limit` live ones.
    pub async fn insert_key(&self, k: &KeyRecord, limit: usize) -> Result<()> {
        let mut tx = self.write_tx().await?;
        if k.kind == KeyKind::User {
            // Two inserts racing on PostgreSQL could both count below the limit; locking
            // the account row makes them count one after the other.
            sqlx::query(AssertSqlSafe(format!(
                "SELECT id FROM accounts WHERE id = $1{}",
                self.lock_read()
            )))
            .bind(k.account_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let live: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM signing_keys \
                 WHERE account_id = $1 AND kind = 'user' AND revoked_at IS NULL",
            )
            .bind(k.account_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
            if usize::try_from(live).unwrap_or(usize::MAX) >= limit {
                return Err(StoreError::LimitReached("signing keys"));
            }
        }
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO signing_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )))
        .bind(k.id.as_str())
        .bind(k.account_id.as_str())
        .bind(k.kind.as_str())
        .bind(&k.public_key)
        .bind(&k.private_key)
        .bind(k.created)
        .bind(k.revoked_at)
        .bind(&k.master_key_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Live keys the account created through the API, oldest first.
    pub async fn user_keys(&self, account: &AccountId) -> Result<Vec<KeyRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM signing_keys \
             WHERE account_id = $1 AND kind = 'user' AND revoked_at IS NULL ORDER BY created, id"
        )))
        .bind(account.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The live key of `account` with this id, of either kind.
    pub async fn live_key(&self, account: &AccountId, id: &KeyId) -> Result<Option<KeyRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM signing_keys \
             WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL"
        )))
        .bind(id.as_str())
        .bind(account.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Any key by id, revoked or not (the edge needs to tell "revoked" from "unknown").
    pub async fn key(&self, id: &KeyId) -> Result<Option<KeyRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM signing_keys WHERE id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn account_key(&self, account: &AccountId) -> Result<Option<KeyRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM signing_keys \
             WHERE account_id = $1 AND kind = 'account' AND revoked_at IS NULL \
             ORDER BY created DESC LIMIT 1"
        )))
        .bind(account.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Account keys whose private half is not sealed under master key `current` (in
    /// the clear, or under an older master key).
    pub async fn account_keys_to_seal(&self, current: &str) -> Result<Vec<KeyRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM signing_keys WHERE kind = 'account' \
             AND private_key IS NOT NULL AND (master_key_id IS NULL OR master_key_id <> $1)"
        )))
        .bind(current)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The master keys that sealed the keys stored, by id.
    pub async fn master_key_ids_in_use(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT master_key_id FROM signing_keys WHERE master_key_id IS NOT NULL \
             ORDER BY master_key_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Replaces a key's private half by `sealed` (under master key `master_key_id`), if
    /// it is still as `was` read it; false if another process got there first.
    pub async fn reseal_key(
        &self,
        was: &KeyRecord,
        master_key_id: &str,
        sealed: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE signing_keys SET private_key = $1, master_key_id = $2 \
             WHERE id = $3 AND private_key = $4",
        )
        .bind(sealed)
        .bind(master_key_id)
        .bind(was.id.as_str())
        .bind(&was.private_key)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Revokes a live user key; false when the account has no such live key.
    pub async fn revoke_user_key(&self, account: &AccountId, id: &KeyId, now: i64) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE signing_keys SET revoked_at = $1 \
             WHERE id = $2 AND account_id = $3 AND kind = 'user' AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id.as_str())
        .bind(account.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        self.bump_access_version(&mut *tx).await?;
        tx.commit().await?;
        self.mark_access_stale();
        Ok(true)
    }
}
