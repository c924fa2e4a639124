//! Schema validation: every rule, with the code and position of its error.

use crate::common;

use common::{assert_error, schema_error};

const P: &str = "node P { n: String @key }\n";

fn with_p(rest: &str) -> String {
    format!("{P}{rest}")
}

#[test]
fn duplicate_node_type_is_rejected_at_second_name() {
    let err = schema_error("node A { n: String @key }\nnode A { n: String @key }");
    assert_error(&err, "S1", 2, 6);
    assert!(
        err.message
            .contains("already declared as a node type at 1:6"),
        "{err}"
    );
}

#[test]
fn nodes_and_edges_share_a_namespace() {
    let err = schema_error(&with_p("edge P: P -> P"));
    assert_error(&err, "S1", 2, 6);
}

#[test]
fn duplicate_property_is_rejected() {
    let err = schema_error("node A {\n  n: String @key\n  n: I32\n}");
    assert_error(&err, "S2", 3, 3);
}

#[test]
fn duplicate_property_from_interface_is_rejected() {
    let err = schema_error("interface I { n: String @key }\nnode A implements I {\n  n: I32 }");
    assert_error(&err, "S2", 3, 3);
}

#[test]
fn a_node_without_key_gets_the_system_id() {
    let catalog = omnigraph_lang::parse_schema("node Thing {\n  n: String\n}").unwrap();
    let thing = catalog.node("Thing").unwrap();
    assert_eq!(thing.key, "id");
    assert!(thing.system_id);
    assert!(thing.key_parts.is_empty());
    let id = thing.property("id").unwrap();
    assert_eq!(id.ty.to_string(), "String");
    assert!(!id.nullable);
    assert_eq!(thing.properties[0].name, "id", "the id column comes first");
}

#[test]
fn a_node_without_key_may_not_declare_its_own_id() {
    let err = schema_error("node Thing {\n  n: String\n  id: String\n}");
    assert_error(&err, "S3", 3, 3);
    // With @key it is an ordinary key property.
    let catalog = omnigraph_lang::parse_schema("node Thing { id: String @key }").unwrap();
    assert!(!catalog.node("Thing").unwrap().system_id);
}
#[test]
fn node_with_two_inline_keys_is_rejected_at_the_second() {
    let err = schema_error("node A {\n  a: String @key\n  b: I64 @key\n}");
    assert_error(&err, "S3", 3, 10);
}

#[test]
fn node_with_inline_and_body_key_is_rejected() {
    let err = schema_error("node A {\n  a: String @key\n  b: I64\n  @key(b)\n}");
    assert_error(&err, "S3", 4, 3);
}

#[test]
fn a_composite_key_is_the_system_id_over_its_parts_and_is_unique() {
    let catalog =
        omnigraph_lang::parse_schema("node A { a: String b: I64 c: I32? @key(a, b) }").unwrap();
    let a = catalog.node("A").unwrap();
    assert_eq!(a.key, "id");
    assert!(a.system_id);
    assert_eq!(a.key_parts, vec!["a", "b"]);
    assert_eq!(a.unique[0], vec!["a", "b"]);
    assert_eq!(a.identity_properties(), vec!["a", "b"]);
}

#[test]
fn composite_key_errors_are_positioned() {
    // A nullable part, a repeated part, a part of a type that cannot be a key.
    let err = schema_error("node A { a: String b: String? @key(a, b) }");
    assert_error(&err, "S4", 1, 39);
    let err = schema_error("node A { a: String @key(a, a) }");
    assert_error(&err, "S3", 1, 28);
    let err = schema_error("node A { a: String b: F64 @key(a, b) }");
    assert_error(&err, "S4", 1, 35);
    // Two keys, whatever their form.
    let err = schema_error("node A { a: String @key b: String @key(a, b) }");
    assert_error(&err, "S3", 1, 35);
}
#[test]
fn nullable_key_is_rejected() {
    let err = schema_error("node A {\n  a: String? @key\n}");
    assert_error(&err, "S4", 2, 14);
    assert_eq!(err.found.as_deref(), Some("String?"));
}

#[test]
fn non_scalar_or_float_key_is_rejected() {
    for ty in ["F64", "Bool", "[String]", "Date", "enum(a)", "Vector(2)"] {
        let err = schema_error(&format!("node A {{ a: {ty} @key }}"));
        assert_error(&err, "S4", 1, 14 + ty.len() as u32);
    }
}

