//! The streamed loads (issue 24; data-plane/src/server/handlers/loads.rs): a raw NDJSON
//! body, plain or gzip, one type's CSV or Parquet file, or several types' files in one
//! multipart body, into one atomic load with no 32 MiB cap; bad lines, bodies past the
//! worker's limits and unknown encodings load nothing.

use std::io::{Read, Write};
use std::time::Duration;

use omnigraph_e2e::*;
use serde_json::{json, Value};

const COUNT: &str = "query q() { match { $p: Person } return { count($p) as n } }";

fn people(dp: &DataPlane) -> u64 {
    let (s, b) = dp.post("/read", &json!({ "query_source": COUNT }), None);
    assert_eq!(s, 200, "{b}");
    b["rows"][0]["n"].as_u64().expect("count")
}

fn version(dp: &DataPlane) -> u64 {
    let (s, b) = dp.get("/snapshot", None);
    assert_eq!(s, 200, "{b}");
    b["manifest_version"].as_u64().expect("manifest_version")
}

/// `n` people, `pad` bytes of tags each, and `n - 1` Knows edges chaining them.
fn ndjson(n: usize, pad: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let tag = "x".repeat(pad);
    for i in 0..n {
        let line = json!({ "type": "Person", "data": { "name": format!("s{i}"), "age": (i % 100) as i32, "tags": [tag] } });
        writeln!(out, "{line}").expect("write");
    }
    for i in 1..n {
        let line = json!({ "edge": "Knows", "from": format!("s{}", i - 1), "to": format!("s{i}") });
        writeln!(out, "{line}").expect("write");
    }
    out
}

fn send(
    dp: &DataPlane,
    query: &str,
    body: reqwest::blocking::Body,
    encoding: Option<&str>,
) -> (u16, Value) {
    let mut r = dp
        .client()
        .post(format!("{}/load/ndjson?{query}", dp.url))
        .header("content-type", "application/x-ndjson")
        .timeout(Duration::from_secs(300))
        .body(body);
    if let Some(e) = encoding {
        r = r.header("content-encoding", e);
    }
    let response = r.send().expect("POST /load/ndjson");
    let status = response.status().as_u16();
    let text = response.text().expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text}"));
    (status, body)
}

#[test]
fn a_body_over_32_mib_is_streamed_into_one_atomic_load() {
    let g = TempGraph::social();
    let dp = DataPlane::single_mode_open(&g);
    let before = (people(&dp), version(&dp));
    let n = 60_000;
    let data = ndjson(n, 600);
    assert!(
        data.len() > 33 << 20,
        "the body is over the 32 MiB of POST /load"
    );
    let len = data.len() as u64;
    let rss_before = dp.rss_kib();
    let (s, b) = send(&dp, "mode=append", data.into(), None);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["total_entities"], json!(2 * n - 1), "{b}");
    assert_eq!(
        b["nodes"],
        json!([{ "name": "Person", "entities_loaded": n }]),
        "{b}"
    );
    assert_eq!(
        b["edges"],
        json!([{ "name": "Knows", "entities_loaded": n - 1 }]),
        "{b}"
    );
    assert_eq!(b["bytes_read"], json!(len), "{b}");
    assert_eq!(b["branch"], "main");
    assert_eq!(b["mode"], "append");
    // One new version, holding every row.
    assert_eq!(b["manifest_version"], json!(before.1 + 1), "{b}");
    assert_eq!(version(&dp), before.1 + 1);
    assert_eq!(people(&dp), before.0 + n as u64);
    eprintln!(
        "streamed {} MiB; worker RSS {} -> {} MiB",
        len >> 20,
        rss_before / 1024,
        dp.rss_kib() / 1024
    );
}

