//! Object-store requests and bytes, counted by a wrapper around the object store, for local
//! disk and S3 alike (README.md, "Observability"):
//!
//! - `omnigraph_object_store_requests_total{graph, kind, operation}`
//! - `omnigraph_object_store_bytes_total{graph, kind, operation}`
//!
//! `operation` is `GET`, `HEAD`, `PUT`, `LIST`, `DELETE`, `COPY` or `RENAME`. `graph` is the
//! name a server gave the graph's uri (`location::name_graph`), `-` when it gave none (the CLI).
//! `kind` is the request kind the caller runs the engine under ([`with_request_kind`], e.g.
//! `read`, `change`, `load`), and `unattributed` for requests made from tasks Lance spawns
//! (its I/O scheduler, parallel writes), which a task-local does not reach.
//!
//! One wrapper ([`MeteredStore`]) goes around the store of a graph's own objects
//! (`GraphLocation` (shared/storage/src/location.rs)) and, through Lance's store parameters, around every
//! store Lance opens for the graph's tables (`store_params` in
//! shared/engine/src/storage_metrics.rs). What it counts
//! is what goes through the object-store interface: on S3 every request. On a local disk
//! Lance reads and writes table data files with direct file I/O, which no object store
//! sees; manifests, listings, conditional creates, renames and deletes are counted there too.
//! A multipart upload counts one PUT to start, one per part and one to complete; a listing
//! one LIST per call (S3 may page a long one); a bulk delete one DELETE per object.
//!
//! The same wrapper makes the trace spans of storage calls ([`storage_span`]): a `storage`
//! span per whole-object GET, HEAD, PUT (a multipart upload: its start and its completion),
//! paginated LIST, COPY and RENAME, and one per `get_ranges` batch; none per byte range
//! (a read may fetch hundreds), per bulk delete or per streamed listing. Only inside a
//! span the process exports (a request's), so requests made from Lance's own tasks start
//! no trace; with traces off a span costs the check of its callsite.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::sync::{Arc, LazyLock, Mutex, RwLock};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::list::{PaginatedListOptions, PaginatedListResult, PaginatedListStore};
use object_store::path::Path;
use object_store::{
    coalesce_ranges, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
    RenameOptions, UploadPart, OBJECT_STORE_COALESCE_DEFAULT,
};
use prometheus::IntCounterVec;
use tracing::field::{display, Empty};
use tracing::{Instrument, Span};

/// `kind` of requests made outside any [`with_request_kind`] scope.
pub const UNATTRIBUTED: &str = "unattributed";
/// `graph` of a uri no server named.
pub const UNNAMED_GRAPH: &str = "-";

tokio::task_local! {
    static REQUEST_KIND: &'static str;
}

/// Runs `fut` with its object-store requests counted under `kind` (those it makes in its own
/// task; see the module documentation).
pub async fn with_request_kind<F: Future>(kind: &'static str, fut: F) -> F::Output {
    REQUEST_KIND.scope(kind, fut).await
}

/// The request kind the current task counts its object-store requests under.
pub fn current_kind() -> &'static str {
    REQUEST_KIND.try_with(|k| *k).unwrap_or(UNATTRIBUTED)
}

struct Counters {
    requests: IntCounterVec,
    bytes: IntCounterVec,
}

static COUNTERS: LazyLock<Counters> = LazyLock::new(|| {
    Counters {
    requests: counter_vec(
        "omnigraph_object_store_requests_total",
        "Object-store requests, by graph, request kind and operation",
        &["graph", "kind", "operation"],
    ),
    bytes: counter_vec(
        "omnigraph_object_store_bytes_total",
        "Bytes read (GET) and written (PUT) through the object store, by graph, request kind and operation",
        &["graph", "kind", "operation"],
    ),
}
});

/// Makes the object-store counters appear (at zero) before the first request.
pub fn init() {
    LazyLock::force(&COUNTERS);
}

/// The target of the storage spans.
const SPAN_TARGET: &str = "omnigraph_storage";

/// The trace span of one storage call: `storage`, named `storage <OPERATION>` in the
/// trace, with the object's path (README.md, "Observability"). A disabled span when no
/// subscriber wants it (traces off) or when no span is current (Lance's own tasks).
fn storage_span(operation: &'static str, path: Option<&Path>) -> Span {
    if !tracing::enabled!(target: SPAN_TARGET, tracing::Level::DEBUG) {
        return Span::none();
    }
    let parent = Span::current();
    if parent.is_none() {
        return Span::none();
    }
    let span = tracing::debug_span!(
        target: SPAN_TARGET,
        parent: &parent,
        "storage",
        otel.name = span_name(operation),
        operation,
        path = Empty,
        bytes = Empty,
        ranges = Empty,
        found = Empty,
        error = Empty,
        otel.status_code = Empty,
    );
    if let Some(path) = path {
        span.record("path", display(path));
    }
    span
}

