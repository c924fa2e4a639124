//! Tags over HTTP (issue 21; data-plane/src/server/handlers/tags.rs): create, list, show,
//! delete, reads at a tag, every refusal with its status and code, the Cedar actions
//! `tag_create`, `tag_list`, `tag_delete`; and a tagged version surviving cleanup until
//! its tag is deleted (then 410 `version_reclaimed`).

use std::time::Duration;

use omnigraph_e2e::*;
use serde_json::{json, Value};

const COUNT: &str = "query q() { match { $p: Person } return { count($p) as n } }";

const TAG_POLICY: &str = "version: 1
groups:
  admins: [act-admin]
  readers: [act-reader]
  strangers: [act-stranger]
rules:
  - id: admins-read-and-write
    allow: { actors: { group: admins }, actions: [read, change], branch_scope: any }
  - id: admins-branch
    allow: { actors: { group: admins }, actions: [branch_create] }
  - id: admins-tag
    allow: { actors: { group: admins }, actions: [tag_create, tag_list, tag_delete] }
  - id: readers-read-and-list-tags
    allow: { actors: { group: readers }, actions: [read, tag_list] }
  - id: strangers-read
    allow: { actors: { group: strangers }, actions: [read] }
";
const TAG_TOKENS: &str = r#"{"act-admin": "admin-token-0123456789", "act-reader": "reader-token-0123456789", "act-stranger": "stranger-token-0123456789"}"#;
const ADMIN: Option<&str> = Some("admin-token-0123456789");
const READER: Option<&str> = Some("reader-token-0123456789");
const STRANGER: Option<&str> = Some("stranger-token-0123456789");

fn social_people() -> u64 {
    std::fs::read_to_string(fixture("social.jsonl"))
        .expect("social.jsonl")
        .lines()
        .filter(|l| l.contains("\"Person\""))
        .count() as u64
}

fn add_person(dp: &DataPlane, name: &str, token: Option<&str>) {
    let (s, body) = dp.post(
        "/change",
        &json!({
            "query_source": "query add($n: String) { insert Person { name: $n } }",
            "params": {"n": name}
        }),
        token,
    );
    assert_eq!(s, 200, "{body}");
}

fn count(body: &Value) -> u64 {
    body["rows"][0]["n"]
        .as_u64()
        .unwrap_or_else(|| panic!("{body}"))
}

