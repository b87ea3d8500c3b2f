//! tus `Upload-Metadata` (comma-separated `key base64value` pairs) and the mapping of its
//! Cloudflare keys onto video settings, as tus creation runs them. Pairs that parse must
//! print back to a header that parses to the same pairs.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use usher_api::fuzzing::{MAX_METADATA_LEN, parse_upload_metadata, upload_settings};

fuzz_target!(|data: &[u8]| {
    // Header values reach the route as visible ASCII (`to_str`), anything else is refused
    // before this parser; the lossy text still exercises it with every byte pattern.
    let header = usher_fuzz::text(data);
    let Ok(pairs) = parse_upload_metadata(&header) else {
        return;
    };
    let _ = upload_settings(&pairs);
    let printed = pairs
        .iter()
        .map(|(k, v)| match v {
            Some(v) if !v.is_empty() => format!("{k} {}", STANDARD.encode(v)),
            _ => k.clone(),
        })
        .collect::<Vec<_>>()
        .join(",");
    if printed.len() <= MAX_METADATA_LEN {
        let again = parse_upload_metadata(&printed).expect("printed metadata parses");
        let norm = |p: Vec<(String, Option<Vec<u8>>)>| {
            p.into_iter()
                .map(|(k, v)| (k, v.filter(|v| !v.is_empty())))
                .collect::<Vec<_>>()
        };
        assert_eq!(norm(again), norm(pairs));
    }
});
