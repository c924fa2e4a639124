//! Branch creation and merge time on a loaded standard graph (shared/bench/README.md):
//!
//!   scripts/bench_branch.sh (generates and loads the graph at two sizes, then runs this)
//!   branch_bench STORE [CHANGED_ROWS]     default 10000
//!
//! Prints: branch creation (median of 5), loading CHANGED_ROWS changed Person rows on a
//! branch, the fast-forward merge of that branch into main, and a three-way merge (main
//! changed one Person row meanwhile, so the Person table is merged row by row). Then
//! schema applies on main: a metadata-only migration (rename a property, add an optional
//! property and a type), a new `@range` (checked against every row), a new `@index` (built),
//! and a dropped property with `allow_data_loss` (the table rewritten without it).

use std::time::{Duration, Instant};

use omnigraph_engine::{load_on, ApplyOptions, Graph, LoadMode, MAIN};

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// CHANGED_ROWS Person rows p0.. with a new age (`salt` makes each batch differ).
fn changes(rows: usize, salt: u32) -> String {
    (0..rows)
        .map(|i| {
            format!(
                "{{\"type\":\"Person\",\"data\":{{\"uid\":\"p{i}\",\"name\":\"Person {i}\",\"age\":{},\"city\":\"Oslo\"}}}}\n",
                20 + (i as u32 + salt) % 50
            )
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let store = args
        .get(1)
        .ok_or("usage: branch_bench STORE [CHANGED_ROWS]")?;
    let rows: usize = args
        .get(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let graph = Graph::open(store).await?;
    let head = graph.snapshot(None).await?;
    let nodes = head
        .manifest
        .tables
        .get("node:Person")
        .map_or(0, |t| t.row_count);
    let edges = head
        .manifest
        .tables
        .get("edge:Knows")
        .map_or(0, |t| t.row_count);
    println!("graph: {nodes} Person nodes, {edges} Knows edges; {rows} changed rows per branch");

    let mut creations = vec![];
    for i in 0..5 {
        let t = Instant::now();
        graph
            .create_branch(&format!("bench/c{i}"), MAIN, "bench")
            .await?;
        creations.push(t.elapsed());
    }
    creations.sort();
    println!(
        "branch create: median {} (min {}, max {})",
        ms(creations[2]),
        ms(creations[0]),
        ms(creations[4])
    );

    let t = Instant::now();
    load_on(
        &graph,
        "bench/c0",
        changes(rows, 1).as_bytes(),
        LoadMode::Merge,
        "bench",
    )
    .await?;
    println!(
        "load {rows} changed rows on the branch: {}",
        ms(t.elapsed())
    );
    let t = Instant::now();
    let r = graph.merge("bench/c0", MAIN, "bench").await?;
    println!(
        "merge into main: {} in {} (tables: {})",
        r.outcome.as_str(),
        ms(t.elapsed()),
        r.tables_changed.join(", ")
    );

    // A branch made after that merge, so that only main's one change overlaps it.
    graph.create_branch("bench/three", MAIN, "bench").await?;
    load_on(
        &graph,
        "bench/three",
        changes(rows, 2).as_bytes(),
        LoadMode::Merge,
        "bench",
    )
    .await?;
    let one = format!(
        "{{\"type\":\"Person\",\"data\":{{\"uid\":\"p{}\",\"name\":\"changed on main\",\"age\":1,\"city\":\"Oslo\"}}}}\n",
        nodes.saturating_sub(1)
    );
    load_on(&graph, MAIN, one.as_bytes(), LoadMode::Merge, "bench").await?;
    let t = Instant::now();
    match graph.merge("bench/three", MAIN, "bench").await {
        Ok(r) => println!(
            "merge into main: {} in {} ({} rows moved; tables: {})",
            r.outcome.as_str(),
            ms(t.elapsed()),
            r.rows_merged,
            r.tables_changed.join(", ")
        ),
        Err(e) => println!("three-way merge failed after {}: {e}", ms(t.elapsed())),
    }

    let base = graph.snapshot(None).await?.manifest.schema_source.clone();
    let renamed = base.replace(
        "    city: String\n",
        "    town: String @rename_from(\"city\")\n    nick: String?\n",
    ) + "node City { name: String @key }\n";
    let ranged = renamed.replace("    age: I32\n", "    age: I32\n    @range(age, 0..200)\n");
    let indexed = ranged.replace("    name: String\n", "    name: String @index\n");
    let dropped = indexed.replace("    nick: String?\n", "");
    let soft = ApplyOptions::default();
    let hard = ApplyOptions {
        allow_data_loss: true,
        dry_run: false,
    };
    for (what, schema, opts) in [
        (
            "rename a property, add an optional property and a type",
            &renamed,
            soft,
        ),
        (
            "add @range(age, 0..200), checked on every row",
            &ranged,
            soft,
        ),
        ("add @index on name, built", &indexed, soft),
        (
            "drop a property with allow_data_loss (rewrite)",
            &dropped,
            hard,
        ),
    ] {
        let t = Instant::now();
        let r = graph.apply_schema(MAIN, schema, opts, "bench").await?;
        println!(
            "schema apply, {what}: {} ({} step(s))",
            ms(t.elapsed()),
            r.steps.len()
        );
    }
    Ok(())
}
