//! `usher keys create|list|revoke`: signing keys, through the API.

use reqwest::Method;

use super::{Api, print_json};
use crate::cli::ClientArgs;

pub async fn create(args: &ClientArgs) -> anyhow::Result<()> {
    let key = Api::new(args)?.call(Method::POST, "/stream/keys").await?;
    if args.json {
        return print_json(&key);
    }
    let field = |name: &str| key[name].as_str().unwrap_or_default().to_owned();
    println!("id:      {}", field("id"));
    println!("created: {}", field("created"));
    println!("pem:     {}", field("pem"));
    println!("jwk:     {}", field("jwk"));
    eprintln!(
        "The pem and jwk are shown this once: the server keeps only the public key. \
         Sign tokens with: usher token sign --key-id ID --pem PEM --video UID"
    );
    Ok(())
}

pub async fn list(args: &ClientArgs) -> anyhow::Result<()> {
    let keys = Api::new(args)?.call(Method::GET, "/stream/keys").await?;
    if args.json {
        return print_json(&keys);
    }
    for k in keys.as_array().map(Vec::as_slice).unwrap_or_default() {
        println!(
            "{}  {}",
            k["id"].as_str().unwrap_or_default(),
            k["created"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}

pub async fn revoke(args: &ClientArgs, id: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()),
        "not a key id: {id:?}"
    );
    let result = Api::new(args)?
        .call(Method::DELETE, &format!("/stream/keys/{id}"))
        .await?;
    if args.json {
        return print_json(&result);
    }
    println!("{id}: revoked");
    Ok(())
}
