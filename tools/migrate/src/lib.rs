//! The `migrate` tool's library: retention ([`prune`]), tested against a
//! real database.

pub mod prune;