fn span_name(operation: &'static str) -> &'static str {
    match operation {
        "GET" => "storage GET",
        "HEAD" => "storage HEAD",
        "PUT" => "storage PUT",
        "LIST" => "storage LIST",
        "COPY" => "storage COPY",
        "RENAME" => "storage RENAME",
        _ => "storage",
    }
}

/// Runs `call` in `span` and records its outcome there: an absent object is `found =
/// false` (probes expect it), any other failure marks the span as an error.
async fn traced<T>(
    span: Span,
    call: impl Future<Output = object_store::Result<T>>,
) -> object_store::Result<T> {
    if span.is_disabled() {
        return call.await;
    }
    let result = call.instrument(span.clone()).await;
    match &result {
        Ok(_) => {}
        Err(object_store::Error::NotFound { .. }) => {
            span.record("found", false);
        }
        Err(e) => {
            span.record("error", display(e));
            span.record("otel.status_code", "ERROR");
        }
    }
    result
}

/// The counting side of one graph: its label, shared by every store wrapped for it.
#[derive(Debug)]
pub struct GraphMeter {
    graph: RwLock<Arc<str>>,
}

impl GraphMeter {
    fn label(&self) -> Arc<str> {
        self.graph.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn count(&self, kind: &str, operation: &str, bytes: u64) {
        let graph = self.label();
        let labels = [graph.as_ref(), kind, operation];
        COUNTERS.requests.with_label_values(&labels).inc();
        if bytes > 0 {
            COUNTERS.bytes.with_label_values(&labels).inc_by(bytes);
        }
    }
}

/// The counting wrapper of one graph, which the engine hands to Lance for every store Lance
/// opens for the graph's tables (shared/engine/src/storage_metrics.rs).
#[derive(Debug, Clone)]
pub struct MeterWrapper(Arc<GraphMeter>);

impl MeterWrapper {
    /// `original`, counting its requests as this graph's.
    pub fn wrap_store(&self, original: Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> {
        Arc::new(MeteredStore::new(original, self.0.clone()))
    }

    /// `original`'s paginated listing, counted as this graph's.
    pub fn wrap_lister(
        &self,
        original: Arc<dyn PaginatedListStore>,
    ) -> Arc<dyn PaginatedListStore> {
        Arc::new(MeteredLister {
            inner: original,
            meter: self.0.clone(),
        })
    }
}

/// One wrapper per graph root uri (canonical, as `GraphLocation` (shared/storage/src/location.rs) has it),
/// so that Lance's store cache keeps one store per graph.
static METERS: LazyLock<Mutex<HashMap<String, Arc<MeterWrapper>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The wrapper of the graph at canonical `root` (made on first use, unnamed).
pub fn wrapper(root: &str) -> Arc<MeterWrapper> {
    let mut meters = METERS.lock().unwrap_or_else(|p| p.into_inner());
    meters
        .entry(root.to_owned())
        .or_insert_with(|| {
            Arc::new(MeterWrapper(Arc::new(GraphMeter {
                graph: RwLock::new(Arc::from(UNNAMED_GRAPH)),
            })))
        })
        .clone()
}

/// Counts the requests of the graph whose canonical root is `root` under `graph` from now
/// on (through `location::name_graph`, which makes the root canonical).
pub fn name_root(root: &str, graph: &str) {
    let wrapper = wrapper(root);
    *wrapper.0.graph.write().unwrap_or_else(|p| p.into_inner()) = Arc::from(graph);
}

/// The requests counted so far for the graph named `graph` (`location::name_graph`),
/// every request kind together, by operation (`GET`, `HEAD`, ...).
pub fn requests_of(graph: &str) -> std::collections::BTreeMap<String, u64> {
    use prometheus::core::Collector;
    let mut out = std::collections::BTreeMap::new();
    for family in COUNTERS.requests.collect() {
        for metric in family.get_metric() {
            let label = |name: &str| {
                metric
                    .get_label()
                    .iter()
                    .find(|l| l.name() == name)
                    .map(|l| l.value().to_owned())
            };
            if label("graph").as_deref() != Some(graph) {
                continue;
            }
            if let Some(op) = label("operation") {
                *out.entry(op).or_default() += metric.get_counter().get_value() as u64;
            }
        }
    }
    out
}

/// The graph root a table uri lies in: the longest known root that is a prefix of it.
pub fn wrapper_for_table(uri: &str) -> Arc<MeterWrapper> {
    let found = {
        let meters = METERS.lock().unwrap_or_else(|p| p.into_inner());
        meters
            .iter()
            .filter(|(root, _)| {
                uri.strip_prefix(root.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
            })
            .max_by_key(|(root, _)| root.len())
            .map(|(_, w)| w.clone())
    };
    found.unwrap_or_else(|| {
        // A table of a graph whose location was never parsed (not the engine's way):
        // counted under its own folder's parent.
        let root = uri.rsplit_once('/').map_or(uri, |(parent, _)| parent);
        wrapper(root)
    })
}

/// The store of a graph's own objects (manifests, refs, markers), wrapped to count its
/// requests.
pub fn metered(root: &str, store: Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> {
    Arc::new(MeteredStore::new(store, wrapper(root).0.clone()))
}

/// An object store that counts each request it passes on.
#[derive(Debug)]
pub struct MeteredStore {
    inner: Arc<dyn ObjectStore>,
    meter: Arc<GraphMeter>,
}

impl MeteredStore {
    fn new(inner: Arc<dyn ObjectStore>, meter: Arc<GraphMeter>) -> Self {
        MeteredStore { inner, meter }
    }
}

impl fmt::Display for MeteredStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MeteredStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for MeteredStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let bytes = payload.content_length() as u64;
        self.meter.count(current_kind(), "PUT", bytes);
        let span = storage_span("PUT", Some(location));
        span.record("bytes", bytes);
        traced(span, self.inner.put_opts(location, payload, opts)).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let kind = current_kind();
        self.meter.count(kind, "PUT", 0);
        let span = storage_span("PUT", Some(location));
        let upload = traced(span, self.inner.put_multipart_opts(location, opts)).await?;
        Ok(Box::new(MeteredUpload {
            inner: upload,
            meter: self.meter.clone(),
            kind,
            location: location.clone(),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let kind = current_kind();
        let head = options.head;
        let operation = if head { "HEAD" } else { "GET" };
        // A byte range gets no span of its own (a read may fetch hundreds).
        let span = match options.range {
            None => storage_span(operation, Some(location)),
            Some(_) => Span::none(),
        };
        let result = traced(span.clone(), self.inner.get_opts(location, options)).await;
        let bytes = match (&result, head) {
            (Ok(r), false) => r.range.end.saturating_sub(r.range.start),
            _ => 0,
        };
        self.meter.count(kind, operation, bytes);
        if !head {
            span.record("bytes", bytes);
        }
        result
    }

    // The trait's default (`get_opts` once per coalesced range, so each request the store
    // receives is counted), in one span for the batch.
    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        let span = storage_span("GET", Some(location));
        span.record("ranges", ranges.len());
        let fetch = coalesce_ranges(
            ranges,
            |range| self.get_range(location, range),
            OBJECT_STORE_COALESCE_DEFAULT,
        );
        traced(span, fetch).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let meter = self.meter.clone();
        let kind = current_kind();
        self.inner
            .delete_stream(locations)
            .inspect(move |deleted| {
                if deleted.is_ok() {
                    meter.count(kind, "DELETE", 0);
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.meter.count(current_kind(), "LIST", 0);
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.meter.count(current_kind(), "LIST", 0);
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.meter.count(current_kind(), "LIST", 0);
        let span = storage_span("LIST", prefix);
        traced(span, self.inner.list_with_delimiter(prefix)).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.meter.count(current_kind(), "COPY", 0);
        let span = storage_span("COPY", Some(to));
        traced(span, self.inner.copy_opts(from, to, options)).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.meter.count(current_kind(), "RENAME", 0);
        let span = storage_span("RENAME", Some(to));
        traced(span, self.inner.rename_opts(from, to, options)).await
    }
}

#[derive(Debug)]
struct MeteredUpload {
    inner: Box<dyn MultipartUpload>,
    meter: Arc<GraphMeter>,
    kind: &'static str,
    location: Path,
}

#[async_trait]
impl MultipartUpload for MeteredUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.meter
            .count(self.kind, "PUT", data.content_length() as u64);
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.meter.count(self.kind, "PUT", 0);
        let span = storage_span("PUT", Some(&self.location));
        traced(span, self.inner.complete()).await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.meter.count(self.kind, "DELETE", 0);
        self.inner.abort().await
    }
}

struct MeteredLister {
    inner: Arc<dyn PaginatedListStore>,
    meter: Arc<GraphMeter>,
}

#[async_trait]
impl PaginatedListStore for MeteredLister {
    async fn list_paginated(
        &self,
        prefix: Option<&str>,
        opts: PaginatedListOptions,
    ) -> object_store::Result<PaginatedListResult> {
        self.meter.count(current_kind(), "LIST", 0);
        let span = storage_span("LIST", None);
        if let Some(prefix) = prefix {
            span.record("path", prefix);
        }
        traced(span, self.inner.list_paginated(prefix, opts)).await
    }
}

/// Registers `metric` in the process's default registry, which both servers serve at
/// `GET /metrics` (a second registration of one name is logged, not fatal).
pub fn registered<M: prometheus::core::Collector + Clone + 'static>(name: &str, metric: M) -> M {
    if let Err(e) = prometheus::register(Box::new(metric.clone())) {
        tracing::warn!("metric {name} not registered: {e}");
    }
    metric
}

// Metric definitions are static: a bad name or label is a programming error that every
// test run hits at once, so building them panics with the name.
fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(prometheus::Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registered(name, c)
}
