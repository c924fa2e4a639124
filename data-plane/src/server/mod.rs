//! `omnigraph-data-plane serve`: a stateless worker serving graphs over HTTP
//! (docs/architecture.md, sections 1 to 3). The registry of graphs comes from omnigraph.yaml or from
//! the control plane (registration, pushes, periodic pulls).

pub mod admission;
pub mod app;
pub mod auth;
pub mod body_reader;
pub mod error;
pub mod handlers;
pub mod maintenance;
pub mod metrics;
pub mod openapi;
pub mod query_limits;
pub mod registry;
pub mod registry_client;
pub mod run;
pub mod state;

pub use error::ServeError;
pub use run::{serve, ServeOptions, ServeSource};
