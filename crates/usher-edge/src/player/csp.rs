//! The player page's `Content-Security-Policy`: what the page itself may load (its own
//! scripts, media through Media Source Extensions, a `poster=` image) and, from the
//! video's `allowedOrigins`, which sites may frame it (`frame-ancestors`).

use usher_core::origin::AllowedOrigin;

/// `frame-ancestors` sources for `allowedOrigins`, or `None` when any site may embed.
///
/// Each entry is written for both schemes, as the entry itself names none. Entries
/// mean what [`AllowedOrigin::matches`] means: a host without a port covers every
/// port (`:*`), except `localhost`, which without a port covers only 80/443.
pub fn frame_ancestors(allowed: &[AllowedOrigin]) -> Option<String> {
    if allowed.is_empty() {
        return None;
    }
    let mut sources = Vec::with_capacity(allowed.len() * 2);
    for entry in allowed {
        // Validated entries hold only host-name characters, `*.` and `:port`.
        let e = entry.to_string();
        let host = e.rsplit_once(':').map_or(e.as_str(), |(h, _)| h);
        let has_port = host.len() != e.len();
        let suffix = if has_port || host == "localhost" {
            ""
        } else {
            ":*"
        };
        for scheme in ["http", "https"] {
            sources.push(format!("{scheme}://{e}{suffix}"));
        }
    }
    Some(sources.join(" "))
}

/// The whole policy for a player page. hls.js feeds the `<video>` from `blob:` URLs
/// (Media Source Extensions) and may start its transmuxer as a `blob:` worker; the page
/// runs no inline script.
pub fn page_policy(allowed: &[AllowedOrigin], poster_origin: Option<&str>) -> String {
    let mut p = String::from(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
         media-src 'self' blob:; worker-src blob:; base-uri 'none'; form-action 'none'; \
         img-src 'self' data:",
    );
    if let Some(o) = poster_origin {
        p.push(' ');
        p.push_str(o);
    }
    if let Some(fa) = frame_ancestors(allowed) {
        p.push_str("; frame-ancestors ");
        p.push_str(&fa);
    }
    p
}

/// For pages that only say why a video cannot play: no scripts, our stylesheet, and
/// framable anywhere so the reason shows inside any embed.
pub const REFUSAL_POLICY: &str =
    "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Vec<AllowedOrigin> {
        entries
            .iter()
            .map(|e| AllowedOrigin::parse(e).unwrap())
            .collect()
    }

    #[test]
    fn no_list_no_frame_ancestors() {
        assert_eq!(frame_ancestors(&[]), None);
        assert!(!page_policy(&[], None).contains("frame-ancestors"));
    }

    #[test]
    fn entries_render_for_both_schemes() {
        assert_eq!(
            frame_ancestors(&list(&["example.com"])).unwrap(),
            "http://example.com:* https://example.com:*"
        );
        assert_eq!(
            frame_ancestors(&list(&["*.Example.com", "localhost:8080", "localhost"])).unwrap(),
            "http://*.example.com:* https://*.example.com:* \
             http://localhost:8080 https://localhost:8080 \
             http://localhost https://localhost"
        );
        assert_eq!(
            frame_ancestors(&list(&["media.example.com:8443"])).unwrap(),
            "http://media.example.com:8443 https://media.example.com:8443"
        );
    }

    #[test]
    fn page_policy_allows_mse_and_the_poster_only() {
        let p = page_policy(&list(&["example.com"]), Some("https://img.example.net:443"));
        assert!(p.contains("media-src 'self' blob:"), "{p}");
        assert!(
            p.contains("img-src 'self' data: https://img.example.net:443"),
            "{p}"
        );
        assert!(p.contains("script-src 'self';"), "{p}");
        assert!(!p.contains("unsafe"), "{p}");
        assert!(
            p.ends_with("; frame-ancestors http://example.com:* https://example.com:*"),
            "{p}"
        );
        // Directives are separated cleanly whatever is present.
        for part in page_policy(&[], None).split("; ") {
            assert!(!part.is_empty() && !part.contains(';'), "{part}");
        }
    }
}
