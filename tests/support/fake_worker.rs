//! `FakeWorker`: a minimal HTTP server standing in for a data-plane worker. It answers
//! registry pushes like a worker that applies only newer generations, and records every
//! request it receives.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// One request received by a [`FakeWorker`].
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

/// A stand-in data-plane worker: answers `POST /internal/registry` like a worker that
/// applies only newer generations, and records every request.
pub struct FakeWorker {
    pub url: String,
    pub received: Arc<Mutex<Vec<ReceivedRequest>>>,
}

impl FakeWorker {
    pub fn start() -> FakeWorker {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake worker");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let received: Arc<Mutex<Vec<ReceivedRequest>>> = Arc::default();
        let log = received.clone();
        let held = Arc::new(Mutex::new(0u64));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                let held = held.clone();
                std::thread::spawn(move || serve_one(stream, &log, &held));
            }
        });
        FakeWorker { url, received }
    }

    /// The registry documents pushed so far, in arrival order.
    pub fn pushed(&self) -> Vec<ReceivedRequest> {
        self.received
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/internal/registry")
            .cloned()
            .collect()
    }

    /// Waits until a pushed document satisfies `pred`; returns it.
    pub fn wait_for_push(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.pushed().into_iter().find(|r| pred(&r.body)) {
                return Some(r.body);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve_one(stream: TcpStream, log: &Mutex<Vec<ReceivedRequest>>, held: &Mutex<u64>) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut content_length = 0usize;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim().to_owned();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => content_length = value.parse().unwrap_or(0),
                "authorization" => authorization = Some(value),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; content_length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let generation = body["generation"].as_u64().unwrap_or(0);
    let answer = {
        let mut held = held.lock().expect("lock");
        let applied = generation > *held;
        if applied {
            *held = generation;
        }
        json!({ "worker_id": "fake", "generation": *held, "applied": applied }).to_string()
    };
    log.lock().expect("lock").push(ReceivedRequest {
        method,
        path,
        authorization,
        body,
    });
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = stream.flush();
}
