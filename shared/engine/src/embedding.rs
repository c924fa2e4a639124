//! The embedding provider: any OpenAI-compatible `POST {url}/embeddings` endpoint.
//!
//! Configured from the environment of the process that writes or queries (the data plane,
//! or the embedded CLI):
//! - `OMNIGRAPH_EMBEDDING_URL`: the API base, e.g. `http://127.0.0.1:8089/v1`;
//! - `OMNIGRAPH_EMBEDDING_MODEL`: the model it serves, e.g. `all-MiniLM-L6-v2`;
//! - `OMNIGRAPH_EMBEDDING_API_KEY` (optional): sent as `Authorization: Bearer ...`.
//!
//! Used for `@embed` properties of rows written without a vector, and for a String passed
//! to `nearest`. A schema's `@embed(..., model = "m")` must name the configured model, and
//! the vectors must have the property's dimension: both are checked, never assumed.

use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

pub const URL_ENV: &str = "OMNIGRAPH_EMBEDDING_URL";
pub const MODEL_ENV: &str = "OMNIGRAPH_EMBEDDING_MODEL";
pub const KEY_ENV: &str = "OMNIGRAPH_EMBEDDING_API_KEY";

/// Texts per request.
const BATCH: usize = 64;
const TIMEOUT: Duration = Duration::from_secs(60);

/// What one `@embed` property (or `nearest` on it) asks of the provider.
#[derive(Debug, Clone)]
pub struct EmbedTarget<'a> {
    /// `Type.property`, for messages.
    pub property: String,
    /// The schema's `model = "..."`, if it names one.
    pub model: Option<&'a str>,
    pub dim: u32,
}

/// The configured provider.
#[derive(Debug, Clone)]
pub struct Provider {
    url: String,
    model: String,
    key: Option<String>,
}

impl Provider {
    /// The provider configured in the environment, or an error saying how to configure one.
    pub fn from_env() -> Result<Provider> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        match (var(URL_ENV), var(MODEL_ENV)) {
            (Some(url), Some(model)) => Ok(Provider {
                url: url.trim_end_matches('/').to_string(),
                model,
                key: var(KEY_ENV),
            }),
            _ => Err(EngineError::Embedding {
                message: format!(
                    "no embedding provider is configured: set {URL_ENV} (an OpenAI-compatible API base such as http://127.0.0.1:8089/v1) and {MODEL_ENV} for the data plane or CLI"
                ),
                unavailable: false,
            }),
        }
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// One vector per text, in order, checked against `target`.
    pub async fn embed(&self, texts: &[String], target: &EmbedTarget<'_>) -> Result<Vec<Vec<f32>>> {
        if let Some(wanted) = target.model {
            if wanted != self.model {
                return Err(EngineError::Embedding {
                    message: format!(
                        "model mismatch: the schema embeds {} with model `{wanted}`, but the embedding provider is configured with `{}` ({MODEL_ENV})",
                        target.property, self.model
                    ),
                    unavailable: false,
                });
            }
        }
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            let started = std::time::Instant::now();
            let answer = self.request(chunk, target).await;
            crate::metrics::embedding_call(started.elapsed(), answer.is_err());
            out.extend(answer?);
        }
        Ok(out)
    }

    async fn request(&self, texts: &[String], target: &EmbedTarget<'_>) -> Result<Vec<Vec<f32>>> {
        let endpoint = format!("{}/embeddings", self.url);
        let fail = |message: String, unavailable: bool| EngineError::Embedding {
            message,
            unavailable,
        };
        let mut req = client().post(&endpoint).json(&EmbeddingRequest {
            model: &self.model,
            input: texts,
        });
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().await.map_err(|e| {
            fail(
                format!("embedding provider {endpoint} unreachable: {e}"),
                true,
            )
        })?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| {
            fail(
                format!("embedding provider {endpoint}: reading the answer: {e}"),
                true,
            )
        })?;
        if !status.is_success() {
            let detail = serde_json::from_str::<ErrorBody>(&body)
                .map(|b| b.error.message)
                .unwrap_or_else(|_| body.chars().take(300).collect());
            return Err(fail(
                format!("embedding provider {endpoint} answered {status}: {detail}"),
                status.is_server_error(),
            ));
        }
        let parsed: EmbeddingResponse = serde_json::from_str(&body).map_err(|e| {
            fail(
                format!("embedding provider {endpoint}: not an embeddings answer: {e}"),
                false,
            )
        })?;
        if let Some(served) = parsed.model.as_deref() {
            // Providers may answer with a versioned name of the model asked for.
            if !served.starts_with(&self.model) && !self.model.starts_with(served) {
                return Err(fail(
                    format!(
                        "model mismatch: asked the embedding provider for `{}`, it answered with `{served}`",
                        self.model
                    ),
                    false,
                ));
            }
        }
        let mut data = parsed.data;
        data.sort_by_key(|d| d.index);
        if data.len() != texts.len() {
            return Err(fail(
                format!(
                    "embedding provider returned {} vectors for {} texts",
                    data.len(),
                    texts.len()
                ),
                false,
            ));
        }
        let mut vectors = Vec::with_capacity(data.len());
        for d in data {
            if d.embedding.len() != target.dim as usize {
                return Err(fail(
                    format!(
                        "model `{}` returns {}-dimensional vectors, but {} is Vector({})",
                        self.model,
                        d.embedding.len(),
                        target.property,
                        target.dim
                    ),
                    false,
                ));
            }
            vectors.push(d.embedding);
        }
        Ok(vectors)
    }
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new())
    })
}

