//! Key import/export round trips and refusals of bad key material.

use base64::Engine as _;
use pkcs1::der::pem::{LineEnding, encode_string};
use serde_json::Value;

use super::*;
use crate::test_keys::{other, primary};
use crate::{Claims, Timestamp, UnverifiedToken, sign};

/// `imported` signs tokens that `original`'s public key accepts, and vice versa.
fn assert_same_key(original: &SigningKey, imported: &SigningKey) {
    assert!(original.public_key_matches(&imported.verifying_key()));
    assert_eq!(original.verifying_key(), imported.verifying_key());
    assert_eq!(original.to_pkcs8_der(), imported.to_pkcs8_der());
    let mut claims = Claims::new("video");
    claims.exp = Some(Timestamp(2_000_000_000));
    for (signer, verifier) in [(imported, original), (original, imported)] {
        let token = sign(signer, &claims).unwrap();
        let parsed = UnverifiedToken::parse(&token).unwrap();
        parsed.verify(&verifier.verifying_key()).unwrap();
    }
}

#[test]
fn keys_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<SigningKey>();
    assert_send_sync::<VerifyingKey>();
}

#[test]
fn generated_key_is_rsa_2048() {
    assert_eq!(primary().bits(), 2048);
    assert_eq!(primary().kid(), "primary-kid");
    assert!(!primary().public_key_matches(&other().verifying_key()));
}

#[test]
fn pkcs1_pem_shape_and_round_trip() {
    let key = primary();
    let pem = key.to_pkcs1_pem();
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
    assert!(pem.ends_with("\n-----END RSA PRIVATE KEY-----\n"));
    assert!(!pem.contains('\r'));
    assert!(pem.lines().all(|line| line.len() <= 64));
    let imported = SigningKey::from_pem("again", &pem).unwrap();
    assert_eq!(imported.kid(), "again");
    assert_same_key(key, &imported);
    // CRLF line endings and surrounding whitespace, as pasted from elsewhere.
    let crlf = format!("\n  {}  \n", pem.replace('\n', "\r\n"));
    assert_same_key(key, &SigningKey::from_pem("k", &crlf).unwrap());
}

#[test]
fn base64_pem_round_trip() {
    let key = primary();
    let b64 = key.to_base64_pem();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&b64)
        .unwrap();
    assert_eq!(decoded, key.to_pkcs1_pem().as_bytes());
    assert_same_key(key, &SigningKey::from_base64_pem("k", &b64).unwrap());
    // Wrapped and unpadded forms are tolerated.
    let wrapped: String = b64
        .trim_end_matches('=')
        .as_bytes()
        .chunks(76)
        .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
        .collect();
    assert_same_key(key, &SigningKey::from_base64_pem("k", &wrapped).unwrap());
}

#[test]
fn pkcs8_der_and_pem_import() {
    let key = primary();
    let der = key.to_pkcs8_der();
    assert_same_key(key, &SigningKey::from_pkcs8_der("k", &der).unwrap());
    let pem = encode_string("PRIVATE KEY", LineEnding::LF, &der).unwrap();
    assert_same_key(key, &SigningKey::from_pem("k", &pem).unwrap());
}

#[test]
fn jwk_has_exactly_the_cloudflare_members() {
    let jwk = primary().to_jwk_json();
    let keys: Vec<&str> = jwk
        .trim_matches(|c| c == '{' || c == '}')
        .split(',')
        .map(|member| member.split(':').next().unwrap().trim_matches('"'))
        .collect();
    assert_eq!(
        keys,
        [
            "use", "kty", "kid", "alg", "n", "e", "d", "p", "q", "dp", "dq", "qi"
        ]
    );
    let value: Value = serde_json::from_str(&jwk).unwrap();
    assert_eq!(value["use"], "sig");
    assert_eq!(value["kty"], "RSA");
    assert_eq!(value["alg"], "RS256");
    assert_eq!(value["kid"], "primary-kid");
    assert_eq!(value["e"], "AQAB");
    for member in ["n", "e", "d", "p", "q", "dp", "dq", "qi"] {
        let text = value[member].as_str().unwrap();
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{member} must be base64url without padding"
        );
    }
    assert_eq!(value["n"].as_str().unwrap().len(), 342); // 256 bytes, no leading zero
}

