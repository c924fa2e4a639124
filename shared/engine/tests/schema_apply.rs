//! Schema apply: every step kind applied with the data preserved, refused steps changing
//! nothing, drops that keep old versions readable (and, with allow_data_loss, do not),
//! dry runs, and applies on a branch.

use crate::common;

use common::*;
use lance::index::DatasetIndexExt;
use omnigraph_engine::{ApplyOptions, EngineError, LoadMode, TableKey, MAIN};
use serde_json::json;

const APPLY: ApplyOptions = ApplyOptions {
    allow_data_loss: false,
    dry_run: false,
};

/// SOCIAL_SCHEMA with: Person.age renamed to years and made required, a new optional
/// property declared in the middle, tags dropped, a grown enum, a new @range; Company
/// renamed to Org with a new @index; a new node type and a new edge type.
const EVOLVED: &str = r#"
node Person {
    name: String @key
    nickname: String?
    years: I32 @rename_from("age")
    email: String? @unique
    role: enum(admin, member, guest)?
    joined: Date?
    @range(years, 0..120)
}
node Org @rename_from("Company") {
    name: String @key
    code: String? @index
    @check(code, "^[A-Z]{3}$")
}
node City { name: String @key }
edge Knows: Person -> Person { since: Date? }
edge WorksAt: Person -> Org @card(0..1)
edge LivesIn: Person -> City
"#;

