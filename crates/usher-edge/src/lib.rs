//! usher-edge
