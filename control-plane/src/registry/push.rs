//! Registered data-plane workers and the pushing of registry generations to them.
//!
//! Each worker has one push task that follows the registry's watch channel (the
//! Kubernetes-controller shape: converge to the newest generation, idempotently). It
//! pushes the newest document with a few retries; a newer generation supersedes one
//! still being retried. A worker that missed a push catches up by its periodic pull.
//! All workers are pushed in parallel, each by its own task.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use omnigraph_api::{RegistryAck, RegistryDocument, REGISTRY_PATH};
use reqwest::header::HeaderMap;
use reqwest::Url;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tracing::Instrument;

use crate::registry::Registry;

/// Retry schedule of one generation's push to one worker.
#[derive(Debug, Clone, Copy)]
pub struct PushPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    pub request_timeout: Duration,
}

impl Default for PushPolicy {
    fn default() -> Self {
        PushPolicy {
            attempts: 5,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            request_timeout: Duration::from_secs(3),
        }
    }
}

/// What the control plane knows of one worker's registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushState {
    /// The newest generation the worker acknowledged.
    pub acked: Option<u64>,
    /// The error of the last failed push attempt, cleared by the next success.
    pub last_error: Option<String>,
    /// The newest generation whose retries ran out.
    pub exhausted: Option<u64>,
}

/// One worker as `/healthz` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerReport {
    pub worker_id: String,
    pub url: String,
    pub state: PushState,
}

