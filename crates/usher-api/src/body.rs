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

/// A JSON object read as two views: a request's own fields and the video settings it
/// shares with an edit (`EditRequest`). Both ignore what they do not know.
/// `#[serde(flatten)]` would read both in one pass but loses the field's name in a type
/// error ("invalid type: string, expected a boolean" — which field?).
pub fn split<A: DeserializeOwned, B: DeserializeOwned>(
    value: serde_json::Value,
) -> Result<(A, B), ApiError> {
    // An empty body (read as null) is an empty object: every field absent.
    let value = match value {
        serde_json::Value::Null => serde_json::Value::Object(serde_json::Map::new()),
        v => v,
    };
    Ok((from_value(value.clone())?, from_value(value)?))
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

    #[derive(Debug, Default, Deserialize, PartialEq)]
    struct Own {
        url: Option<String>,
    }

    #[test]
    fn split_views_name_the_field_in_either() {
        let v = serde_json::json!({"url": "u", "requireSignedURLs": true});
        let (own, edit): (Own, Edit) = split(v).unwrap();
        assert_eq!(own.url.as_deref(), Some("u"));
        assert_eq!(edit.require_signed_urls, Some(true));
        for bad in [
            serde_json::json!({"url": 1}),
            serde_json::json!({"requireSignedURLs": "yes"}),
        ] {
            let field = bad.as_object().unwrap().keys().next().unwrap().clone();
            let msg = split::<Own, Edit>(bad).unwrap_err().to_string();
            assert!(msg.starts_with(&format!("{field}: ")), "{msg}");
        }
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let e: Edit = parse(&Bytes::from_static(br#"{"requireSignedURLs":true,"x":1}"#)).unwrap();
        assert_eq!(e.require_signed_urls, Some(true));
    }
}