#[test]
fn integer_keys_are_accepted() {
    for ty in ["I32", "I64", "U32", "U64"] {
        omnigraph_lang::parse_schema(&format!("node A {{ a: {ty} @key }}")).unwrap();
    }
}

#[test]
fn edge_with_unknown_source_is_rejected() {
    let err = schema_error(&with_p("edge E: Q -> P"));
    assert_error(&err, "S5", 2, 9);
    assert_eq!(err.found.as_deref(), Some("`Q`"));
    assert_eq!(err.expected.as_deref(), Some("one of: P"));
}

#[test]
fn edge_with_unknown_target_is_rejected() {
    let err = schema_error(&with_p("edge E: P -> Q"));
    assert_error(&err, "S5", 2, 14);
}

#[test]
fn edge_endpoint_must_be_a_node_type() {
    let err = schema_error(&with_p("edge E: P -> P\nedge F: P -> E"));
    assert_error(&err, "S5", 3, 14);
}

#[test]
fn edge_may_reference_node_declared_later() {
    omnigraph_lang::parse_schema("edge E: P -> P\nnode P { n: String @key }").unwrap();
}

#[test]
fn unknown_interface_is_rejected() {
    let err = schema_error("node A implements Named { n: String @key }");
    assert_error(&err, "S5", 1, 19);
}

#[test]
fn reserved_type_name_is_rejected() {
    let err = schema_error("node _Sys { n: String @key }");
    assert_error(&err, "S6", 1, 6);
}

#[test]
fn reserved_property_name_is_rejected() {
    let err = schema_error("node A {\n  _id: String @key\n}");
    assert_error(&err, "S6", 2, 3);
}

#[test]
fn edge_properties_named_from_or_to_are_reserved() {
    let err = schema_error(&with_p("edge E: P -> P {\n  from: String\n}"));
    assert_error(&err, "S6", 3, 3);
    let err = schema_error(&with_p("edge E: P -> P { to: I32? }"));
    assert_error(&err, "S6", 2, 18);
}

#[test]
fn node_properties_named_from_or_to_are_allowed() {
    omnigraph_lang::parse_schema("node A { from: String @key to: String }").unwrap();
}

#[test]
fn built_in_type_name_cannot_be_declared() {
    let err = schema_error("node String { n: String @key }");
    assert_error(&err, "S6", 1, 6);
}

#[test]
fn lower_case_type_name_is_rejected() {
    let err = schema_error("node person { n: String @key }");
    assert_error(&err, "S7", 1, 6);
    let err = schema_error(&with_p("edge knows: P -> P"));
    assert_error(&err, "S7", 2, 6);
}

#[test]
fn upper_case_property_name_is_rejected() {
    let err = schema_error("node A {\n  Name: String @key\n}");
    assert_error(&err, "S7", 2, 3);
}

#[test]
fn constraints_naming_unknown_properties_are_rejected() {
    let cases = [
        ("@key(nme)", 8),
        ("@unique(n, nme)", 14),
        ("@index(nme)", 10),
        ("@range(nme, 0..1)", 10),
        ("@check(nme, \"a\")", 10),
    ];
    for (constraint, column) in cases {
        let err = schema_error(&format!("node A {{ n: String\n  {constraint} }}"));
        assert_error(&err, "S8", 2, column);
        assert_eq!(err.found.as_deref(), Some("`nme`"));
    }
}

#[test]
fn edge_constraint_naming_unknown_property_is_rejected() {
    let err = schema_error(&with_p("edge E: P -> P { w: I32 @unique(from, source) }"));
    assert_error(&err, "S8", 2, 39);
}

#[test]
fn edge_body_constraints_may_name_src_and_dst() {
    let catalog = omnigraph_lang::parse_schema(&with_p(
        "edge E: P -> P { @unique(src) }\nedge F: P -> P { @unique(src, dst) }\nedge G: P -> P { src: String @unique(src) }",
    ))
    .unwrap();
    assert_eq!(catalog.edge("E").unwrap().unique, vec![vec!["from"]]);
    assert_eq!(catalog.edge("F").unwrap().unique, vec![vec!["from", "to"]]);
    // A declared property of that name is meant where one exists.
    assert_eq!(catalog.edge("G").unwrap().unique, vec![vec!["src"]]);
}

