//! `…/stream/webhook`: the account's one webhook subscription — set (`PUT`, which also
//! issues a fresh signing secret), read and remove. Deliveries are `crate::webhooks`.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use usher_core::ids::random_hex_id;
use usher_core::time_fmt::{format_micros, now_micros};
use usher_store::WebhookRecord;

use crate::auth::Authed;
use crate::body::JsonBody;
use crate::envelope::ok;
use crate::error::ApiError;
use crate::state::ApiState;

/// Longest notification URL accepted (the common browser and proxy limit).
pub const MAX_NOTIFICATION_URL_LEN: usize = 2048;

/// The SDKs send the URL as `notificationUrl` (Cloudflare's documented name) or as
/// `notification_url`; both are accepted.
#[derive(Debug, Default, Deserialize)]
pub struct PutRequest {
    #[serde(rename = "notificationUrl")]
    camel: Option<String>,
    #[serde(rename = "notification_url")]
    snake: Option<String>,
}

/// A URL we can POST to: absolute http or https with a host, no fragment.
fn notification_url(req: PutRequest) -> Result<String, ApiError> {
    let raw = match (req.camel, req.snake) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::bad(
                "notificationUrl: notificationUrl and notification_url disagree",
            ));
        }
        (Some(u), _) | (None, Some(u)) => u,
        (None, None) => return Err(ApiError::bad("notificationUrl: required")),
    };
    if raw.len() > MAX_NOTIFICATION_URL_LEN {
        return Err(ApiError::bad("notificationUrl: at most 2048 characters"));
    }
    let bad = || ApiError::bad("notificationUrl: must be an absolute http:// or https:// URL");
    let url = reqwest::Url::parse(&raw).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none_or(str::is_empty)
        || url.fragment().is_some()
    {
        return Err(bad());
    }
    Ok(raw)
}

fn render(w: &WebhookRecord) -> Value {
    json!({
        "notificationUrl": w.notification_url,
        "modified": format_micros(w.modified),
        "secret": w.secret,
    })
}

pub async fn update(
    State(st): State<ApiState>,
    auth: Authed,
    JsonBody(req): JsonBody<PutRequest>,
) -> Result<Response, ApiError> {
    let url = notification_url(req)?;
    // An address the deliveries may not reach is refused now, not at the first delivery.
    if usher_outbound::check_url(&st.config.copy_policy, &url).is_err() {
        return Err(ApiError::bad(
            "notificationUrl: the host is not allowed (private, loopback, link-local or reserved address)",
        ));
    }
    let hook = WebhookRecord {
        account_id: auth.account,
        notification_url: url,
        // A fresh secret on every PUT: re-subscribing is how a leaked secret is rotated.
        secret: random_hex_id(),
        modified: now_micros(),
    };
    st.db.put_webhook(&hook).await?;
    Ok(ok(render(&hook)))
}

pub async fn get(State(st): State<ApiState>, auth: Authed) -> Result<Response, ApiError> {
    let hook = st
        .db
        .webhook(&auth.account)
        .await?
        .ok_or(ApiError::NotFound("Webhook not found"))?;
    Ok(ok(render(&hook)))
}

pub async fn delete(State(st): State<ApiState>, auth: Authed) -> Result<Response, ApiError> {
    if !st.db.delete_webhook(&auth.account).await? {
        return Err(ApiError::NotFound("Webhook not found"));
    }
    Ok(ok("ok"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(camel: Option<&str>, snake: Option<&str>) -> Result<String, ApiError> {
        notification_url(PutRequest {
            camel: camel.map(str::to_owned),
            snake: snake.map(str::to_owned),
        })
    }

    #[test]
    fn accepts_http_and_https_under_either_name() {
        assert_eq!(
            parse(Some("https://h.example/x?y=1"), None).unwrap(),
            "https://h.example/x?y=1"
        );
        assert_eq!(
            parse(None, Some("http://127.0.0.1:9/")).unwrap(),
            "http://127.0.0.1:9/"
        );
        assert!(parse(Some("http://a/"), Some("http://a/")).is_ok());
    }

    #[test]
    fn refuses_everything_else_naming_the_field() {
        let long = format!("http://h/{}", "a".repeat(MAX_NOTIFICATION_URL_LEN));
        for bad in [
            "",
            "not a url",
            "/relative",
            "ftp://h/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "http://h/#frag",
            long.as_str(),
        ] {
            let e = parse(Some(bad), None).unwrap_err();
            assert!(matches!(e, ApiError::BadRequest(_)), "{bad:?}");
            assert!(e.to_string().starts_with("notificationUrl:"), "{e}");
        }
        assert!(parse(None, None).is_err());
        assert!(parse(Some("http://a/"), Some("http://b/")).is_err());
    }
}