#[test]
fn tags_are_created_listed_read_and_deleted_and_every_bad_input_is_refused() {
    let g = TempGraph::social();
    let dp = DataPlane::single_mode_with_policy(&g, TAG_POLICY, TAG_TOKENS);
    for i in 0..3 {
        add_person(&dp, &format!("t{i}"), ADMIN);
    }
    let people = social_people();

    // Create on a commit id: 201 with the tag.
    let (s, tag) = dp.post(
        "/tags",
        &json!({"name": "release/1", "commit": "main.2"}),
        ADMIN,
    );
    assert_eq!(s, 201, "{tag}");
    assert_eq!(tag["name"], "release/1");
    assert_eq!(tag["commit_id"], "main.2");
    assert_eq!(tag["manifest_version"], 2);
    assert_eq!(tag["created_by"], "act-admin");
    assert!(tag["created_at"].is_string(), "{tag}");
    // On a branch's head: the commit the branch is at.
    let (s, b) = dp.post("/branches", &json!({"name": "dev"}), ADMIN);
    assert_eq!(s, 201, "{b}");
    let (s, head) = dp.post(
        "/tags",
        &json!({"name": "dev-head", "branch": "dev"}),
        ADMIN,
    );
    assert_eq!(s, 201, "{head}");
    assert_eq!(head["commit_id"], b["head_commit"], "{head} {b}");

    // Every refusal: its status and code.
    let bad: [(Value, u16, &str); 9] = [
        (
            json!({"name": "release/1", "commit": "main.3"}),
            409,
            "conflict",
        ),
        (
            json!({"name": "bad name", "commit": "main.2"}),
            400,
            "bad_request",
        ),
        (
            json!({"name": "a//b", "commit": "main.2"}),
            400,
            "bad_request",
        ),
        (json!({"name": "x", "commit": "main.999"}), 404, "not_found"),
        (
            json!({"name": "x", "commit": "nonsense"}),
            400,
            "bad_request",
        ),
        (json!({"name": "x"}), 400, "bad_request"),
        (
            json!({"name": "x", "commit": "main.2", "branch": "main"}),
            400,
            "bad_request",
        ),
        (json!({"name": "x", "branch": "nope"}), 404, "not_found"),
        (json!({"commit": "main.2"}), 400, "bad_request"),
    ];
    for (body, status, code) in bad {
        let (s, b) = dp.post("/tags", &body, ADMIN);
        assert_eq!((s, b["code"].as_str()), (status, Some(code)), "{body}: {b}");
        assert!(b["error"].is_string(), "{b}");
    }
    let (s, b) = dp.post_raw("/tags", "{\"name\": 3}".to_string(), ADMIN);
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.post_raw("/tags", "not json".to_string(), ADMIN);
    envelope(s, &b, 400, "bad_request");
    // Policy: a reader may list but not create or delete; a stranger may not even list;
    // no token at all is a 401.
    let (s, b) = dp.post("/tags", &json!({"name": "r", "commit": "main.2"}), READER);
    envelope(s, &b, 403, "forbidden");
    let (s, b) = dp.post_raw("/tags", "not json".to_string(), READER);
    envelope(s, &b, 403, "forbidden");
    let (s, b) = dp.get("/tags", STRANGER);
    envelope(s, &b, 403, "forbidden");
    let (s, b) = dp.get("/tags/release%2F1", STRANGER);
    envelope(s, &b, 403, "forbidden");
    let (s, b) = dp.get("/tags", None);
    envelope(s, &b, 401, "unauthorized");
    let (s, b) = dp.delete("/tags/release%2F1", READER);
    envelope(s, &b, 403, "forbidden");

    // List and show.
    let (s, list) = dp.get("/tags", READER);
    assert_eq!(s, 200, "{list}");
    let names: Vec<&str> = list["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["dev-head", "release/1"]);
    let (s, one) = dp.get("/tags/release%2F1", READER);
    assert_eq!((s, &one), (200, &tag));
    let (s, b) = dp.get("/tags/nope", READER);
    envelope(s, &b, 404, "not_found");
    let (s, b) = dp.get("/tags/bad%20name", READER);
    envelope(s, &b, 400, "bad_request");

    // Reads at a tag: the tagged version; a tag with a branch or a version is refused, an
    // unknown tag is a 404, and reading at a tag needs read of its branch.
    let (s, b) = dp.post(
        "/read",
        &json!({"query_source": COUNT, "tag": "release/1"}),
        READER,
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(count(&b), people, "version 2: the loaded graph");
    assert_eq!(b["target"]["manifest_version"], 2, "{b}");
    assert_eq!(b["target"]["branch"], "main", "{b}");
    let (s, b) = dp.post("/read", &json!({"query_source": COUNT}), READER);
    assert_eq!((s, count(&b)), (200, people + 3), "{b}");
    let (s, b) = dp.post(
        "/read",
        &json!({"query_source": COUNT, "tag": "release/1", "branch": "main"}),
        READER,
    );
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.post(
        "/read",
        &json!({"query_source": COUNT, "tag": "release/1", "snapshot": 2}),
        READER,
    );
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.post(
        "/read",
        &json!({"query_source": COUNT, "tag": "nope"}),
        READER,
    );
    envelope(s, &b, 404, "not_found");
    let (s, b) = dp.post(
        "/read",
        &json!({"query_source": COUNT, "tag": "bad name"}),
        READER,
    );
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.post(
        "/read",
        &json!({"query_source": COUNT, "tag": "nope"}),
        None,
    );
    envelope(s, &b, 401, "unauthorized");

    // Delete: 200 with the tag as it was; then it is gone.
    let (s, b) = dp.delete("/tags/release%2F1", ADMIN);
    assert_eq!((s, &b), (200, &tag));
    let (s, b) = dp.delete("/tags/release%2F1", ADMIN);
    envelope(s, &b, 404, "not_found");
    let (s, b) = dp.delete("/tags/bad%20name", ADMIN);
    envelope(s, &b, 400, "bad_request");
    let (s, b) = dp.get("/tags/release%2F1", ADMIN);
    envelope(s, &b, 404, "not_found");
    // The name is free again.
    let (s, b) = dp.post(
        "/tags",
        &json!({"name": "release/1", "commit": "main.3"}),
        ADMIN,
    );
    assert_eq!((s, &b["commit_id"]), (201, &json!("main.3")), "{b}");
}

#[test]
fn the_cli_creates_lists_shows_reads_and_deletes_tags() {
    let g = TempGraph::social();
    let tag = dp_json(&[
        "tag", "create", "v1", "--commit", "main.1", "--store", &g.store, "--json",
    ]);
    assert_eq!(tag["commit_id"], "main.1", "{tag}");
    let head = dp_json(&[
        "tag", "create", "head", "--branch", "main", "--store", &g.store, "--json",
    ]);
    assert_eq!(head["commit_id"], "main.2", "{head}");
    let list = dp_json(&["tag", "list", "--store", &g.store, "--json"]);
    assert_eq!(list["tags"].as_array().map(Vec::len), Some(2), "{list}");
    let shown = dp_json(&["tag", "show", "v1", "--store", &g.store, "--json"]);
    assert_eq!(shown, tag);
    // Version 1 is the empty graph.
    let rows = dp_json(&[
        "query", "--store", &g.store, "--tag", "v1", "--json", "--text", COUNT,
    ]);
    assert_eq!(rows["rows"][0]["n"], 0, "{rows}");
    // Refusals: a taken name, no target, both targets, unknown commit, bad name.
    for args in [
        vec!["tag", "create", "v1", "--commit", "main.2"],
        vec!["tag", "create", "x"],
        vec![
            "tag", "create", "x", "--commit", "main.1", "--branch", "main",
        ],
        vec!["tag", "create", "x", "--commit", "main.99"],
        vec!["tag", "create", "bad name", "--commit", "main.1"],
        vec!["tag", "delete", "nope"],
        vec!["tag", "show", "nope"],
    ] {
        let mut all = args.clone();
        all.extend(["--store", &g.store]);
        let run = dp(&all);
        assert_ne!(run.status, 0, "{args:?} succeeded: {}", run.stdout);
    }
    let deleted = dp_json(&["tag", "delete", "v1", "--store", &g.store, "--json"]);
    assert_eq!(deleted, tag);
    let list = dp_json(&["tag", "list", "--store", &g.store, "--json"]);
    assert_eq!(list["tags"].as_array().map(Vec::len), Some(1), "{list}");
}

/// Cleanup keeps a tagged version (and what it reads) until the tag is deleted; then the
/// next cleanup reclaims it and a read of it is a 410.
#[test]
fn a_tagged_version_survives_cleanup_until_its_tag_is_deleted() {
    let g = TempGraph::social();
    let dp = DataPlane::single_mode(
        &g,
        "",
        &["--unauthenticated"],
        &[
            ("OMNIGRAPH_MAINTENANCE_INTERVAL_SECS", "0"),
            ("OMNIGRAPH_RETENTION_DAYS", "0"),
            ("OMNIGRAPH_KEEP_VERSIONS", "2"),
            ("OMNIGRAPH_CLEANUP_GRACE_SECS", "1"),
            ("OMNIGRAPH_COMPACT_MIN_FRAGMENTS", "2"),
        ],
    );
    for i in 0..3 {
        add_person(&dp, &format!("a{i}"), None);
    }
    // Version 5: the social graph and three more.
    let people = social_people();
    let (s, tag) = dp.post("/tags", &json!({"name": "keep", "commit": "main.5"}), None);
    assert_eq!(s, 201, "{tag}");
    for i in 0..4 {
        add_person(&dp, &format!("b{i}"), None);
    }
    let read_at = |version: u64| {
        dp.post(
            "/read",
            &json!({"query_source": COUNT, "snapshot": version}),
            None,
        )
    };
    let read_tag = || {
        dp.post(
            "/read",
            &json!({"query_source": COUNT, "tag": "keep"}),
            None,
        )
    };
    // Files younger than the grace (1 s) are kept: wait it out, then maintain.
    std::thread::sleep(Duration::from_millis(1500));
    let (s, b) = dp.post("/maintenance", &json!({}), None);
    assert_eq!(s, 200, "{b}");
    assert!(
        b["cleanup"]["graph_versions_deleted"].as_u64() > Some(3),
        "{b}"
    );
    assert!(b["cleanup"]["files_deleted"].as_u64() > Some(0), "{b}");
    // The tag reads its commit, and the commit is there by id; main's history (version
    // numbers) no longer has it, like the untagged versions around it.
    let (s, b) = read_tag();
    assert_eq!((s, count(&b)), (200, people + 3), "{b}");
    let (s, b) = dp.get("/commits/main.5", None);
    assert_eq!((s, &b["commit_id"]), (200, &json!("main.5")), "{b}");
    for version in [5, 6] {
        let (s, b) = read_at(version);
        envelope(s, &b, 410, "version_reclaimed");
    }

    // The tag deleted, the next cleanup deletes what only version 5 read.
    let (s, b) = dp.delete("/tags/keep", None);
    assert_eq!(s, 200, "{b}");
    std::thread::sleep(Duration::from_millis(1100));
    let (s, b) = dp.post("/maintenance", &json!({}), None);
    assert_eq!(s, 200, "{b}");
    assert!(b["cleanup"]["files_deleted"].as_u64() > Some(0), "{b}");
    let (s, b) = dp.get("/commits/main.5", None);
    envelope(s, &b, 410, "version_reclaimed");
    let (s, b) = dp.post("/tags", &json!({"name": "late", "commit": "main.5"}), None);
    envelope(s, &b, 410, "version_reclaimed");
    let (s, b) = read_tag();
    envelope(s, &b, 404, "not_found");
    let (s, b) = dp.post("/read", &json!({"query_source": COUNT}), None);
    assert_eq!((s, count(&b)), (200, people + 7), "{b}");
}

/// `POST /maintenance` has a time limit (`--maintenance-timeout-ms`): past it the request
/// stops, publishes nothing unfinished and says `deadline_reached`; the graph reads as
/// before and a worker with time enough finishes the job.
#[test]
fn post_maintenance_stops_at_its_deadline_and_changes_nothing_unfinished() {
    let g = TempGraph::social();
    let env = |timeout: &'static str| {
        vec![
            ("OMNIGRAPH_MAINTENANCE_INTERVAL_SECS", "0"),
            ("OMNIGRAPH_COMPACT_MIN_FRAGMENTS", "2"),
            ("OMNIGRAPH_MAINTENANCE_TIMEOUT_MS", timeout),
        ]
    };
    let hurried = DataPlane::single_mode(&g, "", &["--unauthenticated"], &env("1"));
    for i in 0..6 {
        add_person(&hurried, &format!("h{i}"), None);
    }
    let (_, before) = hurried.get("/snapshot", None);
    let (s, b) = hurried.post("/maintenance", &json!({}), None);
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["deadline_reached"], true, "{b}");
    for c in b["compactions"].as_array().expect("compactions") {
        assert!(
            c.get("manifest_version").is_none(),
            "nothing published: {b}"
        );
    }
    let (_, after) = hurried.get("/snapshot", None);
    assert_eq!(after["manifest_version"], before["manifest_version"]);
    // A bad limit refuses to start.
    let run = dp(&[
        "serve",
        "--config",
        &g.write_file("bad.yaml", &format!("graph:\n  uri: {}\n", g.store)),
        "--unauthenticated",
        "--maintenance-timeout-ms",
        "0",
    ]);
    assert_ne!(run.status, 0, "{}", run.stderr);
    drop(hurried);

    let patient = DataPlane::single_mode(&g, "", &["--unauthenticated"], &env("600000"));
    let (s, b) = patient.post("/maintenance", &json!({"cleanup": false}), None);
    assert_eq!(s, 200, "{b}");
    assert!(b.get("deadline_reached").is_none(), "{b}");
    assert!(b["compactions"][0]["manifest_version"].is_u64(), "{b}");
    let (s, b) = patient.post("/read", &json!({"query_source": COUNT}), None);
    assert_eq!((s, count(&b)), (200, social_people() + 6), "{b}");
}
