//! The HTTP plumbing both planes share, on axum: the error answer ([`ApiError`], the JSON
//! envelope of shared/api with the status of its code), the extractors that answer every
//! rejection of the framework's with that envelope, the route table behind each plane's
//! router and OpenAPI document, request logging, metrics and traces.

mod error;
mod extract;
pub mod listener;
mod logging;
pub mod metrics;
pub mod openapi;
mod routes;
pub mod telemetry;

pub use error::ApiError;
pub use extract::{
    error_envelope, json_rejection_error, method_not_allowed, route_not_found, ApiJson, ApiPath,
    ApiQuery, DEFAULT_BODY_LIMIT_BYTES, LARGE_BODY_LIMIT_BYTES,
};
pub use logging::{
    init_logging, record_actor, with_request_logging, LOG_FORMAT_ENV, REQUEST_ID_HEADER,
};
pub use routes::{Route, RouteTable};
