//! Traces (README.md, "Observability"): a control plane and a worker export OpenTelemetry
//! spans over OTLP/HTTP to a real receiver on 127.0.0.1 (tests/support/otlp.rs, which
//! decodes what they send with the `opentelemetry-proto` types). A client's W3C
//! `traceparent` is continued by the control plane, carried to the worker by the registry
//! push, and a read on the worker has its request, compile, plan, execute and storage
//! spans.

use std::time::Duration;

use omnigraph_e2e::*;
use serde_json::{json, Value};

const CONTROL_PLANE: &str = "omnigraph-control-plane";
const DATA_PLANE: &str = "omnigraph-data-plane";
const WAIT: Duration = Duration::from_secs(30);

/// The trace and span of a client creating a graph.
const CREATE_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CREATE_CLIENT_SPAN: &str = "00f067aa0ba902b7";
/// The trace and span of a client reading from the worker.
const READ_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const READ_CLIENT_SPAN: &str = "b7ad6b7169203331";

fn traceparent(trace: &str, span: &str) -> String {
    format!("00-{trace}-{span}-01")
}

/// The environment that turns traces on, exporting to `receiver` every 100 ms.
fn otel_env(receiver: &OtlpReceiver) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.clone()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
    ]
}

/// `span` and its ancestors in `trace`, nearest first.
fn lineage<'a>(trace: &'a [ReceivedSpan], span: &'a ReceivedSpan) -> Vec<&'a ReceivedSpan> {
    let mut chain = vec![span];
    let mut current = span;
    while let Some(parent) = trace.iter().find(|s| s.span_id == current.parent_span_id) {
        if chain.iter().any(|s| s.span_id == parent.span_id) {
            break;
        }
        chain.push(parent);
        current = parent;
    }
    chain
}

fn describe(trace: &[ReceivedSpan]) -> String {
    trace
        .iter()
        .map(|s| {
            format!(
                "{} {} {} <- {} {:?}\n",
                s.service, s.name, s.span_id, s.parent_span_id, s.attributes
            )
        })
        .collect()
}

fn post_traced(
    client: &reqwest::blocking::Client,
    url: &str,
    body: &Value,
    traceparent: &str,
) -> (u16, Value) {
    let response = client
        .post(url)
        .header("traceparent", traceparent)
        .json(body)
        .send()
        .expect("POST");
    let status = response.status().as_u16();
    (status, response.json().expect("JSON answer"))
}

