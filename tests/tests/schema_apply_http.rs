//! `POST /schema/apply` against real worker processes (a second worker serves the new
//! schema at once), its error codes, Cedar's `schema_apply` with a protected main, and the
//! `schema apply` CLI verb.

use omnigraph_e2e::*;
use serde_json::{json, Value};

const DATA: &str = r#"{"type": "Person", "data": {"name": "Alice", "age": 30}}
{"type": "Person", "data": {"name": "Bob", "age": 25, "email": "bob@example.com"}}
{"type": "Company", "data": {"name": "Acme", "code": "ACM"}}
{"edge": "WorksAt", "from": "Alice", "to": "Acme"}
"#;

/// The fixture schema with Person.age renamed to years, a new optional property, and
/// Company renamed to Org.
fn evolved() -> String {
    std::fs::read_to_string(fixture("social.pg"))
        .expect("fixture")
        .replace(
            "    age: I32?\n",
            "    years: I32? @rename_from(\"age\")\n    nickname: String?\n",
        )
        .replace("@range(age, 0..150)", "@range(years, 0..150)")
        .replace("node Company {", "node Org @rename_from(\"Company\") {")
        .replace("Person -> Company", "Person -> Org")
}

fn apply(dp: &DataPlane, body: Value, token: Option<&str>) -> (u16, Value) {
    dp.post("/schema/apply", &body, token)
}

fn version(dp: &DataPlane) -> u64 {
    let (s, b) = dp.get("/snapshot", None);
    assert_eq!(s, 200, "{b}");
    b["manifest_version"].as_u64().expect("version")
}

#[test]
fn schema_apply_over_http_is_seen_by_a_second_worker() {
    let g = TempGraph::new("social.pg");
    let a = DataPlane::single_mode_open(&g);
    let b = DataPlane::single_mode_open(&g);
    let (s, r) = a.post("/ingest", &json!({ "data": DATA }), None);
    assert_eq!(s, 200, "{r}");
    // Worker b reads (and so caches) the old schema first.
    let (s, r) = b.post(
        "/read",
        &json!({ "query_source": "query q() { match { $p: Person } return { $p.age } }" }),
        None,
    );
    assert_eq!(s, 200, "{r}");
    let before = version(&a);

    // A dry run: the steps, nothing published.
    let (s, dry) = apply(
        &a,
        json!({ "schema_source": evolved(), "dry_run": true }),
        None,
    );
    assert_eq!(s, 200, "{dry}");
    assert_eq!(dry["applied"], false);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(version(&a), before);

    let (s, r) = apply(&a, json!({ "schema_source": evolved() }), None);
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["applied"], true);
    assert_eq!(r["branch"], "main");
    assert_eq!(r["manifest_version"], before + 1);
    assert_eq!(
        r["steps"], dry["steps"],
        "the dry run planned the same steps"
    );
    let kinds: Vec<&str> = r["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        ["rename_property", "add_property", "rename_type"],
        "{r}"
    );
    assert_eq!(r["steps"][0]["table_key"], "node:Person");
    assert_eq!(
        r["steps"][0]["description"],
        "rename property Person.age to years"
    );

    // The other worker serves the new schema at once, with the rows kept.
    let (s, schema) = b.get("/schema", None);
    assert_eq!(s, 200, "{schema}");
    assert_eq!(schema["schema_source"], evolved());
    let (s, rows) = b.post(
        "/read",
        &json!({ "query_source": "query q() { match { $p: Person $p worksAt $o } return { $p.name, $p.years, $o.name } }" }),
        None,
    );
    assert_eq!(s, 200, "{rows}");
    assert_eq!(
        rows["rows"],
        json!([{"p.name": "Alice", "p.years": 30, "o.name": "Acme"}])
    );
    let (s, r) = b.post(
        "/change",
        &json!({ "query_source": "query q() { insert Person { name: \"Cid\", years: 3, nickname: \"c\" } }" }),
        None,
    );
    assert_eq!(s, 200, "{r}");
    // The version before is still readable with its own schema.
    let (s, old) = a.post(
        "/read",
        &json!({ "query_source": "query q() { match { $c: Company } return { $c.name } }", "snapshot": before }),
        None,
    );
    assert_eq!(s, 200, "{old}");
    assert_eq!(old["rows"], json!([{"c.name": "Acme"}]));
}

