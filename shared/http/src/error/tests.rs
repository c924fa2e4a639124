use super::*;
use http_body_util::BodyExt;
use omnigraph_api::MergeConflictKind;
use serde_json::{json, Value};

async fn body_json(response: Response) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn api_error_answers_with_the_envelope_and_the_code_status() {
    for code in ErrorCode::ALL {
        let name = code.as_str();
        let response = ApiError::new(code, "something went wrong").into_response();
        assert_eq!(response.status(), code.status());
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
