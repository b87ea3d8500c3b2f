//! usher-media
