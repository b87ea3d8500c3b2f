//! usher-store
