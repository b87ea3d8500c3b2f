//! Usher's domain vocabulary: identifiers, the video model and its lifecycle, and the
//! time format the API speaks. No I/O lives here, so every other crate can share it.

pub mod captions;
pub mod fnv;
pub mod ids;
pub mod image;
pub mod live;
pub mod origin;
pub mod reason;
pub mod revocation;
pub mod secret;
pub mod time_fmt;
pub mod video;
pub mod watermark;

pub use ids::{
    AccountId, AudioTrackId, IdError, KeyId, LiveInputId, LiveOutputId, VideoId, WatermarkId,
};
pub use reason::ErrorReason;
pub use secret::Secret;
pub use video::{ClipSpan, Video, VideoState};
pub use watermark::{Watermark, WatermarkPosition};
