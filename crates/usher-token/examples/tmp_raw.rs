#![allow(clippy::unwrap_used)]
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{KeyPair, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaKeyPair};
use std::hint::black_box;
use std::time::Instant;
use usher_token::*;
fn main() {
    let key = SigningKey::generate("k").unwrap();
    let mut claims = Claims::new("ea95132c15732412d22c1476fa83f27a");
    claims.exp = Some(Timestamp(1_900_000_000));
    claims.nbf = Some(Timestamp(1_600_000_000));
    claims.access_rules = parse_rules(&serde_json::json!([{"type": "ip.geoip.country", "action": "allow", "country": ["GB"]},{"type": "any", "action": "block"}])).unwrap();
    let token = sign(&key, &claims).unwrap();
    let pair = RsaKeyPair::from_pkcs8(&key.to_pkcs8_der()).unwrap();
    let parsed =
        ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pair.public_key().as_ref()).unwrap();
    let _ = pair.as_der();
    let (input, sig) = token.rsplit_once('.').unwrap();
    use base64::Engine;
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    let public = key.verifying_key();
    for round in 0..3 {
        let n = 20000;
        let t = Instant::now();
        for _ in 0..n {
            parsed
                .verify_sig(black_box(input.as_bytes()), black_box(&sig))
                .unwrap();
        }
        let raw = t.elapsed().as_secs_f64() / n as f64 * 1e6;
        let t = Instant::now();
        for _ in 0..n {
            black_box(
                UnverifiedToken::parse(black_box(&token))
                    .unwrap()
                    .verify(&public)
                    .unwrap(),
            );
        }
        let full = t.elapsed().as_secs_f64() / n as f64 * 1e6;
        let t = Instant::now();
        for _ in 0..n {
            black_box(UnverifiedToken::parse(black_box(&token)).unwrap());
        }
        let p = t.elapsed().as_secs_f64() / n as f64 * 1e6;
        let payload = token.split('.').nth(1).unwrap();
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        let t = Instant::now();
        for _ in 0..n {
            black_box(serde_json::from_slice::<Claims>(black_box(&payload)).unwrap());
        }
        let c = t.elapsed().as_secs_f64() / n as f64 * 1e6;
        println!("round {round}: raw {raw:.2}us full {full:.2}us parse {p:.2}us claims {c:.2}us");
    }
}
