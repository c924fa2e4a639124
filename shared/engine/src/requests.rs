//! The engine's entries for query text, one per request kind: [`read`] and [`change`].
//! Each takes the version to run on, compiles the text against that version's schema,
//! binds the parameters to the query's declarations and runs it. The HTTP handlers
//! (data-plane/src/server/handlers/read.rs, change.rs), the command line
//! (data-plane/src/cli/query.rs, mutate.rs), the benchmarks and the engine's tests all come
//! in here.
//!
//! What compiles is typed by kind: [`CompiledRead`] holds a read query and
//! [`CompiledMutation`] a mutation, so a mutation sent to a read (or a read sent to a
//! change) is refused when it is compiled, before any version is read or written.

use std::sync::Arc;

use omnigraph_lang::query::typed::{MutationStmt, ParamDecl, QueryBody, ReadQuery};
use omnigraph_lang::Catalog;
use serde_json::{Map, Value as Json};
use tracing::Instrument;

use crate::error::{EngineError, Result};
use crate::graph::{Graph, Snapshot};
use crate::mutate::{apply_mutation, MutationReport};
use crate::query::params::bind_params;
use crate::query::{run_read, QueryBudget, QueryResult};

/// Query text as a caller sent it: the source (one or more queries), which query of it to
/// run (optional when it holds one), and the name its errors give the source (a file's
/// path on the command line, `request` otherwise).
#[derive(Debug, Clone, Copy)]
pub struct QueryText<'a> {
    pub source: &'a str,
    pub name: Option<&'a str>,
    pub source_name: &'a str,
}

impl<'a> QueryText<'a> {
    pub fn new(source: &'a str, name: Option<&'a str>) -> Self {
        QueryText {
            source,
            name,
            source_name: omnigraph_lang::error::DEFAULT_SOURCE_NAME,
        }
    }

    /// The same text, its errors naming `source_name`.
    pub fn named(self, source_name: &'a str) -> Self {
        QueryText {
            source_name,
            ..self
        }
    }

    /// Parse and type-check the selected query against `catalog`. Its trace span is
    /// `compile` (README.md, "Observability").
    fn compile(&self, catalog: &Catalog) -> Result<(String, Vec<ParamDecl>, QueryBody)> {
        tracing::debug_span!("compile").in_scope(|| {
            let q =
                omnigraph_lang::compile_named(catalog, self.source, self.name, self.source_name)?;
            Ok((q.name, q.params, q.body))
        })
    }
}

/// A read query checked against a schema; nothing else compiles to it.
#[derive(Debug, Clone)]
pub struct CompiledRead {
    pub name: String,
    params: Vec<ParamDecl>,
    query: ReadQuery,
}

impl CompiledRead {
    /// Compile the selected query of `text`; a mutation is refused (400 at the HTTP edge).
    pub fn compile(catalog: &Catalog, text: QueryText<'_>) -> Result<Self> {
        match text.compile(catalog)? {
            (name, params, QueryBody::Read(query)) => Ok(CompiledRead {
                name,
                params,
                query,
            }),
            (name, _, QueryBody::Mutation(_)) => Err(EngineError::Invalid(format!(
                "query `{name}` is a mutation; run it as a mutation (mutate, POST /change)"
            ))),
        }
    }

    /// Run at `snap`'s version (which must have the schema it was compiled against) with
    /// `params` bound to its declarations, within `budget`.
    pub async fn run(
        &self,
        snap: &Snapshot,
        params: &Map<String, Json>,
        budget: &QueryBudget,
    ) -> Result<QueryResult> {
        let params = bind_params(&self.params, params)?;
        run_read(snap, &self.query, &params, budget).await
    }
}

/// A mutation checked against a schema; nothing else compiles to it.
#[derive(Debug, Clone)]
pub struct CompiledMutation {
    pub name: String,
    params: Vec<ParamDecl>,
    stmts: Vec<MutationStmt>,
}

impl CompiledMutation {
    /// Compile the selected query of `text`; a read is refused (400 at the HTTP edge).
    pub fn compile(catalog: &Catalog, text: QueryText<'_>) -> Result<Self> {
        match text.compile(catalog)? {
            (name, params, QueryBody::Mutation(stmts)) => Ok(CompiledMutation {
                name,
                params,
                stmts,
            }),
            (name, _, QueryBody::Read(_)) => Err(EngineError::Invalid(format!(
                "query `{name}` is a read; run it as a query (query, POST /read)"
            ))),
        }
    }

    /// Apply it with `params` bound to its declarations as one change of the branch
    /// `compiled_on` was read from, on that branch's head. `compiled_on` is the snapshot
    /// whose schema it was compiled against: when the head has another schema by the time
    /// the mutation is planned (a schema apply published meanwhile, through any process),
    /// it is refused with a schema conflict instead of being applied under a schema it was
    /// not checked against (shared/engine/src/mutate/group.rs). Its trace span is
    /// `execute`.
    pub async fn run(
        &self,
        compiled_on: &Snapshot,
        params: &Map<String, Json>,
        actor: &str,
    ) -> Result<MutationReport> {
        let params = bind_params(&self.params, params)?;
        apply_mutation(compiled_on, &self.stmts, params, actor)
            .instrument(tracing::debug_span!("execute"))
            .await
    }
}

/// The version a read runs on.
#[derive(Debug, Clone, Copy)]
pub enum ReadAt<'a> {
    /// A branch's head, or (`version`) an older version of the branch.
    Branch {
        branch: &'a str,
        version: Option<u64>,
    },
    /// The version a commit id names (`<chain>.<version>`).
    Commit(&'a str),
    /// The version a tag names.
    Tag(&'a str),
}

/// What a read returns: the query's name, the version it read, its rows.
pub struct ReadAnswer {
    pub query_name: String,
    pub snapshot: Snapshot,
    pub result: QueryResult,
}

/// Read: the version `at`, the query of `text` compiled against its schema (a mutation is
/// refused), `params` bound, run within `budget`.
pub async fn read(
    graph: &Arc<Graph>,
    at: ReadAt<'_>,
    text: QueryText<'_>,
    params: &Map<String, Json>,
    budget: &QueryBudget,
) -> Result<ReadAnswer> {
    let snapshot = match at {
        ReadAt::Branch { branch, version } => graph.snapshot_on(branch, version).await?,
        ReadAt::Commit(id) => graph.snapshot_at_commit(id).await?,
        ReadAt::Tag(name) => graph.snapshot_at_tag(name).await?,
    };
    let query = CompiledRead::compile(&snapshot.catalog, text)?;
    let result = query.run(&snapshot, params, budget).await?;
    Ok(ReadAnswer {
        query_name: query.name,
        snapshot,
        result,
    })
}

/// What a change returns: the mutation's name and what it published.
pub struct ChangeAnswer {
    pub query_name: String,
    pub report: MutationReport,
}

/// Change: the query of `text` compiled against the schema of `branch`'s head (a read is
/// refused), `params` bound, applied as one change of the branch by `actor`.
pub async fn change(
    graph: &Arc<Graph>,
    branch: &str,
    text: QueryText<'_>,
    params: &Map<String, Json>,
    actor: &str,
) -> Result<ChangeAnswer> {
    let head = graph.snapshot_on(branch, None).await?;
    let query = CompiledMutation::compile(&head.catalog, text)?;
    let report = query.run(&head, params, actor).await?;
    Ok(ChangeAnswer {
        query_name: query.name,
        report,
    })
}
