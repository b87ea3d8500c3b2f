//! ffprobe's `-show_format -show_streams` JSON, as the worker reads it about an uploaded
//! file (whose container fields — tags, rotation, rates — are the uploader's to choose):
//! parsed, classified, and planned into a ladder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usher_media::plan::{Plan, plan};
use usher_media::probe::{classify, parse_ffprobe_json};

fuzz_target!(|data: &[u8]| {
    let Ok(probe) = parse_ffprobe_json(data) else {
        return;
    };
    if let Some(video) = &probe.video {
        let _ = video.display_size();
        assert!(
            matches!(video.rotation, 0 | 90 | 180 | 270),
            "rotation {}",
            video.rotation
        );
    }
    if classify(&probe).is_err() {
        return;
    }
    if let Plan::Transcode { ladder, .. } = plan(&probe) {
        assert!(!ladder.is_empty(), "a transcode with no rung");
    }
});
