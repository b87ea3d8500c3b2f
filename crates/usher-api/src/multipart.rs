//! Reading `multipart/form-data` bodies within limits: small text fields read whole
//! up to a bound, refused bodies read (and thrown away) a little further so clients
//! that send everything before reading the answer see it rather than a reset, and the
//! content-type check every multipart route starts with.

use axum::extract::Request;
use axum::extract::multipart::Field;
use axum::http::header;
use futures_util::StreamExt;

use crate::error::ApiError;

/// How much of a refused body is still read before answering: clients that send the
/// whole body before reading the response (most HTTP libraries) then see the 413
/// instead of a reset connection. Anything larger is cut off.
const DRAIN_LIMIT: u64 = 8 * 1024 * 1024;
/// How long that reading may take.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// What the multipart framing may add around a file before a declared
/// `Content-Length` proves the file too large.
pub const MULTIPART_SLACK: u64 = 64 * 1024;
/// Longest value of a text field (a uid, a number, a name).
pub const MAX_TEXT_FIELD: usize = 4096;

/// Whether the request says it is `multipart/form-data`.
pub fn is_multipart(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// The request's declared `Content-Length`, if any.
pub fn declared_length(req: &Request) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// A malformed body, in the words the multipart parser gives.
pub fn malformed(e: &axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::bad(format!("malformed multipart body: {}", e.body_text()))
}

/// A text field's value, refused (naming the field) when longer than
/// [`MAX_TEXT_FIELD`] bytes or not UTF-8.
pub async fn text(mut field: Field<'_>) -> Result<String, ApiError> {
    let name = field.name().unwrap_or("field").to_owned();
    let mut out = Vec::new();
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() + chunk.len() > MAX_TEXT_FIELD {
                    drain(field).await;
                    return Err(ApiError::bad(format!(
                        "{name}: at most {MAX_TEXT_FIELD} bytes"
                    )));
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Err(malformed(&e)),
        }
    }
    String::from_utf8(out).map_err(|_| ApiError::bad(format!("{name}: not UTF-8 text")))
}

/// A file field's bytes, at most `limit` of them: one byte more is a 413 naming the
/// field (the rest is drained, not kept).
pub async fn bytes(mut field: Field<'_>, limit: u64) -> Result<Vec<u8>, ApiError> {
    let name = field.name().unwrap_or("file").to_owned();
    let mut out = Vec::new();
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if (out.len() + chunk.len()) as u64 > limit {
                    drain(field).await;
                    return Err(too_large(&name, limit));
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(malformed(&e)),
        }
    }
}

/// A field over its limit.
pub fn too_large(field: &str, limit: u64) -> ApiError {
    ApiError::FieldTooLarge(format!("{field}: larger than the limit of {limit} bytes"))
}

/// Reads a refused body, up to `DRAIN_LIMIT` and `DRAIN_TIMEOUT`, so the client gets
/// to read the answer.
pub async fn drain_body(req: Request) {
    let mut body = req.into_body().into_data_stream();
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        let mut read = 0u64;
        while let Some(Ok(chunk)) = body.next().await {
            read += chunk.len() as u64;
            if read > DRAIN_LIMIT {
                break;
            }
        }
    })
    .await;
}

/// Reads the rest of a refused field, up to `DRAIN_LIMIT` and `DRAIN_TIMEOUT`.
pub async fn drain(mut field: Field<'_>) {
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        let mut read = 0u64;
        while let Ok(Some(chunk)) = field.chunk().await {
            read += chunk.len() as u64;
            if read > DRAIN_LIMIT {
                break;
            }
        }
    })
    .await;
}