struct Worker {
    url: Url,
    state: watch::Receiver<PushState>,
    task: AbortHandle,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Everything a push task needs, shared by all of them.
struct Pusher {
    registry: Arc<Registry>,
    client: reqwest::Client,
    internal_token: Option<String>,
    policy: PushPolicy,
}

pub struct WorkerSet {
    workers: Mutex<BTreeMap<String, Worker>>,
    pusher: Arc<Pusher>,
}

impl WorkerSet {
    pub fn new(
        registry: Arc<Registry>,
        internal_token: Option<String>,
        policy: PushPolicy,
    ) -> Result<WorkerSet, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(policy.request_timeout)
            .build()?;
        Ok(WorkerSet {
            workers: Mutex::new(BTreeMap::new()),
            pusher: Arc::new(Pusher {
                registry,
                client,
                internal_token,
                policy,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Worker>> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds (or replaces) a worker and starts pushing to it at once: the push tells the
    /// control plane which generation the worker really holds. Another entry with the
    /// same url is a previous incarnation of this worker and is dropped.
    pub fn register(&self, worker_id: String, url: Url) {
        let (state_tx, state_rx) = watch::channel(PushState::default());
        let task = tokio::spawn(
            self.pusher
                .clone()
                .run(worker_id.clone(), url.clone(), state_tx),
        );
        let mut workers = self.lock();
        workers.retain(|id, w| id != &worker_id && w.url != url);
        tracing::info!(worker_id, %url, "worker registered");
        workers.insert(
            worker_id,
            Worker {
                url,
                state: state_rx,
                task: task.abort_handle(),
            },
        );
    }

    pub fn reports(&self) -> Vec<WorkerReport> {
        self.lock()
            .iter()
            .map(|(id, w)| WorkerReport {
                worker_id: id.clone(),
                url: w.url.to_string(),
                state: w.state.borrow().clone(),
            })
            .collect()
    }

    /// Waits until every registered worker acknowledged `generation` (or a newer one)
    /// or gave up on it, for at most `deadline`.
    pub async fn wait_for(&self, generation: u64, deadline: Duration) {
        let receivers: Vec<watch::Receiver<PushState>> =
            self.lock().values().map(|w| w.state.clone()).collect();
        let all = futures::future::join_all(receivers.into_iter().map(|mut rx| async move {
            let _ = rx
                .wait_for(|s| {
                    s.acked.is_some_and(|g| g >= generation)
                        || s.exhausted.is_some_and(|g| g >= generation)
                })
                .await;
        }));
        let _ = tokio::time::timeout(deadline, all).await;
    }
}

impl Pusher {
    async fn run(self: Arc<Self>, worker_id: String, url: Url, state: watch::Sender<PushState>) {
        let mut documents = self.registry.subscribe();
        loop {
            let document = documents.borrow_and_update().clone();
            let acked = state.borrow().acked;
            if acked.is_none_or(|g| g < document.generation) {
                tokio::select! {
                    () = self.push_with_retries(&worker_id, &url, &document, &state) => {}
                    changed = documents.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        continue; // a newer generation supersedes this one
                    }
                }
            }
            if documents.changed().await.is_err() {
                return;
            }
        }
    }

    /// One generation's push, in a `registry_push` trace span that continues the trace of
    /// the request that published the generation (README.md, "Observability").
    async fn push_with_retries(
        &self,
        worker_id: &str,
        url: &Url,
        document: &RegistryDocument,
        state: &watch::Sender<PushState>,
    ) {
        let span = tracing::debug_span!(
            "registry_push",
            worker_id,
            generation = document.generation,
            otel.kind = "client",
        );
        self.registry
            .origin(document.generation)
            .set_as_parent_of(&span);
        self.push_attempts(worker_id, url, document, state)
            .instrument(span)
            .await;
    }

    async fn push_attempts(
        &self,
        worker_id: &str,
        url: &Url,
        document: &RegistryDocument,
        state: &watch::Sender<PushState>,
    ) {
        let mut backoff = self.policy.first_backoff;
        for attempt in 1..=self.policy.attempts {
            let outcome = self
                .push_once(url, document)
                .await
                .and_then(|ack| check_ack(document, ack));
            match outcome {
                Ok(ack) => {
                    self.record_ack(worker_id, document, &ack, state);
                    return;
                }
                Err(error) => {
                    tracing::warn!(
                        worker_id,
                        %url,
                        generation = document.generation,
                        attempt,
                        "registry push failed: {error}"
                    );
                    crate::metrics::push_failed(worker_id);
                    state.send_modify(|s| s.last_error = Some(error));
                }
            }
            if attempt < self.policy.attempts {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(self.policy.max_backoff);
            }
        }
        state.send_modify(|s| s.exhausted = Some(document.generation));
    }

    fn record_ack(
        &self,
        worker_id: &str,
        document: &RegistryDocument,
        ack: &RegistryAck,
        state: &watch::Sender<PushState>,
    ) {
        tracing::debug!(
            worker_id,
            generation = document.generation,
            worker_generation = ack.generation,
            applied = ack.applied,
            "registry push acknowledged"
        );
        state.send_modify(|s| {
            s.acked = Some(s.acked.unwrap_or(0).max(ack.generation));
            s.last_error = None;
        });
    }

    async fn push_once(
        &self,
        url: &Url,
        document: &RegistryDocument,
    ) -> Result<RegistryAck, String> {
        let target = format!("{}{REGISTRY_PATH}", url.as_str().trim_end_matches('/'));
        // The worker's request span continues this push's trace.
        let mut trace = HeaderMap::new();
        omnigraph_http::telemetry::inject_current(&mut trace);
        let mut request = self.client.post(&target).json(document).headers(trace);
        if let Some(token) = &self.internal_token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("POST {target}: {e}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("POST {target}: reading the answer: {e}"))?;
        if !status.is_success() {
            let excerpt: String = body.chars().take(300).collect();
            return Err(format!("POST {target}: {status}: {excerpt}"));
        }
        // A worker that answers 2xx without an ack body still received the document.
        Ok(serde_json::from_str(&body).unwrap_or(RegistryAck {
            worker_id: String::new(),
            generation: document.generation,
            applied: true,
        }))
    }
}

/// An acknowledgement of a generation above the one pushed is refused: this control
/// plane never published it (a worker that held a generation of an earlier run of the
/// control plane, or a lying one), so it is neither recorded nor adopted; adopting it
/// would let one worker pin the generation counter (up to `u64::MAX`) so that every
/// later push looks old to every worker. Such a worker converges by re-registering, which
/// applies the registration's answer whatever its generation (it does so when its pull
/// finds the control plane behind it).
fn check_ack(document: &RegistryDocument, ack: RegistryAck) -> Result<RegistryAck, String> {
    if ack.generation > document.generation {
        return Err(format!(
            "the worker acknowledged generation {} but generation {} was pushed (the newest this control plane published); the acknowledgement is ignored until the worker re-registers",
            ack.generation, document.generation
        ));
    }
    Ok(ack)
}

#[cfg(test)]
mod tests;