#[derive(Serialize)]
struct EmbeddingRequest<'a> {
    model: &'a str,
    input: &'a [String],
}

#[derive(Deserialize)]
struct EmbeddingResponse {
    data: Vec<EmbeddingData>,
    #[serde(default)]
    model: Option<String>,
}

#[derive(Deserialize)]
struct EmbeddingData {
    #[serde(default)]
    index: usize,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: String,
}

/// An `@embed` property of a node type.
#[derive(Debug, Clone)]
pub struct EmbeddedProperty {
    /// `Type.property`, for messages.
    pub label: String,
    pub vector: String,
    pub source: String,
    pub model: Option<String>,
    pub dim: u32,
}

/// The `@embed` properties of `node`.
pub fn embedded_properties(node: &omnigraph_lang::NodeType) -> Vec<EmbeddedProperty> {
    node.properties
        .iter()
        .filter_map(|p| {
            let spec = p.embed.as_ref()?;
            let omnigraph_lang::PropType::Vector(dim) = p.ty else {
                return None;
            };
            Some(EmbeddedProperty {
                label: format!("{}.{}", node.name, p.name),
                vector: p.name.clone(),
                source: spec.source.clone(),
                model: spec.model.clone(),
                dim,
            })
        })
        .collect()
}

/// Whether a row (read through `get`) lacks a vector that `props` would compute: the vector
/// is absent or null and its source is a non-empty String.
pub fn needs_embedding<'r>(
    props: &[EmbeddedProperty],
    get: impl Fn(&str) -> Option<&'r serde_json::Value>,
) -> bool {
    props.iter().any(|p| {
        get(&p.vector).is_none_or(serde_json::Value::is_null)
            && get(&p.source)
                .and_then(serde_json::Value::as_str)
                .is_some_and(|s| !s.trim().is_empty())
    })
}

/// Computes, for each row of `rows` that needs one (see [`needs_embedding`]), each missing
/// vector from its source text, in batches through the configured provider, and stores it
/// with `set`. Returns how many vectors were computed.
pub async fn fill_missing<R>(
    props: &[EmbeddedProperty],
    rows: &mut [R],
    get: impl Fn(&R, &str) -> Option<serde_json::Value>,
    mut set: impl FnMut(&mut R, &str, serde_json::Value),
) -> Result<usize> {
    let mut computed = 0;
    for p in props {
        let mut at = Vec::new();
        let mut texts = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let missing = get(row, &p.vector).is_none_or(|v| v.is_null());
            if let (true, Some(serde_json::Value::String(text))) = (missing, get(row, &p.source)) {
                if !text.trim().is_empty() {
                    at.push(i);
                    texts.push(text);
                }
            }
        }
        if texts.is_empty() {
            continue;
        }
        let target = EmbedTarget {
            property: p.label.clone(),
            model: p.model.as_deref(),
            dim: p.dim,
        };
        let vectors = Provider::from_env()?.embed(&texts, &target).await?;
        for (i, v) in at.into_iter().zip(vectors) {
            set(&mut rows[i], &p.vector, serde_json::Value::from(v));
            computed += 1;
        }
    }
    Ok(computed)
}
