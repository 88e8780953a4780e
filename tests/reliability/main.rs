//! Reliability: what a misbehaving client, a flood, a restart or an outage must not break. Each
//! test starts its own server (own ports, own data directory) and stops it.

#[path = "../support/mod.rs"]
mod support;

mod connections;
