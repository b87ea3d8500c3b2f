//! `usher token sign`: a token minted offline with a signing key, exactly as the edge
//! will check it (the same claims rules, the 24-hour cap, strict access rules).

use anyhow::{Context, bail};
use serde_json::Value;
use usher_core::VideoId;
use usher_core::time_fmt::now_secs;
use usher_token::{Claims, MAX_TTL_SECS, SigningKey, Timestamp, parse_rules, sign as sign_claims};

use crate::cli::TokenSignArgs;

/// Lifetime when neither `--exp` nor `--ttl` is given, as `POST …/token`'s default.
const DEFAULT_TTL_SECS: i64 = 60 * 60;

pub fn sign(args: &TokenSignArgs) -> anyhow::Result<String> {
    let video: VideoId = args.video.parse().with_context(|| {
        format!(
            "--video {:?} is not a video uid (32 hex digits)",
            args.video
        )
    })?;
    let key = match (&args.pem, &args.jwk) {
        (Some(pem), _) => SigningKey::from_base64_pem(args.key_id.as_str(), pem)
            .context("--pem is not a base64 RSA private key in PEM")?,
        (None, Some(jwk)) => {
            let key = SigningKey::from_base64_jwk(jwk)
                .context("--jwk is not a base64 private RSA JWK")?;
            if key.kid() != args.key_id {
                bail!("--jwk is key {}, not --key-id {}", key.kid(), args.key_id);
            }
            key
        }
        (None, None) => bail!("give the key with --pem or --jwk"),
    };
    let now = now_secs();
    let exp = match (args.exp, args.ttl) {
        (Some(exp), _) => exp,
        (None, ttl) => now.saturating_add(ttl.unwrap_or(DEFAULT_TTL_SECS)),
    };
    if exp <= now {
        bail!("the token would already have expired");
    }
    if exp > now + MAX_TTL_SECS {
        bail!("a token may expire at most 24 hours ahead");
    }
    let mut claims = Claims::new(video.as_str());
    claims.exp = Some(Timestamp(exp));
    claims.nbf = args.nbf.map(Timestamp);
    claims.downloadable = args.downloadable;
    let rules = args
        .rules
        .iter()
        .map(|r| serde_json::from_str(r).with_context(|| format!("--rule {r:?} is not JSON")))
        .collect::<anyhow::Result<Vec<Value>>>()?;
    claims.access_rules = parse_rules(&Value::Array(rules)).context("--rule")?;
    Ok(sign_claims(&key, &claims)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use usher_token::{UnverifiedToken, VerifyingKey};

    fn args(key: &SigningKey) -> TokenSignArgs {
        TokenSignArgs {
            key_id: key.kid().to_owned(),
            pem: Some(STANDARD.encode(key.to_pkcs1_pem().as_bytes())),
            jwk: None,
            video: VideoId::generate().as_str().to_owned(),
            exp: None,
            ttl: None,
            nbf: None,
            downloadable: false,
            rules: vec![],
        }
    }

    #[test]
    fn signs_what_the_edge_verifies_and_refuses_what_it_would_not() {
        let key = SigningKey::generate("0123456789abcdef0123456789abcdef").unwrap();
        let verify = |t: &str| {
            UnverifiedToken::parse(t)
                .unwrap()
                .verify(&VerifyingKey::from_spki_der(&key.verifying_key().to_spki_der()).unwrap())
                .unwrap()
        };
        let mut a = args(&key);
        a.downloadable = true;
        a.rules = vec![r#"{"type":"ip.geoip.country","country":["GB"],"action":"allow"}"#.into()];
        let claims = verify(&sign(&a).unwrap());
        assert_eq!(claims.sub, a.video);
        assert!(claims.downloadable);
        assert_eq!(claims.access_rules.len(), 1);
        let exp = claims.exp.unwrap().0 - now_secs();
        assert!((3590..=3600).contains(&exp), "{exp}");

        for (what, change) in [
            (
                "ttl over 24 h",
                Box::new(|a: &mut TokenSignArgs| a.ttl = Some(MAX_TTL_SECS + 60))
                    as Box<dyn Fn(&mut TokenSignArgs)>,
            ),
            ("past exp", Box::new(|a| a.exp = Some(1))),
            ("bad uid", Box::new(|a| a.video = "nope".into())),
            (
                "bad rule",
                Box::new(|a| {
                    a.rules =
                        vec![r#"{"type":"ip.src","ip":["1.2.3.4/40"],"action":"allow"}"#.into()]
                }),
            ),
            ("rule not JSON", Box::new(|a| a.rules = vec!["{".into()])),
            ("not a key", Box::new(|a| a.pem = Some("bm9wZQ==".into()))),
        ] {
            let mut a = args(&key);
            change(&mut a);
            assert!(sign(&a).is_err(), "{what}");
        }
    }
}
