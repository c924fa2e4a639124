//! axum glue so that the framework's own failures answer with the error envelope too:
//! malformed JSON, a wrong content type, bad path or query parameters, an unknown
//! route, a wrong method and an oversized body.
//!
//! Wiring (in each binary's `fn router(state) -> Router`):
//! ```
//! use axum::{extract::DefaultBodyLimit, routing::post, Router};
//! use omnigraph_api::*;
//! use omnigraph_http::*;
//!
//! async fn read(ApiJson(req): ApiJson<ReadRequest>) -> Result<ApiJson<SchemaResponse>, ApiError> {
//!     Err(ApiError::bad_request(format!("cannot run {}", req.query_source)))
//! }
//! async fn ingest(ApiJson(_req): ApiJson<IngestRequest>) -> Result<ApiJson<IngestResponse>, ApiError> {
//!     Err(ApiError::internal("not in this example"))
//! }
//!
//! let app: Router = Router::new()
//!     .route("/read", post(read))
//!     .route("/ingest", post(ingest).layer(DefaultBodyLimit::max(LARGE_BODY_LIMIT_BYTES)))
//!     .method_not_allowed_fallback(method_not_allowed) // after the routes it covers
//!     .fallback(route_not_found)
//!     .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT_BYTES))
//!     .layer(axum::middleware::from_fn(error_envelope)); // catches anything else
//! ```

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Serialize;

use omnigraph_api::ErrorCode;

use crate::error::ApiError;

/// Body limit of ordinary requests: 1 MiB.
pub const DEFAULT_BODY_LIMIT_BYTES: usize = 1024 * 1024;
/// Body limit of `/ingest`, `/load` and `POST /graphs`: 32 MiB.
pub const LARGE_BODY_LIMIT_BYTES: usize = 32 * 1024 * 1024;

/// `axum::Json`, with rejections turned into the envelope: malformed JSON, a body of
/// the wrong shape and a missing or wrong `Content-Type` are 400 `bad_request` (the
/// envelope has no 415/422 codes); a body over the limit is 413 `payload_too_large`.
/// As a response it serializes like `Json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection_error(&rejection)),
        }
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

/// The envelope for a `Json` extractor rejection.
pub fn json_rejection_error(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::bad_request("expected a JSON body with `Content-Type: application/json`")
        }
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request(format!("malformed JSON body: {}", rejection.body_text()))
        }
        JsonRejection::JsonDataError(_) => {
            ApiError::bad_request(format!("invalid request body: {}", rejection.body_text()))
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::payload_too_large(format!("request body is too large: {}", other.body_text()))
        }
        other => ApiError::new(
            ErrorCode::from_status(other.status()),
            format!("cannot read the request body: {}", other.body_text()),
        ),
    }
}

/// `axum::extract::Path` with rejections as 400 envelopes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|rejection: PathRejection| {
                ApiError::new(
                    ErrorCode::from_status(rejection.status()),
                    format!("invalid path parameter: {}", rejection.body_text()),
                )
            })
    }
}

/// `axum::extract::Query` with rejections as 400 envelopes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection: QueryRejection| {
                ApiError::bad_request(format!("invalid query string: {}", rejection.body_text()))
            })
    }
}

/// `Router::fallback` handler: 404 envelope naming the method and path.
pub async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

/// `Router::method_not_allowed_fallback` handler: 405 envelope. axum still adds the
/// `Allow` header.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::method_not_allowed(format!("method {method} is not allowed on {}", uri.path()))
}

/// Longest plain-text error body carried over into an envelope's message.
const MAX_PLAIN_ERROR_BYTES: usize = 4 * 1024;

/// Middleware (`axum::middleware::from_fn(error_envelope)`): any error response that is
/// not already JSON (a layer's 413, a 405 without our fallback, a timeout, ...) is
/// rewritten as the envelope, with its text as the message. The status becomes the
/// code's (so 415 and 422 turn into 400, like [`ApiJson`]'s); other headers such as
/// `Allow` and `Retry-After` are kept.
pub async fn error_envelope(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_PLAIN_ERROR_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_owned()
    } else {
        text
    };
    let mut envelope = ApiError::new(ErrorCode::from_status(status), message).into_response();
    let own: Vec<_> = envelope.headers().keys().cloned().collect();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_LENGTH && !own.contains(name) {
            envelope.headers_mut().append(name.clone(), value.clone());
        }
    }
    envelope
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

#[cfg(test)]
mod tests;