#[test]
fn a_client_trace_crosses_the_control_plane_and_the_worker_and_a_read_has_its_spans() {
    let receiver = OtlpReceiver::start();
    let env = otel_env(&receiver);
    let mut options = ControlPlaneOptions::open();
    for (name, value) in &env {
        options = options.with_env(name, value);
    }
    let cp = ControlPlane::start("graphs: {}\n", options);
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let worker = DataPlane::start(
        &[
            "--control-plane",
            &cp.url,
            "--worker-id",
            "w1",
            "--unauthenticated",
        ],
        &env_refs,
    );

    // A graph created with the client's traceparent: the control plane pushes the new
    // registry generation to the worker.
    let (status, body) = post_traced(
        cp.client(),
        &cp.endpoint("/graphs"),
        &create_body("traced", &cp.graph_uri("traced.omni")),
        &traceparent(CREATE_TRACE, CREATE_CLIENT_SPAN),
    );
    assert_eq!(status, 201, "{body}");

    let is_cp_request = |s: &ReceivedSpan| {
        s.service == CONTROL_PLANE
            && s.attribute("http.route") == Some("/graphs")
            && s.parent_span_id == CREATE_CLIENT_SPAN
    };
    let is_worker_push = |s: &ReceivedSpan| {
        s.service == DATA_PLANE && s.attribute("http.route") == Some("/internal/registry")
    };
    let trace = receiver.wait_for_trace(CREATE_TRACE, WAIT, |spans| {
        spans.iter().any(is_cp_request) && spans.iter().any(is_worker_push)
    });
    let described = describe(&trace);
    let cp_request = trace.iter().find(|s| is_cp_request(s)).unwrap_or_else(|| {
        panic!(
            "no control-plane request span continuing the client's:\n{described}\n{}",
            cp.log()
        )
    });
    assert_eq!(cp_request.name, "POST /graphs", "{described}");
    assert_eq!(
        cp_request.attribute("http.response.status_code"),
        Some("201"),
        "{described}"
    );
    let worker_request = trace.iter().find(|s| is_worker_push(s)).unwrap_or_else(|| {
        panic!(
            "no worker span in the client's trace:\n{described}\n{}",
            worker.log()
        )
    });
    assert_eq!(
        worker_request.attribute("http.response.status_code"),
        Some("200"),
        "{described}"
    );
    // The worker's span descends from the control plane's request span, through the push.
    let chain = lineage(&trace, worker_request);
    assert!(
        chain.iter().any(|s| s.span_id == cp_request.span_id),
        "the worker's span does not descend from the control plane's request span:\n{described}"
    );
    assert!(
        chain
            .iter()
            .any(|s| s.service == CONTROL_PLANE && s.name == "registry_push"),
        "no registry_push span between them:\n{described}"
    );
    assert!(
        receiver
            .requests()
            .iter()
            .all(|r| r == "POST /v1/traces application/x-protobuf"),
        "{:?}",
        receiver.requests()
    );

    // A row, then a read with the client's traceparent, on the worker.
    let graph = format!("{}/graphs/traced", worker.url);
    let (status, body) = worker.post(
        "/graphs/traced/change",
        &json!({
            "query_source": "query add($n: String) { insert Person { name: $n } }",
            "params": { "n": "Ada" },
        }),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = post_traced(
        worker.client(),
        &format!("{graph}/read"),
        &json!({ "query_source": "query q() { match { $p: Person } return { $p.name } }" }),
        &traceparent(READ_TRACE, READ_CLIENT_SPAN),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"], json!([{ "p.name": "Ada" }]), "{body}");

    let is_read_request = |s: &ReceivedSpan| {
        s.service == DATA_PLANE
            && s.attribute("http.route") == Some("/graphs/{graph_id}/read")
            && s.parent_span_id == READ_CLIENT_SPAN
    };
    let trace = receiver.wait_for_trace(READ_TRACE, WAIT, |spans| {
        spans.iter().any(is_read_request)
            && ["compile", "plan", "execute"]
                .iter()
                .all(|name| spans.iter().any(|s| s.name == *name))
            && spans.iter().any(|s| s.name.starts_with("storage"))
    });
    let described = describe(&trace);
    let request = trace
        .iter()
        .find(|s| is_read_request(s))
        .unwrap_or_else(|| panic!("no read request span continuing the client's:\n{described}"));
    assert_eq!(request.name, "POST /graphs/{graph_id}/read", "{described}");
    assert_eq!(request.attribute("graph_id"), Some("traced"), "{described}");
    assert_eq!(
        request.attribute("http.response.status_code"),
        Some("200"),
        "{described}"
    );
    assert!(trace.iter().all(|s| s.service == DATA_PLANE), "{described}");
    for name in ["compile", "plan", "execute"] {
        let span = trace
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name} span:\n{described}"));
        assert_eq!(
            span.parent_span_id, request.span_id,
            "{name} is not a child of the request span:\n{described}"
        );
    }
    let storage: Vec<&ReceivedSpan> = trace
        .iter()
        .filter(|s| s.name.starts_with("storage "))
        .collect();
    assert!(!storage.is_empty(), "no storage span:\n{described}");
    for span in &storage {
        assert!(
            lineage(&trace, span)
                .iter()
                .any(|s| s.span_id == request.span_id),
            "a storage span outside the request:\n{described}"
        );
        assert!(
            ["GET", "HEAD", "PUT", "LIST", "COPY", "RENAME"]
                .contains(&span.attribute("operation").unwrap_or_default()),
            "{described}"
        );
    }
}

#[test]
fn the_service_name_follows_otel_service_name_and_no_traceparent_starts_a_trace() {
    let receiver = OtlpReceiver::start();
    let g = TempGraph::social();
    let endpoint = receiver.endpoint.clone();
    let dp = DataPlane::single_mode(
        &g,
        "",
        &["--unauthenticated"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_SERVICE_NAME", "traced-worker"),
        ],
    );
    let (status, body) = dp.post(
        "/read",
        &json!({ "query_source": "query q() { match { $p: Person } return { count($p) as n } }" }),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let mut spans = Vec::new();
    assert!(
        eventually(WAIT, || {
            spans = receiver.spans();
            spans
                .iter()
                .any(|s| s.attribute("http.route") == Some("/read"))
        }),
        "{}",
        describe(&spans)
    );
    let request = spans
        .iter()
        .find(|s| s.attribute("http.route") == Some("/read"))
        .expect("read span");
    assert_eq!(request.service, "traced-worker", "{}", describe(&spans));
    // No traceparent: the request span is the root of a trace of its own.
    assert_eq!(request.parent_span_id, "", "{}", describe(&spans));
}
