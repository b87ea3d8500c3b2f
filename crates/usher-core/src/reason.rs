//! Why a video failed: the reason codes Cloudflare Stream reports in `status.errorReasonCode`.

use serde::{Deserialize, Serialize};

/// The codes a video in state `error` carries; clients switch on these strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorReason {
    #[serde(rename = "ERR_NON_VIDEO")]
    NonVideo,
    #[serde(rename = "ERR_DURATION_EXCEED_CONSTRAINT")]
    DurationExceedConstraint,
    #[serde(rename = "ERR_FETCH_ORIGIN_ERROR")]
    FetchOriginError,
    #[serde(rename = "ERR_MALFORMED_VIDEO")]
    MalformedVideo,
    #[serde(rename = "ERR_DURATION_TOO_SHORT")]
    DurationTooShort,
    #[serde(rename = "ERR_UNKNOWN")]
    Unknown,
}

impl ErrorReason {
    pub const ALL: [ErrorReason; 6] = [
        Self::NonVideo,
        Self::DurationExceedConstraint,
        Self::FetchOriginError,
        Self::MalformedVideo,
        Self::DurationTooShort,
        Self::Unknown,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::NonVideo => "ERR_NON_VIDEO",
            Self::DurationExceedConstraint => "ERR_DURATION_EXCEED_CONSTRAINT",
            Self::FetchOriginError => "ERR_FETCH_ORIGIN_ERROR",
            Self::MalformedVideo => "ERR_MALFORMED_VIDEO",
            Self::DurationTooShort => "ERR_DURATION_TOO_SHORT",
            Self::Unknown => "ERR_UNKNOWN",
        }
    }

    /// The human text shown next to the code; it never carries internal detail.
    pub fn text(self) -> &'static str {
        match self {
            Self::NonVideo => "The file was not recognized as a valid video file.",
            Self::DurationExceedConstraint => {
                "The video duration exceeds the maxDurationSeconds constraint."
            }
            Self::FetchOriginError => "The video could not be fetched from the origin.",
            Self::MalformedVideo => "The video is malformed or uses an unsupported format.",
            Self::DurationTooShort => "The video is too short to be processed.",
            Self::Unknown => "The video could not be processed.",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_serde() {
        for r in ErrorReason::ALL {
            assert_eq!(ErrorReason::from_code(r.code()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.code());
        }
        assert_eq!(ErrorReason::from_code("ERR_NOPE"), None);
    }
}