#[test]
fn enum_values_may_be_hyphenated_and_start_with_digits() {
    let catalog = omnigraph_lang::parse_schema(
        "node M { n: String @key kind: enum(partner-1on1, 1on1, phase-3, side-project, 2x) }",
    )
    .unwrap();
    let kind = catalog.node("M").unwrap().property("kind").unwrap();
    assert_eq!(
        kind.ty.to_string(),
        "enum(partner-1on1, 1on1, phase-3, side-project, 2x)"
    );
    // Only an enum value may start with a digit.
    let err = schema_error("node 1on1 { n: String @key }");
    assert!(err.to_string().contains("1on1"), "{err}");
    let err = schema_error("node M { 2n: String @key }");
    assert!(err.to_string().contains("2n"), "{err}");
}

#[test]
fn range_on_non_numeric_property_is_rejected() {
    let err = schema_error("node A { n: String @key\n  @range(n, 0..10) }");
    assert_error(&err, "S9", 2, 10);
    assert_eq!(err.found.as_deref(), Some("String"));
}

#[test]
fn range_with_min_above_max_is_rejected() {
    let err = schema_error("node A { n: String @key a: I32\n  @range(a, 10..1) }");
    assert_error(&err, "S9", 2, 13);
}

#[test]
fn range_without_bounds_is_rejected() {
    let err = schema_error("node A { n: String @key a: I32\n  @range(a, ..) }");
    assert_error(&err, "S9", 2, 13);
    let err = schema_error("node A { n: String @key a: I32\n  @range(a, 5) }");
    assert_error(&err, "S9", 2, 13);
}

#[test]
fn check_on_non_string_property_is_rejected() {
    let err = schema_error("node A { n: String @key a: I32\n  @check(a, \"^1$\") }");
    assert_error(&err, "S10", 2, 10);
}

#[test]
fn check_with_invalid_regex_is_rejected_at_the_pattern() {
    let err = schema_error("node A { n: String @key\n  @check(n, \"^(ab$\") }");
    assert_error(&err, "S10", 2, 13);
    assert!(
        err.found.as_deref().unwrap().contains("unclosed group"),
        "{err}"
    );
}

#[test]
fn unknown_property_type_is_rejected() {
    let err = schema_error("node A {\n  n: String @key\n  a: Integer\n}");
    assert_error(&err, "S11", 3, 6);
    assert_eq!(err.found.as_deref(), Some("`Integer`"));
}

#[test]
fn unknown_list_element_type_is_rejected() {
    let err = schema_error("node A { n: String @key a: [Strin] }");
    assert_error(&err, "S11", 1, 29);
}

#[test]
fn node_type_as_property_type_is_rejected() {
    let err = schema_error(&with_p("node A { n: String @key boss: P }"));
    assert_error(&err, "S11", 2, 31);
}

#[test]
fn list_of_non_base_type_is_rejected() {
    let err = schema_error("node A { n: String @key a: [[String]] }");
    assert_error(&err, "S11", 1, 29);
    let err = schema_error("node A { n: String @key a: [Vector(3)] }");
    assert_error(&err, "S11", 1, 29);
}

#[test]
fn zero_dimension_vector_is_rejected() {
    let err = schema_error("node A { n: String @key e: Vector(0) }");
    assert_error(&err, "S11", 1, 28);
}

#[test]
fn duplicate_enum_value_is_rejected() {
    let err = schema_error("node A { n: String @key r: enum(a, b, a) }");
    assert_error(&err, "S11", 1, 39);
}

#[test]
fn edge_with_inline_key_is_rejected() {
    let err = schema_error(&with_p("edge E: P -> P { id: String @key }"));
    assert_error(&err, "S3", 2, 29);
}

#[test]
fn edge_with_body_key_is_rejected() {
    let err = schema_error(&with_p("edge E: P -> P { id: String\n  @key(id) }"));
    assert_error(&err, "S3", 3, 3);
}

#[test]
fn invalid_cardinalities_are_rejected() {
    let cases = [
        ("@card(2..1)", 22),
        ("@card(0..0)", 22),
        ("@card(0.5..1)", 22),
        ("@card(1)", 16),
    ];
    for (card, column) in cases {
        let err = schema_error(&with_p(&format!("edge E: P -> P {card}")));
        assert_error(&err, "S12", 2, column);
    }
}

#[test]
fn duplicate_cardinality_is_rejected() {
    let err = schema_error(&with_p("edge E: P -> P @card(0..1) @card(1..)"));
    assert_error(&err, "S12", 2, 28);
}