#[test]
fn jwk_round_trip() {
    let key = primary();
    let imported = SigningKey::from_jwk(&key.to_jwk_json()).unwrap();
    assert_eq!(imported.kid(), "primary-kid");
    assert_same_key(key, &imported);
    let imported = SigningKey::from_base64_jwk(&key.to_base64_jwk()).unwrap();
    assert_same_key(key, &imported);
    // A kid that needs JSON escaping survives.
    let odd = SigningKey::from_pkcs8_der("a\"b\\c\u{1}é", &key.to_pkcs8_der()).unwrap();
    assert_eq!(
        SigningKey::from_jwk(&odd.to_jwk_json()).unwrap().kid(),
        "a\"b\\c\u{1}é"
    );
}

#[test]
fn public_jwk_and_spki() {
    let public = primary().verifying_key();
    let jwk: Value = serde_json::from_str(&public.to_public_jwk_json("kid-1")).unwrap();
    let members: Vec<&String> = jwk.as_object().unwrap().keys().collect();
    assert_eq!(members.len(), 6);
    assert!(jwk.get("d").is_none());
    assert_eq!(VerifyingKey::from_jwk(&jwk.to_string()).unwrap(), public);
    // The private JWK also loads as a public key: private members are ignored.
    assert_eq!(
        VerifyingKey::from_jwk(&primary().to_jwk_json()).unwrap(),
        public
    );
    let spki = public.to_spki_der();
    assert_eq!(VerifyingKey::from_spki_der(&spki).unwrap(), public);
    assert_ne!(
        VerifyingKey::from_spki_der(&spki).unwrap(),
        other().verifying_key()
    );
}

#[test]
fn debug_shows_no_key_material() {
    let key = primary();
    let shown = format!("{key:?} {:?}", key.verifying_key());
    assert!(shown.contains("primary-kid"));
    let jwk: Value = serde_json::from_str(&key.to_jwk_json()).unwrap();
    for member in ["n", "d", "p", "q"] {
        let prefix = &jwk[member].as_str().unwrap()[..12];
        assert!(!shown.contains(prefix));
    }
    assert!(shown.len() < 120, "{shown}");
}

#[test]
fn garbage_pem_is_refused() {
    let pem = primary().to_pkcs1_pem();
    let truncated = &pem[..pem.len() / 2];
    let public = encode_string(
        "PUBLIC KEY",
        LineEnding::LF,
        &primary().verifying_key().to_spki_der(),
    )
    .unwrap();
    let cases = [
        "",
        "garbage",
        truncated,
        "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\n!!!!\n-----END RSA PRIVATE KEY-----\n",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        &public,
    ];
    for case in cases {
        assert!(SigningKey::from_pem("k", case).is_err(), "{case:?}");
    }
    assert!(matches!(
        SigningKey::from_pem("k", &public),
        Err(KeyError::Unsupported(_))
    ));
    let encrypted = encode_string("ENCRYPTED PRIVATE KEY", LineEnding::LF, &[0x30, 0]).unwrap();
    assert_eq!(
        SigningKey::from_pem("k", &encrypted).err(),
        Some(KeyError::Unsupported(
            "encrypted private keys are not supported"
        ))
    );
    for b64 in ["", "!!!", "aGVsbG8=", "/w=="] {
        assert!(SigningKey::from_base64_pem("k", b64).is_err(), "{b64:?}");
        assert!(SigningKey::from_base64_jwk(b64).is_err(), "{b64:?}");
    }
}

#[test]
fn truncated_der_is_refused() {
    let der = primary().to_pkcs8_der();
    for len in (0..der.len()).step_by(7) {
        assert!(SigningKey::from_pkcs8_der("k", &der[..len]).is_err());
    }
    let spki = primary().verifying_key().to_spki_der();
    for len in 0..spki.len() {
        assert!(VerifyingKey::from_spki_der(&spki[..len]).is_err());
    }
    assert!(VerifyingKey::from_spki_der(&der).is_err());
    assert!(SigningKey::from_pkcs8_der("k", &spki).is_err());
}

