//! The three base64 flavours this crate meets, named by where they occur.
//!
//! Tokens are decoded strictly (RFC 7515: base64url, no padding, no stray trailing
//! bits) so that one token has exactly one spelling — a lenient decoder would let an
//! attacker mint many distinct strings for the same signed token, defeating caches
//! keyed by token text. Key material is decoded leniently on padding because JWK and
//! "base64 of a PEM" producers in the wild disagree about it, and a key either parses
//! into a valid RSA key or is refused anyway.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};

/// base64url without padding, strict: JWS header, payload and signature.
pub(crate) const TOKEN: GeneralPurpose = general_purpose::URL_SAFE_NO_PAD;

/// base64url for JWK members (`n`, `e`, `d`, …): emitted without padding as
/// RFC 7518 requires, accepted with or without it.
pub(crate) const JWK_MEMBER: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Standard base64 wrapping a whole PEM or JWK document, as in the `pem` and `jwk`
/// fields of `POST /stream/keys`: emitted padded, accepted with or without padding.
pub(crate) const WRAPPER: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decode a [`WRAPPER`] string, ignoring ASCII whitespace: these values get pasted
/// into environment variables and config files, where line wrapping is common.
pub(crate) fn decode_wrapper(
    text: &str,
) -> Result<zeroize::Zeroizing<Vec<u8>>, base64::DecodeError> {
    let compact: zeroize::Zeroizing<Vec<u8>> =
        zeroize::Zeroizing::new(text.bytes().filter(|b| !b.is_ascii_whitespace()).collect());
    WRAPPER
        .decode(compact.as_slice())
        .map(zeroize::Zeroizing::new)
}
