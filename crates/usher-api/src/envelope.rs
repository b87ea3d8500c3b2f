//! The Cloudflare v4 response envelope: `{"result","success","errors","messages"}` on
//! every response, success or not.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

/// A successful single result.
pub fn ok(result: impl Serialize) -> Response {
    Json(json!({
        "result": result,
        "success": true,
        "errors": [],
        "messages": [],
    }))
    .into_response()
}

/// A successful list, with `range` (how many returned) and, when asked, `total`.
pub fn ok_list(items: Vec<Value>, total: Option<i64>) -> Response {
    let mut body = json!({
        "result": items.len(),
        "success": true,
        "errors": [],
        "messages": [],
        "range": items.len(),
    });
    body["result"] = Value::Array(items);
    if let Some(t) = total {
        body["total"] = json!(t);
    }
    Json(body).into_response()
}

pub fn error_body(code: u32, message: &str) -> Json<Value> {
    Json(json!({
        "result": null,
        "success": false,
        "errors": [{"code": code, "message": message}],
        "messages": [],
    }))
}
