//! The client commands (`upload`, `keys`, `video`): they talk to a running server's
//! management API over HTTP with an API token, exactly as any other client would.

pub mod explain;
pub mod keys;
mod resume;
pub mod upload;
pub mod videos;

use std::time::Duration;

use anyhow::{Context, anyhow};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

use crate::cli::ClientArgs;

/// How long one API call may take (uploads stream with no overall limit).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A server's management API, as one account.
pub struct Api {
    http: reqwest::Client,
    server: String,
    account: String,
    token: String,
}

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The server could not be reached, or failed in a way a retry may fix.
    #[error("{0}")]
    Unavailable(String),
    /// The server refused the request; retrying the same request will not help.
    #[error("{status}: {message}")]
    Refused { status: StatusCode, message: String },
}

impl CallError {
    pub fn from_reqwest(e: reqwest::Error) -> Self {
        Self::Unavailable(format!("cannot reach the server: {e}"))
    }

    /// An HTTP error answer, with the Cloudflare envelope's message when there is one.
    pub fn from_answer(status: StatusCode, body: &str) -> Self {
        let message = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v["errors"][0]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            Self::Unavailable(format!("the server answered {status}: {message}"))
        } else {
            Self::Refused { status, message }
        }
    }
}

impl Api {
    pub fn new(args: &ClientArgs) -> anyhow::Result<Self> {
        anyhow::ensure!(
            args.server.starts_with("http://") || args.server.starts_with("https://"),
            "--server must be an http:// or https:// URL"
        );
        anyhow::ensure!(
            args.account.len() == 32 && args.account.bytes().all(|b| b.is_ascii_hexdigit()),
            "--account must be an account id (32 hex characters)"
        );
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            http,
            server: args.server.trim_end_matches('/').to_owned(),
            account: args.account.clone(),
            token: args.token.clone(),
        })
    }

    /// A request to `url` (absolute) with the account's credentials.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.http.request(method, url).bearer_auth(&self.token)
    }

    /// The URL of `path` under the account, e.g. `/stream/keys`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/client/v4/accounts/{}{path}", self.server, self.account)
    }

    /// Calls an API operation and returns its `result`.
    pub async fn call(&self, method: Method, path: &str) -> Result<Value, CallError> {
        self.send(self.request(method, &self.url(path))).await
    }

    /// [`Api::call`] with a JSON body.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, CallError> {
        self.send(self.request(method, &self.url(path)).json(body))
            .await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, CallError> {
        let resp = request
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(CallError::from_reqwest)?;
        let status = resp.status();
        let body = resp.text().await.map_err(CallError::from_reqwest)?;
        if !status.is_success() {
            return Err(CallError::from_answer(status, &body));
        }
        let v: Value = serde_json::from_str(&body).map_err(|_| {
            CallError::Unavailable(format!(
                "the server answered {status} with something not JSON"
            ))
        })?;
        if v["success"] != Value::Bool(true) {
            return Err(CallError::from_answer(StatusCode::BAD_GATEWAY, &body));
        }
        Ok(v["result"].clone())
    }
}

/// Prints a JSON document on stdout.
pub fn print_json(v: &Value) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).map_err(|e| anyhow!(e))?
    );
    Ok(())
}
