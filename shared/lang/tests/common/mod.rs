//! Helpers shared by the integration tests.
#![allow(dead_code)]

use omnigraph_lang::{parse_schema, Catalog, LangError};

/// An example schema with every construct of docs/languages.md, section 1.
pub const SPEC_SCHEMA: &str = r#"
// line comment, /* block comment */
node Person {
    name: String @key          // exactly one @key per node type; it is the node's identity
    age: I32?                  // '?' = nullable; without it the property is required
    email: String @unique
    tags: [String]?            // list of a base type
    role: enum(admin, member)  // closed set of string values
    bio: String @index         // scalar index (B-tree / inverted) on this column
    embedding: Vector(384)?    // fixed-size f32 vector (for nearest())
    joined: Date
    seen: DateTime?
}
node Company { name: String @key }
edge Knows: Person -> Person { since: Date? }     // edge with properties
edge WorksAt: Person -> Company @card(0..1)       // at most one per source node
"#;

pub fn spec_catalog() -> Catalog {
    parse_schema(SPEC_SCHEMA).expect("spec schema is valid")
}

/// Asserts an error's code and 1-based position, printing the error on failure.
#[track_caller]
pub fn assert_error(err: &LangError, code: &str, line: u32, column: u32) {
    assert_eq!(
        (err.code.as_deref(), err.line, err.column),
        (Some(code), line, column),
        "unexpected error: {err}"
    );
}

#[track_caller]
pub fn schema_error(source: &str) -> LangError {
    match parse_schema(source) {
        Ok(catalog) => panic!("schema should be rejected, got {catalog:#?}"),
        Err(err) => err,
    }
}

/// A schema exercising every property type, for query tests.
pub const QUERY_SCHEMA: &str = r#"
node Person {
    name: String @key
    age: I32?
    score: F64?
    nick: String?
    tags: [String]?
    scores: [I64]?
    role: enum(admin, member)?
    born: Date?
    seen: DateTime?
    active: Bool?
    photo: Blob?
    embedding: Vector(3)?
    level: U32?
}
node Company { name: String @key  founded: Date?  size: U32 }
node Badge { id: I64 @key  label: String }
edge Knows: Person -> Person { since: Date?  weight: F32? }
edge WorksAt: Person -> Company @card(0..1) { title: String }
"#;

pub fn query_catalog() -> Catalog {
    parse_schema(QUERY_SCHEMA).expect("query schema is valid")
}

/// Wraps `body` (starting on line 2, column 1) in a query with a set of parameters.
pub fn query(body: &str) -> String {
    format!(
        "query q($name: String, $age: I32, $maybe: String?, $f: F64, $d: Date, $flag: Bool, $tags: [String], $n: I64?) {{\n{body}\n}}"
    )
}

#[track_caller]
pub fn check_ok(source: &str) -> omnigraph_lang::TypedQuery {
    match omnigraph_lang::compile(&query_catalog(), source, None) {
        Ok(q) => q,
        Err(err) => panic!("query should check, got {err}"),
    }
}

#[track_caller]
pub fn check_err(source: &str) -> LangError {
    match omnigraph_lang::compile(&query_catalog(), source, None) {
        Ok(q) => panic!("query should be rejected, got {q:#?}"),
        Err(err) => err,
    }
}

#[track_caller]
pub fn read_ok(source: &str) -> omnigraph_lang::ReadQuery {
    match check_ok(source).body {
        omnigraph_lang::QueryBody::Read(read) => read,
        other => panic!("expected a read query, got {other:?}"),
    }
}

#[track_caller]
pub fn mutation_ok(source: &str) -> Vec<omnigraph_lang::MutationStmt> {
    match check_ok(source).body {
        omnigraph_lang::QueryBody::Mutation(statements) => statements,
        other => panic!("expected a mutation, got {other:?}"),
    }
}
