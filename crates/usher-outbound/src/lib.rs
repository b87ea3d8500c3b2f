//! Outbound HTTP to URLs customers give us — copying a video from a URL, delivering a
//! webhook — made safe against server-side request forgery: an [`AddressPolicy`]
//! decides which addresses may be reached, and the [`Outbound`] client enforces it on
//! every name it resolves, every IP-literal host and every redirect.

mod client;
mod error;
mod fetch;
pub mod policy;

pub use client::{
    CONNECT_TIMEOUT, MAX_REDIRECTS, Outbound, READ_IDLE_TIMEOUT, check_url, host_allowed,
};
pub use error::FetchError;
pub use policy::AddressPolicy;
