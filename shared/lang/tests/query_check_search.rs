//! Search functions: what checks, what it becomes, and every misuse with its position.

use crate::common;

use common::assert_error;
use omnigraph_lang::*;

const SCHEMA: &str = r#"
node Doc {
    slug: String @key
    title: String @index
    body: String @index
    note: String?
    year: I32
    embedding: Vector(3)? @index
    auto: Vector(3)? @embed("body")
}
node Author { name: String @key }
edge Wrote: Author -> Doc
"#;

const PARAMS: &str = "$q: String, $v: Vector(3), $v4: Vector(4), $n: I32";

fn compile_search(body: &str) -> Result<TypedQuery, LangError> {
    let catalog = parse_schema(SCHEMA).expect("schema");
    compile(&catalog, &format!("query s({PARAMS}) {{ {body} }}"), None)
}

fn read(body: &str) -> ReadQuery {
    match compile_search(body).unwrap_or_else(|e| panic!("{e}")).body {
        QueryBody::Read(r) => r,
        other => panic!("a read: {other:?}"),
    }
}

/// The error of `body`, which must be at the first occurrence of `at` in it.
#[track_caller]
fn err_at(body: &str, code: &str, at: &str) -> LangError {
    let err = compile_search(body).expect_err("should be rejected");
    let prefix = format!("query s({PARAMS}) {{ ");
    let column = prefix.len() + body.find(at).expect("marker in body") + 1;
    assert_error(&err, code, 1, column as u32);
    err
}

#[test]
fn predicates_become_search_clauses() {
    let q = read("match { $d: Doc search($d.body, $q) match_text($d.title, \"graph db\") fuzzy($d.body, $q, 1) fuzzy($d.body, $q) } return { $d.slug }");
    let modes: Vec<TextMode> = q
        .clauses
        .iter()
        .filter_map(|c| match c {
            Clause::Search(SearchExpr::Text { mode, .. }) => Some(*mode),
            _ => None,
        })
        .collect();
    assert_eq!(
        modes,
        vec![
            TextMode::AllTerms,
            TextMode::Phrase,
            TextMode::Fuzzy { max_edits: Some(1) },
            TextMode::Fuzzy { max_edits: None },
        ]
    );
}

#[test]
fn scores_are_values_and_order_best_first() {
    let q = read("match { $d: Doc } return { $d.slug, bm25($d.body, $q) as score, nearest($d.embedding, $v) as dist, search($d.body, $q) as hit } order { bm25($d.body, $q) } limit 3");
    assert_eq!(q.columns(), vec!["d.slug", "score", "dist", "hit"]);
    assert_eq!(q.returns[1].result_type.ty, PropType::Base(BaseType::F64));
    assert!(q.returns[2].result_type.nullable);
    assert_eq!(q.returns[3].result_type.ty, PropType::Base(BaseType::Bool));
    // The order key reuses the returned score and ranks best first.
    assert_eq!(q.order[0].column, 1);
    assert!(q.order[0].descending);

    let q =
        read("match { $d: Doc } return { $d.slug } order { nearest($d.embedding, $v) } limit 2");
    assert!(!q.order[0].descending, "nearest orders closest first");
    assert!(q.returns[1].hidden);

    let q = read("match { $d: Doc } return { $d.slug } order { bm25($d.body, $q) asc }");
    assert!(!q.order[0].descending, "an explicit asc is kept");
}

#[test]
fn rrf_fuses_two_rankings_with_default_k() {
    let q = read("match { $d: Doc } return { $d.slug } order { rrf(nearest($d.embedding, $v), bm25($d.body, $q)) } limit 3");
    let ProjExpr::Search(SearchExpr::Rrf { first, second, k }) = &q.returns[1].expr else {
        panic!("rrf: {:?}", q.returns[1].expr)
    };
    assert_eq!(*k, 60);
    assert!(matches!(first.as_ref(), SearchExpr::Nearest { .. }));
    assert!(matches!(second.as_ref(), SearchExpr::Bm25 { .. }));
    assert!(q.order[0].descending);
    let q = read("match { $d: Doc } return { rrf(bm25($d.title, $q), bm25($d.body, $q), 10) as r } order { r desc }");
    assert!(matches!(
        &q.returns[0].expr,
        ProjExpr::Search(SearchExpr::Rrf { k: 10, .. })
    ));
}

#[test]
fn nearest_takes_a_string_on_an_embedded_property() {
    read("match { $d: Doc } return { $d.slug } order { nearest($d.auto, $q) } limit 1");
    read("match { $d: Doc } return { $d.slug } order { nearest($d.auto, \"graphs\") } limit 1");
}