#[test]
fn a_gzip_body_is_decompressed_and_an_unknown_encoding_is_refused() {
    let g = TempGraph::social();
    let dp = DataPlane::single_mode_open(&g);
    let before = people(&dp);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&ndjson(500, 10)).expect("gzip");
    let (s, b) = send(
        &dp,
        "mode=merge",
        gz.finish().expect("gzip").into(),
        Some("gzip"),
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["total_entities"], json!(999), "{b}");
    assert_eq!(people(&dp), before + 500);

    let v = version(&dp);
    let (s, b) = send(&dp, "mode=merge", ndjson(3, 1).into(), Some("br"));
    envelope(s, &b, 400, "bad_request");
    // Not gzip at all, though it says so.
    let (s, b) = send(&dp, "mode=merge", ndjson(3, 1).into(), Some("gzip"));
    envelope(s, &b, 400, "bad_request");
    assert_eq!(version(&dp), v, "nothing was published");
}

#[test]
fn a_bad_line_anywhere_loads_nothing_and_is_named_with_its_number() {
    let g = TempGraph::social();
    let dp = DataPlane::single_mode_open(&g);
    let (before, v) = (people(&dp), version(&dp));
    let mut data = ndjson(150_000, 0);
    // The bad line comes after the first batches were written.
    data.extend_from_slice(
        b"{\"type\": \"Person\", \"data\": {\"name\": \"late\", \"age\": 900}}\n",
    );
    let lines = data.iter().filter(|b| **b == b'\n').count();
    let (s, b) = send(&dp, "mode=append", data.into(), None);
    envelope(s, &b, 400, "bad_request");
    let message = b["error"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("line {lines}")), "{b}");
    assert_eq!(
        (people(&dp), version(&dp)),
        (before, v),
        "nothing was loaded"
    );
}

#[test]
fn the_query_string_is_checked_before_anything_is_loaded() {
    let g = TempGraph::social();
    let dp = DataPlane::single_mode_open(&g);
    let v = version(&dp);
    for query in ["", "mode=upsert", "mode=append&branch=nope"] {
        let (s, b) = send(&dp, query, ndjson(2, 1).into(), None);
        let expected = if query.contains("branch") { 404 } else { 400 };
        assert_eq!(s, expected, "{query}: {b}");
    }
    // A missing branch is created from `from` first.
    let (s, b) = send(
        &dp,
        "mode=append&branch=feed&from=main",
        ndjson(2, 1).into(),
        None,
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["branch"], "feed");
    assert_eq!(version(&dp), v, "main is unchanged");
}

