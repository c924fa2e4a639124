//! A graph's lifecycle (docs/architecture.md, section 4): create, inspect, update (its
//! policy), delete with tombstone and purge, and the completion of interrupted deletes at
//! start-up.

pub mod create;
pub mod delete;
pub mod inspect;
pub mod policy;
pub mod recovery;
pub mod update;
