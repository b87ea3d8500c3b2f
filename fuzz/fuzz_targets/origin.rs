//! `allowedOrigins` entries and request origins (`Origin`, `Referer`, `?parentOrigin=`),
//! matched as the edge and the player pages match them. An accepted entry must print
//! back to itself, and must allow the origin it names.
//!
//! Input: a line with the request's origin, then one entry per line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usher_core::origin::{AllowedOrigin, RequestOrigin, origin_allowed};

fuzz_target!(|data: &[u8]| {
    let text = usher_fuzz::text(data);
    let mut lines = text.split('\n');
    let origin = lines.next().and_then(RequestOrigin::parse);
    let entries: Vec<AllowedOrigin> = lines.filter_map(|l| AllowedOrigin::parse(l).ok()).collect();
    let allowed = origin_allowed(&entries, origin.as_ref());
    if entries.is_empty() {
        assert!(allowed, "an empty list allows every origin");
    }
    for entry in &entries {
        let printed = entry.to_string();
        assert_eq!(
            AllowedOrigin::parse(&printed).as_ref(),
            Ok(entry),
            "{printed}"
        );
        // The origin an entry names: a subdomain for a wildcard, the entry's port or the
        // scheme's default.
        let named = match printed.strip_prefix("*.") {
            Some(host) => format!("https://sub.{host}"),
            None => format!("https://{printed}"),
        };
        let named = RequestOrigin::parse(&named).expect("the origin an entry names parses");
        assert!(
            entry.matches(&named),
            "{printed} does not allow {}:{}",
            named.host,
            named.port
        );
    }
});
