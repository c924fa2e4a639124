use super::*;
use serde_json::json;

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

#[test]
fn all_lists_every_code_once() {
    let listed: Vec<ErrorCode> = ALL_CODES.iter().map(|(code, _, _)| *code).collect();
    assert_eq!(ErrorCode::ALL.to_vec(), listed);
}
