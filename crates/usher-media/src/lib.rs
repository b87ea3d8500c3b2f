//! Usher's media pipeline: turns an uploaded file into what the edge serves — HLS and
//! DASH manifests over one set of fMP4 segments, an MP4 download and thumbnails — by
//! driving ffmpeg/ffprobe as subprocesses.
//!
//! The flow for one video is `probe` → `plan` (a bit-rate ladder, remuxed or
//! transcoded, with any clip or watermark) → `package` (+ `thumbnail`). Nothing here
//! touches the database or the blob store: callers hand in local paths and get back
//! local files plus a [`SegmentIndex`] describing them, so every step can be tested
//! with a clip generated on the spot.

pub mod alignment;
pub mod audio;
pub mod command;
pub mod copy;
pub mod error;
mod ffprobe_json;
pub mod index;
pub mod integrity;
pub mod manifest;
pub mod mp4;
pub mod overlay;
pub mod package;
pub mod plan;
pub mod probe;
pub mod process;
pub mod publish;
pub mod thumbnail;
pub mod tools;
pub mod worker;

pub use error::MediaError;
pub use index::{Rendition, Segment, SegmentIndex, Track};
pub use package::{Packaged, RenditionInfo, package};
pub use plan::{Edits, Overlay, Plan, Rung, plan, plan_with};
pub use probe::{AudioStream, Probe, VideoStream, probe};
pub use process::ProcessError;
pub use thumbnail::{thumbnail, thumbnail_time};
pub use tools::Tools;
