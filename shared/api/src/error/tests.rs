use super::*;
use http_body_util::BodyExt;
use serde_json::{json, Value};

const ALL_CODES: [(ErrorCode, &str, u16); 15] = [
    (ErrorCode::Unauthorized, "unauthorized", 401),
    (ErrorCode::Forbidden, "forbidden", 403),
    (ErrorCode::BadRequest, "bad_request", 400),
    (ErrorCode::NotFound, "not_found", 404),
    (ErrorCode::MethodNotAllowed, "method_not_allowed", 405),
    (ErrorCode::Conflict, "conflict", 409),
    (ErrorCode::PayloadTooLarge, "payload_too_large", 413),
    (ErrorCode::TooManyRequests, "too_many_requests", 429),
    (ErrorCode::QueryTimeout, "query_timeout", 408),
    (ErrorCode::RowBudgetExceeded, "row_budget_exceeded", 422),
    (ErrorCode::ResultTooLarge, "result_too_large", 422),
    (ErrorCode::TooManyReads, "too_many_reads", 429),
    (ErrorCode::VersionReclaimed, "version_reclaimed", 410),
    (ErrorCode::ServiceUnavailable, "service_unavailable", 503),
    (ErrorCode::Internal, "internal", 500),
];

async fn body_json(response: Response) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn error_codes_serialize_snake_case() {
    for (code, name, _) in ALL_CODES {
        assert_eq!(serde_json::to_value(code).unwrap(), json!(name));
        assert_eq!(code.as_str(), name);
        let back: ErrorCode = serde_json::from_value(json!(name)).unwrap();
        assert_eq!(back, code);
    }
}

#[test]
fn each_code_has_its_status_and_back() {
    for (code, _, status) in ALL_CODES {
        assert_eq!(code.status().as_u16(), status, "{code:?}");
        // The query budget codes share their status with a general code (or with none):
        // only our handlers choose them.
        let handler_only = matches!(
            code,
            ErrorCode::QueryTimeout
                | ErrorCode::RowBudgetExceeded
                | ErrorCode::ResultTooLarge
                | ErrorCode::TooManyReads
        );
        if !handler_only {
            assert_eq!(ErrorCode::from_status(code.status()), code);
        }
    }
}

#[test]
fn statuses_without_a_code_map_to_bad_request_or_internal() {
    assert_eq!(
        ErrorCode::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ErrorCode::BadRequest
    );
    assert_eq!(
        ErrorCode::from_status(StatusCode::UNPROCESSABLE_ENTITY),
        ErrorCode::BadRequest
    );
    assert_eq!(
        ErrorCode::from_status(StatusCode::BAD_GATEWAY),
        ErrorCode::Internal
    );
}

#[test]
fn error_code_schema_lists_the_wire_names() {
    let schema = serde_json::to_value(<ErrorCode as utoipa::PartialSchema>::schema()).unwrap();
    let values = schema["enum"].as_array().unwrap();
    for (_, name, _) in ALL_CODES {
        assert!(
            values.contains(&json!(name)),
            "{name} missing from {schema}"
        );
    }
}

#[tokio::test]
async fn api_error_answers_with_the_envelope_and_the_code_status() {
    for (code, name, status) in ALL_CODES {
        let response = ApiError::new(code, "something went wrong").into_response();
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/json",
            "{name}"
        );
        assert_eq!(
            body_json(response).await,
            json!({ "error": "something went wrong", "code": name })
        );
    }
}

#[tokio::test]
async fn too_many_requests_sets_retry_after() {
    let response =
        ApiError::too_many_requests("too many writes in flight for actor a", 2).into_response();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    assert_eq!(body_json(response).await["code"], "too_many_requests");
}

#[tokio::test]
async fn retry_after_is_absent_unless_given() {
    let response = ApiError::new(ErrorCode::TooManyRequests, "busy").into_response();
    assert!(response.headers().get(header::RETRY_AFTER).is_none());
    let response = ApiError::service_unavailable("drift")
        .with_retry_after(5)
        .into_response();
    assert_eq!(response.headers()[header::RETRY_AFTER], "5");
}

#[tokio::test]
async fn unauthorized_sets_www_authenticate_bearer() {
    let response = ApiError::unauthorized("missing Authorization header").into_response();
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    let response = ApiError::forbidden("no").into_response();
    assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
}

#[tokio::test]
async fn manifest_conflict_is_409_with_the_conflict_detail() {
    let err = ApiError::manifest_conflict(
        "another writer published first",
        ManifestConflict {
            table_key: "node:Person".into(),
            expected: 4,
            actual: 5,
        },
    );
    assert_eq!(err.code(), ErrorCode::Conflict);
    let response = err.into_response();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(
        body_json(response).await,
        json!({
            "error": "another writer published first",
            "code": "conflict",
            "manifest_conflict": { "table_key": "node:Person", "expected": 4, "actual": 5 }
        })
    );
}

#[tokio::test]
async fn merge_conflicts_are_409_with_the_conflict_list() {
    let err = ApiError::merge_conflicts(
        "merge has conflicts",
        vec![MergeConflict {
            kind: MergeConflictKind::DivergentUpdate,
            table_key: "node:Person".into(),
            key: Some("alice".into()),
            message: "changed on both branches".into(),
        }],
    );
    let body = body_json(err.into_response()).await;
    assert_eq!(body["code"], "conflict");
    assert_eq!(body["merge_conflicts"][0]["key"], "alice");
    assert_eq!(body["merge_conflicts"][0]["kind"], "divergent_update");
    assert!(body.get("manifest_conflict").is_none());
}

#[test]
fn error_body_round_trips_and_display_is_the_message() {
    let err = ApiError::not_found("graph 'beta' is not registered");
    assert_eq!(err.to_string(), "graph 'beta' is not registered");
    let text = serde_json::to_string(err.body()).unwrap();
    let back: ErrorBody = serde_json::from_str(&text).unwrap();
    assert_eq!(ApiError::from(back), err);
}