#[tokio::test]
async fn each_step_kind_applies_in_one_version_with_the_data_preserved() {
    let g = TestGraph::social().await;
    let before = g.version().await;
    let report = g
        .graph
        .apply_schema(MAIN, EVOLVED, APPLY, "admin")
        .await
        .expect("apply");
    assert!(report.applied);
    assert_eq!(report.manifest_version, before + 1, "one new version");
    let kinds: Vec<&str> = report.steps.iter().map(|s| s.kind()).collect();
    for kind in [
        "rename_property",
        "set_nullable",
        "add_property",
        "drop_property",
        "extend_enum",
        "add_constraint",
        "rename_type",
        "add_index",
        "add_type",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert_eq!(
        g.graph
            .snapshot(None)
            .await
            .expect("snap")
            .manifest
            .schema_source,
        EVOLVED
    );

    // Renamed property and type keep their rows; the new property reads as null.
    assert_eq!(
        g.rows(
            "query q() { match { $p: Person } return { $p.name, $p.years, $p.nickname } order { $p.name } }",
            json!({}),
        )
        .await,
        json!([
            {"p.name": "Alice", "p.years": 30, "p.nickname": null},
            {"p.name": "Bob", "p.years": 25, "p.nickname": null},
            {"p.name": "Charlie", "p.years": 35, "p.nickname": null},
            {"p.name": "Diana", "p.years": 17, "p.nickname": null},
        ])
    );
    assert_eq!(
        g.rows(
            "query q() { match { $p: Person $p worksAt $o } return { $p.name, $o.name, $o.code } order { $p.name } }",
            json!({}),
        )
        .await,
        json!([
            {"p.name": "Alice", "o.name": "Acme", "o.code": "ACM"},
            {"p.name": "Bob", "o.name": "Acme", "o.code": "ACM"},
            {"p.name": "Charlie", "o.name": "Globex", "o.code": null},
        ])
    );
    // The old names are gone from the head...
    assert!(g
        .try_read_at(
            "query q() { match { $p: Person } return { $p.age } }",
            json!({}),
            None
        )
        .await
        .is_err());
    // ...and still there at the version before (time travel reads the old schema).
    let old = g
        .try_read_at(
            "query q() { match { $p: Person { name: \"Alice\" } } return { $p.age, $p.tags } }",
            json!({}),
            Some(before),
        )
        .await
        .expect("old version");
    assert_eq!(old.rows[0]["p.age"], json!(30));
    assert_eq!(old.rows[0]["p.tags"], json!(["ops", "rust"]));

    // The index step built an index on the new @index column.
    let snap = g.graph.snapshot(None).await.expect("snap");
    let org = snap.table(&TableKey::node("Org")).await.expect("org");
    let indices = org.load_indices().await.expect("indices");
    assert!(
        indices.iter().any(|i| i.name == "code_idx"),
        "{:?}",
        indices.iter().map(|i| &i.name).collect::<Vec<_>>()
    );

    // Writes under the new schema: a mutation with the new property (declared in the
    // middle of the type, stored as the table's last column), the grown enum, new types.
    g.mutate(
        "query q() { insert Person { name: \"Eve\", years: 41, nickname: \"evie\", role: \"guest\" } }",
        json!({}),
    )
    .await;
    g.load(
        r#"{"type": "City", "data": {"name": "Oslo"}}
{"type": "Person", "data": {"name": "Frank", "years": 50, "nickname": "frankie"}}
{"edge": "LivesIn", "from": "Eve", "to": "Oslo"}
{"edge": "LivesIn", "from": "Frank", "to": "Oslo"}
"#,
        LoadMode::Merge,
    )
    .await;
    assert_eq!(
        g.rows(
            "query q() { match { $p: Person $p livesIn $c } return { $p.name, $p.nickname, $p.role, $c.name } order { $p.name } }",
            json!({}),
        )
        .await,
        json!([
            {"p.name": "Eve", "p.nickname": "evie", "p.role": "guest", "c.name": "Oslo"},
            {"p.name": "Frank", "p.nickname": "frankie", "p.role": null, "c.name": "Oslo"},
        ])
    );
    // The new rules hold from now on: years is required and in range.
    let e = g
        .try_mutate("query q() { insert Person { name: \"Gus\" } }", json!({}))
        .await
        .expect_err("years is required now");
    assert!(e.to_string().contains("years"), "{e}");
    let e = g
        .try_mutate(
            "query q() { insert Person { name: \"Gus\", years: 130 } }",
            json!({}),
        )
        .await
        .expect_err("out of range");
    assert!(e.to_string().contains("@range"), "{e}");

    // Applying the same text again finds nothing to do and publishes nothing.
    let v = g.version().await;
    let again = g
        .graph
        .apply_schema(MAIN, EVOLVED, APPLY, "admin")
        .await
        .expect("again");
    assert!(!again.applied);
    assert!(again.steps.is_empty());
    assert_eq!(g.version().await, v);
}

/// A schema apply that must be refused, and the reason it must give.
async fn refused(g: &TestGraph, schema: &str, expect: &str) {
    let before = g.graph.snapshot(None).await.expect("snap");
    let e = g
        .graph
        .apply_schema(MAIN, schema, APPLY, "admin")
        .await
        .expect_err("refused");
    assert!(e.is_user_error(), "{e:?}");
    assert!(e.to_string().contains(expect), "`{expect}` not in: {e}");
    let after = g.graph.snapshot(None).await.expect("snap");
    assert_eq!(after.version(), before.version(), "nothing published");
    assert_eq!(after.manifest.schema_source, before.manifest.schema_source);
}

#[tokio::test]
async fn steps_the_stored_rows_break_and_unsupported_changes_change_nothing() {
    let g = TestGraph::social().await;
    let person = |extra: &str, email: &str| {
        SOCIAL_SCHEMA.replace(
            "    email: String? @unique\n",
            &format!("    email: {email} @unique\n{extra}"),
        )
    };
    // A required property added to a table with rows.
    refused(&g, &person("    phone: String\n", "String?"), "4 row(s)").await;
    // A property made required while a row has no value (Charlie, Diana have no email).
    refused(&g, &person("", "String"), "Charlie").await;
    // New rules the rows break.
    refused(&g, &person("    @unique(role)\n", "String?"), "Bob").await;
    refused(&g, &person("    @range(age, 18..)\n", "String?"), "Diana").await;
    refused(
        &g,
        &person("    @check(email, \"^[a-z]+@x[.]com$\")\n", "String?"),
        "alice@example.com",
    )
    .await;
    refused(
        &g,
        &SOCIAL_SCHEMA.replace(
            "edge Knows: Person -> Person { since: Date? }",
            "edge Knows: Person -> Person @card(0..1) { since: Date? }",
        ),
        "Alice has 2",
    )
    .await;
    // Changes that are not supported in place.
    refused(
        &g,
        &SOCIAL_SCHEMA.replace("    joined: Date?\n", "    joined: String?\n"),
        "type changes from Date to String",
    )
    .await;
    refused(
        &g,
        &SOCIAL_SCHEMA.replace("role: enum(admin, member)?", "role: enum(admin)?"),
        "unsupported",
    )
    .await;
    refused(
        &g,
        &SOCIAL_SCHEMA.replace(
            "edge WorksAt: Person -> Company",
            "edge WorksAt: Company -> Person",
        ),
        "endpoints change",
    )
    .await;
    refused(&g, "node Person {", "expected").await;
    // Rows untouched by all of it.
    assert_eq!(
        g.person_names().await,
        vec!["Alice", "Bob", "Charlie", "Diana"]
    );
    // The same rules pass once the rows fit them.
    g.mutate(
        "query q() { update Person set { email: \"x\" } where name = \"Charlie\" }",
        json!({}),
    )
    .await;
    g.mutate(
        "query q() { update Person set { email: \"y\" } where name = \"Diana\" }",
        json!({}),
    )
    .await;
    let report = g
        .graph
        .apply_schema(MAIN, &person("", "String"), APPLY, "admin")
        .await
        .expect("email can be required now");
    assert_eq!(report.steps.len(), 1);
    assert_eq!(report.steps[0].kind(), "set_nullable");
}

/// SOCIAL_SCHEMA without Company (and the edge to it) and without Person.tags.
fn dropped_schema() -> String {
    SOCIAL_SCHEMA
        .replace("    tags: [String]?\n", "")
        .replace(
            "node Company {\n    name: String @key\n    code: String?\n    @check(code, \"^[A-Z]{3}$\")\n}\n",
            "",
        )
        .replace("edge WorksAt: Person -> Company @card(0..1)\n", "")
}

#[tokio::test]
async fn drops_keep_old_versions_readable_unless_data_loss_is_allowed() {
    const OLD_READ: &str =
        "query q() { match { $p: Person $p worksAt $c } return { $p.name, $p.tags, $c.name } order { $p.name } }";
    let schema = dropped_schema();

    // Without allow_data_loss: gone from the head, readable at the version before.
    let g = TestGraph::social().await;
    let before = g.version().await;
    let report = g
        .graph
        .apply_schema(MAIN, &schema, APPLY, "admin")
        .await
        .expect("apply");
    let kinds: Vec<&str> = report.steps.iter().map(|s| s.kind()).collect();
    assert_eq!(kinds, vec!["drop_property", "drop_type", "drop_type"]);
    assert!(report.deleted_paths.is_empty());
    let head = g.graph.snapshot(None).await.expect("snap");
    assert!(!head.manifest.tables.contains_key("node:Company"));
    assert!(!head.manifest.tables.contains_key("edge:WorksAt"));
    let old = g
        .try_read_at(OLD_READ, json!({}), Some(before))
        .await
        .expect("time travel");
    assert_eq!(old.rows.len(), 3);
    assert_eq!(old.rows[0]["p.tags"], json!(["ops", "rust"]));
    assert_eq!(
        g.person_names().await,
        vec!["Alice", "Bob", "Charlie", "Diana"]
    );

    // With allow_data_loss: the data leaves storage, except what a branch still uses.
    let g = TestGraph::social().await;
    let before = g.version().await;
    g.graph
        .create_branch("keep", MAIN, "t")
        .await
        .expect("branch");
    let hard = ApplyOptions {
        allow_data_loss: true,
        dry_run: false,
    };
    let report = g
        .graph
        .apply_schema(MAIN, &schema, hard, "admin")
        .await
        .expect("apply");
    // The branch still names every old table: nothing may be deleted yet.
    assert!(report.deleted_paths.is_empty(), "{report:?}");
    assert_eq!(report.kept_paths.len(), 3, "{report:?}");
    let on_branch = g
        .graph
        .snapshot_on("keep", None)
        .await
        .expect("branch snapshot");
    assert!(on_branch.manifest.tables.contains_key("node:Company"));

    // Without the branch, the same apply deletes the files.
    let g = TestGraph::social().await;
    let report = g
        .graph
        .apply_schema(MAIN, &schema, hard, "admin")
        .await
        .expect("apply");
    assert_eq!(report.deleted_paths.len(), 3, "{report:?}");
    for path in &report.deleted_paths {
        assert!(
            !g.dir.path().join("g.omni").join(path).exists()
                || std::env::var("OMNIGRAPH_TEST_STORAGE").is_ok(),
            "{path} still on disk"
        );
    }
    let e = g
        .try_read_at(OLD_READ, json!({}), Some(before))
        .await
        .expect_err("old version lost its tables");
    assert!(matches!(e, EngineError::NotFound(_)), "{e:?}");
    assert!(e.to_string().contains("allow_data_loss"), "{e}");
    // The head reads and writes as before, rows preserved.
    assert_eq!(
        g.rows(
            "query q() { match { $p: Person $p knows $f } return { $p.name, $p.age, $f.name } order { $p.name, $f.name } }",
            json!({}),
        )
        .await,
        json!([
            {"p.name": "Alice", "p.age": 30, "f.name": "Bob"},
            {"p.name": "Alice", "p.age": 30, "f.name": "Charlie"},
            {"p.name": "Bob", "p.age": 25, "f.name": "Diana"},
        ])
    );
    g.mutate(
        "query q() { insert Person { name: \"Eve\", age: 3 } }",
        json!({}),
    )
    .await;
    assert_eq!(g.person_names().await.len(), 5);
}

#[tokio::test]
async fn dry_run_reports_and_checks_but_publishes_nothing() {
    let g = TestGraph::social().await;
    let before = g.version().await;
    let dry = ApplyOptions {
        allow_data_loss: false,
        dry_run: true,
    };
    let report = g
        .graph
        .apply_schema(MAIN, EVOLVED, dry, "admin")
        .await
        .expect("dry run");
    assert!(!report.applied);
    assert!(report.steps.len() >= 9, "{:?}", report.steps);
    assert_eq!(report.manifest_version, before);
    assert_eq!(g.version().await, before);
    assert!(g
        .graph
        .snapshot(None)
        .await
        .expect("snap")
        .manifest
        .schema_source
        .contains("age: I32?"));
    // A dry run refuses what the real apply would refuse.
    let e = g
        .graph
        .apply_schema(
            MAIN,
            &SOCIAL_SCHEMA.replace("@range(age, 0..150)", "@range(age, 20..150)"),
            dry,
            "admin",
        )
        .await
        .expect_err("Diana is 17");
    assert!(e.to_string().contains("Diana"), "{e}");
}

#[tokio::test]
async fn apply_on_a_branch_leaves_main_alone() {
    let g = TestGraph::social().await;
    g.graph
        .create_branch("dev", MAIN, "t")
        .await
        .expect("branch");
    let main_before = g.graph.snapshot(None).await.expect("snap");
    let report = g
        .graph
        .apply_schema("dev", EVOLVED, APPLY, "admin")
        .await
        .expect("apply on dev");
    assert!(report.applied);
    assert_eq!(report.branch, "dev");
    let main_after = g.graph.snapshot(None).await.expect("snap");
    assert_eq!(main_after.version(), main_before.version());
    assert_eq!(main_after.manifest.schema_source, SOCIAL_SCHEMA);
    let dev = g.graph.snapshot_on("dev", None).await.expect("dev");
    assert_eq!(dev.manifest.schema_source, EVOLVED);
    assert!(dev.manifest.tables.contains_key("node:Org"));
    // Main still reads its old names.
    assert_eq!(
        g.rows(
            "query q() { match { $c: Company } return { $c.name } order { $c.name } }",
            json!({}),
        )
        .await,
        json!([{"c.name": "Acme"}, {"c.name": "Globex"}])
    );
}

#[tokio::test]
async fn renaming_indexed_properties_moves_their_indexes() {
    let g = TestGraph::social().await;
    let renamed = SOCIAL_SCHEMA
        .replace(
            "    name: String @key\n    age",
            "    full_name: String @key @rename_from(\"name\")\n    age",
        )
        .replace(
            "email: String? @unique",
            "mail: String? @unique @rename_from(\"email\")",
        );
    let report = g
        .graph
        .apply_schema(MAIN, &renamed, APPLY, "admin")
        .await
        .expect("apply");
    let kinds: Vec<&str> = report.steps.iter().map(|s| s.kind()).collect();
    assert_eq!(kinds, vec!["rename_property", "rename_property"]);
    assert_eq!(
        g.index_names(TableKey::node("Person")).await,
        vec!["full_name_idx", "mail_idx"]
    );
    // Lookups by the renamed key and unique property, and traversals from them.
    assert_eq!(
        g.rows(
            "query q() { match { $p: Person { full_name: \"Alice\" } $p knows $f } return { $p.mail, $f.full_name } order { $f.full_name } }",
            json!({}),
        )
        .await,
        json!([
            {"p.mail": "alice@example.com", "f.full_name": "Bob"},
            {"p.mail": "alice@example.com", "f.full_name": "Charlie"},
        ])
    );
    let e = g
        .try_mutate(
            "query q() { insert Person { full_name: \"Zoe\", mail: \"bob@example.com\" } }",
            json!({}),
        )
        .await
        .expect_err("@unique still holds under the new name");
    assert!(e.to_string().contains("mail"), "{e}");
}
