//! The body of `POST /stream/watermarks`: multipart (a `file` part and text fields, as
//! curl sends it) or JSON with a `url` (as the SDKs send it). Either way the same
//! settings, with Cloudflare's defaults and bounds.

use axum::extract::{FromRequest, Multipart, Request};
use serde::Deserialize;
use usher_core::WatermarkPosition;
use usher_core::watermark::{
    DEFAULT_OPACITY, DEFAULT_PADDING, DEFAULT_SCALE, MAX_IMAGE_BYTES, MAX_NAME_CHARS, unit_interval,
};

use crate::body::MAX_JSON_BODY;
use crate::error::ApiError;
use crate::multipart::{self, MULTIPART_SLACK};

/// How a profile lays its image over a video.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub name: String,
    pub opacity: f64,
    pub padding: f64,
    pub scale: f64,
    pub position: WatermarkPosition,
}

/// Where the image comes from.
#[derive(Debug)]
pub enum Source {
    /// Uploaded in the request (at most `MAX_IMAGE_BYTES`).
    File(Vec<u8>),
    /// To be fetched from this URL.
    Url(String),
}

/// The settings as sent, before defaults and bounds.
#[derive(Debug, Default, Deserialize)]
struct Raw {
    url: Option<String>,
    name: Option<String>,
    opacity: Option<f64>,
    padding: Option<f64>,
    scale: Option<f64>,
    position: Option<String>,
}

impl Raw {
    fn settings(self) -> Result<Settings, ApiError> {
        let unit = |field: &str, v: Option<f64>, default: f64| {
            unit_interval(field, v.unwrap_or(default)).map_err(ApiError::BadRequest)
        };
        let name = self.name.unwrap_or_default();
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(ApiError::bad(format!(
                "name: at most {MAX_NAME_CHARS} characters"
            )));
        }
        Ok(Settings {
            name,
            opacity: unit("opacity", self.opacity, DEFAULT_OPACITY)?,
            padding: unit("padding", self.padding, DEFAULT_PADDING)?,
            scale: unit("scale", self.scale, DEFAULT_SCALE)?,
            position: match self.position {
                None => WatermarkPosition::default(),
                Some(p) => p
                    .parse()
                    .map_err(|e| ApiError::bad(format!("position: {e}")))?,
            },
        })
    }
}

/// Reads either kind of body.
pub async fn read(req: Request) -> Result<(Settings, Source), ApiError> {
    let (raw, file) = if multipart::is_multipart(&req) {
        read_multipart(req).await?
    } else {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_JSON_BODY)
            .await
            .map_err(|_| ApiError::PayloadTooLarge(MAX_JSON_BODY as u64))?;
        (crate::body::parse::<Raw>(&bytes)?, None)
    };
    let source = match (file, raw.url.clone()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad("file, url: send one or the other, not both"));
        }
        (Some(bytes), None) => Source::File(bytes),
        (None, Some(url)) => Source::Url(url),
        (None, None) => {
            return Err(ApiError::bad(
                "file: required (a multipart file part), or url (JSON or a form field)",
            ));
        }
    };
    Ok((raw.settings()?, source))
}

/// A number in a text field, for the same message as a JSON number out of range.
fn number(field: &str, text: &str) -> Result<f64, ApiError> {
    text.trim()
        .parse::<f64>()
        .map_err(|_| ApiError::bad(format!("{field}: must be a number from 0.0 to 1.0")))
}

async fn read_multipart(req: Request) -> Result<(Raw, Option<Vec<u8>>), ApiError> {
    let limit = MAX_IMAGE_BYTES;
    if multipart::declared_length(&req).is_some_and(|n| n > limit.saturating_add(MULTIPART_SLACK)) {
        multipart::drain_body(req).await;
        return Err(multipart::too_large("file", limit));
    }
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::bad(format!("malformed multipart body: {}", e.body_text())))?;
    let mut raw = Raw::default();
    let mut file = None;
    // Everything but the file is small; this bounds what a body of many fields costs.
    let mut fields = 0usize;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| multipart::malformed(&e))?
    {
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(ApiError::bad(format!(
                "multipart body: at most {MAX_FIELDS} fields"
            )));
        }
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" if file.is_none() => file = Some(multipart::bytes(field, limit).await?),
            "file" => return Err(ApiError::bad("file: send one file part")),
            "url" => raw.url = Some(multipart::text(field).await?),
            "name" => raw.name = Some(multipart::text(field).await?),
            "opacity" => raw.opacity = Some(number("opacity", &multipart::text(field).await?)?),
            "padding" => raw.padding = Some(number("padding", &multipart::text(field).await?)?),
            "scale" => raw.scale = Some(number("scale", &multipart::text(field).await?)?),
            "position" => raw.position = Some(multipart::text(field).await?),
            // Unknown fields are ignored, as in JSON bodies (read, within bounds).
            _ => {
                multipart::text(field).await?;
            }
        }
    }
    Ok((raw, file))
}

/// Parts accepted in one multipart body: the file and a handful of settings.
const MAX_FIELDS: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Result<Settings, ApiError> {
        crate::body::parse::<Raw>(&axum::body::Bytes::from(json.to_owned()))?.settings()
    }

    #[test]
    fn defaults_are_cloudflares() {
        let s = raw(r#"{"url": "https://example.com/a.png"}"#).unwrap();
        assert_eq!(
            s,
            Settings {
                name: String::new(),
                opacity: 1.0,
                padding: 0.05,
                scale: 0.15,
                position: WatermarkPosition::UpperRight,
            }
        );
    }

    #[test]
    fn bounds_and_types_name_the_field() {
        for (body, field) in [
            (r#"{"opacity": 1.5}"#, "opacity"),
            (r#"{"padding": -0.1}"#, "padding"),
            (r#"{"scale": "big"}"#, "scale"),
            (r#"{"opacity": true}"#, "opacity"),
            (r#"{"position": "top"}"#, "position"),
            (r#"{"position": 3}"#, "position"),
            (r#"{"name": 7}"#, "name"),
        ] {
            let msg = raw(body).unwrap_err().to_string();
            assert!(msg.starts_with(field), "{body}: {msg}");
        }
        let long = format!(r#"{{"name": "{}"}}"#, "x".repeat(MAX_NAME_CHARS + 1));
        assert!(raw(&long).unwrap_err().to_string().starts_with("name"));
        assert!(number("scale", "0.5").is_ok());
        assert!(
            number("scale", "half")
                .unwrap_err()
                .to_string()
                .starts_with("scale")
        );
    }
}