#[test]
fn a_body_past_the_workers_limits_or_too_slow_loads_nothing() {
    let g = TempGraph::social();
    let dp = DataPlane::single_mode(
        &g,
        "",
        &["--unauthenticated"],
        &[
            ("OMNIGRAPH_MAX_LOAD_BYTES", "20000"),
            ("OMNIGRAPH_LOAD_IDLE_TIMEOUT_SECS", "1"),
            ("OMNIGRAPH_LOAD_TIMEOUT_SECS", "3"),
        ],
    );
    let (before, v) = (people(&dp), version(&dp));
    // Over the byte limit: 413.
    let (s, b) = send(&dp, "mode=append", ndjson(200, 10).into(), None);
    envelope(s, &b, 413, "payload_too_large");
    // Over it only once decompressed: 413 all the same.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&ndjson(1_000, 200)).expect("gzip");
    let compressed = gz.finish().expect("gzip");
    assert!(compressed.len() < 20000, "{} bytes", compressed.len());
    let (s, b) = send(&dp, "mode=append", compressed.into(), Some("gzip"));
    envelope(s, &b, 413, "payload_too_large");
    // A client that stops sending mid-body: refused after the idle timeout (a raw
    // connection, so that the answer is read while the rest of the body is still owed).
    let address = dp.url.trim_start_matches("http://").to_string();
    let mut conn = std::net::TcpStream::connect(&address).expect("connect");
    let line = "{\"type\": \"Person\", \"data\": {\"name\": \"slow\"}}\n";
    write!(
        conn,
        "POST /load/ndjson?mode=append HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/x-ndjson\r\ncontent-length: 100000\r\n\r\n{line}"
    )
    .expect("send the start of the body");
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("no data"), "{answer}");
    // A client that trickles (a line every half second, never idle for 1 s): refused once
    // the whole body has taken longer than the load timeout.
    let mut conn = std::net::TcpStream::connect(&address).expect("connect");
    write!(
        conn,
        "POST /load/ndjson?mode=append HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/x-ndjson\r\ncontent-length: 100000\r\n\r\n"
    )
    .expect("send the head");
    let started = std::time::Instant::now();
    let mut reader = conn.try_clone().expect("clone");
    let trickle = std::thread::spawn(move || {
        for i in 0..16 {
            let line = format!("{{\"type\": \"Person\", \"data\": {{\"name\": \"t{i}\"}}}}\n");
            if conn.write_all(line.as_bytes()).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    reader
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let mut answer = String::new();
    let _ = reader.read_to_string(&mut answer);
    let _ = trickle.join();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("--load-timeout-secs"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (people(&dp), version(&dp)),
        (before, v),
        "nothing was loaded"
    );
}

/// Sends `data` on a raw connection in two halves with a pause between them, reading the
/// answer meanwhile (a client that reads progress while it uploads); the answer's lines.
fn progress_lines(dp: &DataPlane, mode: &str, data: Vec<u8>) -> Vec<Value> {
    let address = dp.url.trim_start_matches("http://").to_string();
    let mut conn = std::net::TcpStream::connect(&address).expect("connect");
    let mut writer = conn.try_clone().expect("clone");
    let mode = mode.to_string();
    let sender = std::thread::spawn(move || {
        write!(
            writer,
            "POST /load/ndjson?mode={mode}&progress=true HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/x-ndjson\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            data.len()
        )
        .expect("head");
        let (first, second) = data.split_at(data.len() / 2);
        writer.write_all(first).expect("first half");
        std::thread::sleep(Duration::from_millis(2500));
        writer.write_all(second)
    });
    conn.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).expect("answer");
    let sent = sender.join().expect("sender");
    let text = String::from_utf8_lossy(&raw).to_string();
    assert!(
        sent.is_ok(),
        "the body could not be sent whole ({sent:?}); answer: {text}"
    );
    let (head, mut body) = text.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/x-ndjson"),
        "{head}"
    );
    // Chunked transfer encoding: size line, data, CRLF; until the 0-size chunk.
    let mut decoded = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").expect("chunk size");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex size");
        if size == 0 {
            break;
        }
        decoded.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    decoded
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn with_progress_the_answer_streams_progress_lines_then_the_outcome() {
    let g = TempGraph::social();
    let dp = DataPlane::single_mode_open(&g);
    let before = people(&dp);
    let lines = progress_lines(&dp, "append", ndjson(2_000, 10));
    let (last, progress) = lines.split_last().expect("lines");
    assert!(
        !progress.is_empty(),
        "no progress line during a 2.5 s pause: {lines:?}"
    );
    let read: Vec<u64> = progress
        .iter()
        .map(|p| p["progress"]["lines_read"].as_u64().expect("lines_read"))
        .collect();
    assert!(read.windows(2).all(|w| w[0] <= w[1]), "{read:?}");
    assert!(
        read[0] > 0,
        "the first half was read before the pause: {lines:?}"
    );
    assert_eq!(last["result"]["total_entities"], json!(3_999), "{last}");
    assert_eq!(people(&dp), before + 2_000);
    // A bad line: the last line is the error envelope, and nothing was loaded.
    let v = version(&dp);
    let mut bad = ndjson(2_000, 10);
    bad.extend_from_slice(b"not json\n");
    let lines = progress_lines(&dp, "merge", bad);
    let last = lines.last().expect("lines");
    assert_eq!(last["error"]["code"], "bad_request", "{last}");
    assert!(
        last["error"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("line 4000"),
        "{last}"
    );
    assert_eq!(version(&dp), v);
}

fn post_file(dp: &DataPlane, route: &str, query: &str, body: Vec<u8>) -> (u16, Value) {
    let response = dp
        .client()
        .post(format!("{}{route}?{query}", dp.url))
        .body(body)
        .send()
        .expect("POST");
    let status = response.status().as_u16();
    let text = response.text().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text}")),
    )
}

