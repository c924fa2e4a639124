//! Malformed input yields positioned errors, never panics.

use crate::common;

use omnigraph_lang::{compile, parse_queries, parse_schema, LangError};
use proptest::prelude::*;

const QUERY_SOURCE: &str = r#"query q($name: String, $n: I32?) {
    match { $p: Person { name: $name } $p knows{1,2} $f $f.age >= -3 not { $f worksAt $_ } }
    return { $f.name, count($p) as n, avg($f.score) }
    order { n desc, $f.name }
    limit 10
}
query m($a: String) { insert Knows { from: $a, to: "b", since: "2020-01-01" } update Person set { age: 3 } where name = $a delete Person where name != "x" }"#;

fn assert_in_bounds(source: &str, err: &LangError) {
    let lines = source.split('\n').count() as u32;
    assert!(
        err.line >= 1 && err.line <= lines,
        "{err} (source has {lines} lines)"
    );
    assert!(err.column >= 1, "{err}");
}

#[test]
fn every_prefix_of_a_schema_fails_cleanly_or_parses() {
    let source = common::QUERY_SCHEMA;
    for (end, _) in source.char_indices() {
        if let Err(err) = parse_schema(&source[..end]) {
            assert_in_bounds(&source[..end], &err);
        }
    }
}

#[test]
fn every_prefix_of_a_query_fails_cleanly_or_checks() {
    let catalog = common::query_catalog();
    for (end, _) in QUERY_SOURCE.char_indices() {
        if let Err(err) = compile(&catalog, &QUERY_SOURCE[..end], Some("q")) {
            assert_in_bounds(&QUERY_SOURCE[..end], &err);
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_the_schema_parser(source in "\\PC{0,200}") {
        if let Err(err) = parse_schema(&source) {
            assert_in_bounds(&source, &err);
        }
    }

    #[test]
    fn arbitrary_text_never_panics_the_query_parser(source in "\\PC{0,200}") {
        if let Err(err) = parse_queries(&source) {
            assert_in_bounds(&source, &err);
        }
    }

    #[test]
    fn token_soup_never_panics_the_checker(
        tokens in prop::collection::vec(
            prop::sample::select(vec![
                "query", "q", "(", ")", "{", "}", "match", "return", "order", "limit", "not",
                "$p", "$_", "$name", ":", "Person", "Company", "knows", "worksAt", ".", "name",
                "age", "=", "<", "contains", "1", "\"s\"", "count", "(", "as", "desc", ",",
                "insert", "update", "set", "where", "delete", "Knows", "from", "to", "{1,3}",
            ]),
            0..40,
        )
    ) {
        let source = format!("query q($name: String) {{ {} }}", tokens.join(" "));
        if let Err(err) = compile(&common::query_catalog(), &source, None) {
            assert_in_bounds(&source, &err);
        }
    }
}

/// Pieces a mutation inserts: delimiters, keywords, huge numbers, odd characters.
const PIECES: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\"",
    ",",
    ":",
    ".",
    "..",
    "-",
    "$",
    "$_",
    "@key",
    "@unique(",
    "@index",
    "@range(",
    "@check(",
    "@card(",
    "enum(",
    "node",
    "edge",
    "->",
    "query",
    "match",
    "return",
    "not",
    "insert",
    "update",
    "delete",
    "{0,4294967295}",
    "{4294967296}",
    "99999999999999999999",
    "-0.0e999",
    "\u{0}",
    "é",
    "\u{202e}",
    "//",
    "/*",
    "*/",
    "\n",
    "\\",
    "Vector(0)",
    "Vector(99999999)",
    "[[[[",
    "]]]]",
];

/// Applies `edits` to `source` (on chars, so every cut is on a char boundary): each is
/// (kind, position, length or piece index).
fn mutate(source: &str, edits: &[(u8, usize, usize)]) -> String {
    let mut chars: Vec<char> = source.chars().collect();
    for (kind, at, n) in edits {
        let at = if chars.is_empty() {
            0
        } else {
            at % (chars.len() + 1)
        };
        match kind % 4 {
            0 => {
                let end = (at + n % 16).min(chars.len());
                chars.drain(at..end);
            }
            1 => {
                let piece = PIECES[n % PIECES.len()];
                chars.splice(at..at, piece.chars());
            }
            2 => {
                let end = (at + n % 32).min(chars.len());
                let copy: Vec<char> = chars[at..end].to_vec();
                chars.splice(at..at, copy);
            }
            _ => {
                if at < chars.len() {
                    chars[at] = PIECES[n % PIECES.len()].chars().next().unwrap_or('x');
                }
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mutated_schemas_parse_or_fail_with_a_positioned_error(
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<usize>()), 1..6)
    ) {
        for schema in [common::QUERY_SCHEMA, common::SPEC_SCHEMA] {
            let source = mutate(schema, &edits);
            if let Err(err) = parse_schema(&source) {
                assert_in_bounds(&source, &err);
            }
        }
    }

    #[test]
    fn mutated_queries_check_or_fail_with_a_positioned_error(
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<usize>()), 1..6)
    ) {
        let catalog = common::query_catalog();
        let source = mutate(QUERY_SOURCE, &edits);
        match parse_queries(&source) {
            Err(err) => assert_in_bounds(&source, &err),
            Ok(_) => {
                for name in [Some("q"), Some("m"), None] {
                    if let Err(err) = compile(&catalog, &source, name) {
                        assert_in_bounds(&source, &err);
                    }
                }
            }
        }
    }
}

#[test]
fn deeply_nested_negation_is_refused_not_a_stack_overflow() {
    let depth = 100_000;
    let nested = format!("{}{}", "not { ".repeat(depth), "} ".repeat(depth));
    let source = format!("query q() {{ match {{ $p: Person {nested} }} return {{ $p }} }}");
    let err = parse_queries(&source).unwrap_err();
    assert_eq!(err.code.as_deref(), Some("P1"));
    assert!(err.message.contains("nested more than 32 deep"), "{err}");
    let ok = format!(
        "query q() {{ match {{ $p: Person {}$p.age > 1 {} }} return {{ $p }} }}",
        "not { ".repeat(32),
        "} ".repeat(32)
    );
    parse_queries(&ok).unwrap();
}

#[test]
fn deeply_nested_list_type_is_refused_not_a_stack_overflow() {
    let source = format!(
        "node A {{ n: String @key l: {}String{} }}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let err = parse_schema(&source).unwrap_err();
    assert_eq!(err.code.as_deref(), Some("P1"));
}
