//! `PATCH /graphs/{graph_id}`: replace a graph's policy. Steps 1 (mode) and 2 (auth)
//! are the handler's; then:
//!
//! 3. the graph id is valid (400) and registered (404);
//! 4. the new policy is read (`file`, of the policy folder; never another graph's stored
//!    policy) or taken (`content`) and compiled as a per-graph policy (400; refused in
//!    open mode, where policies are not enforced);
//! 5. omnigraph.yaml has not drifted (503), before anything changes;
//! 6. `content` is stored as a new file `policies/<graph_id>.<tag>.yaml` (never over an
//!    existing one);
//! 7. atomic rewrite of omnigraph.yaml pointing the graph at the new policy (flock,
//!    drift 503); a policy file this control plane stored before is then removed, unless
//!    another graph names it;
//! 8. the registry publishes the new policy text as a new generation, pushed to every
//!    worker; waits up to the push deadline for their acknowledgements.
//!
//! Failure modes: before 7 nothing changed (a file stored in 6 is removed again); after
//! 7 and before 8, omnigraph.yaml has the new policy and the running registry the old
//! one until the control plane restarts (a retried PATCH completes it).

use omnigraph_api::UpdateGraphRequest;
use omnigraph_config::{EditGraphError, GraphId, GraphIdError, PolicyRef, RewriteWithError};

use crate::config::file::EditGraphFileError;
use crate::graphs::policy::{
    choose_policy, remove_stored_policy, remove_unused_stored_policy, same_policy_file,
    store_policy, stored_policy_path, PolicyChoice, PolicyChoiceError, StorePolicyError,
};
use crate::state::AppState;

/// Why a policy was not replaced. Statuses are chosen in `crate::http::error`.
#[derive(Debug, thiserror::Error)]
pub enum UpdateGraphError {
    #[error(transparent)]
    InvalidGraphId(#[from] GraphIdError),
    #[error("graph '{0}' is not registered")]
    NotFound(GraphId),
    #[error(transparent)]
    Policy(#[from] PolicyChoiceError),
    #[error("{0}")]
    Drift(String),
    #[error(transparent)]
    StorePolicy(#[from] StorePolicyError),
    #[error(transparent)]
    Rewrite(#[from] EditGraphFileError),
    #[error("internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Steps 3-8; returns the graph id.
pub async fn update_graph_policy(
    state: &AppState,
    raw_id: String,
    request: UpdateGraphRequest,
) -> Result<GraphId, UpdateGraphError> {
    let id = GraphId::try_from(raw_id)?;
    if state.registry.get(&id).is_none() {
        return Err(UpdateGraphError::NotFound(id));
    }
    let choice = choose_policy(
        &state.config,
        &state.auth,
        &state.registry,
        &id,
        &request.policy,
    )
    .await?;
    let config = state.config.clone();
    if let Some(drift) = tokio::task::spawn_blocking(move || config.check_drift()).await? {
        return Err(UpdateGraphError::Drift(drift.message));
    }

    let (as_written, stored) = match &choice {
        PolicyChoice::File { as_written, .. } => (as_written.clone(), None),
        PolicyChoice::Content(text) => {
            let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
            let as_written = stored_policy_path(&id, Some(&tag));
            let path = state.config.resolve(&as_written);
            let (target, text) = (path.clone(), text.clone());
            tokio::task::spawn_blocking(move || store_policy(&target, &text)).await??;
            (as_written, Some(path))
        }
    };
    let config = state.config.clone();
    let (target, file) = (id.clone(), as_written.clone());
    let rewrite = tokio::task::spawn_blocking(move || {
        config.set_graph_policy(&target, Some(PolicyRef { file }))
    })
    .await;
    let rewrite = match rewrite {
        Ok(Ok((previous, _))) => Ok(previous),
        Ok(Err(RewriteWithError::Update(EditGraphError::UnknownId(_)))) => {
            Err(UpdateGraphError::NotFound(id.clone()))
        }
        Ok(Err(e)) => Err(UpdateGraphError::Rewrite(e)),
        Err(join) => Err(UpdateGraphError::Task(join)),
    };
    let previous = match rewrite {
        Ok(previous) => previous,
        Err(e) => {
            if let Some(path) = &stored {
                remove_stored_policy(path).await;
            }
            return Err(e);
        }
    };
    if let Some(old) = previous {
        if !same_policy_file(&state.config, &old.file, &as_written) {
            remove_unused_stored_policy(&state.config, &id, &old.file).await;
        }
    }
    match state
        .registry
        .set_policy(&id, Some(choice.text().to_owned()))
    {
        Some(document) => {
            tracing::info!(graph_id = %id, generation = document.generation, "graph policy replaced");
            state
                .workers
                .wait_for(document.generation, state.push_wait)
                .await;
            Ok(id)
        }
        None => Err(UpdateGraphError::NotFound(id)),
    }
}
