//! Omnigraph's published cookbooks, unchanged (tests/fixtures/industry-intel and
//! tests/fixtures/second-brain: schema.pg, seed.jsonl and queries/*.gq as published in the
//! MIT-licensed ModernRelay/omnigraph-cookbooks; tests/fixtures/COOKBOOKS-LICENSE):
//!
//! - the seed loads with `omnigraph-data-plane load`;
//! - every read query of the queries folder runs through the CLI and through a worker, with
//!   parameters taken from the seed (`derive_params`), and both answer the same rows;
//! - `export`, loaded into a new graph, exports the same rows, ids included.
//!
//! `OMNIGRAPH_COOKBOOK_DIRS` (colon-separated folders of the same layout) runs the same
//! checks on other cookbooks: `cargo test --test e2e cookbooks_from_the_environment --
//! --ignored`, how the other published ones (pharma-intel, vc-os) were checked by hand.
//!
//! Chunk vectors in these schemas are 3072-dimensional: the local model runs as a stand-in
//! of that width (`Embedder::start_tiled(8)`, tests/embedder/server.py).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use omnigraph_e2e::*;
use omnigraph_lang::query::ast::{BodyAst, ClauseAst, OperandAst, SearchArgAst};
use omnigraph_lang::types::TypeExprKind;
use omnigraph_lang::Catalog;
use serde_json::{json, Map, Value};

/// Up to `CANDIDATES` distinct non-null values of each (node type, property) in a seed, in
/// seed order, `id` included.
fn seed_values(seed: &str) -> HashMap<(String, String), Vec<Value>> {
    let mut values: HashMap<(String, String), Vec<Value>> = HashMap::new();
    for line in seed.lines().filter(|l| !l.trim().is_empty()) {
        let row: Value = serde_json::from_str(line).expect("seed line is JSON");
        let Some(node_type) = row["type"].as_str() else {
            continue;
        };
        if let Some(data) = row["data"].as_object() {
            for (prop, value) in data {
                let seen = values
                    .entry((node_type.to_string(), prop.clone()))
                    .or_default();
                if !value.is_null() && seen.len() < CANDIDATES && !seen.contains(value) {
                    seen.push(value.clone());
                }
            }
        }
    }
    values
}

/// How many seed values a parameter tries before its read is taken as finding no rows.
const CANDIDATES: usize = 6;

/// A value of a parameter's declared type, for parameters the seed does not give.
fn default_value(kind: &TypeExprKind) -> Value {
    match kind {
        TypeExprKind::Named(name) => match name.as_str() {
            "String" => json!("x"),
            "Bool" => json!(true),
            "I32" | "I64" | "U32" | "U64" => json!(1),
            "F32" | "F64" => json!(0.5),
            "Date" => json!("2026-01-01"),
            "DateTime" => json!("2026-01-01T00:00:00Z"),
            _ => Value::Null,
        },
        TypeExprKind::List(_) => json!([]),
        TypeExprKind::Enum(values) => json!(values[0].name),
        TypeExprKind::Vector(n) => json!(vec![0.1f32; *n as usize]),
    }
}

/// Where parameters meet properties in a read's clauses: `$x: T { prop: $p }`,
/// `$x.prop op $p` (either way round) and search calls over `$x.prop` with `$p`.
struct Uses<'a> {
    catalog: &'a Catalog,
    var_types: HashMap<String, String>,
    /// parameter -> (node type, property)
    found: HashMap<String, (String, String)>,
}

