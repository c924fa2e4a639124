//! The embedded CLI on a local graph: init, load in every mode, snapshot, schema, export,
//! atomicity of failed loads, and concurrent loads from several OS processes.

use omnigraph_e2e::*;

#[test]
fn init_creates_empty_tables_at_version_1() {
    let g = TempGraph::new("social.pg");
    let snap = g.snapshot();
    assert_eq!(snap["manifest_version"], 1);
    let keys: Vec<&str> = snap["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table_key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["edge:Knows", "edge:WorksAt", "node:Company", "node:Person"]
    );
    assert!(snap["tables"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["row_count"] == 0));
}

#[test]
fn init_refuses_a_store_that_already_holds_a_graph() {
    let g = TempGraph::new("social.pg");
    let r = dp(&[
        "init",
        "--schema",
        fixture("social.pg").to_str().unwrap(),
        &g.store,
    ]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);
}

#[test]
fn init_with_bad_schema_reports_position_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("bad.pg");
    std::fs::write(&schema, "node Person { name: String? @key }\n").unwrap();
    let store = dir.path().join("g.omni");
    let r = dp(&[
        "init",
        "--schema",
        schema.to_str().unwrap(),
        store.to_str().unwrap(),
    ]);
    assert_ne!(r.status, 0);
    assert!(
        r.stderr.contains("1:"),
        "error names a position: {}",
        r.stderr
    );
    assert!(!store.join("_manifest").exists());
}

#[test]
fn load_overwrite_then_snapshot_counts_rows() {
    let g = TempGraph::social();
    assert_eq!(g.row_count("node:Person"), 4);
    assert_eq!(g.row_count("node:Company"), 2);
    assert_eq!(g.row_count("edge:Knows"), 3);
    assert_eq!(g.row_count("edge:WorksAt"), 3);
    assert_eq!(g.snapshot()["manifest_version"], 2);
}

#[test]
fn schema_get_prints_the_accepted_source() {
    let g = TempGraph::new("social.pg");
    let out = dp_ok(&["schema", "get", "--store", &g.store]);
    assert_eq!(out, std::fs::read_to_string(fixture("social.pg")).unwrap());
}

#[test]
fn export_loads_back_into_an_identical_graph() {
    let g = TempGraph::social();
    let exported = dp_ok(&["export", "--store", &g.store]);
    let copy = TempGraph::new("social.pg");
    let file = copy.write_file("export.jsonl", &exported);
    dp_ok(&[
        "load",
        "--data",
        &file,
        "--mode",
        "overwrite",
        "--store",
        &copy.store,
    ]);
    assert_eq!(copy.export_sorted(), g.export_sorted());
    assert_eq!(g.export_sorted().len(), 12);
}

#[test]
fn append_of_an_existing_key_is_refused_with_its_line() {
    let g = TempGraph::social();
    let f = g.write_file("a.jsonl", "{\"type\":\"Person\",\"data\":{\"name\":\"Eve\"}}\n{\"type\":\"Person\",\"data\":{\"name\":\"Alice\"}}\n");
    let r = dp(&[
        "load", "--data", &f, "--mode", "append", "--store", &g.store,
    ]);
    assert_ne!(r.status, 0);
    assert!(
        r.stderr.contains("line 2") && r.stderr.contains("already exists"),
        "{}",
        r.stderr
    );
    assert_eq!(g.row_count("node:Person"), 4);
}

#[test]
fn merge_upserts_nodes_by_key_and_edges_by_endpoints() {
    let g = TempGraph::social();
    let f = g.write_file(
        "m.jsonl",
        "{\"type\":\"Person\",\"data\":{\"name\":\"Alice\",\"age\":31}}\n{\"type\":\"Person\",\"data\":{\"name\":\"Eve\",\"age\":40}}\n{\"edge\":\"Knows\",\"from\":\"Alice\",\"to\":\"Bob\",\"data\":{\"since\":\"2021-02-02\"}}\n",
    );
    dp_ok(&["load", "--data", &f, "--mode", "merge", "--store", &g.store]);
    assert_eq!(g.row_count("node:Person"), 5);
    assert_eq!(g.row_count("edge:Knows"), 3);
    let lines = g.export_sorted();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"Alice\"") && l.contains("\"age\":31")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains("2021-02-02")));
    assert!(!lines.iter().any(|l| l.contains("2020-01-01")));
}

