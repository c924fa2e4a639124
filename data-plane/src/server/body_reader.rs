//! A request body read as a blocking `BufRead`, chunk by chunk as it arrives, for the
//! streaming load (handlers/loads.rs): the loader reads lines synchronously and
//! awaits its own writes between them, so the body is never held whole.
//!
//! Bounded in every way a caller could abuse:
//! - at most `max_bytes` bytes (after decompression, counted by the caller's wrapper:
//!   [`Limited`]) — past it the read fails and [`BodyLimits::exceeded`] says so (413);
//! - at most `max_line` bytes without a newline (a line is held whole by the loader);
//! - the whole body within `total` (a client that trickles does not hold it either);
//! - at most `idle` between two chunks (a client that stops sending does not hold the
//!   branch's write lock forever).
//!
//! Each wait for a chunk runs in `tokio::task::block_in_place`, which needs the
//! multi-threaded runtime the server runs on.

use std::io::{self, BufRead, Read};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use futures::{Stream, StreamExt};

type ChunkStream = Pin<Box<dyn Stream<Item = Result<Bytes, axum::Error>> + Send>>;

/// The limits of one streamed body, and which one stopped it.
#[derive(Debug, Clone)]
pub struct BodyLimits {
    pub max_bytes: u64,
    pub max_line: usize,
    pub idle: Duration,
    pub total: Duration,
    exceeded: Arc<AtomicBool>,
    read: Arc<AtomicU64>,
    lines: Arc<AtomicU64>,
}

impl BodyLimits {
    pub fn new(max_bytes: u64, max_line: usize, idle: Duration, total: Duration) -> Self {
        BodyLimits {
            max_bytes,
            max_line,
            idle,
            total,
            exceeded: Arc::new(AtomicBool::new(false)),
            read: Arc::new(AtomicU64::new(0)),
            lines: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Bytes read so far (after decompression).
    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Acquire)
    }

    /// Whole lines read so far.
    pub fn lines_read(&self) -> u64 {
        self.lines.load(Ordering::Acquire)
    }

    /// Whether the body went past `max_bytes` or a line past `max_line`.
    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Acquire)
    }

    fn exceed(&self, what: String) -> io::Error {
        self.exceeded.store(true, Ordering::Release);
        io::Error::other(what)
    }
}

/// The raw body as a blocking reader.
pub struct BodyReader {
    stream: ChunkStream,
    chunk: Bytes,
    done: bool,
    idle: Duration,
    /// When the whole body must have arrived.
    deadline: std::time::Instant,
    total: Duration,
}

impl BodyReader {
    pub fn new(body: axum::body::Body, idle: Duration, total: Duration) -> Self {
        BodyReader {
            stream: Box::pin(body.into_data_stream()),
            chunk: Bytes::new(),
            done: false,
            idle,
            deadline: std::time::Instant::now() + total,
            total,
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, out)
    }
}

impl BufRead for BodyReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.chunk.is_empty() && !self.done {
            let left = self
                .deadline
                .saturating_duration_since(std::time::Instant::now());
            let wait = self.idle.min(left);
            let stream = &mut self.stream;
            let next = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current()
                    .block_on(async { tokio::time::timeout(wait, stream.next()).await })
            });
            match next {
                Err(_) if wait == left => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "the body did not arrive within {} s (--load-timeout-secs)",
                            self.total.as_secs()
                        ),
                    ))
                }
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no data from the client for {} s", wait.as_secs()),
                    ))
                }
                Ok(None) => self.done = true,
                Ok(Some(Ok(chunk))) => self.chunk = chunk,
                Ok(Some(Err(e))) => return Err(io::Error::other(format!("reading the body: {e}"))),
            }
        }
        Ok(&self.chunk)
    }

    fn consume(&mut self, n: usize) {
        let _ = self.chunk.split_to(n.min(self.chunk.len()));
    }
}

/// Counts the bytes read through it (after any decompression) and the length of the
/// current line, and fails past the limits.
pub struct Limited<R> {
    inner: R,
    limits: BodyLimits,
    total: u64,
    line: usize,
}

impl<R: BufRead> Limited<R> {
    pub fn new(inner: R, limits: BodyLimits) -> Self {
        Limited {
            inner,
            limits,
            total: 0,
            line: 0,
        }
    }
}

impl<R: BufRead> Read for Limited<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, out)
    }
}

impl<R: BufRead> BufRead for Limited<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.total > self.limits.max_bytes {
            return Err(self.limits.exceed(format!(
                "the body is over {} bytes (--max-load-bytes)",
                self.limits.max_bytes
            )));
        }
        if self.line > self.limits.max_line {
            return Err(self
                .limits
                .exceed(format!("a line is over {} bytes", self.limits.max_line)));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            let taken = &buf[..n.min(buf.len())];
            match taken.iter().rposition(|b| *b == b'\n') {
                Some(i) => {
                    self.line = taken.len() - i - 1;
                    let lines = taken.iter().filter(|b| **b == b'\n').count() as u64;
                    self.limits.lines.fetch_add(lines, Ordering::AcqRel);
                }
                None => self.line += taken.len(),
            }
        }
        self.total += n as u64;
        self.limits.read.store(self.total, Ordering::Release);
        self.inner.consume(n);
    }
}

/// `Read` for a reader whose `BufRead` side does the work.
fn read_buffered(reader: &mut impl BufRead, out: &mut [u8]) -> io::Result<usize> {
    let available = reader.fill_buf()?;
    let n = available.len().min(out.len());
    out[..n].copy_from_slice(&available[..n]);
    reader.consume(n);
    Ok(n)
}

/// The body as the loader reads it: decompressed when `gzip`, within `limits`.
pub fn ndjson_reader(
    body: axum::body::Body,
    gzip: bool,
    limits: BodyLimits,
) -> Box<dyn BufRead + Send> {
    let raw = BodyReader::new(body, limits.idle, limits.total);
    if gzip {
        let decoded =
            io::BufReader::with_capacity(256 * 1024, flate2::bufread::MultiGzDecoder::new(raw));
        Box::new(Limited::new(decoded, limits))
    } else {
        Box::new(Limited::new(raw, limits))
    }
}
