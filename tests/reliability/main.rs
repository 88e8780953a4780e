//! What must hold when things go wrong: restarts, interrupted imports, a database that goes
//! away, files other users could read. One module per concern.

#[path = "../support/mod.rs"]
mod support;

mod checkpoint;
mod file_modes;
mod node;
mod outage;
mod replay;
