use clap::Args;
use omnigraph_engine::{Graph, QueryBudget, QueryResult, QueryText, ReadAt};
use serde_json::Value;

use super::query_source::QuerySourceArgs;
use super::{print_json, CliError};

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[arg(long)]
    pub store: String,
    #[command(flatten)]
    pub source: QuerySourceArgs,
    /// Print `{ "columns": [...], "rows": [...] }` instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Read at this graph version instead of the latest.
    #[arg(long)]
    pub version: Option<u64>,
    /// Branch (default main).
    #[arg(long, default_value = omnigraph_engine::MAIN)]
    pub branch: String,
    /// Read the commit this tag names instead of a branch.
    #[arg(long, conflicts_with_all = ["version", "branch"])]
    pub tag: Option<String>,
}

pub async fn run(a: QueryArgs) -> Result<(), CliError> {
    let graph = Graph::open(&a.store).await?;
    let at = match &a.tag {
        Some(tag) => ReadAt::Tag(tag),
        None => ReadAt::Branch {
            branch: &a.branch,
            version: a.version,
        },
    };
    let (source, source_name) = a.source.source()?;
    let text = QueryText::new(&source, a.source.name.as_deref()).named(&source_name);
    let params = a.source.params()?;
    let unlimited = QueryBudget::unlimited();
    let result = omnigraph_engine::read(&graph, at, text, &params, &unlimited)
        .await?
        .result;
    if a.json {
        return print_json(&result);
    }
    print!("{}", render_table(&result));
    Ok(())
}

/// The rows as an aligned text table, then the row count.
fn render_table(result: &QueryResult) -> String {
    let cells: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|row| {
            result
                .columns
                .iter()
                .map(|c| cell_text(row.get(c).unwrap_or(&Value::Null)))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = result
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: &[String]| -> String {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&result.columns);
    out.push_str(&line(
        &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
    ));
    for row in &cells {
        out.push_str(&line(row));
    }
    let n = result.rows.len();
    out.push_str(&format!("({n} row{})\n", if n == 1 { "" } else { "s" }));
    out
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
