//! `usher account create`: a new tenant and its credentials, printed once.

use anyhow::Context;
use serde_json::json;
use usher_core::AccountId;
use usher_core::secret::{generate_api_key, generate_api_token};
use usher_core::time_fmt::now_micros;
use usher_store::AccountRecord;

use crate::cli::AccountCreateArgs;
use crate::storage;

pub async fn create(args: AccountCreateArgs) -> anyhow::Result<()> {
    let email = args.email.trim();
    anyhow::ensure!(
        email.len() <= 254
            && email
                .split_once('@')
                .is_some_and(|(u, d)| !u.is_empty() && !d.is_empty()),
        "--email must be an email address"
    );
    let stores = storage::open(&args.storage).await?;
    let id = AccountId::generate();
    let token = generate_api_token();
    let key = generate_api_key();
    stores
        .db
        .insert_account(&AccountRecord {
            id: id.clone(),
            email: email.to_owned(),
            api_token_hash: token.digest_hex(),
            api_key_hash: key.digest_hex(),
            created: now_micros(),
        })
        .await
        .context("storing the account")?;
    stores.db.close().await;
    if args.json {
        println!(
            "{}",
            json!({
                "account_id": id.as_str(),
                "email": email,
                "api_token": token.expose(),
                "api_key": key.expose(),
            })
        );
    } else {
        println!("account_id: {id}");
        println!("email:      {email}");
        println!("api_token:  {}", token.expose());
        println!("api_key:    {}", key.expose());
        println!("(the token and key are shown once; Usher keeps only their digests)");
    }
    Ok(())
}
