use super::*;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tower::ServiceExt;

#[derive(Debug, Deserialize, Serialize)]
struct Echo {
    name: String,
}

async fn echo(ApiJson(body): ApiJson<Echo>) -> ApiJson<Echo> {
    ApiJson(body)
}

#[derive(Debug, Deserialize)]
struct Page {
    limit: u32,
}

async fn item(ApiPath(id): ApiPath<u32>, ApiQuery(page): ApiQuery<Page>) -> String {
    format!("{id}:{}", page.limit)
}

async fn busy() -> ApiError {
    ApiError::too_many_requests("too many writes in flight", 3)
}

fn app() -> Router {
    Router::new()
        .route("/echo", post(echo))
        .route("/small", post(echo).layer(DefaultBodyLimit::max(32)))
        .route("/items/{id}", get(item))
        .route("/busy", post(busy))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(route_not_found)
}

fn request(method: &str, uri: &str, content_type: Option<&str>, body: &str) -> Request {
    let mut builder = axum::http::Request::builder().method(method).uri(uri);
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder
        .body(axum::body::Body::from(body.to_owned()))
        .unwrap()
}

async fn call(router: Router, req: Request) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = router.oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| json!({ "raw": String::from_utf8_lossy(&bytes) }));
    (status, headers, body)
}

fn assert_envelope(body: &Value, code: &str, needle: &str) {
    assert_eq!(body["code"], code, "{body}");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{needle:?} not in {message:?}");
}

#[tokio::test]
async fn valid_json_passes_through() {
    let (status, _, body) = call(
        app(),
        request("POST", "/echo", Some("application/json"), r#"{"name":"a"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "name": "a" }));
}

#[tokio::test]
async fn malformed_json_returns_400_envelope() {
    let (status, headers, body) = call(
        app(),
        request("POST", "/echo", Some("application/json"), "{\"name\":"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_envelope(&body, "bad_request", "malformed JSON");
}

#[tokio::test]
async fn json_of_the_wrong_shape_returns_400_envelope_naming_the_field() {
    let (status, _, body) = call(
        app(),
        request("POST", "/echo", Some("application/json"), r#"{"nom":"a"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "bad_request", "missing field `name`");
}

#[tokio::test]
async fn wrong_content_type_returns_400_envelope() {
    let (status, _, body) = call(
        app(),
        request("POST", "/echo", Some("text/plain"), r#"{"name":"a"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "bad_request", "Content-Type: application/json");
}

#[tokio::test]
async fn missing_content_type_returns_400_envelope() {
    let (status, _, body) = call(app(), request("POST", "/echo", None, r#"{"name":"a"}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "bad_request", "Content-Type");
}

#[tokio::test]
async fn oversized_body_returns_413_envelope() {
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(100));
    let (status, _, body) = call(
        app(),
        request("POST", "/small", Some("application/json"), &big),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_envelope(&body, "payload_too_large", "too large");
}

#[tokio::test]
async fn unknown_route_returns_404_envelope() {
    let (status, _, body) = call(app(), request("GET", "/nope/deeper", None, "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_envelope(&body, "not_found", "no route for GET /nope/deeper");
}

#[tokio::test]
async fn wrong_method_returns_405_envelope_with_allow_header() {
    let (status, headers, body) = call(app(), request("GET", "/echo", None, "")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_envelope(
        &body,
        "method_not_allowed",
        "method GET is not allowed on /echo",
    );
    assert_eq!(headers[header::ALLOW], "POST");
}

#[tokio::test]
async fn bad_path_parameter_returns_400_envelope() {
    let (status, _, body) = call(app(), request("GET", "/items/abc?limit=1", None, "")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "bad_request", "invalid path parameter");
}

#[tokio::test]
async fn bad_query_string_returns_400_envelope() {
    let (status, _, body) = call(app(), request("GET", "/items/7?limit=lots", None, "")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "bad_request", "invalid query string");
    let (status, _, body) = call(app(), request("GET", "/items/7?limit=5", None, "")).await;
    assert_eq!(
        (status, body["raw"].as_str()),
        (StatusCode::OK, Some("7:5"))
    );
}

#[tokio::test]
async fn handler_429_carries_retry_after_through_the_router() {
    let (status, headers, body) = call(app(), request("POST", "/busy", None, "")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers[header::RETRY_AFTER], "3");
    assert_envelope(&body, "too_many_requests", "in flight");
}

fn plain_app() -> Router {
    // No envelope-aware fallbacks or extractors: the middleware alone must fix it up.
    Router::new()
        .route(
            "/plain-413",
            post(|| async { (StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded") }),
        )
        .route(
            "/plain-415",
            post(|| async { (StatusCode::UNSUPPORTED_MEDIA_TYPE, "") }),
        )
        .route(
            "/json-error",
            post(|| async { ApiError::conflict("duplicate uri") }),
        )
        .route("/ok", post(|| async { "fine" }))
        .layer(axum::middleware::from_fn(error_envelope))
}

#[tokio::test]
async fn error_envelope_middleware_rewrites_plain_text_errors() {
    let (status, headers, body) = call(plain_app(), request("POST", "/plain-413", None, "")).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_envelope(&body, "payload_too_large", "length limit exceeded");

    let (status, _, body) = call(plain_app(), request("POST", "/plain-415", None, "")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "bad_request", "Unsupported Media Type");
}

#[tokio::test]
async fn error_envelope_middleware_covers_default_404_and_405() {
    let (status, _, body) = call(plain_app(), request("GET", "/missing", None, "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_envelope(&body, "not_found", "Not Found");

    let (status, headers, body) = call(plain_app(), request("GET", "/ok", None, "")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::ALLOW], "POST");
    assert_envelope(&body, "method_not_allowed", "Method Not Allowed");
}

#[tokio::test]
async fn error_envelope_middleware_leaves_envelopes_and_successes_alone() {
    let (status, _, body) = call(plain_app(), request("POST", "/json-error", None, "")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({ "error": "duplicate uri", "code": "conflict" })
    );
    let (status, _, body) = call(plain_app(), request("POST", "/ok", None, "")).await;
    assert_eq!(
        (status, body["raw"].as_str()),
        (StatusCode::OK, Some("fine"))
    );
}

#[tokio::test]
async fn error_envelope_middleware_maps_body_limit_layer_rejections() {
    // A request larger than DefaultBodyLimit hitting a plain axum::Json handler.
    async fn plain_json(Json(v): Json<Value>) -> Json<Value> {
        Json(v)
    }
    let router = Router::new()
        .route("/plain-json", post(plain_json))
        .layer(DefaultBodyLimit::max(16))
        .layer(axum::middleware::from_fn(error_envelope));
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(64));
    let (status, _, body) = call(
        router,
        request("POST", "/plain-json", Some("application/json"), &big),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "payload_too_large");
}
