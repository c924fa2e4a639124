//! `POST /internal/registry`: the control plane pushes a registry generation.

use axum::extract::State;
use omnigraph_api::{ApiJson, RegistryAck, RegistryDocument};

use crate::server::state::AppState;

pub async fn push_registry(
    State(state): State<AppState>,
    ApiJson(doc): ApiJson<RegistryDocument>,
) -> ApiJson<RegistryAck> {
    let applied = state.registry.apply(&doc, false);
    ApiJson(RegistryAck {
        worker_id: state.worker_id.clone(),
        generation: state.registry.generation().unwrap_or(doc.generation),
        applied,
    })
}
