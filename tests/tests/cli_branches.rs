//! The embedded CLI on branches: `branch create|list|delete|merge`, `commits`, and
//! `--branch` on query, mutate, load, snapshot and export, run as separate processes.

use omnigraph_e2e::*;

const NAMES: &str =
    "query names() { match { $p: Person } return { $p.name } order { $p.name asc } }";

fn names(store: &str, branch: &str) -> Vec<String> {
    let out = dp_json(&[
        "query", "--store", store, "--branch", branch, "-e", NAMES, "--json",
    ]);
    out["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["p.name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn branch_verbs_work_end_to_end_in_separate_processes() {
    let g = TempGraph::new("social.pg");
    let s = g.store.as_str();
    let created = dp_json(&["branch", "create", "agent/x", "--store", s, "--json"]);
    assert_eq!(created["name"], "agent/x");

    dp_ok(&[
        "mutate",
        "--store",
        s,
        "--branch",
        "agent/x",
        "-e",
        "query add() { insert Person { name: \"Xena\" } }",
    ]);
    let data = g.write_file(
        "more.jsonl",
        "{\"type\": \"Person\", \"data\": {\"name\": \"Yuri\"}}\n",
    );
    dp_ok(&[
        "load", "--store", s, "--data", &data, "--mode", "append", "--branch", "feature", "--from",
        "agent/x",
    ]);
    assert_eq!(names(s, "agent/x"), ["Xena"]);
    assert_eq!(names(s, "feature"), ["Xena", "Yuri"]);
    assert!(names(s, "main").is_empty());

    let snap = dp_json(&["snapshot", "--store", s, "--branch", "feature", "--json"]);
    assert_eq!(snap["branch"], "feature");
    let export = dp_ok(&["export", "--store", s, "--branch", "feature"]);
    assert_eq!(export.lines().count(), 2, "{export}");

    let list = dp_json(&["branch", "list", "--store", s, "--json"]);
    let listed: Vec<&str> = list["branches"]
        .as_array()
        .expect("branches")
        .iter()
        .map(|b| b["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(listed, ["main", "agent/x", "feature"]);

    let log = dp_json(&["commits", "--store", s, "--branch", "feature", "--json"]);
    let head = log["commits"][0]["id"].as_str().expect("head").to_owned();
    let one = dp_json(&["commits", "--store", s, "--id", &head, "--json"]);
    assert_eq!(one["commits"][0], log["commits"][0]);

    let merged = dp_json(&["branch", "merge", "feature", "--store", s, "--json"]);
    assert_eq!(merged["outcome"], "fast_forward");
    assert_eq!(names(s, "main"), ["Xena", "Yuri"]);
    let again = dp_json(&["branch", "merge", "feature", "--store", s, "--json"]);
    assert_eq!(again["outcome"], "up_to_date");

    dp_ok(&["branch", "delete", "feature", "--store", s]);
    let r = dp(&["query", "--store", s, "--branch", "feature", "-e", NAMES]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("feature"), "{}", r.stderr);
}

#[test]
fn branch_verbs_fail_with_clear_messages() {
    let g = TempGraph::new("social.pg");
    let s = g.store.as_str();
    for (args, needle) in [
        (
            vec!["branch", "create", "bad name", "--store", s],
            "invalid branch name",
        ),
        (
            vec!["branch", "create", "x", "--from", "nowhere", "--store", s],
            "nowhere",
        ),
        (vec!["branch", "delete", "main", "--store", s], "main"),
        (vec!["branch", "merge", "nowhere", "--store", s], "nowhere"),
        (
            vec![
                "mutate",
                "--store",
                s,
                "--branch",
                "nowhere",
                "-e",
                "query a() { insert Person { name: \"A\" } }",
            ],
            "nowhere",
        ),
        (vec!["commits", "--store", s, "--id", "main.999"], "999"),
    ] {
        let r = dp(&args);
        assert_ne!(r.status, 0, "{args:?} succeeded");
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
    }
    dp_ok(&["branch", "create", "dup", "--store", s]);
    let r = dp(&["branch", "create", "dup", "--store", s]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("dup"), "{}", r.stderr);
}
