//! Where each video's bytes live in the blob store. Published outputs sit under a
//! generation that the video record points at, so a new set is written beside the old
//! one and switched to atomically in the database.

use usher_core::VideoId;

/// The uploaded file, as received.
pub fn original_key(uid: &VideoId) -> String {
    format!("uploads/{uid}/original")
}

/// The directory of the videos' outputs (all generations).
pub fn outputs_prefix(uid: &VideoId) -> String {
    format!("videos/{uid}")
}

/// One published set of outputs; the edge maps `/{id}/<rest>` to `<this>/<rest>`.
pub fn generation_prefix(uid: &VideoId, generation: &str) -> String {
    format!("videos/{uid}/{generation}")
}

/// Every prefix that holds bytes of the video.
pub fn media_prefixes(uid: &VideoId) -> [String; 2] {
    [format!("uploads/{uid}"), outputs_prefix(uid)]
}