#[test]
fn every_kind_of_bad_line_is_refused_with_line_number_and_reason() {
    let g = TempGraph::social();
    let cases = [
        ("{\"type\":\"Robot\",\"data\":{\"name\":\"R2\"}}", "unknown node type"),
        ("{\"type\":\"Person\",\"data\":{\"age\":3}}", "missing key"),
        ("{\"type\":\"Person\",\"data\":{\"name\":\"Zed\",\"age\":\"old\"}}", "expected I32"),
        ("{\"type\":\"Person\",\"data\":{\"name\":\"Zed\",\"age\":200}}", "@range"),
        ("{\"type\":\"Company\",\"data\":{\"name\":\"Z\",\"code\":\"toolong\"}}", "@check"),
        ("{\"type\":\"Person\",\"data\":{\"name\":\"Zed\",\"role\":\"king\"}}", "enum"),
        ("{\"type\":\"Person\",\"data\":{\"name\":\"Zed\",\"shoe\":42}}", "unknown property"),
        ("{\"edge\":\"Knows\",\"from\":\"Alice\",\"to\":\"Nobody\"}", "does not exist"),
        ("{\"edge\":\"WorksAt\",\"from\":\"Alice\",\"to\":\"Globex\"}", "@card"),
        ("{\"type\":\"Person\",\"data\":{\"name\":\"Zed\",\"email\":\"bob@example.com\"}}", "@unique"),
        ("not json", "invalid JSON"),
        ("{\"type\":\"Person\",\"data\":{\"name\":\"Zed\"}", "invalid JSON"),
        ("[{\"type\":\"Person\",\"data\":{\"name\":\"Zed\"}}]", "expected a JSON object"),
        ("{\"type\":5,\"data\":{\"name\":\"Zed\"}}", "a line needs either"),
        ("{\"type\":null,\"edge\":\"Knows\",\"from\":\"Alice\",\"to\":\"Bob\"}", "a line needs either"),
        ("{\"type\":\"Person\",\"data\":[\"Zed\"]}", "`data` must be an object"),
        ("{\"type\":\"Person\",\"data\":{\"name\":\"Zed\"}}\n{\"type\":\"Person\",\"data\":{\"name\":\"Zed\"}}", "duplicate key"),
    ];
    for (i, (bad, reason)) in cases.iter().enumerate() {
        let body = format!("{{\"type\":\"Person\",\"data\":{{\"name\":\"Fine{i}\"}}}}\n{bad}\n");
        let f = g.write_file(&format!("bad{i}.jsonl"), &body);
        let r = dp(&["load", "--data", &f, "--mode", "merge", "--store", &g.store]);
        assert_ne!(r.status, 0, "case {bad} should fail");
        assert!(
            r.stderr.contains("line 2") || r.stderr.contains("line 3"),
            "case {bad}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains(reason),
            "case {bad}: expected `{reason}` in {}",
            r.stderr
        );
    }
    assert_eq!(
        g.snapshot()["manifest_version"],
        2,
        "no failed load published"
    );
    assert_eq!(g.row_count("node:Person"), 4);
}

