//! Webhooks as Cloudflare Stream sends them: when a video becomes `ready` or `error`, a
//! signed POST of its video object to the account's notification URL. The API routes
//! that manage the subscription live in `routes::webhooks`; here are the signature
//! format and the dispatcher that delivers the queued notifications.

pub mod delivery;
pub mod signature;

pub use delivery::{Dispatcher, DispatcherConfig};
