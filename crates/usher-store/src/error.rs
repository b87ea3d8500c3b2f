//! What can go wrong below the API. Callers decide whose fault it is; nothing here is
//! ever shown to a client verbatim.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("blob store error: {0}")]
    Blob(#[from] object_store::Error),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("corrupt record: {0}")]
    Corrupt(String),
    #[error("limit reached: {0}")]
    LimitReached(&'static str),
    #[error("configuration: {0}")]
    Config(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// The blob (or row) asked for does not exist: the caller's 404, not a failure.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Blob(object_store::Error::NotFound { .. }))
            || matches!(self, Self::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}