#[test]
fn failed_load_leaves_graph_unchanged_and_next_load_does_not_resurrect_it() {
    let g = TempGraph::social();
    let before = g.export_sorted();
    let mut body = String::new();
    for i in 0..500 {
        body.push_str(&format!(
            "{{\"type\":\"Person\",\"data\":{{\"name\":\"Ghost{i}\"}}}}\n"
        ));
    }
    body.push_str("{\"type\":\"Person\",\"data\":{\"name\":\"Broken\",\"age\":\"x\"}}\n");
    for i in 500..1000 {
        body.push_str(&format!(
            "{{\"type\":\"Person\",\"data\":{{\"name\":\"Ghost{i}\"}}}}\n"
        ));
    }
    let f = g.write_file("bad.jsonl", &body);
    let r = dp(&[
        "load", "--data", &f, "--mode", "append", "--store", &g.store,
    ]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("line 501"), "{}", r.stderr);
    assert_eq!(g.snapshot()["manifest_version"], 2);
    assert_eq!(g.export_sorted(), before);

    let ok = g.write_file(
        "ok.jsonl",
        "{\"type\":\"Person\",\"data\":{\"name\":\"Real\"}}\n",
    );
    dp_ok(&[
        "load", "--data", &ok, "--mode", "append", "--store", &g.store,
    ]);
    let after = g.export_sorted();
    assert_eq!(after.len(), before.len() + 1);
    assert!(
        !after.iter().any(|l| l.contains("Ghost")),
        "rows of the failed load stayed invisible"
    );
}

#[test]
fn load_requires_a_valid_mode() {
    let g = TempGraph::new("social.pg");
    let data = fixture("social.jsonl");
    let r = dp(&[
        "load",
        "--data",
        data.to_str().unwrap(),
        "--mode",
        "upsert",
        "--store",
        &g.store,
    ]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("unknown load mode"), "{}", r.stderr);
}

#[test]
fn commands_on_a_missing_store_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("nothing.omni");
    let r = dp(&["snapshot", "--store", store.to_str().unwrap()]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("no graph"), "{}", r.stderr);
}

#[test]
fn snapshot_reads_an_older_version() {
    let g = TempGraph::social();
    let old = dp_json(&["snapshot", "--store", &g.store, "--version", "1", "--json"]);
    assert_eq!(old["manifest_version"], 1);
    assert!(old["tables"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["row_count"] == 0));
    let exported = dp_ok(&["export", "--store", &g.store, "--version", "1"]);
    assert!(exported.is_empty());
}

