//! The schema grammar: every accepted form and the shape of the resulting catalog.

use crate::common;

use common::{assert_error, schema_error, spec_catalog};
use omnigraph_lang::{
    parse_schema, parse_schema_named, BaseType, Cardinality, CheckConstraint, PropType,
    RangeConstraint,
};

#[test]
fn spec_example_schema_builds_catalog() {
    let catalog = spec_catalog();
    let names: Vec<&str> = catalog.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["Person", "Company"]);
    let person = catalog.node("Person").unwrap();
    assert_eq!(person.key, "name");
    assert_eq!(person.unique, vec![vec!["email".to_string()]]);
    assert_eq!(person.indexed, vec!["bio".to_string()]);
    let age = person.property("age").unwrap();
    assert_eq!(
        (age.ty.clone(), age.nullable),
        (PropType::Base(BaseType::I32), true)
    );
    assert_eq!(
        person.property("tags").unwrap().ty,
        PropType::List(BaseType::String)
    );
    assert_eq!(
        person.property("role").unwrap().ty,
        PropType::Enum(vec!["admin".into(), "member".into()])
    );
    assert_eq!(
        person.property("embedding").unwrap().ty,
        PropType::Vector(384)
    );
    assert!(!person.property("joined").unwrap().nullable);
    let knows = catalog.edge("Knows").unwrap();
    assert_eq!(
        (knows.from.as_str(), knows.to.as_str()),
        ("Person", "Person")
    );
    assert_eq!(knows.properties[0].name, "since");
    assert_eq!(knows.card, None);
    let works_at = catalog.edge("WorksAt").unwrap();
    assert_eq!(
        works_at.card,
        Some(Cardinality {
            min: 0,
            max: Some(1)
        })
    );
    assert!(works_at.properties.is_empty());
    assert_eq!(
        catalog.edge_by_query_name("worksAt").unwrap().name,
        "WorksAt"
    );
}

#[test]
fn every_base_type_is_accepted() {
    let catalog = parse_schema(
        "node T { id: U64 @key  a: String b: Bool c: I32 d: I64 e: U32 f: F32 g: F64 h: Date i: DateTime j: Blob k: [F64] }",
    )
    .unwrap();
    let types: Vec<String> = catalog.nodes[0]
        .properties
        .iter()
        .map(|p| p.ty.to_string())
        .collect();
    assert_eq!(
        types,
        [
            "U64", "String", "Bool", "I32", "I64", "U32", "F32", "F64", "Date", "DateTime", "Blob",
            "[F64]"
        ]
    );
}

#[test]
fn body_level_constraints_fill_the_catalog() {
    let catalog = parse_schema(
        r#"node Country {
            code: String
            name: String
            population: I64?
            score: F64
            @key(code)
            @unique(name, code)
            @index(name)
            @range(population, 0..2000000000)
            @range(score, -1.5..)
            @range(score, ..10)
            @check(code, "^[A-Z]{3}$")
        }"#,
    )
    .unwrap();
    let country = &catalog.nodes[0];
    assert_eq!(country.key, "code");
    assert_eq!(
        country.unique,
        vec![vec!["name".to_string(), "code".to_string()]]
    );
    assert_eq!(country.indexed, vec!["name".to_string()]);
    assert_eq!(
        country.ranges,
        vec![
            RangeConstraint {
                property: "population".into(),
                min: Some(0.0),
                max: Some(2e9)
            },
            RangeConstraint {
                property: "score".into(),
                min: Some(-1.5),
                max: None
            },
            RangeConstraint {
                property: "score".into(),
                min: None,
                max: Some(10.0)
            },
        ]
    );
    assert_eq!(
        country.checks,
        vec![CheckConstraint {
            property: "code".into(),
            pattern: "^[A-Z]{3}$".into()
        }]
    );
}

#[test]
fn constraint_may_precede_the_property_it_names() {
    let catalog = parse_schema("node A { @key(id) id: I64 }").unwrap();
    assert_eq!(catalog.nodes[0].key, "id");
}

#[test]
fn inline_and_body_annotations_are_deduplicated() {
    let catalog = parse_schema(
        "node A { id: I32 @key name: String @unique @index @unique(name) @index(name) }",
    )
    .unwrap();
    assert_eq!(catalog.nodes[0].unique, vec![vec!["name".to_string()]]);
    assert_eq!(catalog.nodes[0].indexed, vec!["name".to_string()]);
}