#[test]
fn schema_apply_error_codes() {
    let g = TempGraph::new("social.pg");
    let dp = DataPlane::single_mode_open(&g);
    let (s, r) = dp.post("/ingest", &json!({ "data": DATA }), None);
    assert_eq!(s, 200, "{r}");
    let before = version(&dp);
    let fixture = std::fs::read_to_string(fixture("social.pg")).expect("fixture");

    let (s, b) = dp.post_raw("/schema/apply", "{not json".into(), None);
    envelope(s, &b, 400, "bad_request");
    let (s, b) = apply(&dp, json!({ "allow_data_loss": true }), None);
    envelope(s, &b, 400, "bad_request");
    // A schema that does not parse: positioned.
    let (s, b) = apply(&dp, json!({ "schema_source": "node Person {" }), None);
    envelope(s, &b, 400, "bad_request");
    assert!(
        b["error"].as_str().unwrap_or("").contains("request:1:"),
        "{b}"
    );
    // Unsupported: a property's type.
    let (s, b) = apply(
        &dp,
        json!({ "schema_source": fixture.replace("joined: Date?", "joined: String?") }),
        None,
    );
    envelope(s, &b, 400, "bad_request");
    assert!(
        b["error"].as_str().unwrap_or("").contains("unsupported"),
        "{b}"
    );
    // A step the rows break: Alice has no email.
    let (s, b) = apply(
        &dp,
        json!({ "schema_source": fixture.replace("email: String? @unique", "email: String @unique") }),
        None,
    );
    envelope(s, &b, 400, "bad_request");
    assert!(b["error"].as_str().unwrap_or("").contains("Alice"), "{b}");
    let (s, b) = apply(
        &dp,
        json!({ "schema_source": fixture, "branch": "nowhere" }),
        None,
    );
    envelope(s, &b, 404, "not_found");
    let (s, b) = apply(
        &dp,
        json!({ "schema_source": fixture, "branch": "bad name" }),
        None,
    );
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.get("/schema/apply", None);
    envelope(s, &b, 405, "method_not_allowed");
    assert_eq!(version(&dp), before, "nothing refused was published");
    // The same schema: nothing to do.
    let (s, b) = apply(&dp, json!({ "schema_source": fixture }), None);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["applied"], false);
    assert_eq!(b["steps"], json!([]));
    assert_eq!(version(&dp), before);
}

const POLICY: &str = "version: 1
groups:
  agents: [act-agent]
  admins: [act-admin]
protected_branches: [main]
rules:
  - id: everyone-reads
    allow: { actors: { group: agents }, actions: [read], branch_scope: any }
  - id: agents-branch
    allow: { actors: { group: agents }, actions: [branch_create], target_branch_scope: unprotected }
  - id: agents-migrate-their-branches
    allow: { actors: { group: agents }, actions: [schema_apply], target_branch_scope: unprotected }
  - id: admins-migrate-main
    allow: { actors: { group: admins }, actions: [schema_apply], target_branch_scope: protected }
";
const TOKENS: &str =
    r#"{"act-agent": "agent-token-0123456789", "act-admin": "admin-token-0123456789"}"#;

#[test]
fn only_admins_migrate_the_protected_main() {
    let g = TempGraph::new("social.pg");
    let dp = DataPlane::single_mode_with_policy(&g, POLICY, TOKENS);
    let agent = Some("agent-token-0123456789");
    let admin = Some("admin-token-0123456789");
    let (s, b) = dp.post("/branches", &json!({ "name": "agent/x" }), agent);
    assert_eq!(s, 201, "{b}");

    let (s, b) = apply(&dp, json!({ "schema_source": evolved() }), None);
    envelope(s, &b, 401, "unauthorized");
    let (s, b) = apply(&dp, json!({ "schema_source": evolved() }), agent);
    envelope(s, &b, 403, "forbidden");
    assert!(
        b["error"].as_str().unwrap_or("").contains("schema_apply"),
        "{b}"
    );
    // A body that does not parse is refused as a migration of main: 403, not 400.
    let (s, b) = dp.post_raw("/schema/apply", "{not json".into(), agent);
    envelope(s, &b, 403, "forbidden");

    let (s, b) = apply(
        &dp,
        json!({ "schema_source": evolved(), "branch": "agent/x" }),
        agent,
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["actor_id"], "act-agent");
    let (_, main_schema) = dp.get("/schema", agent);
    assert!(main_schema["schema_source"]
        .as_str()
        .unwrap_or("")
        .contains("node Company {"));
    let (_, branch_schema) = dp.get("/schema?branch=agent/x", agent);
    assert_eq!(branch_schema["schema_source"], evolved());

    let (s, b) = apply(&dp, json!({ "schema_source": evolved() }), admin);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["applied"], true);
}