/// Several OS processes append to one graph at once, many rounds each. Every acknowledged
/// load is present exactly once, every refused one is absent, and history is one line.
#[test]
fn concurrent_appends_from_several_processes_lose_nothing_acknowledged() {
    let g = TempGraph::new("social.pg");
    let writers = 3;
    let rounds = 6;
    let mut files = vec![];
    for w in 0..writers {
        for r in 0..rounds {
            let body: String = (0..20)
                .map(|i| {
                    format!("{{\"type\":\"Person\",\"data\":{{\"name\":\"w{w}r{r}n{i}\"}}}}\n")
                })
                .collect();
            files.push((w, r, g.write_file(&format!("w{w}r{r}.jsonl"), &body)));
        }
    }
    let store = g.store.clone();
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let mine: Vec<_> = files.iter().filter(|f| f.0 == w).cloned().collect();
            let store = store.clone();
            std::thread::spawn(move || {
                mine.into_iter()
                    .map(|(_, r, f)| {
                        (
                            r,
                            dp(&["load", "--data", &f, "--mode", "append", "--store", &store])
                                .status
                                == 0,
                        )
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<Vec<(usize, bool)>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let lines = g.export_sorted();
    let mut acknowledged = 0;
    for (w, rs) in results.iter().enumerate() {
        for (r, ok) in rs {
            let n = lines
                .iter()
                .filter(|l| l.contains(&format!("\"w{w}r{r}n")))
                .count();
            if *ok {
                acknowledged += 1;
                assert_eq!(n, 20, "acknowledged load w{w}r{r} present exactly once");
            } else {
                assert_eq!(n, 0, "refused load w{w}r{r} absent");
            }
        }
    }
    assert!(acknowledged >= 1, "some loads succeed ({acknowledged})");
    // History is a single line: versions 1..=N, each the parent of the next.
    let snap = g.snapshot();
    let latest = snap["manifest_version"].as_u64().unwrap();
    assert_eq!(latest, 1 + acknowledged as u64);
    let count = published_manifests(&g.store);
    assert_eq!(count as u64, latest);
}

/// `n` people as load lines.
fn people_lines(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"type\": \"Person\", \"data\": {{\"name\": \"g{i}\", \"age\": {}}}}}\n",
                i % 100
            )
        })
        .collect()
}

#[test]
fn a_gzip_file_loads_like_the_plain_one_with_one_summary_line_off_a_terminal() {
    use std::io::Write;
    let g = TempGraph::new("social.pg");
    let path = g.dir.path().join("people.jsonl.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).expect("create"),
        flate2::Compression::fast(),
    );
    gz.write_all(people_lines(1000).as_bytes()).expect("write");
    gz.finish().expect("gzip");
    let r = dp(&[
        "load",
        "--data",
        path.to_str().expect("utf-8"),
        "--mode",
        "append",
        "--store",
        &g.store,
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let first = r.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("loaded 1000 rows (append"),
        "{}",
        r.stdout
    );
    assert!(first.contains("rows/s"), "{first}");
    // Not a terminal: no progress bar drawn.
    assert!(!r.stderr.contains("ETA"), "{}", r.stderr);
    assert_eq!(g.row_count("node:Person"), 1000);
}

#[test]
fn on_a_terminal_the_load_draws_a_progress_bar() {
    let g = TempGraph::new("social.pg");
    let path = g.dir.path().join("people.jsonl");
    std::fs::write(&path, people_lines(300_000)).expect("write");
    // `script` runs the load on a pseudo-terminal and copies what it drew.
    let command = format!(
        "{} load --data {} --mode append --store {}",
        bin("omnigraph-data-plane").display(),
        path.display(),
        g.store
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("run script (util-linux)");
    let drawn = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{drawn}");
    assert!(drawn.contains("ETA"), "no progress bar drawn: {drawn}");
    assert!(drawn.contains("lines/s"), "{drawn}");
    assert!(drawn.contains("loaded 300000 rows"), "{drawn}");
}

#[test]
fn csv_and_parquet_files_load_together_as_one_change() {
    let g = TempGraph::new("social.pg");
    let people = g.write_file("people.csv", "name,age\nAda,36\nGrace,45\n");
    let knows = g.write_file(
        "knows.csv",
        "from,to,since\nAda,Grace,1950-01-01\nPia,Ada,\n",
    );
    let parquet = fixture("people.parquet");
    let out = dp_ok(&[
        "load",
        "--csv",
        &format!("Person={people}"),
        "--csv",
        &format!("Knows={knows}"),
        "--parquet",
        &format!("Person={}", parquet.display()),
        "--mode",
        "append",
        "--store",
        &g.store,
    ]);
    assert!(out.starts_with("loaded 7 rows (append)"), "{out}");
    assert_eq!(g.snapshot()["manifest_version"], 2, "one change");
    assert_eq!(g.row_count("node:Person"), 5);
    assert_eq!(g.row_count("edge:Knows"), 2);
    // One bad file: nothing of any file is loaded, and the error names the file and line.
    let bad = g.write_file("bad.csv", "name,age\nZoe,-5\n");
    let r = dp(&[
        "load",
        "--csv",
        &format!("Person={bad}"),
        "--mode",
        "append",
        "--store",
        &g.store,
    ]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("line 2: bad.csv"), "{}", r.stderr);
    // --data with --csv, or neither: refused by the command line; a file without its type too.
    assert_ne!(
        dp(&["load", "--mode", "append", "--store", &g.store]).status,
        0
    );
    let r = dp(&[
        "load", "--csv", &people, "--mode", "append", "--store", &g.store,
    ]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("TYPE=PATH"), "{}", r.stderr);
    assert_eq!(g.snapshot()["manifest_version"], 2);
}
