//! Support shared by the integration tests and the bench harnesses, which
//! start real brokers on loopback.

pub mod ports;

pub use ports::{free_port, free_ports};
