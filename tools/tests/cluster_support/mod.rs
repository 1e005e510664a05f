//! Helpers for the cluster tests: several broker processes on 127.0.0.1
//! whose links go through fault-injecting proxies (the machine has no
//! `tc netem`).
#![allow(dead_code)]

pub mod proxy;
