//! `usher token explain TOKEN`: asks the server what its edges would decide for a
//! signed-URL token now, and why (SPEC §9), and prints every check.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Api, print_json};
use crate::cli::TokenExplainArgs;

pub async fn explain(args: &TokenExplainArgs) -> anyhow::Result<()> {
    let mut body = json!({"token": args.signed_token});
    for (field, value) in [
        ("video", &args.video),
        ("ip", &args.ip),
        ("country", &args.country),
        ("origin", &args.origin),
        ("resource", &args.resource),
    ] {
        if let Some(v) = value {
            body[field] = Value::String(v.clone());
        }
    }
    let answer = Api::new(&args.client)?
        .call_with(Method::POST, "/stream/token/explain", &body)
        .await?;
    if args.client.json {
        return print_json(&answer);
    }
    for c in answer["checks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let mark = if c["ok"] == Value::Bool(true) {
            "ok  "
        } else {
            "FAIL"
        };
        println!(
            "{mark} {:<12} {}",
            c["check"].as_str().unwrap_or_default(),
            c["detail"].as_str().unwrap_or_default()
        );
    }
    let status = answer["status"].as_u64().unwrap_or_default();
    if answer["allowed"] == Value::Bool(true) {
        println!("=> allowed ({status})");
    } else {
        println!(
            "=> refused: {status} {}",
            answer["reason"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}