type JwkObject = serde_json::Map<String, Value>;
/// A named way to break a JWK.
type JwkEdit = (&'static str, Box<dyn Fn(&mut JwkObject)>);

/// The JWK as a mutable JSON object.
fn jwk_value() -> JwkObject {
    let value: Value = serde_json::from_str(&primary().to_jwk_json()).unwrap();
    value.as_object().unwrap().clone()
}

#[test]
fn bad_jwks_are_refused() {
    let edits: Vec<JwkEdit> = vec![
        (
            "kty",
            Box::new(|j| drop(j.insert("kty".into(), "EC".into()))),
        ),
        ("no kty", Box::new(|j| drop(j.remove("kty")))),
        (
            "alg",
            Box::new(|j| drop(j.insert("alg".into(), "HS256".into()))),
        ),
        (
            "use",
            Box::new(|j| drop(j.insert("use".into(), "enc".into()))),
        ),
        ("no kid", Box::new(|j| drop(j.remove("kid")))),
        (
            "empty kid",
            Box::new(|j| drop(j.insert("kid".into(), "".into()))),
        ),
        ("no d", Box::new(|j| drop(j.remove("d")))),
        ("no qi", Box::new(|j| drop(j.remove("qi")))),
        ("n type", Box::new(|j| drop(j.insert("n".into(), 5.into())))),
        (
            "n alphabet",
            Box::new(|j| drop(j.insert("n".into(), "a+b/".into()))),
        ),
        (
            "oth",
            Box::new(|j| drop(j.insert("oth".into(), Value::Array(vec![])))),
        ),
        (
            "swapped p q",
            Box::new(|j| {
                let p = j["p"].clone();
                j.insert("p".into(), j["q"].clone());
                j.insert("q".into(), p);
            }),
        ),
        (
            "foreign d",
            Box::new(|j| {
                let other: Value = serde_json::from_str(&other().to_jwk_json()).unwrap();
                j.insert("d".into(), other["d"].clone());
            }),
        ),
        (
            "small n",
            Box::new(|j| drop(j.insert("n".into(), "AQAB".into()))),
        ),
    ];
    for (name, edit) in edits {
        let mut jwk = jwk_value();
        edit(&mut jwk);
        let json = Value::Object(jwk).to_string();
        assert!(SigningKey::from_jwk(&json).is_err(), "{name}");
    }
    for json in [
        "",
        "null",
        "[]",
        "{",
        r#"{"kty":"RSA"}"#,
        r#"{"kty":"RSA","kid":"k","n":"","e":""}"#,
    ] {
        assert!(SigningKey::from_jwk(json).is_err(), "{json}");
        assert!(VerifyingKey::from_jwk(json).is_err(), "{json}");
    }
}

#[test]
fn key_sizes_are_bounded() {
    let mut jwk = jwk_value();
    let n_1024 = b64::JWK_MEMBER.encode([0xC5u8; 128]);
    jwk.insert("n".into(), n_1024.into());
    let json = Value::Object(jwk.clone()).to_string();
    assert_eq!(VerifyingKey::from_jwk(&json), Err(KeyError::Size(1024)));
    assert_eq!(
        SigningKey::from_jwk(&json).err(),
        Some(KeyError::Size(1024))
    );
    let n_8192 = b64::JWK_MEMBER.encode([0xC5u8; 1024]);
    jwk.insert("n".into(), n_8192.into());
    let json = Value::Object(jwk.clone()).to_string();
    assert_eq!(VerifyingKey::from_jwk(&json), Err(KeyError::Size(8192)));
    // Even exponents and e = 1 are not RSA keys.
    let mut jwk = jwk_value();
    for e in ["AQ", "AAE", "Ag", "AQAC"] {
        jwk.insert("e".into(), e.into());
        assert!(
            VerifyingKey::from_jwk(&Value::Object(jwk.clone()).to_string()).is_err(),
            "{e}"
        );
    }
}

#[test]
fn error_messages_carry_no_key_material() {
    let pem = primary().to_pkcs1_pem();
    let broken = pem.replace("MII", "MIZ");
    let Err(e) = SigningKey::from_pem("k", &broken) else {
        panic!("a PEM with a corrupted body must be refused");
    };
    let message = e.to_string();
    assert!(message.len() < 100 && !message.contains("MIZ"), "{message}");
}
