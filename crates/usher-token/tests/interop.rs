//! Interop with other RS256 implementations, run for real as subprocesses:
//!
//! - Node's built-in WebCrypto (required: these tests fail, never skip, without
//!   `node`): Cloudflare's own Worker example signs with the JWK we export and Usher
//!   verifies; Usher signs and WebCrypto verifies with only `n` and `e`; keys that
//!   WebCrypto generated load into Usher.
//! - PyJWT (skipped with a notice unless `python3 -c "import jwt, cryptography"` works,
//!   and failed instead when `USHER_TEST_REQUIRE_SERVICES` is set, as `scripts/test` does;
//!   set `USHER_PYTHON` to use another interpreter, e.g. a virtualenv's).
//! - The `openssl` command line (skipped with a notice when absent, failed when required): our PKCS#1 PEM is
//!   byte-identical to OpenSSL's, and OpenSSL's PKCS#8 keys load.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};
use usher_token::{
    Claims, Decision, SigningKey, Timestamp, UnverifiedToken, VerifyingKey, evaluate, parse_rules,
    sign,
};

const VIDEO: &str = "ea95132c15732412d22c1476fa83f27a";

fn script(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{program}` ({e}); it is required for this test"));
    assert!(
        output.status.success(),
        "`{program} {}` failed: {}",
        args.first().copied().unwrap_or_default(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn node(script_name: &str, args: &[&str]) -> String {
    let path = script(script_name);
    let mut all = vec![path.as_str()];
    all.extend_from_slice(args);
    run("node", &all)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn cloudflare_worker_example_tokens_verify() {
    let key = SigningKey::generate("8f9c0c5ab2b04f7fa5d5b9a2a1d0e4c1").unwrap();
    let token = node("worker_sign.mjs", &[&key.to_base64_jwk(), key.kid(), VIDEO]);

    let parsed = UnverifiedToken::parse(&token).unwrap();
    assert_eq!(parsed.kid(), Some(key.kid()));
    let claims = parsed.verify(&key.verifying_key()).unwrap();
    assert_eq!(claims.sub, VIDEO);
    assert_eq!(claims.kid.as_deref(), Some(key.kid()));
    let exp = claims.exp.unwrap().0;
    assert!((now() + 3590..=now() + 3610).contains(&exp), "exp {exp}");
    claims.check_time(now(), 30).unwrap();
    let expected_rules = parse_rules(&json!([
        {"type": "ip.geoip.country", "action": "allow", "country": ["GB"]},
        {"type": "any", "action": "block"}
    ]))
    .unwrap();
    assert_eq!(claims.access_rules, expected_rules);
    let rules = &claims.access_rules;
    assert_eq!(
        evaluate(rules, ip("81.2.69.160"), Some("GB")),
        Decision::Allow
    );
    assert_eq!(evaluate(rules, ip("8.8.8.8"), Some("US")), Decision::Block);

    // A customer holding only the `pem` field verifies against the same public key.
    let from_pem = SigningKey::from_base64_pem(key.kid(), &key.to_base64_pem()).unwrap();
    parsed.verify(&from_pem.verifying_key()).unwrap();
    // And another key does not verify it.
    let stranger = SigningKey::generate("stranger").unwrap();
    assert!(parsed.verify(&stranger.verifying_key()).is_err());
}

#[test]
fn webcrypto_verifies_usher_tokens_with_only_n_and_e() {
    let key = SigningKey::generate("usher-kid").unwrap();
    let mut claims = Claims::new(VIDEO);
    claims.exp = Some(Timestamp(now() + 3600));
    claims.nbf = Some(Timestamp(now() - 3600));
    claims.downloadable = true;
    claims.access_rules = parse_rules(&json!([
        {"type": "ip.src", "action": "allow", "ip": ["93.184.216.0/24", "2400:cb00::/32"]},
        {"type": "any", "action": "block"}
    ]))
    .unwrap();
    let token = sign(&key, &claims).unwrap();
    let (input, _) = token.rsplit_once('.').unwrap();
    let other_signature = sign(&SigningKey::generate("x").unwrap(), &claims).unwrap();
    let forged = format!("{input}.{}", other_signature.rsplit_once('.').unwrap().1);

    let public_jwk = key.verifying_key().to_public_jwk_json(key.kid());
    let output = node("webcrypto_verify.mjs", &[&public_jwk, &token, &forged]);
    let lines: Vec<Value> = output
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["valid"], true, "{output}");
    assert_eq!(
        lines[0]["header"],
        json!({"alg": "RS256", "kid": "usher-kid"})
    );
    assert_eq!(lines[0]["payload"]["sub"], VIDEO);
    assert_eq!(lines[0]["payload"]["exp"], json!(claims.exp.unwrap().0));
    assert_eq!(
        lines[0]["payload"]["accessRules"][0]["ip"][1],
        "2400:cb00::/32"
    );
    assert_eq!(lines[1]["valid"], false, "{output}");
}

#[test]
fn webcrypto_generated_keys_load() {
    let output: Value = serde_json::from_str(&node("webcrypto_keygen.mjs", &["node-kid"])).unwrap();
    let key = SigningKey::from_jwk(&output["jwk"].to_string()).unwrap();
    assert_eq!(key.kid(), "node-kid");
    let spki = base64::engine::general_purpose::STANDARD
        .decode(output["spki"].as_str().unwrap())
        .unwrap();
    let public = VerifyingKey::from_spki_der(&spki).unwrap();
    assert!(key.public_key_matches(&public));
    assert_eq!(public.to_spki_der(), spki);

    let mut claims = Claims::new(VIDEO);
    claims.exp = Some(Timestamp(now() + 60));
    let token = sign(&key, &claims).unwrap();
    let verdict = node(
        "webcrypto_verify.mjs",
        &[&output["jwk"].to_string(), &token],
    );
    assert!(verdict.contains(r#""valid":true"#), "{verdict}");
}

/// Whether the test suite was told that every optional tool must be there
/// (`scripts/test` sets it): then a missing one fails the test instead of skipping it.
fn required() -> bool {
    std::env::var_os("USHER_TEST_REQUIRE_SERVICES").is_some()
}

/// Skips (with a notice) or, when tools are required, fails.
fn skip(notice: &str) {
    assert!(
        !required(),
        "{notice}, and USHER_TEST_REQUIRE_SERVICES is set"
    );
    eprintln!("NOTICE: {notice}: skipped");
}

fn python() -> Option<String> {
    let python = std::env::var("USHER_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", "import jwt, cryptography"])
        .output();
    match probe {
        Ok(out) if out.status.success() => Some(python),
        _ => {
            skip(&format!(
                "PyJWT interop: `{python} -c \"import jwt, cryptography\"` failed \
                 (pip install pyjwt cryptography, or set USHER_PYTHON)"
            ));
            None
        }
    }
}

