//! `GET /openapi.json`: the worker's wire types (public).

use omnigraph_api::{
    ApiJson, ChangeRequest, ChangeResponse, ErrorBody, ExportRequest, HealthResponse,
    IngestRequest, IngestResponse, ReadRequest, ReadResponse, RegistryAck, RegistryDocument,
    SchemaResponse, SnapshotResponse,
};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Omnigraph data plane",
        description = "Graph routes of a data-plane worker: \
        /read (/query), /change (/mutate), /ingest (/load), /schema, /snapshot, /export; \
        flat in single mode, under /graphs/{graph_id} in multi mode."
    ),
    components(schemas(
        ReadRequest,
        ReadResponse,
        ChangeRequest,
        ChangeResponse,
        IngestRequest,
        IngestResponse,
        SchemaResponse,
        SnapshotResponse,
        ExportRequest,
        HealthResponse,
        RegistryDocument,
        RegistryAck,
        ErrorBody
    ))
)]
pub struct ApiDoc;

pub async fn openapi_json() -> ApiJson<utoipa::openapi::OpenApi> {
    ApiJson(ApiDoc::openapi())
}
