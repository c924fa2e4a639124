//! Registration with the control plane and the periodic registry pull.
//!
//! A registration answer is applied even when its generation is lower than ours (the
//! control plane restarted); pulls apply only newer generations. A pull that finds the
//! control plane behind us, or that fails, triggers a re-registration.

use std::sync::Arc;
use std::time::Duration;

use omnigraph_api::{
    RegistryDocument, WorkerAuth, WorkerRegistration, REGISTER_WORKER_PATH, REGISTRY_PATH,
};

use super::state::ServerState;

pub const PULL_INTERVAL: Duration = Duration::from_secs(3);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

pub struct RegistryClient {
    control_plane: String,
    advertise_url: String,
    internal_token: Option<String>,
    client: reqwest::Client,
}

impl RegistryClient {
    pub fn new(
        control_plane: &str,
        advertise_url: String,
        internal_token: Option<String>,
    ) -> Result<RegistryClient, reqwest::Error> {
        Ok(RegistryClient {
            control_plane: control_plane.trim_end_matches('/').to_owned(),
            advertise_url,
            internal_token,
            client: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()?,
        })
    }

    fn with_token(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.internal_token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn register(&self, state: &ServerState) -> Result<RegistryDocument, String> {
        let url = format!("{}{REGISTER_WORKER_PATH}", self.control_plane);
        let body = WorkerRegistration {
            worker_id: state.worker_id.clone(),
            url: self.advertise_url.clone(),
            auth: Some(if state.registry.auth().is_open() {
                WorkerAuth::Open
            } else {
                WorkerAuth::Bearer
            }),
        };
        let response = self
            .with_token(self.client.post(&url).json(&body))
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        decode(&url, response).await
    }

    async fn pull(&self) -> Result<RegistryDocument, String> {
        let url = format!("{}{REGISTRY_PATH}", self.control_plane);
        let response = self
            .with_token(self.client.get(&url))
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        decode(&url, response).await
    }

    /// Registers (retrying until it succeeds), then pulls every [`PULL_INTERVAL`].
    pub async fn run(self, state: Arc<ServerState>) {
        let mut registered = false;
        let mut backoff = Duration::from_millis(100);
        loop {
            if !registered {
                match self.register(&state).await {
                    Ok(doc) => {
                        if let Err(e) = state.registry.apply(&doc, true) {
                            tracing::error!("registration answer refused: {e}");
                            tokio::time::sleep(PULL_INTERVAL).await;
                            continue;
                        }
                        registered = true;
                        tracing::info!(
                            control_plane = self.control_plane,
                            generation = doc.generation,
                            "registered with the control plane"
                        );
                    }
                    Err(e) => {
                        tracing::warn!("registration failed: {e}");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(PULL_INTERVAL);
                        continue;
                    }
                }
            }
            backoff = Duration::from_millis(100);
            tokio::time::sleep(PULL_INTERVAL).await;
            match self.pull().await {
                Ok(doc) => {
                    let ours = state.registry.generation();
                    if ours.is_some_and(|g| doc.generation < g) {
                        tracing::info!(
                            generation = doc.generation,
                            "the control plane is behind us (restarted?): re-registering"
                        );
                        registered = false;
                    } else if let Err(e) = state.registry.apply(&doc, false) {
                        tracing::error!("pulled registry refused: {e}");
                    }
                }
                Err(e) => {
                    tracing::warn!("registry pull failed: {e}");
                    registered = false;
                }
            }
        }
    }
}

async fn decode(url: &str, response: reqwest::Response) -> Result<RegistryDocument, String> {
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("{url}: reading the body: {e}"))?;
    if !status.is_success() {
        return Err(format!("{url}: HTTP {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{url}: not a registry document: {e}"))
}
