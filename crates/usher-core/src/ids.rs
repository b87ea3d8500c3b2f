//! Identifiers: accounts, videos and signing keys are all 32 lowercase hex characters,
//! as Cloudflare's are. Parsing them once at the edge of the system means every layer
//! below can rely on their shape (they end up in paths, SQL and blob keys).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Length in characters of every Usher identifier (16 random bytes, hex encoded).
pub const ID_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} must be 32 lowercase hexadecimal characters")]
pub struct IdError {
    pub kind: &'static str,
}

fn is_id(s: &str) -> bool {
    s.len() == ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// 16 bytes from the operating system's CSPRNG, hex encoded.
pub fn random_hex_id() -> String {
    let mut bytes = [0u8; ID_LEN / 2];
    // The system RNG failing is an unrecoverable platform fault, not an input error.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(&mut bytes).expect("system random number generator failed");
    hex::encode(bytes)
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn generate() -> Self {
                Self(random_hex_id())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                if is_id(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(IdError { kind: $kind })
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                if is_id(&s) { Ok(Self(s)) } else { Err(IdError { kind: $kind }) }
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

id_type!(
    /// An account (tenant). Every other record belongs to exactly one.
    AccountId,
    "account id"
);
id_type!(
    /// A video (`uid` in the Cloudflare API).
    VideoId,
    "video id"
);
id_type!(
    /// A signing key (`kid` in tokens).
    KeyId,
    "key id"
);
id_type!(
    /// A watermark profile (`POST …/stream/watermarks`).
    WatermarkId,
    "watermark id"
);
id_type!(
    /// An additional audio track of a video (`POST …/stream/{uid}/audio/copy`).
    AudioTrackId,
    "audio track id"
);
id_type!(
    /// A live input (`POST …/stream/live_inputs`): what a broadcaster streams to and
    /// viewers watch, by this uid or a token whose `sub` is it.
    LiveInputId,
    "live input id"
);
id_type!(
    /// An output of a live input: another RTMP server the broadcast is re-streamed to.
    LiveOutputId,
    "live output id"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_ids_parse() {
        let id = VideoId::generate();
        assert_eq!(id.as_str().parse::<VideoId>().unwrap(), id);
        assert_ne!(VideoId::generate(), id);
    }

    #[test]
    fn refuses_wrong_shapes() {
        for bad in [
            "",
            "ABCDEF0123456789abcdef0123456789",
            "abcdef0123456789abcdef012345678",
            "abcdef0123456789abcdef01234567890",
            "../../etc/passwd0123456789abcdef0",
            "abcdef0123456789abcdef012345678g",
        ] {
            assert!(bad.parse::<AccountId>().is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parse_accepts_exactly_lower_hex(s in "\\PC{0,40}") {
            let ok = s.len() == 32 && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
            prop_assert_eq!(s.parse::<KeyId>().is_ok(), ok);
        }
    }
}