impl Uses<'_> {
    fn clauses(&mut self, clauses: &[ClauseAst]) {
        // Variable types first (a filter may precede the traversal that types its variable).
        for clause in clauses {
            match clause {
                ClauseAst::Bind { var, node_type, .. } => {
                    self.var_types
                        .insert(var.name.clone(), node_type.name.clone());
                }
                ClauseAst::Traverse { src, edge, dst, .. } => {
                    if let Some(e) = self.catalog.edge_by_query_name(&edge.name) {
                        self.var_types
                            .entry(src.name.clone())
                            .or_insert_with(|| e.from.clone());
                        self.var_types
                            .entry(dst.name.clone())
                            .or_insert_with(|| e.to.clone());
                    }
                }
                _ => {}
            }
        }
        for clause in clauses {
            match clause {
                ClauseAst::Bind {
                    node_type, props, ..
                } => {
                    for (prop, operand) in props {
                        if let OperandAst::Param(p) = operand {
                            self.note(&p.name, &node_type.name, &prop.name);
                        }
                    }
                }
                ClauseAst::Filter { lhs, rhs, .. } => {
                    for (a, b) in [(lhs, rhs), (rhs, lhs)] {
                        if let (OperandAst::Prop { var, prop }, OperandAst::Param(p)) = (a, b) {
                            if let Some(t) = self.var_types.get(&var.name).cloned() {
                                self.note(&p.name, &t, &prop.name);
                            }
                        }
                    }
                }
                ClauseAst::Not { clauses, .. } => self.clauses(clauses),
                ClauseAst::Search(call) => self.search(&call.args),
                _ => {}
            }
        }
    }

    fn search(&mut self, args: &[SearchArgAst]) {
        let mut target = None;
        for arg in args {
            match arg {
                SearchArgAst::Operand(OperandAst::Prop { var, prop }) => {
                    target = self
                        .var_types
                        .get(&var.name)
                        .map(|t| (t.clone(), prop.name.clone()));
                }
                SearchArgAst::Operand(OperandAst::Param(p)) => {
                    if let Some((t, prop)) = target.clone() {
                        self.note(&p.name, &t, &prop);
                    }
                }
                SearchArgAst::Call(call) => self.search(&call.args),
                _ => {}
            }
        }
    }

    fn note(&mut self, param: &str, node_type: &str, prop: &str) {
        self.found
            .entry(param.to_string())
            .or_insert_with(|| (node_type.to_string(), prop.to_string()));
    }
}

/// Parameters for one read query: for each, a seed value of the property it is compared
/// with (the `attempt`-th candidate; a list's first item where a scalar is wanted), else a
/// value of its declared type.
fn derive_params(
    catalog: &Catalog,
    decl: &omnigraph_lang::QueryDecl,
    seed: &HashMap<(String, String), Vec<Value>>,
    attempt: usize,
) -> Value {
    let mut uses = Uses {
        catalog,
        var_types: HashMap::new(),
        found: HashMap::new(),
    };
    if let BodyAst::Read(read) = &decl.body {
        uses.clauses(&read.clauses);
        for item in read.order.iter() {
            if let omnigraph_lang::query::ast::ExprAst::Search(call) = &item.expr {
                uses.search(&call.args);
            }
        }
        for item in read.returns.iter() {
            if let omnigraph_lang::query::ast::ExprAst::Search(call) = &item.expr {
                uses.search(&call.args);
            }
        }
    }
    let mut params = Map::new();
    for param in &decl.params {
        let is_list = matches!(param.ty.kind, TypeExprKind::List(_));
        let from_seed = uses
            .found
            .get(&param.name.name)
            .and_then(|key| seed.get(key))
            .and_then(|candidates| candidates.get(attempt % candidates.len().max(1)))
            .map(|v| match v {
                Value::Array(items) if !is_list => items.first().cloned().unwrap_or(Value::Null),
                other => other.clone(),
            })
            .filter(|v| !v.is_null());
        let value = from_seed.unwrap_or_else(|| default_value(&param.ty.kind));
        params.insert(param.name.name.clone(), value);
    }
    Value::Object(params)
}

/// What running a cookbook's reads found.
struct Ran {
    reads: usize,
    with_rows: usize,
    /// The reads that found no rows, with their parameters.
    empty: Vec<String>,
}