#[test]
fn search_composes_with_traversal_and_filters() {
    let q = read("match { $a: Author { name: \"ann\" } $a wrote $d $d.year >= 2020 search($d.body, $q) } return { $d.slug } order { nearest($d.embedding, $v) } limit 2");
    assert!(q.clauses.iter().any(|c| matches!(c, Clause::Search(_))));
}

#[test]
fn text_search_needs_an_indexed_string() {
    // Term matching scans an unindexed String; phrase and fuzzy matching need the index.
    read("match { $d: Doc search($d.note, $q) } return { $d }");
    read("match { $d: Doc } return { bm25($d.note, $q) as s }");
    for func in ["match_text", "fuzzy"] {
        let err = err_at(
            &format!("match {{ $d: Doc {func}($d.note, $q) }} return {{ $d }}"),
            "T16",
            "$d.note",
        );
        assert!(err.message.contains("no @index"), "{err}");
    }
    err_at(
        "match { $d: Doc search($d.year, $q) } return { $d }",
        "T16",
        "$d.year",
    );
    err_at(
        "match { $d: Doc } return { bm25($d.embedding, $q) as s }",
        "T16",
        "$d.embedding",
    );
    err_at(
        "match { $d: Doc search($d.nope, $q) } return { $d }",
        "T6",
        "nope",
    );
    err_at(
        "match { $d: Doc search($x.body, $q) } return { $d }",
        "T6",
        "$x",
    );
}

#[test]
fn text_queries_are_strings() {
    err_at(
        "match { $d: Doc search($d.body, 3) } return { $d }",
        "T16",
        "3)",
    );
    err_at(
        "match { $d: Doc search($d.body, $n) } return { $d }",
        "T16",
        "$n",
    );
    err_at(
        "match { $d: Doc search($d.body, $d.title) } return { $d }",
        "T16",
        "$d.title",
    );
    err_at(
        "match { $d: Doc search($d.body, $nope) } return { $d }",
        "T10",
        "$nope",
    );
}

#[test]
fn arity_and_fuzzy_distance() {
    err_at(
        "match { $d: Doc search($d.body) } return { $d }",
        "T16",
        "search",
    );
    err_at(
        "match { $d: Doc fuzzy($d.body, $q, 3) } return { $d }",
        "T16",
        "3)",
    );
    err_at(
        "match { $d: Doc fuzzy($d.body, $q, $n) } return { $d }",
        "T16",
        "$n)",
    );
    err_at(
        "match { $d: Doc } return { $d } order { rrf(bm25($d.body, $q)) }",
        "T16",
        "rrf",
    );
}

#[test]
fn scores_are_not_conditions() {
    let err = err_at(
        "match { $d: Doc bm25($d.body, $q) } return { $d }",
        "T16",
        "bm25",
    );
    assert!(err.message.contains("not a condition"), "{err}");
    err_at(
        "match { $d: Doc nearest($d.embedding, $v) } return { $d }",
        "T16",
        "nearest",
    );
}

#[test]
fn nearest_needs_a_fitting_vector() {
    err_at(
        "match { $d: Doc } return { $d } order { nearest($d.body, $v) }",
        "T16",
        "$d.body",
    );
    err_at(
        "match { $d: Doc } return { $d } order { nearest($d.embedding, $v4) }",
        "T16",
        "$v4",
    );
    let err = err_at(
        "match { $d: Doc } return { $d } order { nearest($d.embedding, $q) }",
        "T16",
        "$q",
    );
    assert!(err.message.contains("@embed"), "{err}");
    err_at(
        "match { $d: Doc } return { $d } order { nearest($d.embedding, $n) }",
        "T16",
        "$n",
    );
}

#[test]
fn rrf_needs_two_rankings_of_one_variable() {
    err_at(
        "match { $d: Doc } return { $d } order { rrf(search($d.body, $q), bm25($d.body, $q)) }",
        "T16",
        "search",
    );
    err_at("match { $d: Doc $e: Doc } return { $d } order { rrf(bm25($d.body, $q), bm25($e.body, $q)) }", "T16", "bm25($e");
    err_at(
        "match { $d: Doc } return { $d } order { rrf(bm25($d.body, $q), bm25($d.title, $q), 0) }",
        "T16",
        "0)",
    );
}

#[test]
fn a_search_score_cannot_order_an_aggregate() {
    err_at(
        "match { $d: Doc } return { count($d) as n } order { bm25($d.body, $q) }",
        "T14",
        "bm25",
    );
}