#[test]
fn csv_and_parquet_files_of_one_type_load_over_http() {
    let g = TempGraph::social();
    let dp = DataPlane::single_mode_open(&g);
    let (before, v) = (people(&dp), version(&dp));
    let people_csv = "name,age,tags\nCsv One,30,\"[\"\"a\"\"]\"\nCsv Two,,\n";
    let (s, b) = post_file(
        &dp,
        "/load/csv",
        "type=Person&mode=append",
        people_csv.into(),
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["nodes"],
        json!([{ "name": "Person", "entities_loaded": 2 }]),
        "{b}"
    );
    let (s, b) = post_file(
        &dp,
        "/load/csv",
        "type=Knows&mode=append",
        "from,to\nCsv One,Csv Two\n".into(),
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["edges"],
        json!([{ "name": "Knows", "entities_loaded": 1 }]),
        "{b}"
    );
    let parquet = std::fs::read(fixture("people.parquet")).expect("fixture");
    let (s, b) = post_file(&dp, "/load/parquet", "type=Person&mode=append", parquet);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["total_entities"], 3, "{b}");
    assert_eq!(people(&dp), before + 5);
    assert_eq!(version(&dp), v + 3);

    // Refusals: a bad cell (line and column named), an unknown column or type, a body
    // that is not Parquet, a missing type: nothing loaded.
    let (s, b) = post_file(
        &dp,
        "/load/csv",
        "type=Person&mode=append",
        "name,age\nBad,old\n".into(),
    );
    envelope(s, &b, 400, "bad_request");
    assert!(
        b["error"].as_str().unwrap_or_default().contains("line 2"),
        "{b}"
    );
    assert!(
        b["error"]
            .as_str()
            .unwrap_or_default()
            .contains("column `age`"),
        "{b}"
    );
    for (route, query, body) in [
        (
            "/load/csv",
            "type=Person&mode=append",
            "name,height\nA,1\n".as_bytes().to_vec(),
        ),
        ("/load/csv", "type=Nope&mode=append", b"a\n1\n".to_vec()),
        ("/load/csv", "mode=append", b"name\nA\n".to_vec()),
        (
            "/load/parquet",
            "type=Person&mode=append",
            b"name\nA\n".to_vec(),
        ),
    ] {
        let (s, b) = post_file(&dp, route, query, body);
        envelope(s, &b, 400, "bad_request");
    }
    assert_eq!(version(&dp), v + 3, "nothing more was published");
}

/// A multipart/form-data body of `parts` (name, filename, Content-Type, bytes); its
/// Content-Type header and bytes.
fn multipart(parts: &[(&str, Option<&str>, Option<&str>, Vec<u8>)]) -> (String, Vec<u8>) {
    let boundary = "omnigraph-test-boundary-7f3a";
    let mut body = Vec::new();
    for (name, file_name, content_type, bytes) in parts {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""
        )
        .unwrap();
        if let Some(f) = file_name {
            write!(body, "; filename=\"{f}\"").unwrap();
        }
        body.extend_from_slice(b"\r\n");
        if let Some(t) = content_type {
            write!(body, "Content-Type: {t}\r\n").unwrap();
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn post_files(
    dp: &DataPlane,
    content_type: &str,
    body: Vec<u8>,
    encoding: Option<&str>,
) -> (u16, Value) {
    let mut r = dp
        .client()
        .post(format!("{}/load/files?mode=append", dp.url))
        .header("content-type", content_type)
        .body(body);
    if let Some(e) = encoding {
        r = r.header("content-encoding", e);
    }
    let response = r.send().expect("POST /load/files");
    let status = response.status().as_u16();
    let text = response.text().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text}")),
    )
}

