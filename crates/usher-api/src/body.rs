//! Request bodies. The SDKs send an empty body (with or without a JSON content type)
//! where every field is optional, so an empty body means "all defaults"; otherwise the
//! body must be a JSON object, and a type error names the field it is in.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest JSON body accepted (token requests with five rules are well under 16 KiB).
pub const MAX_JSON_BODY: usize = 256 * 1024;

pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_JSON_BODY)
            .await
            .map_err(|_| ApiError::PayloadTooLarge(MAX_JSON_BODY as u64))?;
        let _ = state;
        parse(&bytes).map(JsonBody)
    }
}

pub fn parse<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    from_value(value)
}

/// Reads a JSON object already in hand, naming the field a type error is in.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad("request body must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path.is_empty() || path == "." {
            ApiError::bad(inner)
        } else {
            ApiError::bad(format!("{path}: {inner}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    struct Edit {
        #[serde(rename = "requireSignedURLs")]
        require_signed_urls: Option<bool>,
    }

    #[test]
    fn empty_means_defaults() {
        assert_eq!(
            parse::<Edit>(&Bytes::from_static(b"")).unwrap(),
            Edit::default()
        );
        assert_eq!(
            parse::<Edit>(&Bytes::from_static(b" \n")).unwrap(),
            Edit::default()
        );
        assert_eq!(
            parse::<Edit>(&Bytes::from_static(b"{}")).unwrap(),
            Edit::default()
        );
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse::<Edit>(&Bytes::from_static(br#"{"requireSignedURLs":"yes"}"#));
        let msg = e.unwrap_err().to_string();
        assert!(msg.contains("requireSignedURLs"), "{msg}");
        assert!(matches!(
            parse::<Edit>(&Bytes::from_static(b"{nope")),
            Err(ApiError::MalformedJson(_))
        ));
        assert!(matches!(
            parse::<Edit>(&Bytes::from_static(b"[1]")),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let e: Edit = parse(&Bytes::from_static(br#"{"requireSignedURLs":true,"x":1}"#)).unwrap();
        assert_eq!(e.require_signed_urls, Some(true));
    }
}
