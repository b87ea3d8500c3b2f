//! Entry points for the fuzz targets in `fuzz/`, for parsers that are otherwise private
//! to this crate. Not part of the API: nothing here behaves differently from what the
//! routes call.

/// The `Upload-Metadata` parser of tus creation (`POST /stream` with `Tus-Resumable`)
/// and the mapping of its keys onto video settings, exactly as the route uses them.
pub use crate::routes::tus::metadata::{
    MAX_METADATA_LEN, MetadataError, Pairs, UploadSettings, parse as parse_upload_metadata,
    settings as upload_settings,
};
