//! The PNG/JPEG header reader that vets watermark images before ffmpeg sees them: format
//! and size from the first bytes, within the side limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usher_core::image::{MAX_IMAGE_SIDE, sniff};

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = sniff(data) {
        assert!(info.width >= 1 && info.height >= 1, "{info:?}");
        assert!(
            info.width <= MAX_IMAGE_SIDE && info.height <= MAX_IMAGE_SIDE,
            "{info:?}"
        );
    }
});
