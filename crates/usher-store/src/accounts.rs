//! Accounts: the tenant boundary. Credentials are stored as SHA-256 digests only.

use usher_core::AccountId;

use crate::db::Db;
use crate::error::Result;
use crate::row::{get, parse};

#[derive(Debug, Clone)]
pub struct AccountRecord {
    pub id: AccountId,
    pub email: String,
    pub api_token_hash: String,
    pub api_key_hash: String,
    pub created: i64,
}

impl Db {
    pub async fn insert_account(&self, a: &AccountRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO accounts (id, email, api_token_hash, api_key_hash, created) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(a.id.as_str())
        .bind(&a.email)
        .bind(&a.api_token_hash)
        .bind(&a.api_key_hash)
        .bind(a.created)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn account(&self, id: &AccountId) -> Result<Option<AccountRecord>> {
        let row = sqlx::query(
            "SELECT id, email, api_token_hash, api_key_hash, created FROM accounts WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(AccountRecord {
                id: parse(&r, "id")?,
                email: get(&r, "email")?,
                api_token_hash: get(&r, "api_token_hash")?,
                api_key_hash: get(&r, "api_key_hash")?,
                created: get(&r, "created")?,
            })
        })
        .transpose()
    }
}