#[test]
fn pyjwt_interop() {
    let Some(python) = python() else { return };
    let script = script("pyjwt_interop.py");
    let key = SigningKey::generate("py-kid").unwrap();

    // PyJWT signs with our PKCS#1 PEM; a float exp, as PyJWT passes it through.
    let token = run(
        &python,
        &[&script, "sign", &key.to_base64_pem(), key.kid(), VIDEO],
    );
    let parsed = UnverifiedToken::parse(&token).unwrap();
    assert_eq!(parsed.header().typ.as_deref(), Some("JWT"));
    assert_eq!(parsed.kid(), Some("py-kid"));
    let claims = parsed.verify(&key.verifying_key()).unwrap();
    assert_eq!(claims.sub, VIDEO);
    assert!(claims.downloadable);
    claims.check_time(now(), 30).unwrap();

    // PyJWT verifies ours from the public JWK.
    let mut claims = Claims::new(VIDEO);
    claims.exp = Some(Timestamp(now() + 600));
    let token = sign(&key, &claims).unwrap();
    let public_jwk = key.verifying_key().to_public_jwk_json(key.kid());
    let decoded: Value =
        serde_json::from_str(&run(&python, &[&script, "verify", &public_jwk, &token])).unwrap();
    assert_eq!(decoded["sub"], VIDEO);
    assert_eq!(decoded["kid"], "py-kid");
}

fn openssl_available() -> bool {
    let found = Command::new("openssl").arg("version").output().is_ok();
    if !found {
        skip("openssl interop: no `openssl` command");
    }
    found
}

#[test]
fn openssl_agrees_on_pem_encodings() {
    if !openssl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();

    // OpenSSL-generated PKCS#8 loads, and our PKCS#1 export equals OpenSSL's.
    run(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &path("k8.pem"),
        ],
    );
    let pkcs8_pem = std::fs::read_to_string(path("k8.pem")).unwrap();
    assert!(pkcs8_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let key = SigningKey::from_pem("ossl", &pkcs8_pem).unwrap();
    let traditional = run("openssl", &["rsa", "-in", &path("k8.pem"), "-traditional"]);
    assert_eq!(key.to_pkcs1_pem().trim_end(), traditional);

    // OpenSSL accepts our PEM and derives the same public key.
    std::fs::write(path("ours.pem"), key.to_pkcs1_pem().as_bytes()).unwrap();
    run(
        "openssl",
        &["rsa", "-check", "-noout", "-in", &path("ours.pem")],
    );
    run(
        "openssl",
        &[
            "pkey",
            "-in",
            &path("ours.pem"),
            "-pubout",
            "-outform",
            "DER",
            "-out",
            &path("pub.der"),
        ],
    );
    let spki = std::fs::read(path("pub.der")).unwrap();
    assert_eq!(spki, key.verifying_key().to_spki_der());
}
