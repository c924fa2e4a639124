//! `graphs list|create|get|delete|update --server URL`: the admin client. The bearer token comes from
//! `OMNIGRAPH_SERVER_BEARER_TOKEN`; output is a table, or JSON with `--json`.

use std::path::PathBuf;

use omnigraph_api::{
    CreateGraphRequest, DeleteGraphResponse, ErrorBody, GraphDetails, GraphInfo, GraphListResponse,
    GraphPolicySpec, SchemaSource, UpdateGraphRequest,
};
use omnigraph_policy::ENV_BEARER_TOKEN;
use serde::de::DeserializeOwned;

use crate::cli::{
    CreateArgs, DeleteArgs, GraphArgs, GraphsCommand, ListArgs, PolicyArgs, ServerArgs, UpdateArgs,
};

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
    #[error("{0}")]
    Usage(String),
}

pub async fn run(command: GraphsCommand) -> Result<(), ClientError> {
    match command {
        GraphsCommand::List(args) => list(args).await,
        GraphsCommand::Create(args) => create(args).await,
        GraphsCommand::Get(args) => get(args).await,
        GraphsCommand::Delete(args) => delete(args).await,
        GraphsCommand::Update(args) => update(args).await,
    }
}

fn graph_url(args: &GraphArgs) -> String {
    endpoint(&args.server, &format!("/graphs/{}", args.graph_id))
}

async fn get(args: GraphArgs) -> Result<(), ClientError> {
    let url = graph_url(&args);
    let details: GraphDetails = send(&url, authorized(reqwest::Client::new().get(&url))).await?;
    print_details(&details, args.server.json)
}

async fn delete(args: DeleteArgs) -> Result<(), ClientError> {
    let url = graph_url(&args.graph);
    let request = reqwest::Client::new()
        .delete(&url)
        .query(&[("purge", args.purge)]);
    let deleted: DeleteGraphResponse = send(&url, authorized(request)).await?;
    if args.graph.server.json {
        println!("{}", serde_json::to_string_pretty(&deleted)?);
    } else {
        let storage = if deleted.purged {
            "storage purged".to_owned()
        } else {
            format!("storage tombstoned at {}", deleted.uri)
        };
        println!(
            "deleted graph {} ({storage}; registry generation {})",
            deleted.graph_id, deleted.registry_generation
        );
    }
    Ok(())
}

async fn update(args: UpdateArgs) -> Result<(), ClientError> {
    let Some(policy) = policy_spec(&args.policy)? else {
        return Err(ClientError::Usage(
            "give the new policy with --policy-file or --policy-upload".into(),
        ));
    };
    let url = graph_url(&args.graph);
    let request = reqwest::Client::new()
        .patch(&url)
        .json(&UpdateGraphRequest { policy });
    let details: GraphDetails = send(&url, authorized(request)).await?;
    print_details(&details, args.graph.server.json)
}

fn policy_spec(args: &PolicyArgs) -> Result<Option<GraphPolicySpec>, ClientError> {
    Ok(match (&args.policy_file, &args.policy_upload) {
        (Some(file), _) => Some(GraphPolicySpec {
            file: Some(file.clone()),
            content: None,
        }),
        (None, Some(local)) => Some(GraphPolicySpec {
            file: None,
            content: Some(read(local)?),
        }),
        (None, None) => None,
    })
}

fn print_details(details: &GraphDetails, json: bool) -> Result<(), ClientError> {
    if json {
        println!("{}", serde_json::to_string_pretty(details)?);
        return Ok(());
    }
    println!("graph             {}", details.graph_id);
    println!("uri               {}", details.uri);
    println!("schema sha256     {}", details.schema_sha256);
    println!("manifest version  {}", details.manifest_version);
    match &details.policy {
        Some(p) => println!(
            "policy            sha256 {} rules {}",
            p.sha256,
            p.rule_ids.join(", ")
        ),
        None => println!("policy            none"),
    }
    println!(
        "registry          generation {} (graph since {})",
        details.registry_generation, details.since_generation
    );
    for table in &details.tables {
        println!(
            "table             {:<24} {} rows",
            table.table_key, table.row_count
        );
    }
    for w in &details.workers {
        let acked = w
            .acknowledged_generation
            .map_or("none".to_owned(), |g| g.to_string());
        let serving = if w.serving {
            "serving"
        } else {
            "not yet serving"
        };
        println!(
            "worker            {} {} acked {acked}, {serving}",
            w.worker_id, w.url
        );
    }
    Ok(())
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
    let policy = policy_spec(&args.policy)?;
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
