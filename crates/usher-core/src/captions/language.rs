//! A caption's language: a BCP 47 tag (RFC 5646), as Cloudflare takes it in
//! `…/captions/{language}`. A tag is accepted when it is well-formed —
//! `language[-extlang][-script][-region][-variant]*[-extension]*[-x-privateuse]` — and
//! its language is one the endonym table knows (so the player can label it); case is
//! made canonical (`EN-us` → `en-US`, `zh-hant-tw` → `zh-Hant-TW`) so one language is
//! one caption, however a client spells it.
//!
//! The label is the language's name in that language, then what narrows it in
//! parentheses: the script code when the table has no name for that script, and the
//! region code — `en-US` → "English (US)", `zh-Hant-TW` → "繁體中文 (TW)",
//! `es-419` → "Español (419)", `sr-Latn` → "Srpski". Variants, extensions and private
//! use do not change it. A region's own name would need a table per language; the code
//! is what the tag says and reads the same in every language.

use std::fmt;
use std::str::FromStr;

use super::endonyms;

/// Longest tag accepted. RFC 5646 sets no limit but asks implementations to handle at
/// least 35 characters; 64 holds every real caption language with room to spare and
/// bounds what is stored and echoed back in errors.
pub const MAX_LANGUAGE_TAG_LEN: usize = 64;
/// Longest subtag (RFC 5646 §2.1).
const MAX_SUBTAG_LEN: usize = 8;

/// A well-formed BCP 47 tag of a known language, in canonical case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LanguageTag {
    tag: String,
    /// The language the label names: the primary language, or the extended language
    /// subtag when there is one (`zh-yue` is Cantonese).
    language: String,
    script: Option<String>,
    region: Option<String>,
}

/// Why a tag was refused; the message quotes the tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LanguageTagError(String);

fn is_alpha(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphabetic())
}

