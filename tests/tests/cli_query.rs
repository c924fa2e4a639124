//! The embedded CLI's `query` and `mutate` verbs on a local graph: JSON and table output,
//! parameters, files with several queries, snapshot reads, errors, atomicity, and concurrent
//! mutations from several OS processes.

use omnigraph_e2e::*;
use serde_json::json;

const FRIENDS: &str =
    "query q() { match { $p: Person $p knows $f } return { $p.name, count($f) as friends } order { friends desc } }";

#[test]
fn query_json_prints_columns_and_rows() {
    let g = TempGraph::social();
    let out = dp_json(&["query", "--store", &g.store, "-e", FRIENDS, "--json"]);
    assert_eq!(
        out,
        json!({"columns": ["p.name", "friends"], "rows": [{"p.name": "Alice", "friends": 2}, {"p.name": "Bob", "friends": 1}]})
    );
}

#[test]
fn query_prints_an_aligned_table_by_default() {
    let g = TempGraph::social();
    let out = dp_ok(&["query", "--store", &g.store, "-e", FRIENDS]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "p.name  friends",
            "------  -------",
            "Alice   2",
            "Bob     1",
            "(2 rows)"
        ]
    );
}

#[test]
fn query_file_with_several_queries_runs_the_named_one_with_params() {
    let g = TempGraph::social();
    let file = g.write_file(
        "social.gq",
        "query friends_of($name: String) { match { $p: Person { name: $name } $p knows $f } return { $f.name } }\n\
         query employees_of($c: String) { match { $co: Company { name: $c } $p worksAt $co } return { $p.name } }\n",
    );
    let out = dp_json(&[
        "query",
        "--store",
        &g.store,
        "--file",
        &file,
        "--name",
        "employees_of",
        "--params",
        r#"{"c": "Acme"}"#,
        "--json",
    ]);
    assert_eq!(out["rows"], json!([{"p.name": "Alice"}, {"p.name": "Bob"}]));
    let r = dp(&["query", "--store", &g.store, "--file", &file]);
    assert_ne!(r.status, 0);
    assert!(
        r.stderr.contains("T15") && r.stderr.contains("social.gq"),
        "{}",
        r.stderr
    );
}

#[test]
fn query_at_an_older_version() {
    let g = TempGraph::social();
    let v = g.snapshot()["manifest_version"].as_u64().unwrap();
    dp_ok(&[
        "mutate",
        "--store",
        &g.store,
        "-e",
        r#"query q() { delete Person where name = "Alice" }"#,
    ]);
    let q = "query q() { match { $p: Person } return { count($p) as n } }";
    let now = dp_json(&["query", "--store", &g.store, "-e", q, "--json"]);
    assert_eq!(now["rows"], json!([{"n": 3}]));
    let old = dp_json(&[
        "query",
        "--store",
        &g.store,
        "-e",
        q,
        "--json",
        "--version",
        &v.to_string(),
    ]);
    assert_eq!(old["rows"], json!([{"n": 4}]));
}

