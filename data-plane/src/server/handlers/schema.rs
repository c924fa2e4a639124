//! `GET /schema` and `POST /schema/apply`.

use crate::server::error::HttpError;
use omnigraph_api::{
    BranchQuery, ErrorBody, SchemaApplyRequest, SchemaApplyResponse, SchemaResponse, SchemaStep,
    SchemaStepKind,
};
use omnigraph_engine::ApplyOptions;
use omnigraph_http::{ApiError, ApiJson, ApiQuery};
use omnigraph_lang::MigrationStep;
use omnigraph_policy::{PolicyAction, RequestContext};

use crate::server::auth::{branch_or_main, GraphAccess};

#[utoipa::path(
    get,
    path = "/schema",
    operation_id = "schema_get",
    tag = "graph",
    summary = "The accepted schema text",
    security(("bearer_token" = [])),
    params(BranchQuery),
    responses(
        (status = 200, description = "The schema of the branch head", body = SchemaResponse),
        (status = 400, description = "Invalid graph id in the path (multi mode), or an invalid query string or branch name", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow this", body = ErrorBody),
        (status = 404, description = "Unknown graph or branch", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn schema(
    access: GraphAccess,
    query: Result<ApiQuery<BranchQuery>, ApiError>,
) -> Result<ApiJson<SchemaResponse>, HttpError> {
    let (auth, query) = access.authorize_body(PolicyAction::Read, query.map(|q| q.0), |q| {
        RequestContext::on_branch(branch_or_main(q.branch.as_deref()))
    })?;
    let graph = auth.graph.graph().await?;
    let snap = graph
        .snapshot_on(branch_or_main(query.branch.as_deref()), None)
        .await?;
    Ok(ApiJson(SchemaResponse {
        schema_source: snap.manifest.schema_source.clone(),
    }))
}

#[utoipa::path(
    post,
    path = "/schema/apply",
    operation_id = "schema_apply",
    tag = "graph",
    summary = "Migrate a branch to a new schema",
    description = "Diffs the new schema against the branch head's into steps (add/drop/rename \
    type or property, nullability, enum values, indexes, constraints) and applies them as ONE \
    new version. Renames are declared with `@rename_from(\"old\")`. Unsupported changes (a \
    property's type, a node's key, an edge's endpoints) and steps the stored rows break (a \
    property made required while rows lack it, a new rule rows violate) refuse the whole \
    apply with 400 naming them; nothing is written. Dropped data stays readable at earlier \
    versions unless `allow_data_loss` is set. `dry_run` plans and checks without publishing.",
    security(("bearer_token" = [])),
    request_body = SchemaApplyRequest,
    responses(
        (status = 200, description = "Applied (or nothing to change, or a dry run)", body = SchemaApplyResponse),
        (status = 400, description = "Invalid graph id in the path (multi mode), a body that does not parse, a schema that does not parse or validate, an unsupported change, or a step the stored rows break", body = ErrorBody),
        (status = 401, description = "Missing, malformed or unknown bearer token", body = ErrorBody),
        (status = 403, description = "The graph's policy does not allow `schema_apply` on the branch", body = ErrorBody),
        (status = 404, description = "Unknown graph or branch", body = ErrorBody),
        (status = 409, description = "Another writer published on the branch during the apply (`manifest_conflict`): apply again", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 429, description = "The actor has too many writes in flight on this worker (admission control); retry after `Retry-After` seconds", body = ErrorBody),
        (status = 503, description = "The graph's object store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn apply(
    access: GraphAccess,
    body: Result<ApiJson<SchemaApplyRequest>, ApiError>,
) -> Result<ApiJson<SchemaApplyResponse>, HttpError> {
    let (auth, req) = access.authorize_body(PolicyAction::SchemaApply, body.map(|b| b.0), |r| {
        RequestContext::none().with_target_branch(branch_or_main(r.branch.as_deref()))
    })?;
    let graph = auth.graph.graph().await?;
    let branch = branch_or_main(req.branch.as_deref()).to_owned();
    let opts = ApplyOptions {
        allow_data_loss: req.allow_data_loss,
        dry_run: req.dry_run,
    };
    let report = graph
        .apply_schema(&branch, &req.schema_source, opts, auth.actor_name())
        .await?;
    Ok(ApiJson(SchemaApplyResponse {
        branch,
        applied: report.applied,
        dry_run: req.dry_run,
        manifest_version: report.manifest_version,
        steps: report.steps.iter().filter_map(wire_step).collect(),
        deleted_paths: report.deleted_paths,
        kept_paths: report.kept_paths,
        actor_id: auth.actor_id(),
    }))
}

/// The wire form of a step (unsupported steps never reach a report: they refuse the apply).
pub fn wire_step(step: &MigrationStep) -> Option<SchemaStep> {
    let kind = match step {
        MigrationStep::AddType { .. } => SchemaStepKind::AddType,
        MigrationStep::DropType { .. } => SchemaStepKind::DropType,
        MigrationStep::RenameType { .. } => SchemaStepKind::RenameType,
        MigrationStep::AddProperty { .. } => SchemaStepKind::AddProperty,
        MigrationStep::DropProperty { .. } => SchemaStepKind::DropProperty,
        MigrationStep::RenameProperty { .. } => SchemaStepKind::RenameProperty,
        MigrationStep::SetNullable { .. } => SchemaStepKind::SetNullable,
        MigrationStep::ExtendEnum { .. } => SchemaStepKind::ExtendEnum,
        MigrationStep::AddIndex { .. } => SchemaStepKind::AddIndex,
        MigrationStep::DropIndex { .. } => SchemaStepKind::DropIndex,
        MigrationStep::AddConstraint { .. } => SchemaStepKind::AddConstraint,
        MigrationStep::DropConstraint { .. } => SchemaStepKind::DropConstraint,
        MigrationStep::Unsupported { .. } => return None,
    };
    Some(SchemaStep {
        kind,
        table_key: step.table_key()?,
        description: step.to_string(),
    })
}