fn is_digit(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn titlecase(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut chars = lower.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

impl LanguageTag {
    pub fn parse(raw: &str) -> Result<Self, LanguageTagError> {
        let shown = if raw.chars().count() > MAX_LANGUAGE_TAG_LEN {
            format!(
                "{:?}…",
                raw.chars().take(MAX_LANGUAGE_TAG_LEN).collect::<String>()
            )
        } else {
            format!("{raw:?}")
        };
        let malformed =
            |why: &str| LanguageTagError(format!("{shown} is not a BCP 47 language tag: {why}"));
        if raw.is_empty() {
            return Err(LanguageTagError("the language tag is empty".into()));
        }
        if raw.len() > MAX_LANGUAGE_TAG_LEN {
            return Err(malformed("it is longer than 64 characters"));
        }
        if raw.contains('_') {
            return Err(malformed(
                "subtags are separated by \"-\", not \"_\" (as in en-US)",
            ));
        }
        let subtags: Vec<&str> = raw.split('-').collect();
        for s in &subtags {
            if s.is_empty() {
                return Err(malformed("it has an empty subtag"));
            }
            if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(malformed("subtags are letters A–Z and digits 0–9"));
            }
            if s.len() > MAX_SUBTAG_LEN {
                return Err(malformed("a subtag has at most 8 characters"));
            }
        }
        let unknown = |what: String| {
            LanguageTagError(format!(
                "{shown}: {what} (use an ISO 639 language code such as en, fr, ja or yue)"
            ))
        };

        let primary = subtags[0].to_ascii_lowercase();
        if !is_alpha(&primary) || primary.len() < 2 {
            // Private-use (`x-…`) and grandfathered (`i-klingon`) tags name no language
            // a viewer could be shown.
            return Err(unknown("the tag must start with a language".into()));
        }
        if endonyms::name(&primary).is_none() {
            return Err(unknown(format!("unknown language {primary:?}")));
        }
        let mut canonical = vec![primary.clone()];
        let mut language = primary.clone();
        let mut i = 1;
        let next = |i: usize| subtags.get(i).copied();

        // extlang: three letters right after a two- or three-letter language. The
        // registry gives each exactly one prefix, so a valid tag has at most one.
        if let Some(s) = next(i).filter(|s| s.len() == 3 && is_alpha(s)) {
            let ext = s.to_ascii_lowercase();
            if endonyms::name(&ext).is_none() {
                return Err(unknown(format!("unknown extended language {ext:?}")));
            }
            canonical.push(ext.clone());
            language = ext;
            i += 1;
            if next(i).is_some_and(|s| s.len() == 3 && is_alpha(s)) {
                return Err(malformed("it has more than one extended language subtag"));
            }
        }
        let mut script = None;
        if let Some(s) = next(i).filter(|s| s.len() == 4 && is_alpha(s)) {
            let s = titlecase(s);
            canonical.push(s.clone());
            script = Some(s);
            i += 1;
        }
        let mut region = None;
        if let Some(s) =
            next(i).filter(|s| (s.len() == 2 && is_alpha(s)) || (s.len() == 3 && is_digit(s)))
        {
            let r = s.to_ascii_uppercase();
            canonical.push(r.clone());
            region = Some(r);
            i += 1;
        }
        let first_variant = canonical.len();
        while let Some(s) = next(i).filter(|s| {
            (5..=8).contains(&s.len()) || (s.len() == 4 && s.as_bytes()[0].is_ascii_digit())
        }) {
            let v = s.to_ascii_lowercase();
            if canonical[first_variant..].contains(&v) {
                return Err(malformed(&format!("the variant {v:?} appears twice")));
            }
            canonical.push(v);
            i += 1;
        }
        let mut singletons: Vec<String> = Vec::new();
        while let Some(s) = next(i).filter(|s| s.len() == 1 && !s.eq_ignore_ascii_case("x")) {
            let single = s.to_ascii_lowercase();
            if singletons.contains(&single) {
                return Err(malformed(&format!(
                    "the extension {single:?} appears twice"
                )));
            }
            canonical.push(single.clone());
            singletons.push(single.clone());
            i += 1;
            let before = i;
            while let Some(s) = next(i).filter(|s| s.len() >= 2) {
                canonical.push(s.to_ascii_lowercase());
                i += 1;
            }
            if i == before {
                return Err(malformed(&format!(
                    "the extension {single:?} has no subtags"
                )));
            }
        }
        if next(i).is_some_and(|s| s.eq_ignore_ascii_case("x")) {
            canonical.push("x".into());
            i += 1;
            if i == subtags.len() {
                return Err(malformed("the private-use part \"x\" has no subtags"));
            }
            canonical.extend(subtags[i..].iter().map(|s| s.to_ascii_lowercase()));
            i = subtags.len();
        }
        if let Some(s) = next(i) {
            return Err(malformed(&format!(
                "the subtag {s:?} is out of place (the order is language, script, region, \
                 variants, extensions, private use)"
            )));
        }
        Ok(Self {
            tag: canonical.join("-"),
            language,
            script,
            region,
        })
    }

    /// The tag in canonical case.
    pub fn as_str(&self) -> &str {
        &self.tag
    }

    /// The name a viewer picks from the captions menu (see the module documentation).
    pub fn label(&self) -> String {
        let named_script = self
            .script
            .as_deref()
            .and_then(|s| endonyms::name_in_script(&self.language, s));
        let base = named_script
            .or_else(|| endonyms::name(&self.language))
            .unwrap_or(&self.language);
        let mut qualifiers: Vec<&str> = Vec::new();
        if named_script.is_none()
            && let Some(s) = &self.script
        {
            qualifiers.push(s);
        }
        if let Some(r) = &self.region {
            qualifiers.push(r);
        }
        if qualifiers.is_empty() {
            base.to_owned()
        } else {
            format!("{base} ({})", qualifiers.join(", "))
        }
    }
}

impl FromStr for LanguageTag {
    type Err = LanguageTagError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> LanguageTag {
        LanguageTag::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn canonical_case_and_labels() {
        for (input, canonical, label) in [
            ("en", "en", "English"),
            ("EN-us", "en-US", "English (US)"),
            ("tr", "tr", "Türkçe"),
            ("de-CH", "de-CH", "Deutsch (CH)"),
            ("zh-hant-tw", "zh-Hant-TW", "繁體中文 (TW)"),
            ("zh-Hans", "zh-Hans", "简体中文"),
            ("zh-CN", "zh-CN", "中文 (CN)"),
            ("zh-yue-HK", "zh-yue-HK", "粵語 (HK)"),
            ("yue", "yue", "粵語"),
            ("es-419", "es-419", "Español (419)"),
            ("sr-latn-rs", "sr-Latn-RS", "Srpski (RS)"),
            ("en-latn", "en-Latn", "English (Latn)"),
            ("de-DE-1996", "de-DE-1996", "Deutsch (DE)"),
            ("sl-rozaj-biske", "sl-rozaj-biske", "Slovenščina"),
            (
                "en-US-u-CA-gregory-x-Private",
                "en-US-u-ca-gregory-x-private",
                "English (US)",
            ),
            ("ja-JP-X-a-B", "ja-JP-x-a-b", "日本語 (JP)"),
            ("fil-PH", "fil-PH", "Filipino (PH)"),
        ] {
            let t = tag(input);
            assert_eq!(t.as_str(), canonical, "{input}");
            assert_eq!(t.label(), label, "{input}");
            assert_eq!(tag(canonical), t, "canonical form is stable");
        }
    }

    #[test]
    fn malformed_tags_are_refused_naming_them() {
        for (input, want) in [
            ("", "the language tag is empty"),
            ("en_US", "not \"_\""),
            ("en-", "empty subtag"),
            ("-en", "empty subtag"),
            ("en--US", "empty subtag"),
            ("en-US!", "letters A–Z and digits"),
            ("en-ü", "letters A–Z and digits"),
            ("en-abcdefghi", "at most 8"),
            ("en-US-US", "out of place"),
            ("en-US-Latn", "out of place"),
            ("en-a", "has no subtags"),
            ("en-a-b", "has no subtags"),
            ("en-x", "private-use part"),
            ("en-a-aa-a-bb", "appears twice"),
            ("de-1996-1996", "appears twice"),
            ("zh-yue-yue", "more than one extended"),
        ] {
            let e = LanguageTag::parse(input).unwrap_err().to_string();
            assert!(e.contains(want), "{input:?}: {e}");
            if !input.is_empty() {
                assert!(e.contains(&format!("{input:?}")), "{input:?}: {e}");
            }
        }
        let long = "en-".to_owned() + &"abcdefgh-".repeat(10) + "x";
        let e = LanguageTag::parse(&long).unwrap_err().to_string();
        assert!(e.contains("longer than 64"), "{e}");
    }

    #[test]
    fn unknown_languages_are_refused() {
        for input in [
            "xx",
            "fra",
            "eng-US",
            "klingon",
            "x-private",
            "i-klingon",
            "qaa",
            "und",
            "iw",
            "e1",
            "zh-abc",
        ] {
            let e = LanguageTag::parse(input).unwrap_err().to_string();
            assert!(e.contains("ISO 639"), "{input:?}: {e}");
            assert!(e.starts_with(&format!("{input:?}")), "{input:?}: {e}");
        }
    }
}
