//! Watermark profiles (`/stream/watermarks`): an image and how to lay it over a video.
//! The fields and their meaning are Cloudflare's; a profile is copied onto each video
//! uploaded with it, so deleting or changing the profile later never alters a video
//! already made.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, WatermarkId};
use crate::time_fmt::Micros;

/// Cloudflare's defaults for a profile created without these fields.
pub const DEFAULT_OPACITY: f64 = 1.0;
pub const DEFAULT_PADDING: f64 = 0.05;
pub const DEFAULT_SCALE: f64 = 0.15;

/// The largest watermark image: Cloudflare's limit, 2 MiB.
pub const MAX_IMAGE_BYTES: u64 = 2 * 1024 * 1024;
/// Longest profile `name`, in characters.
pub const MAX_NAME_CHARS: usize = 256;

/// Where the image sits. `Center` ignores the padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum WatermarkPosition {
    #[default]
    #[serde(rename = "upperRight")]
    UpperRight,
    #[serde(rename = "upperLeft")]
    UpperLeft,
    #[serde(rename = "lowerLeft")]
    LowerLeft,
    #[serde(rename = "lowerRight")]
    LowerRight,
    #[serde(rename = "center")]
    Center,
}

impl WatermarkPosition {
    pub const ALL: [Self; 5] = [
        Self::UpperRight,
        Self::UpperLeft,
        Self::LowerLeft,
        Self::LowerRight,
        Self::Center,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UpperRight => "upperRight",
            Self::UpperLeft => "upperLeft",
            Self::LowerLeft => "lowerLeft",
            Self::LowerRight => "lowerRight",
            Self::Center => "center",
        }
    }
}

impl fmt::Display for WatermarkPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("position must be one of upperRight, upperLeft, lowerLeft, lowerRight, center")]
pub struct UnknownPosition;

impl FromStr for WatermarkPosition {
    type Err = UnknownPosition;
    fn from_str(s: &str) -> Result<Self, UnknownPosition> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or(UnknownPosition)
    }
}

/// A watermark profile. The image itself is a blob (`usher_store::layout::watermark_key`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watermark {
    pub uid: WatermarkId,
    pub account_id: AccountId,
    pub name: String,
    /// Bytes of the image.
    pub size: i64,
    /// Pixels of the image.
    pub width: i64,
    pub height: i64,
    /// 0.0 (invisible) – 1.0 (as opaque as the image is).
    pub opacity: f64,
    /// 0.0 – 1.0: space between the image and the edges it sits against.
    pub padding: f64,
    /// 0.0 (the image's own size) – 1.0 (fills the frame).
    pub scale: f64,
    pub position: WatermarkPosition,
    /// Where the image was copied from (`url`), `None` for a direct upload.
    pub downloaded_from: Option<String>,
    pub created: Micros,
}

/// A 0.0–1.0 setting, or why not.
pub fn unit_interval(field: &str, v: f64) -> Result<f64, String> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{field}: must be a number from 0.0 to 1.0"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_in_cloudflare_spelling() {
        for p in WatermarkPosition::ALL {
            assert_eq!(p.as_str().parse::<WatermarkPosition>().unwrap(), p);
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        assert!("UpperRight".parse::<WatermarkPosition>().is_err());
        assert_eq!(WatermarkPosition::default(), WatermarkPosition::UpperRight);
    }

    #[test]
    fn unit_interval_bounds() {
        assert_eq!(unit_interval("opacity", 0.0), Ok(0.0));
        assert_eq!(unit_interval("opacity", 1.0), Ok(1.0));
        for bad in [-0.01, 1.01, f64::NAN, f64::INFINITY] {
            assert!(unit_interval("scale", bad).unwrap_err().contains("scale"));
        }
    }
}
