//! `graphs list|create --server URL`: the admin client. The bearer token comes from
//! `OMNIGRAPH_SERVER_BEARER_TOKEN`; output is a table, or JSON with `--json`.

use std::path::PathBuf;

use omnigraph_api::{
    CreateGraphRequest, ErrorBody, GraphInfo, GraphListResponse, GraphPolicySpec, SchemaSource,
};
use omnigraph_policy::ENV_BEARER_TOKEN;
use serde::de::DeserializeOwned;

use crate::cli::{CreateArgs, GraphsCommand, ListArgs, ServerArgs};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read {}: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("request to {url} failed: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered {status} ({code}): {message}")]
    Api {
        url: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{url} answered {status} with an unexpected body: {excerpt}")]
    UnexpectedBody {
        url: String,
        status: u16,
        excerpt: String,
    },
    #[error("cannot print JSON: {0}")]
    Json(#[from] serde_json::Error),
}

pub async fn run(command: GraphsCommand) -> Result<(), ClientError> {
    match command {
        GraphsCommand::List(args) => list(args).await,
        GraphsCommand::Create(args) => create(args).await,
    }
}

async fn list(args: ListArgs) -> Result<(), ClientError> {
    let url = endpoint(&args.server, "/graphs");
    let request = authorized(reqwest::Client::new().get(&url));
    let response: GraphListResponse = send(&url, request).await?;
    if args.server.json {
        println!("{}", serde_json::to_string_pretty(&response)?);
    } else {
        print_table(&response.graphs);
    }
    Ok(())
}

async fn create(args: CreateArgs) -> Result<(), ClientError> {
    let source = read(&args.schema)?;
    let policy = match (&args.policy_file, &args.policy_upload) {
        (Some(file), _) => Some(GraphPolicySpec {
            file: Some(file.clone()),
            content: None,
        }),
        (None, Some(local)) => Some(GraphPolicySpec {
            file: None,
            content: Some(read(local)?),
        }),
        (None, None) => None,
    };
    let body = CreateGraphRequest {
        graph_id: args.graph_id,
        uri: args.uri,
        schema: SchemaSource { source },
        policy,
    };
    let url = endpoint(&args.server, "/graphs");
    let request = authorized(reqwest::Client::new().post(&url).json(&body));
    let info: GraphInfo = send(&url, request).await?;
    if args.server.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        println!("created graph {} at {}", info.graph_id, info.uri);
    }
    Ok(())
}

fn read(path: &PathBuf) -> Result<String, ClientError> {
    std::fs::read_to_string(path).map_err(|source| ClientError::ReadFile {
        path: path.clone(),
        source,
    })
}

fn endpoint(server: &ServerArgs, path: &str) -> String {
    format!("{}{path}", server.server.trim_end_matches('/'))
}

fn authorized(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match std::env::var(ENV_BEARER_TOKEN) {
        Ok(token) if !token.trim().is_empty() => request.bearer_auth(token.trim()),
        _ => request,
    }
}

async fn send<T: DeserializeOwned>(
    url: &str,
    request: reqwest::RequestBuilder,
) -> Result<T, ClientError> {
    let http = |source| ClientError::Http {
        url: url.to_owned(),
        source,
    };
    let response = request.send().await.map_err(http)?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(http)?;
    if status.is_success() {
        if let Ok(value) = serde_json::from_slice(&bytes) {
            return Ok(value);
        }
    } else if let Ok(body) = serde_json::from_slice::<ErrorBody>(&bytes) {
        return Err(ClientError::Api {
            url: url.to_owned(),
            status: status.as_u16(),
            code: body.code.as_str().to_owned(),
            message: body.error,
        });
    }
    Err(ClientError::UnexpectedBody {
        url: url.to_owned(),
        status: status.as_u16(),
        excerpt: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
    })
}

fn print_table(graphs: &[GraphInfo]) {
    if graphs.is_empty() {
        println!("no graphs");
        return;
    }
    let width = graphs
        .iter()
        .map(|g| g.graph_id.len())
        .max()
        .unwrap_or(0)
        .max("GRAPH_ID".len());
    println!("{:<width$}  URI", "GRAPH_ID");
    for graph in graphs {
        println!("{:<width$}  {}", graph.graph_id, graph.uri);
    }
}