/// Loads `dir`'s seed into a new graph with the CLI, runs every read query of its queries
/// folder through the CLI and a worker (same rows), and checks the export round trip.
fn run_cookbook(dir: &Path, embedder: &Embedder) -> Ran {
    let schema_text = std::fs::read_to_string(dir.join("schema.pg")).expect("schema.pg");
    let seed_text = std::fs::read_to_string(dir.join("seed.jsonl")).expect("seed.jsonl");
    let catalog = omnigraph_lang::parse_schema(&schema_text).expect("the schema validates");
    let seed = seed_values(&seed_text);
    let env = embedder.env();
    let cli = |args: &[&str]| -> Run {
        let mut c = data_plane();
        c.args(args);
        for (k, v) in &env {
            c.env(k, v);
        }
        c.output().expect("run the CLI").into()
    };

    let g = TempGraph::new(dir.join("schema.pg").to_str().expect("utf-8 path"));
    let seed_path = dir.join("seed.jsonl");
    let r = cli(&[
        "load",
        "--data",
        seed_path.to_str().expect("utf-8"),
        "--mode",
        "overwrite",
        "--store",
        &g.store,
    ]);
    assert_eq!(r.status, 0, "{}: load: {}", dir.display(), r.stderr);

    let env_pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dp = DataPlane::single_mode(&g, "", &["--unauthenticated"], &env_pairs);
    let mut ran = Ran {
        reads: 0,
        with_rows: 0,
        empty: Vec::new(),
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("queries"))
        .expect("queries folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "gq"))
        .collect();
    files.sort();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("query file");
        let decls = omnigraph_lang::query::parse_queries(&source).expect("queries parse");
        for decl in decls.iter().filter(|d| matches!(d.body, BodyAst::Read(_))) {
            let name = &decl.name.name;
            // The first candidate parameters that find rows through the worker, else the
            // first ones.
            let mut params = derive_params(&catalog, decl, &seed, 0);
            for attempt in 0..CANDIDATES {
                let candidate = derive_params(&catalog, decl, &seed, attempt);
                let (s, body) = dp.post(
                    "/read",
                    &json!({"query_source": source, "query_name": name, "params": candidate}),
                    None,
                );
                let found = s == 200 && body["rows"].as_array().is_some_and(|r| !r.is_empty());
                if found {
                    params = candidate;
                    break;
                }
            }
            let what = format!("{}: {name}({params})", file.display());
            let r = cli(&[
                "query",
                "--store",
                &g.store,
                "--file",
                file.to_str().expect("utf-8"),
                "--name",
                name,
                "--params",
                &params.to_string(),
                "--json",
            ]);
            assert_eq!(r.status, 0, "{what} through the CLI: {}", r.stderr);
            let out: Value = serde_json::from_str(&r.stdout).expect("CLI JSON");
            let (s, body) = dp.post(
                "/read",
                &json!({"query_source": source, "query_name": name, "params": params}),
                None,
            );
            assert_eq!(s, 200, "{what} through a worker: {body}");
            assert_eq!(body["rows"], out["rows"], "{what}: worker and CLI differ");
            ran.reads += 1;
            if body["rows"].as_array().is_some_and(|rows| !rows.is_empty()) {
                ran.with_rows += 1;
            } else {
                ran.empty.push(what);
            }
        }
    }
    drop(dp);

    // Export, load into a new graph, export again: the same rows, ids included.
    let exported = g.export_sorted();
    let copy = TempGraph::new(dir.join("schema.pg").to_str().expect("utf-8 path"));
    let dump = copy.write_file("export.jsonl", &(exported.join("\n") + "\n"));
    let r = cli(&[
        "load",
        "--data",
        &dump,
        "--mode",
        "overwrite",
        "--store",
        &copy.store,
    ]);
    assert_eq!(
        r.status,
        0,
        "{}: reload of the export: {}",
        dir.display(),
        r.stderr
    );
    assert_eq!(
        copy.export_sorted(),
        exported,
        "{}: export round trip",
        dir.display()
    );
    let seed_lines = seed_text.lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(
        exported.len(),
        seed_lines,
        "{}: every seed row exported",
        dir.display()
    );
    ran
}

/// Runs one cookbook fixture and checks that most of its reads find rows.
fn check_fixture(name: &str) {
    let embedder = Embedder::start_tiled(8);
    let ran = run_cookbook(&fixture(name), &embedder);
    eprintln!(
        "{name}: {} reads, {} with rows; empty: {:#?}",
        ran.reads, ran.with_rows, ran.empty
    );
    assert!(ran.reads >= 10, "{} reads", ran.reads);
    assert!(
        ran.with_rows * 2 > ran.reads,
        "most reads find rows with seed parameters: {} of {}",
        ran.with_rows,
        ran.reads
    );
}

#[test]
fn industry_intel_loads_and_every_read_runs() {
    check_fixture("industry-intel");
}

#[test]
fn second_brain_loads_and_every_read_runs() {
    check_fixture("second-brain");
}

#[test]
#[ignore = "by hand: OMNIGRAPH_COOKBOOK_DIRS names cookbooks outside the repository"]
fn cookbooks_from_the_environment() {
    let dirs = std::env::var_os("OMNIGRAPH_COOKBOOK_DIRS")
        .expect("OMNIGRAPH_COOKBOOK_DIRS: colon-separated cookbook folders");
    let embedder = Embedder::start_tiled(8);
    for dir in std::env::split_paths(&dirs) {
        let ran = run_cookbook(&dir, &embedder);
        eprintln!(
            "{}: {} reads, {} with rows",
            dir.display(),
            ran.reads,
            ran.with_rows
        );
    }
}
