//! The HTTP edge: router, authentication and server-policy checks, the error mapping,
//! the OpenAPI document and the handlers of `/graphs`, `/healthz` and `/internal/*`.

pub mod app;
pub mod auth;
pub mod error;
pub mod handlers;
pub mod openapi;
