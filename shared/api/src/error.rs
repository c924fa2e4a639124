//! The error envelope every non-2xx answer of both planes carries, and [`ApiError`]: the
//! one place where an HTTP status is chosen.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Machine-readable error class; each maps to exactly one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 401: missing, malformed or unknown bearer token.
    Unauthorized,
    /// 403: authenticated, but the policy does not allow it.
    Forbidden,
    /// 400: malformed JSON, wrong content type, invalid input.
    BadRequest,
    /// 404: unknown route, graph, branch, ...
    NotFound,
    /// 405
    MethodNotAllowed,
    /// 409: duplicate, or a concurrent writer won (`manifest_conflict`), or a merge
    /// conflict (`merge_conflicts`).
    Conflict,
    /// 413
    PayloadTooLarge,
    /// 429: admission control; `Retry-After` says when to retry.
    TooManyRequests,
    /// 408: a read ran past its time limit (the server's default or its `timeout_ms`).
    QueryTimeout,
    /// 422: a read held more rows in memory than the worker's row budget.
    RowBudgetExceeded,
    /// 422: a read without `limit` would return more rows than the worker returns unasked.
    ResultTooLarge,
    /// 429: the worker runs as many reads as it allows at once; `Retry-After` says when.
    TooManyReads,
    /// 410: a read at a graph version that version cleanup has deleted.
    VersionReclaimed,
    /// 503: e.g. omnigraph.yaml drifted from what the control plane loaded.
    ServiceUnavailable,
    /// 500
    Internal,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::BadRequest,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::TooManyRequests,
        ErrorCode::QueryTimeout,
        ErrorCode::RowBudgetExceeded,
        ErrorCode::ResultTooLarge,
        ErrorCode::TooManyReads,
        ErrorCode::VersionReclaimed,
        ErrorCode::ServiceUnavailable,
        ErrorCode::Internal,
    ];

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::QueryTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::RowBudgetExceeded => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ResultTooLarge => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::TooManyReads => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::VersionReclaimed => StatusCode::GONE,
            ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code for a status produced outside our handlers (framework rejections,
    /// middleware). Client errors without a code of their own (415, 422, ...) are
    /// `bad_request`; server errors other than 503 are `internal`.
    pub fn from_status(status: StatusCode) -> ErrorCode {
        match status {
            StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
            StatusCode::FORBIDDEN => ErrorCode::Forbidden,
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            StatusCode::CONFLICT => ErrorCode::Conflict,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            StatusCode::TOO_MANY_REQUESTS => ErrorCode::TooManyRequests,
            StatusCode::GONE => ErrorCode::VersionReclaimed,
            StatusCode::SERVICE_UNAVAILABLE => ErrorCode::ServiceUnavailable,
            s if s.is_client_error() => ErrorCode::BadRequest,
            _ => ErrorCode::Internal,
        }
    }

    /// The snake_case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::QueryTimeout => "query_timeout",
            ErrorCode::RowBudgetExceeded => "row_budget_exceeded",
            ErrorCode::ResultTooLarge => "result_too_large",
            ErrorCode::TooManyReads => "too_many_reads",
            ErrorCode::VersionReclaimed => "version_reclaimed",
            ErrorCode::ServiceUnavailable => "service_unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

/// A concurrent writer published first: the table's manifest version moved from
/// `expected` (what this writer started from) to `actual`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ManifestConflict {
    /// e.g. `node:Person`.
    pub table_key: String,
    pub expected: u64,
    pub actual: u64,
}

/// Why a merge was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MergeConflictKind {
    /// The same key inserted on both branches with different values.
    DivergentInsert,
    /// The same row updated differently on both branches.
    DivergentUpdate,
    /// A row deleted on one branch and updated on the other.
    DeleteVsUpdate,
    /// An edge whose endpoint the merged graph does not have.
    OrphanEdge,
    /// Two rows of the merged graph would share a `@unique` value.
    UniqueViolation,
    /// A node with more edges of a `@card`-limited type than it allows.
    CardinalityViolation,
    /// A merged row that breaks `@range` / `@check`.
    ValueConstraintViolation,
}

/// One conflict of a refused branch merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MergeConflict {
    pub kind: MergeConflictKind,
    pub table_key: String,
    /// The conflicting row: a node's key, or `from->to` of an edge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub message: String,
}

/// The JSON body of every non-2xx answer:
/// `{ "error": "...", "code": "bad_request", "manifest_conflict"?: {..}, "merge_conflicts"?: [..] }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Human-readable message.
    pub error: String,
    pub code: ErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_conflict: Option<ManifestConflict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_conflicts: Option<Vec<MergeConflict>>,
}

#[cfg(test)]
mod tests;