#[test]
fn unknown_annotations_are_rejected() {
    let err = schema_error("node A { n: String @key @primary }");
    assert_error(&err, "S13", 1, 25);
    let err = schema_error("node A { n: String @key\n  @foo(n) }");
    assert_error(&err, "S13", 2, 3);
    let err = schema_error(&with_p("edge E: P -> P @unique"));
    assert_error(&err, "S13", 2, 16);
}

#[test]
fn misplaced_annotations_are_rejected() {
    let err = schema_error(&with_p("edge E: P -> P {\n  @card(0..1) }"));
    assert_error(&err, "S13", 3, 3);
    let err = schema_error("node A { n: String @key\n a: I32 @range }");
    assert_error(&err, "S13", 2, 9);
    let err = schema_error("node A {\n @unique n: String @key }");
    assert_error(&err, "S13", 2, 2);
}

#[test]
fn embed_names_its_source_and_model() {
    let catalog = omnigraph_lang::parse_schema(
        "node A { n: String @key\n text: String?\n e: Vector(3)? @embed(\"text\", model = \"mini\") @index\n f: Vector(3) @embed(text) }",
    )
    .expect("valid");
    let node = catalog.node("A").expect("A");
    let e = node
        .property("e")
        .and_then(|p| p.embed.clone())
        .expect("embed");
    assert_eq!(
        (e.source.as_str(), e.model.as_deref()),
        ("text", Some("mini"))
    );
    let f = node
        .property("f")
        .and_then(|p| p.embed.clone())
        .expect("embed");
    assert_eq!((f.source.as_str(), f.model), ("text", None));
}

#[test]
fn embed_errors_are_positioned() {
    // Not on a Vector.
    let err = schema_error("node A { n: String @key\n e: String @embed(\"n\") }");
    assert_error(&err, "S13", 2, 12);
    // Unknown source.
    let err = schema_error("node A { n: String @key\n e: Vector(3) @embed(\"body\") }");
    assert_error(&err, "S8", 2, 22);
    // Source of the wrong type.
    let err = schema_error("node A { n: String @key\n c: I32\n e: Vector(3) @embed(\"c\") }");
    assert_error(&err, "S13", 3, 22);
    // No source, an unknown named argument, an empty model.
    for bad in [
        "@embed",
        "@embed()",
        "@embed(\"n\", size = \"x\")",
        "@embed(\"n\", model = \"\")",
    ] {
        let err = schema_error(&format!("node A {{ n: String @key\n e: Vector(3) {bad} }}"));
        assert_error(&err, "S13", 2, 15);
    }
    // On an edge.
    let err = schema_error(
        "node A { n: String @key }\nedge E: A -> A { t: String\n e: Vector(3) @embed(\"t\") }",
    );
    assert_error(&err, "S13", 3, 15);
}

#[test]
fn interface_errors_are_reported_even_when_unused() {
    let err = schema_error("interface I {\n  Bad: String }");
    assert_error(&err, "S7", 2, 3);
}

/// Graphs keep their schema source and parse it again when opened (shared/engine/src/graph.rs),
/// so a graph made before system ids existed reads the same as long as its schema, which
/// had a single @key on every node type, still parses to catalogs without system ids.
#[test]
fn schemas_from_before_system_ids_parse_as_before() {
    let social = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../tests/fixtures/social.pg"),
    )
    .expect("social.pg");
    for source in [social.as_str(), P] {
        let catalog = omnigraph_lang::parse_schema(source).unwrap();
        for node in &catalog.nodes {
            assert!(
                !node.system_id && node.key_parts.is_empty(),
                "{}",
                node.name
            );
            assert!(node.property(&node.key).is_some());
        }
        // Serialized, a catalog of such a schema carries no new field.
        let json = serde_json::to_string(&catalog).unwrap();
        assert!(
            !json.contains("system_id") && !json.contains("key_parts"),
            "{json}"
        );
    }
    // A catalog serialized before the fields existed reads with their defaults.
    let old = r#"{"nodes":[{"name":"P","properties":[{"name":"n","ty":{"Base":"String"},"nullable":false}],"key":"n","unique":[],"indexed":[],"ranges":[],"checks":[]}],"edges":[]}"#;
    let catalog: omnigraph_lang::Catalog = serde_json::from_str(old).unwrap();
    assert!(!catalog.nodes[0].system_id && catalog.nodes[0].key_parts.is_empty());
}
