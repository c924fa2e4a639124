//! `compact`: compact a local graph's tables now (what a worker does by itself every
//! `--maintenance-interval-secs`; shared/engine/src/maintenance.rs). Safe beside live
//! writers: a write racing it is never refused.

use clap::builder::TypedValueParser;
use clap::Args;
use omnigraph_engine::maintenance::{compact, CompactionPolicy};
use omnigraph_engine::Graph;

use super::{print_json, CliError};

#[derive(Debug, Args)]
pub struct CompactArgs {
    #[arg(long)]
    pub store: String,
    /// Branch (default main).
    #[arg(long, default_value = omnigraph_engine::MAIN)]
    pub branch: String,
    /// Merge a table's small fragments (under 4,096 rows) once it has at least this many
    /// fragments; bigger ones by size tier, and fragments with deleted rows, regardless.
    #[arg(long, default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(2..).map(|n| n as usize))]
    pub min_fragments: usize,
    #[arg(long)]
    pub json: bool,
}

pub async fn run(a: CompactArgs) -> Result<(), CliError> {
    let graph = Graph::open(&a.store).await?;
    let policy = CompactionPolicy {
        min_fragments: a.min_fragments,
    };
    let report = compact(&graph, &a.branch, &policy).await?;
    if a.json {
        return print_json(&report);
    }
    match report.version {
        None if report.gave_way => println!(
            "gave way: writers published to {} first on every attempt; nothing published",
            report.branch
        ),
        None => println!("nothing to compact on {}", report.branch),
        Some(version) => {
            println!(
                "compacted {} table(s) into version {version}",
                report.tables.len()
            );
            for t in &report.tables {
                println!(
                    "  {:<32} {:>6} -> {:<4} fragments  {:>12} rows  {:>12} rewritten",
                    t.table_key, t.fragments_before, t.fragments_after, t.rows, t.rows_rewritten
                );
            }
        }
    }
    Ok(())
}
