//! Live input vocabulary (SPEC §8): the recording mode and the shape of the
//! broadcaster's secrets.
//!
//! A stream key is `{live_input_uid}k{32 random hex}` (65 characters; Cloudflare's keys
//! have the same shape). The uid in front lets the ingest load the one row the key can
//! belong to by primary key, then compare the whole key in constant time, instead of
//! searching the table for a secret.

use std::fmt;
use std::str::FromStr;

use crate::ids::{ID_LEN, LiveInputId, random_hex_id};
use crate::secret::Secret;

/// Characters of a stream key: a uid, `k`, and 128 random bits in hex.
pub const STREAM_KEY_LEN: usize = 2 * ID_LEN + 1;
/// Hex characters of an SRT passphrase (SRT allows 10 to 79).
pub const SRT_PASSPHRASE_LEN: usize = ID_LEN;

/// A fresh stream key for `input`, from the system CSPRNG.
pub fn generate_stream_key(input: &LiveInputId) -> Secret {
    Secret::new(format!("{input}k{}", random_hex_id()))
}

/// A fresh SRT passphrase, from the system CSPRNG.
pub fn generate_srt_passphrase() -> Secret {
    Secret::new(random_hex_id())
}

/// The live input a presented stream key claims to be for, if it has a key's shape.
/// Says nothing about whether the key is right: compare the whole key with
/// [`Secret::verify`] against the input's own.
pub fn stream_key_input(presented: &str) -> Option<LiveInputId> {
    if presented.len() != STREAM_KEY_LEN {
        return None;
    }
    let (uid, rest) = presented.split_at_checked(ID_LEN)?;
    let random = rest.strip_prefix('k')?;
    let lower_hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !lower_hex(random) {
        return None;
    }
    uid.parse().ok()
}

/// What happens to a broadcast (`recording.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordingMode {
    /// Live only; nothing is kept.
    #[default]
    Off,
    /// Each broadcast becomes a video.
    Automatic,
}

impl RecordingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Automatic => "automatic",
        }
    }
}

impl fmt::Display for RecordingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("recording mode must be \"off\" or \"automatic\"")]
pub struct UnknownRecordingMode;

impl FromStr for RecordingMode {
    type Err = UnknownRecordingMode;
    fn from_str(s: &str) -> Result<Self, UnknownRecordingMode> {
        match s {
            "off" => Ok(Self::Off),
            "automatic" => Ok(Self::Automatic),
            _ => Err(UnknownRecordingMode),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_key_names_its_input_and_differs_every_time() {
        let uid = LiveInputId::generate();
        let key = generate_stream_key(&uid);
        assert_eq!(key.expose().len(), STREAM_KEY_LEN);
        assert_eq!(stream_key_input(key.expose()), Some(uid.clone()));
        assert_ne!(generate_stream_key(&uid), key);
        let pass = generate_srt_passphrase();
        assert_eq!(pass.expose().len(), SRT_PASSPHRASE_LEN);
        assert_ne!(generate_srt_passphrase(), pass);
    }

    #[test]
    fn malformed_keys_name_no_input() {
        let uid = LiveInputId::generate();
        let random = "0123456789abcdef0123456789abcdef";
        for bad in [
            String::new(),
            uid.to_string(),
            format!("{uid}x{random}"),
            format!("{uid}k{}", random.to_uppercase()),
            format!("{uid}k{random}0"),
            format!("{uid}k{}", &random[1..]),
            format!("{}k{random}", uid.as_str().to_uppercase()),
            // Multi-byte characters where the split falls must not panic.
            format!("{}ék{}", &uid.as_str()[..31], &random[1..]),
            format!("{uid}é{}", &random[1..]),
        ] {
            assert_eq!(stream_key_input(&bad), None, "{bad}");
        }
    }

    #[test]
    fn recording_modes_round_trip() {
        for m in [RecordingMode::Off, RecordingMode::Automatic] {
            assert_eq!(m.as_str().parse::<RecordingMode>(), Ok(m));
        }
        assert!("Automatic".parse::<RecordingMode>().is_err());
        assert_eq!(RecordingMode::default(), RecordingMode::Off);
    }
}