#[test]
fn schema_apply_cli_verb() {
    let g = TempGraph::new("social.pg");
    let s = g.store.as_str();
    let data = g.write_file("data.jsonl", DATA);
    dp_ok(&["load", "--store", s, "--data", &data, "--mode", "overwrite"]);
    let schema = g.write_file("evolved.pg", &evolved());

    let dry = dp_json(&[
        "schema",
        "apply",
        "--schema",
        &schema,
        "--store",
        s,
        "--dry-run",
        "--json",
    ]);
    assert_eq!(dry["applied"], false);
    assert_eq!(dry["steps"].as_array().map(Vec::len), Some(3), "{dry}");
    let out = dp_ok(&["schema", "apply", "--schema", &schema, "--store", s]);
    assert!(out.contains("rename property Person.age to years"), "{out}");
    assert!(out.contains("3 step(s), applied"), "{out}");
    assert_eq!(dp_ok(&["schema", "get", "--store", s]), evolved());
    let rows = dp_json(&[
        "query",
        "--store",
        s,
        "-e",
        "query q() { match { $o: Org } return { $o.name } }",
        "--json",
    ]);
    assert_eq!(rows["rows"], json!([{"o.name": "Acme"}]));

    // Refused: a non-zero exit with the reason on stderr, nothing changed.
    let bad = g.write_file(
        "bad.pg",
        &evolved().replace("email: String? @unique", "email: String @unique"),
    );
    let r = dp(&["schema", "apply", "--schema", &bad, "--store", s]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("Alice"), "{}", r.stderr);
    let r = dp(&[
        "schema",
        "apply",
        "--schema",
        "/nonexistent.pg",
        "--store",
        s,
    ]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("cannot read"), "{}", r.stderr);
    assert_eq!(dp_ok(&["schema", "get", "--store", s]), evolved());
}

#[test]
fn writes_through_another_worker_during_an_apply_are_kept_or_refused_never_lost() {
    let g = TempGraph::new("social.pg");
    let migrator = DataPlane::single_mode_open(&g);
    let writer = DataPlane::single_mode_open(&g);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (acknowledged, refused) = std::thread::scope(|scope| {
        let writes = scope.spawn(|| {
            let (mut acked, mut refused) = (vec![], 0);
            let mut i = 0;
            // Inserts that are valid under both schemas; at least 20, and until the
            // migration is done.
            while i < 20 || !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let name = format!("w{i}");
                let (s, b) = writer.post(
                    "/change",
                    &json!({ "query_source": "query q($n: String) { insert Person { name: $n } }", "params": { "n": name } }),
                    None,
                );
                match s {
                    200 => acked.push(name),
                    // Compiled under the old schema, published after the new one: refused.
                    409 if b.get("manifest_conflict").is_some() => refused += 1,
                    _ => panic!("write {name}: {s} {b}"),
                }
                i += 1;
                assert!(i < 500, "the migration never finished");
            }
            (acked, refused)
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        let started = std::time::Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (s, b) = apply(&migrator, json!({ "schema_source": evolved() }), None);
            match s {
                200 => {
                    eprintln!("apply took {:?}", started.elapsed());
                    break;
                }
                409 if b.get("manifest_conflict").is_some() && attempts < 20 => continue,
                _ => panic!("apply: {s} {b}"),
            }
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let (acked, refused) = writes.join().expect("writer thread");
        eprintln!(
            "apply attempts {attempts}, writes acknowledged {}, refused {refused}",
            acked.len()
        );
        (acked, refused)
    });
    // Every acknowledged write is there, under the new schema, read through either worker.
    for dp in [&migrator, &writer] {
        let (s, b) = dp.post(
            "/read",
            &json!({ "query_source": "query q() { match { $p: Person } return { $p.name, $p.nickname } }" }),
            None,
        );
        assert_eq!(s, 200, "{b}");
        let mut names: Vec<String> = b["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r["p.name"].as_str().unwrap_or("").to_owned())
            .collect();
        names.sort();
        let mut expected = acknowledged.clone();
        expected.sort();
        assert_eq!(names, expected, "{refused} write(s) were refused");
    }
    let (_, schema) = writer.get("/schema", None);
    assert_eq!(schema["schema_source"], evolved());
}
