//! `Upload-Metadata`: comma-separated `key base64value` pairs (the value may be absent),
//! and the Cloudflare keys in it that set up the video (`name`, `requiresignedurls`,
//! `allowedorigins`, `maxdurationseconds`, `expiry`, `watermark`, …).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

/// Longest `Upload-Metadata` header accepted.
pub const MAX_METADATA_LEN: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("Upload-Metadata is longer than {MAX_METADATA_LEN} bytes")]
    TooLong,
    #[error("Upload-Metadata: an empty key")]
    EmptyKey,
    #[error("Upload-Metadata: key {0:?} appears twice")]
    Duplicate(String),
    #[error("Upload-Metadata: the value of {0:?} is not base64")]
    NotBase64(String),
    #[error("Upload-Metadata: the value of {0:?} is not UTF-8 text")]
    NotText(String),
    #[error("Upload-Metadata: {0}")]
    Value(String),
}

/// Metadata pairs in header order; a key without a value maps to `None`.
pub type Pairs = Vec<(String, Option<Vec<u8>>)>;

pub fn parse(header: &str) -> Result<Pairs, MetadataError> {
    if header.len() > MAX_METADATA_LEN {
        return Err(MetadataError::TooLong);
    }
    let mut out: Pairs = Vec::new();
    for pair in header.split(',') {
        let pair = pair.trim();
        if pair.is_empty() && header.trim().is_empty() {
            continue;
        }
        let mut parts = pair.split(' ').filter(|p| !p.is_empty());
        let key = parts.next().ok_or(MetadataError::EmptyKey)?.to_owned();
        let value = match parts.next() {
            None => None,
            Some(v) => Some(
                STANDARD
                    .decode(v)
                    .map_err(|_| MetadataError::NotBase64(key.clone()))?,
            ),
        };
        if parts.next().is_some() {
            return Err(MetadataError::NotBase64(key));
        }
        if out.iter().any(|(k, _)| *k == key) {
            return Err(MetadataError::Duplicate(key));
        }
        out.push((key, value));
    }
    Ok(out)
}

/// What the metadata asks of the new video.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UploadSettings {
    /// The video settings, shaped as `POST /stream/{uid}` takes them, so they are
    /// checked by the same rules.
    pub edit: Map<String, Value>,
    /// The upload URL's expiry (RFC 3339), for `direct_user` uploads.
    pub expiry: Option<String>,
    /// The watermark profile to burn in (its uid).
    pub watermark: Option<String>,
}

fn text(key: &str, value: &Option<Vec<u8>>) -> Result<Option<String>, MetadataError> {
    value
        .as_ref()
        .map(|v| String::from_utf8(v.clone()).map_err(|_| MetadataError::NotText(key.to_owned())))
        .transpose()
}