#[test]
fn ill_typed_query_fails_with_a_positioned_error() {
    let g = TempGraph::social();
    let r = dp(&[
        "query",
        "--store",
        &g.store,
        "-e",
        "query q() {\n  match { $p: Persn }\n  return { $p.name }\n}",
    ]);
    assert_ne!(r.status, 0);
    assert!(
        r.stderr.contains("T1") && r.stderr.contains("2:"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn bad_parameters_fail_with_a_clear_message() {
    let g = TempGraph::social();
    let q = "query q($name: String) { match { $p: Person { name: $name } } return { $p.name } }";
    let missing = dp(&["query", "--store", &g.store, "-e", q]);
    assert_ne!(missing.status, 0);
    assert!(missing.stderr.contains("$name"), "{}", missing.stderr);
    let wrong = dp(&[
        "query",
        "--store",
        &g.store,
        "-e",
        q,
        "--params",
        r#"{"name": 5}"#,
    ]);
    assert_ne!(wrong.status, 0);
    assert!(wrong.stderr.contains("expected String"), "{}", wrong.stderr);
    let not_object = dp(&["query", "--store", &g.store, "-e", q, "--params", "[1]"]);
    assert_ne!(not_object.status, 0);
    assert!(
        not_object.stderr.contains("JSON object"),
        "{}",
        not_object.stderr
    );
}

#[test]
fn query_needs_text_or_file() {
    let g = TempGraph::social();
    assert_ne!(dp(&["query", "--store", &g.store]).status, 0);
}

#[test]
fn mutate_json_prints_the_report_and_the_change_is_visible() {
    let g = TempGraph::social();
    let before = g.snapshot()["manifest_version"].as_u64().unwrap();
    let q = "query add($name: String, $age: I32) { insert Person { name: $name, age: $age } insert Knows { from: $name, to: \"Alice\" } }";
    let report = dp_json(&[
        "mutate",
        "--store",
        &g.store,
        "-e",
        q,
        "--params",
        r#"{"name": "Eve", "age": 28}"#,
        "--json",
    ]);
    assert_eq!(report["version"], before + 1);
    assert_eq!(report["nodes_inserted"], 1);
    assert_eq!(report["edges_inserted"], 1);
    assert_eq!(report["affected_nodes"], 1);
    assert_eq!(report["affected_edges"], 1);
    let rows = dp_json(&["query", "--store", &g.store, "-e", "query q() { match { $p: Person { name: \"Eve\" } $p knows $f } return { $p.age, $f.name } }", "--json"]);
    assert_eq!(rows["rows"], json!([{"p.age": 28, "f.name": "Alice"}]));
}

#[test]
fn failed_mutation_exits_non_zero_and_leaves_no_trace() {
    let g = TempGraph::social();
    let before = g.export_sorted();
    let q = r#"query q() { insert Person { name: "Eve" } insert Knows { from: "Eve", to: "Alice" } insert WorksAt { from: "Alice", to: "Globex" } }"#;
    let r = dp(&["mutate", "--store", &g.store, "-e", q]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("@card"), "{}", r.stderr);
    assert_eq!(g.export_sorted(), before);
    assert_eq!(g.snapshot()["manifest_version"], 2);
}

#[test]
fn query_and_mutate_refuse_each_others_queries() {
    let g = TempGraph::social();
    let r = dp(&[
        "query",
        "--store",
        &g.store,
        "-e",
        r#"query q() { insert Person { name: "Eve" } }"#,
    ]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("mutation"), "{}", r.stderr);
    let r = dp(&[
        "mutate",
        "--store",
        &g.store,
        "-e",
        "query q() { match { $p: Person } return { $p.name } }",
    ]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("read"), "{}", r.stderr);
    assert_eq!(g.row_count("node:Person"), 4);
}

#[test]
fn concurrent_mutations_from_several_processes_lose_no_acknowledged_change() {
    let g = TempGraph::social();
    let q = "query add($name: String) { insert Person { name: $name } insert Knows { from: $name, to: \"Alice\" } }";
    let children: Vec<_> = (0..6)
        .map(|i| {
            let params = json!({"name": format!("P{i}")}).to_string();
            let child = data_plane()
                .args([
                    "mutate", "--store", &g.store, "-e", q, "--params", &params, "--json",
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn mutate");
            (format!("P{i}"), child)
        })
        .collect();
    let mut acknowledged = vec![];
    let mut refused = vec![];
    for (name, child) in children {
        let out: Run = child.wait_with_output().expect("wait for mutate").into();
        if out.status == 0 {
            acknowledged.push(name);
        } else {
            assert!(
                out.stderr.contains("conflict"),
                "a loser fails with a conflict: {}",
                out.stderr
            );
            refused.push(name);
        }
    }
    assert!(!acknowledged.is_empty());
    let people = dp_json(&[
        "query",
        "--store",
        &g.store,
        "-e",
        "query q() { match { $p: Person } return { $p.name } }",
        "--json",
    ]);
    let names: Vec<String> = people["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["p.name"].as_str().unwrap().to_string())
        .collect();
    for name in &acknowledged {
        assert!(
            names.contains(name),
            "acknowledged {name} is missing from {names:?}"
        );
    }
    for name in &refused {
        assert!(
            !names.contains(name),
            "refused {name} left a trace in {names:?}"
        );
    }
    assert_eq!(names.len(), 4 + acknowledged.len());
    let fans = dp_json(&["query", "--store", &g.store, "-e", "query q() { match { $a: Person { name: \"Alice\" } $p knows $a } return { count($p) as n } }", "--json"]);
    assert_eq!(fans["rows"], json!([{"n": acknowledged.len()}]));
}