#[test]
fn edges_with_and_without_bodies_and_cardinalities() {
    let catalog = parse_schema(
        "node P { n: String @key }
         edge A: P -> P
         edge B: P -> P @card(1..)
         edge C: P -> P @card(1..1) { w: F32 @index @range(w, 0..1) }
         edge D: P -> P {}",
    )
    .unwrap();
    let cards: Vec<Option<Cardinality>> = catalog.edges.iter().map(|e| e.card).collect();
    assert_eq!(
        cards,
        [
            None,
            Some(Cardinality { min: 1, max: None }),
            Some(Cardinality {
                min: 1,
                max: Some(1)
            }),
            None
        ]
    );
    let c = catalog.edge("C").unwrap();
    assert_eq!(c.indexed, vec!["w".to_string()]);
    assert_eq!(c.ranges[0].max, Some(1.0));
}

#[test]
fn edge_unique_may_name_endpoints() {
    let catalog = parse_schema(
        "node P { n: String @key }
         edge A: P -> P { @unique(from, to) }
         edge B: P -> P { @unique(__src, __dst) }",
    )
    .unwrap();
    for edge in &catalog.edges {
        assert_eq!(
            edge.unique,
            vec![vec!["from".to_string(), "to".to_string()]]
        );
    }
}

#[test]
fn comments_and_separators_are_ignored() {
    let catalog = parse_schema(
        "/* header
           spanning lines */ node P { // trailing
           n: String @key, /* inline */ m: I32?; }",
    )
    .unwrap();
    assert_eq!(catalog.nodes[0].properties.len(), 2);
}

#[test]
fn enum_values_may_be_hyphenated_like_public_schemas() {
    let catalog =
        parse_schema("node P { n: String @key d: enum(i-committed, mutual, p0) }").unwrap();
    assert_eq!(
        catalog.nodes[0].properties[1].ty,
        PropType::Enum(vec!["i-committed".into(), "mutual".into(), "p0".into()])
    );
}

#[test]
fn keyword_like_property_names_are_allowed() {
    let catalog = parse_schema("node P { order: I32 @key match: String? limit: I64? }").unwrap();
    assert_eq!(catalog.nodes[0].key, "order");
}

#[test]
fn interface_properties_are_copied_into_implementing_nodes() {
    let catalog = parse_schema(
        "interface Named { name: String @key @index }
         interface Dated { created: DateTime? }
         node Person implements Named, Dated { age: I32? }",
    )
    .unwrap();
    assert_eq!(catalog.nodes.len(), 1);
    let person = &catalog.nodes[0];
    let names: Vec<&str> = person.properties.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["name", "created", "age"]);
    assert_eq!(person.key, "name");
    assert_eq!(person.indexed, vec!["name".to_string()]);
}

#[test]
fn empty_schema_is_an_empty_catalog() {
    let catalog = parse_schema("  // nothing\n").unwrap();
    assert!(catalog.nodes.is_empty() && catalog.edges.is_empty());
}

#[test]
fn catalog_round_trips_through_json() {
    let catalog = spec_catalog();
    let json = serde_json::to_string(&catalog).unwrap();
    assert_eq!(
        serde_json::from_str::<omnigraph_lang::Catalog>(&json).unwrap(),
        catalog
    );
}

#[test]
fn errors_name_the_source_file() {
    let err = parse_schema_named("node P {\n  n String }", "graph.pg").unwrap_err();
    assert_eq!(err.source_name, "graph.pg");
    assert!(
        err.to_string().starts_with("graph.pg:2:5: error[P1]: "),
        "{err}"
    );
}

#[test]
fn syntax_error_missing_colon() {
    let err = schema_error("node P {\n  n String @key }");
    assert_error(&err, "P1", 2, 5);
    assert_eq!(err.expected.as_deref(), Some("`:`"));
    assert_eq!(err.found.as_deref(), Some("`String`"));
}

#[test]
fn syntax_error_missing_arrow_in_edge() {
    let err = schema_error("node P { n: String @key }\nedge E: P to P");
    assert_error(&err, "P1", 2, 11);
}

#[test]
fn syntax_error_unknown_top_level_keyword() {
    let err = schema_error("node P { n: String @key }\n  table X {}");
    assert_error(&err, "P1", 2, 3);
    assert_eq!(
        err.expected.as_deref(),
        Some("`node`, `edge` or `interface`")
    );
}

#[test]
fn syntax_error_unclosed_body() {
    let err = schema_error("node P { n: String @key");
    assert_error(&err, "P1", 1, 24);
    assert_eq!(err.found.as_deref(), Some("end of input"));
}

#[test]
fn syntax_error_unterminated_block_comment() {
    let err = schema_error("node P { n: String @key }\n /* never closed");
    assert_error(&err, "P1", 2, 2);
}

#[test]
fn syntax_error_empty_enum() {
    let err = schema_error("node P { n: String @key r: enum() }");
    assert_error(&err, "P1", 1, 33);
}

#[test]
fn syntax_error_bad_range_argument() {
    let err = schema_error("node P { n: String @key a: I32 @range(a, 1..-) }");
    assert_error(&err, "P1", 1, 46);
}
