//! What must hold when things go wrong: a misbehaving client, a flood, a restart, an
//! interrupted import, a database that goes away, files other users could read. Each test starts
//! its own server (own ports, own data directory) and stops it; one module per concern.

#[path = "../support/mod.rs"]
mod support;

mod checkpoint;
mod connections;
mod file_modes;
mod node;
mod outage;
mod replay;
