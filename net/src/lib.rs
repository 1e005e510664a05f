//! corelog-net: the broker's wire protocol (frames, request/response types,
//! codecs), and later the per-core endpoints, consumer-group coordinator and
//! the Rust client library.

#![warn(missing_docs)]

pub mod client;
pub mod coordinator;
pub mod protocol;
pub mod server;