/// Maps Cloudflare's metadata keys (case-insensitive) onto video settings; other keys
/// are ignored, as Cloudflare ignores them.
pub fn settings(pairs: &[(String, Option<Vec<u8>>)]) -> Result<UploadSettings, MetadataError> {
    let mut s = UploadSettings::default();
    let mut name = None;
    let mut filename = None;
    for (key, value) in pairs {
        let v = text(key, value)?;
        match key.to_ascii_lowercase().as_str() {
            "name" => name = v,
            // tus-js-client and Uppy send the file's name under this key.
            "filename" => filename = v,
            "requiresignedurls" => {
                let on = match v.as_deref().map(str::trim) {
                    None | Some("") | Some("true") => true,
                    Some("false") => false,
                    Some(_) => {
                        return Err(MetadataError::Value(
                            "requiresignedurls: expected no value, true or false".into(),
                        ));
                    }
                };
                s.edit.insert("requireSignedURLs".into(), Value::Bool(on));
            }
            "allowedorigins" => {
                let list: Vec<Value> = v
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(|o| Value::String(o.to_owned()))
                    .collect();
                s.edit.insert("allowedOrigins".into(), Value::Array(list));
            }
            "maxdurationseconds" => {
                let n: i64 = v.as_deref().unwrap_or("").trim().parse().map_err(|_| {
                    MetadataError::Value("maxdurationseconds: expected an integer".into())
                })?;
                s.edit.insert("maxDurationSeconds".into(), json!(n));
            }
            "thumbnailtimestamppct" => {
                let p: f64 = v.as_deref().unwrap_or("").trim().parse().map_err(|_| {
                    MetadataError::Value("thumbnailtimestamppct: expected a number".into())
                })?;
                s.edit.insert("thumbnailTimestampPct".into(), json!(p));
            }
            "scheduleddeletion" => {
                s.edit
                    .insert("scheduledDeletion".into(), json!(v.unwrap_or_default()));
            }
            "expiry" => s.expiry = v,
            "watermark" => s.watermark = v.filter(|w| !w.trim().is_empty()),
            _ => {}
        }
    }
    if let Some(n) = name.or(filename) {
        s.edit.insert("meta".into(), json!({ "name": n }));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn parses_pairs_and_bare_keys() {
        let h = format!(
            "name {},requiresignedurls,maxdurationseconds {}",
            b64("My talk"),
            b64("60")
        );
        let p = parse(&h).unwrap();
        assert_eq!(p[0], ("name".into(), Some(b"My talk".to_vec())));
        assert_eq!(p[1], ("requiresignedurls".into(), None));
        let s = settings(&p).unwrap();
        assert_eq!(s.edit["meta"]["name"], "My talk");
        assert_eq!(s.edit["requireSignedURLs"], true);
        assert_eq!(s.edit["maxDurationSeconds"], 60);
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn origins_and_expiry() {
        let h = format!(
            "allowedorigins {},expiry {},filename {}",
            b64("a.example.com, *.b.example"),
            b64("2030-01-01T00:00:00Z"),
            b64("clip.mp4")
        );
        let s = settings(&parse(&h).unwrap()).unwrap();
        assert_eq!(
            s.edit["allowedOrigins"],
            json!(["a.example.com", "*.b.example"])
        );
        assert_eq!(s.expiry.as_deref(), Some("2030-01-01T00:00:00Z"));
        assert_eq!(s.edit["meta"]["name"], "clip.mp4");
        assert_eq!(s.watermark, None);
    }

    #[test]
    fn watermark_is_a_profile_uid() {
        let uid = "0123456789abcdef0123456789abcdef";
        let h = format!("Watermark {}", b64(uid));
        let s = settings(&parse(&h).unwrap()).unwrap();
        assert_eq!(s.watermark.as_deref(), Some(uid));
        // A bare key or an empty value asks for none.
        assert_eq!(
            settings(&parse("watermark").unwrap()).unwrap().watermark,
            None
        );
    }

    #[test]
    fn refuses_malformed() {
        assert_eq!(
            parse("name !!!"),
            Err(MetadataError::NotBase64("name".into()))
        );
        assert_eq!(parse("a,a"), Err(MetadataError::Duplicate("a".into())));
        assert_eq!(parse("a,,b"), Err(MetadataError::EmptyKey));
        assert!(matches!(
            parse(&"x".repeat(MAX_METADATA_LEN + 1)),
            Err(MetadataError::TooLong)
        ));
        let bad = format!("maxdurationseconds {}", b64("soon"));
        assert!(settings(&parse(&bad).unwrap()).is_err());
        let bad = format!("requiresignedurls {}", b64("yes"));
        assert!(settings(&parse(&bad).unwrap()).is_err());
        let not_text = format!("name {}", STANDARD.encode([0xff, 0xfe]));
        assert!(settings(&parse(&not_text).unwrap()).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(pairs in proptest::collection::btree_map("[a-z][a-z0-9_-]{0,15}", proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)), 0..8)) {
            let header = pairs.iter().map(|(k, v)| match v {
                Some(v) => format!("{k} {}", STANDARD.encode(v)),
                None => k.clone(),
            }).collect::<Vec<_>>().join(",");
            let parsed = parse(&header).unwrap();
            let expected: Vec<_> = pairs.into_iter().map(|(k, v)| (k, v.filter(|v| !v.is_empty()))).collect();
            // An empty value encodes to nothing, which reads back as a bare key.
            let parsed: Vec<_> = parsed.into_iter().map(|(k, v)| (k, v.filter(|v| !v.is_empty()))).collect();
            prop_assert_eq!(parsed, expected);
        }

        #[test]
        fn never_panics(header in ".{0,200}") {
            if let Ok(p) = parse(&header) {
                let _ = settings(&p);
            }
        }
    }
}
