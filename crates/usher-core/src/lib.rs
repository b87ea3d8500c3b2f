//! Usher's domain vocabulary: identifiers, the video model and its lifecycle, and the
//! time format the API speaks. No I/O lives here, so every other crate can share it.

pub mod ids;
pub mod reason;
pub mod time_fmt;
pub mod video;

pub use ids::{AccountId, IdError, KeyId, VideoId};
pub use reason::ErrorReason;
pub use video::{Video, VideoState};
