//! Uploaded caption files (WebVTT, or SRT converted to WebVTT) and caption language
//! tags, as `PUT …/captions/{language}` reads them. What is accepted is stored as
//! WebVTT and served as is, so it must read back as the same WebVTT.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usher_core::captions::{CaptionFormat, LanguageTag, read_caption_file};

fuzz_target!(|data: &[u8]| {
    // The first line doubles as a language tag (the route's path segment).
    if let Some(first) = data.split(|&b| b == b'\n').next()
        && let Ok(tag) = LanguageTag::parse(&usher_fuzz::text(first))
    {
        let _ = tag.label();
        assert_eq!(LanguageTag::parse(tag.as_str()).as_ref(), Ok(&tag));
    }
    let Ok(file) = read_caption_file(data) else {
        return;
    };
    assert!(file.cues >= 1);
    let again = read_caption_file(file.webvtt.as_bytes())
        .unwrap_or_else(|e| panic!("the stored WebVTT does not read back: {e}"));
    assert_eq!(again.format, CaptionFormat::WebVtt);
    assert_eq!(again.webvtt, file.webvtt, "WebVTT changed when read again");
    assert_eq!(again.cues, file.cues);
    assert_eq!(again.last_cue_end, file.last_cue_end);
});
