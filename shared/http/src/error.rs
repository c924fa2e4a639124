//! The error answer of every handler of both planes: an [`ErrorBody`] (the JSON envelope,
//! shared/api/src/error.rs) with the status of its code, `Retry-After` (429, 503) and
//! `WWW-Authenticate: Bearer` (401).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use omnigraph_api::{ErrorBody, ErrorCode, ManifestConflict, MergeConflict};

/// An error answer. Handlers return `Result<_, ApiError>`; `IntoResponse` picks the
/// status from the code, writes the envelope, and adds `Retry-After` (429, 503) and
/// `WWW-Authenticate: Bearer` (401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", body.error)]
pub struct ApiError {
    body: ErrorBody,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            body: ErrorBody {
                error: message.into(),
                code,
                manifest_conflict: None,
                merge_conflicts: None,
            },
            retry_after_secs: None,
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::MethodNotAllowed, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PayloadTooLarge, message)
    }

    /// 429 with `Retry-After: <retry_after_secs>`.
    pub fn too_many_requests(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::new(ErrorCode::TooManyRequests, message).with_retry_after(retry_after_secs)
    }

    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ServiceUnavailable, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// 409 for a writer that lost a race on one table's manifest version.
    pub fn manifest_conflict(message: impl Into<String>, conflict: ManifestConflict) -> Self {
        let mut err = Self::conflict(message);
        err.body.manifest_conflict = Some(conflict);
        err
    }

    /// 409 for a merge that found conflicting rows.
    pub fn merge_conflicts(message: impl Into<String>, conflicts: Vec<MergeConflict>) -> Self {
        let mut err = Self::conflict(message);
        err.body.merge_conflicts = Some(conflicts);
        err
    }

    /// Adds `Retry-After` (seconds) to the response.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.body.code
    }

    pub fn status(&self) -> StatusCode {
        self.body.code.status()
    }

    pub fn message(&self) -> &str {
        &self.body.error
    }

    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_secs
    }

    pub fn body(&self) -> &ErrorBody {
        &self.body
    }

    pub fn into_body(self) -> ErrorBody {
        self.body
    }
}

impl From<ErrorBody> for ApiError {
    fn from(body: ErrorBody) -> Self {
        ApiError {
            body,
            retry_after_secs: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        let mut response = (status, Json(self.body)).into_response();
        // For the metrics of errors by code (metrics.rs), read by the HTTP middleware.
        response.extensions_mut().insert(code);
        let headers = response.headers_mut();
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests;