#[test]
fn several_types_files_load_over_http_as_one_change_or_not_at_all() {
    let g = TempGraph::social();
    let dp = DataPlane::single_mode_open(&g);
    let (before, v) = (people(&dp), version(&dp));
    let parquet = std::fs::read(fixture("people.parquet")).expect("fixture");
    // The edges come first and name people of the later parts; the Parquet part is known
    // by its filename.
    let (content_type, body) = multipart(&[
        (
            "Knows",
            Some("knows.csv"),
            Some("text/csv"),
            b"from,to\nMulti One,Multi Two\n".to_vec(),
        ),
        (
            "Person",
            Some("people.csv"),
            None,
            b"name,age\nMulti One,30\nMulti Two,31\n".to_vec(),
        ),
        ("Person", Some("more.parquet"), None, parquet),
    ]);
    let (s, b) = post_files(&dp, &content_type, body, None);
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["nodes"],
        json!([{ "name": "Person", "entities_loaded": 5 }]),
        "{b}"
    );
    assert_eq!(
        b["edges"],
        json!([{ "name": "Knows", "entities_loaded": 1 }]),
        "{b}"
    );
    assert_eq!(version(&dp), v + 1, "one change");
    assert_eq!(people(&dp), before + 5);

    // gzip, as for the other loads.
    let (content_type, body) =
        multipart(&[("Person", None, Some("text/csv"), b"name\nZipped\n".to_vec())]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&body).expect("gzip");
    let (s, b) = post_files(&dp, &content_type, gz.finish().expect("gzip"), Some("gzip"));
    assert_eq!(s, 200, "{b}");
    assert_eq!(version(&dp), v + 2);

    // A bad part loads nothing of the others: the good people part is not published, and
    // the error names the part's file and line.
    let (content_type, body) = multipart(&[
        (
            "Person",
            Some("ok.csv"),
            Some("text/csv"),
            b"name\nNever Loaded\n".to_vec(),
        ),
        (
            "Knows",
            Some("bad-knows.csv"),
            Some("text/csv"),
            b"from,to\nNever Loaded,Nobody\n".to_vec(),
        ),
    ]);
    let (s, b) = post_files(&dp, &content_type, body, None);
    envelope(s, &b, 400, "bad_request");
    let message = b["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("bad-knows.csv") && message.contains("line 2"),
        "{b}"
    );
    assert_eq!(version(&dp), v + 2, "nothing published");
    assert_eq!(people(&dp), before + 6);

    // Bodies refused before anything is loaded.
    let csv = |name: &str, t: Option<&str>| (name.to_string(), t.map(str::to_string));
    let bad_parts = [
        csv("", Some("text/csv")),        // a part with no name
        csv("Nope", Some("text/csv")),    // an unknown type
        csv("Person", Some("image/png")), // neither CSV nor Parquet
    ];
    for (name, t) in &bad_parts {
        let (content_type, body) =
            multipart(&[(name.as_str(), None, t.as_deref(), b"name\nX\n".to_vec())]);
        let (s, b) = post_files(&dp, &content_type, body, None);
        envelope(s, &b, 400, "bad_request");
    }
    // More parts than a load keeps open files for.
    let many: Vec<_> = (0..257)
        .map(|_| ("Person", None, Some("text/csv"), b"name\n".to_vec()))
        .collect();
    let (content_type, body) = multipart(&many);
    let (s, b) = post_files(&dp, &content_type, body, None);
    envelope(s, &b, 400, "bad_request");
    assert!(
        b["error"]
            .as_str()
            .unwrap_or_default()
            .contains("256 parts"),
        "{b}"
    );
    let (content_type, _) = multipart(&[]);
    let no_parts = b"--omnigraph-test-boundary-7f3a--\r\n".to_vec();
    let truncated = b"--omnigraph-test-boundary-7f3a\r\nContent-Disposition: form-data; name=\"Person\"\r\n\r\nname\nX\n".to_vec();
    for (content_type, body) in [
        (content_type.as_str(), no_parts),
        (content_type.as_str(), truncated),
        ("text/csv", b"name\nX\n".to_vec()),
        ("multipart/form-data", b"name\nX\n".to_vec()),
    ] {
        let (s, b) = post_files(&dp, content_type, body, None);
        envelope(s, &b, 400, "bad_request");
    }
    assert_eq!(version(&dp), v + 2, "nothing more was published");
}
