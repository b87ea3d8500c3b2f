//! usher-api
