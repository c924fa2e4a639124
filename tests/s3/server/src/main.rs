//! `omnigraph-s3-server ROOT --port P [--host H] [--bucket B ...] [--access-key K --secret-key S]`
//!
//! A real S3 protocol server (the `s3s` request parser, SigV4 authentication and the
//! `s3s-fs` file-system backend, both from the RustFS project) for the storage tests. One
//! change on top: `s3s-fs` checks `If-None-Match` / `If-Match` and then writes, which
//! lets two racing conditional PUTs of the same key both succeed. Omnigraph's manifest
//! compare-and-swap (and Lance's own commits) depend on exactly that race being lost by
//! one side, so this server runs every conditional write of the process one at a time:
//! the check and the write become one step, as they are on S3 itself. And a listing
//! walks only the directories under its prefix (src/store.rs), not the whole bucket.
//!
//! Prints `listening on http://HOST:PORT` on stdout once it accepts connections.

mod store;

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

struct Options {
    root: PathBuf,
    host: String,
    port: u16,
    buckets: Vec<String>,
    credentials: Option<(String, String)>,
}

fn usage(problem: &str) -> ! {
    eprintln!("omnigraph-s3-server: {problem}");
    eprintln!(
        "usage: omnigraph-s3-server ROOT --port P [--host H] [--bucket B]... \
         [--access-key K --secret-key S]"
    );
    std::process::exit(2)
}

fn parse_options() -> Options {
    let mut root = None;
    let mut host = "127.0.0.1".to_string();
    let mut port = None;
    let mut buckets = Vec::new();
    let mut access = None;
    let mut secret = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--host" => host = value("--host"),
            "--port" => {
                port = Some(
                    value("--port")
                        .parse()
                        .unwrap_or_else(|_| usage("--port is not a port number")),
                )
            }
            "--bucket" => buckets.push(value("--bucket")),
            "--access-key" => access = Some(value("--access-key")),
            "--secret-key" => secret = Some(value("--secret-key")),
            other if other.starts_with("--") => usage(&format!("unknown option {other}")),
            other => root = Some(PathBuf::from(other)),
        }
    }
    let credentials = match (access, secret) {
        (Some(a), Some(s)) => Some((a, s)),
        (None, None) => None,
        _ => usage("--access-key and --secret-key go together"),
    };
    Options {
        root: root.unwrap_or_else(|| usage("no ROOT directory")),
        host,
        port: port.unwrap_or_else(|| usage("no --port")),
        buckets,
        credentials,
    }
}

/// Writes whose outcome depends on what is stored: they must not interleave.
fn is_conditional_write<B>(req: &http::Request<B>) -> bool {
    let writes = req.method() == http::Method::PUT || req.method() == http::Method::POST;
    writes
        && (req.headers().contains_key(http::header::IF_NONE_MATCH)
            || req.headers().contains_key(http::header::IF_MATCH))
}

#[tokio::main]
async fn main() {
    let opts = parse_options();
    if let Err(e) = std::fs::create_dir_all(&opts.root) {
        usage(&format!("cannot create {}: {e}", opts.root.display()));
    }
    // A bucket of s3s-fs is a directory under the root.
    for bucket in &opts.buckets {
        if let Err(e) = std::fs::create_dir_all(opts.root.join(bucket)) {
            usage(&format!("cannot create bucket {bucket}: {e}"));
        }
    }
    let root = std::fs::canonicalize(&opts.root)
        .unwrap_or_else(|e| usage(&format!("cannot serve {}: {e}", opts.root.display())));
    let store = store::Store::new(&root)
        .unwrap_or_else(|e| usage(&format!("cannot serve {}: {e}", root.display())));
    let mut builder = S3ServiceBuilder::new(store);
    if let Some((access, secret)) = opts.credentials {
        builder.set_auth(SimpleAuth::from_single(access, secret));
    }
    let s3 = builder.build();
    let conditional = Arc::new(Mutex::new(()));

    let listener = TcpListener::bind((opts.host.as_str(), opts.port))
        .await
        .unwrap_or_else(|e| usage(&format!("cannot listen on {}:{}: {e}", opts.host, opts.port)));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| usage(&format!("no local address: {e}")));
    println!("listening on http://{addr}");

    let server = ConnBuilder::new(TokioExecutor::new());
    loop {
        let socket = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => break,
        };
        // Responses go out as soon as they are written, as from S3 itself: without this,
        // Nagle's algorithm meets the client's delayed ACK and a small response can wait
        // 40 ms, which made every storage test wait on the network rather than work.
        if let Err(e) = socket.set_nodelay(true) {
            eprintln!("set_nodelay: {e}");
        }
        let s3 = s3.clone();
        let conditional = conditional.clone();
        let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
            let s3 = s3.clone();
            let conditional = conditional.clone();
            async move {
                let _turn = if is_conditional_write(&req) {
                    Some(conditional.lock_owned().await)
                } else {
                    None
                };
                let req = req.map(s3s::Body::from);
                let response = match s3.call(req).await {
                    Ok(response) => response,
                    Err(e) => {
                        eprintln!("request failed: {e:?}");
                        let mut response = http::Response::new(s3s::Body::empty());
                        *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                        response
                    }
                };
                Ok::<_, Infallible>(response)
            }
        });
        let server = server.clone();
        tokio::spawn(async move {
            let _ = server
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
    }
}
