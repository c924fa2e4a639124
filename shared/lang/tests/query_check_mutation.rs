//! Type checking of mutations: typed statements and every error, with positions.
//! Statements start on line 2, column 1 (see `common::query`).

use crate::common;

use common::{assert_error, check_err, mutation_ok, query};
use omnigraph_lang::*;

fn param(name: &str) -> Operand {
    Operand::Param(name.into())
}

fn lit_str(s: &str) -> Operand {
    Operand::Literal(Literal::String(s.into()))
}

// ---- accepted statements ----

#[test]
fn insert_node_with_params_and_literals() {
    let statements = mutation_ok(&query(
        "insert Person { name: $name, age: $age, score: 3, born: \"2001-02-03\", tags: $tags, nick: null, active: true }",
    ));
    let MutationStmt::InsertNode { node_type, values } = &statements[0] else {
        panic!()
    };
    assert_eq!(node_type, "Person");
    let names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["name", "age", "score", "born", "tags", "nick", "active"]
    );
    assert_eq!(values[2].1, Operand::Literal(Literal::Int(3)));
}

#[test]
fn insert_edge_by_type_name_with_endpoints_and_properties() {
    let statements = mutation_ok(&query(
        "insert Knows { from: $name, to: \"bob\", since: $d, weight: 0.5 }",
    ));
    assert_eq!(
        statements[0],
        MutationStmt::InsertEdge {
            edge_type: "Knows".into(),
            from: param("name"),
            to: lit_str("bob"),
            values: vec![
                ("since".into(), param("d")),
                ("weight".into(), Operand::Literal(Literal::Float(0.5))),
            ],
        }
    );
}

#[test]
fn insert_edge_endpoints_are_typed_like_the_keys() {
    mutation_ok(&query("insert Badge { id: 7, label: \"x\" }"));
    let err = check_err(&query("insert Badge { id: \"seven\", label: \"x\" }"));
    assert_error(&err, "T7", 2, 20);
}

#[test]
fn update_with_and_without_where() {
    let statements = mutation_ok(&query(
        "update Person set { age: 31, nick: $maybe } where name = $name\nupdate Company set { size: 0 }",
    ));
    assert_eq!(
        statements[0],
        MutationStmt::Update {
            node_type: "Person".into(),
            set: vec![
                ("age".into(), Operand::Literal(Literal::Int(31))),
                ("nick".into(), param("maybe"))
            ],
            filter: Some(Predicate {
                prop: "name".into(),
                op: CompareOp::Eq,
                value: param("name")
            }),
        }
    );
    assert!(matches!(
        &statements[1],
        MutationStmt::Update { filter: None, .. }
    ));
}

#[test]
fn update_where_may_use_any_comparison() {
    mutation_ok(&query(
        "update Person set { active: false } where born < \"2000-01-01\"",
    ));
    mutation_ok(&query(
        "update Person set { active: $flag } where nick starts_with $name",
    ));
}

#[test]
fn delete_nodes_and_edges() {
    let statements = mutation_ok(&query(
        "delete Person where age > 90\ndelete Knows where from = $name\ndelete Knows where to != \"x\"\ndelete WorksAt where title contains \"intern\"\ndelete Badge",
    ));
    assert_eq!(
        statements[1],
        MutationStmt::DeleteEdge {
            edge_type: "Knows".into(),
            filter: Some(Predicate {
                prop: "from".into(),
                op: CompareOp::Eq,
                value: param("name")
            }),
        }
    );
    assert_eq!(
        statements[4],
        MutationStmt::DeleteNode {
            node_type: "Badge".into(),
            filter: None
        }
    );
}

#[test]
fn several_statements_keep_their_order() {
    let statements = mutation_ok(&query(
        "insert Person { name: $name }\ninsert WorksAt { from: $name, to: \"acme\", title: \"cto\" }\ndelete Person where name = \"old\"",
    ));
    assert!(matches!(statements[0], MutationStmt::InsertNode { .. }));
    assert!(matches!(statements[1], MutationStmt::InsertEdge { .. }));
    assert!(matches!(statements[2], MutationStmt::DeleteNode { .. }));
}

#[test]
fn integer_values_fit_float_properties() {
    mutation_ok(&query(
        "update Person set { score: 3 }\nupdate Person set { score: $age }",
    ));
}

// ---- errors ----

#[test]
fn insert_missing_a_required_property() {
    let err = check_err(&query("insert Company { name: $name }"));
    assert_error(&err, "T12", 2, 8);
    assert_eq!(err.expected.as_deref(), Some("values for: size"));
}

#[test]
fn insert_missing_the_key() {
    let err = check_err(&query("insert Person { age: 3 }"));
    assert_error(&err, "T12", 2, 8);
    assert!(err.message.contains("`name`"), "{err}");
}

#[test]
fn insert_edge_missing_an_endpoint_or_required_property() {
    let err = check_err(&query("insert Knows { from: $name }"));
    assert_error(&err, "T12", 2, 8);
    assert_eq!(err.expected.as_deref(), Some("values for: to"));
    let err = check_err(&query("insert WorksAt { from: $name, to: \"acme\" }"));
    assert_error(&err, "T12", 2, 8);
    assert_eq!(err.expected.as_deref(), Some("values for: title"));
}

#[test]
fn insert_of_an_unknown_property() {
    let err = check_err(&query("insert Person { name: $name, agee: 3 }"));
    assert_error(&err, "T6", 2, 30);
    let err = check_err(&query("insert Knows { from: $name, to: $name, sinse: $d }"));
    assert_error(&err, "T6", 2, 40);
    assert_eq!(
        err.expected.as_deref(),
        Some("one of: from, to, since, weight")
    );
}

#[test]
fn insert_sets_a_property_twice() {
    let err = check_err(&query("insert Person { name: $name, name: \"b\" }"));
    assert_error(&err, "T12", 2, 30);
}

#[test]
fn insert_of_an_unknown_type() {
    let err = check_err(&query("insert Persn { name: $name }"));
    assert_error(&err, "T1", 2, 8);
    assert_eq!(
        err.expected.as_deref(),
        Some("one of: Person, Company, Badge, Knows, WorksAt")
    );
}

#[test]
fn insert_edge_by_query_name_is_unknown() {
    let err = check_err(&query("insert knows { from: $name, to: $name }"));
    assert_error(&err, "T1", 2, 8);
}

#[test]
fn value_of_the_wrong_type() {
    let cases = [
        ("insert Person { name: 3 }", 23),
        ("insert Person { name: $name, age: \"x\" }", 35),
        ("insert Person { name: $name, age: 1.5 }", 35),
        ("insert Person { name: $name, age: $f }", 35),
        ("insert Person { name: $name, age: 3000000000 }", 35),
        ("insert Person { name: $name, level: -1 }", 37),
        ("insert Person { name: $name, role: \"owner\" }", 36),
        ("insert Person { name: $name, born: \"03/02/2001\" }", 36),
        ("insert Person { name: $name, tags: \"a\" }", 36),
        ("insert Person { name: $name, active: $name }", 38),
        ("insert Knows { from: 1, to: $name }", 22),
    ];
    for (statement, column) in cases {
        let err = check_err(&query(statement));
        assert_error(&err, "T7", 2, column);
    }
}

#[test]
fn null_into_a_required_property() {
    let err = check_err(&query("insert Person { name: null }"));
    assert_error(&err, "T7", 2, 23);
}

#[test]
fn nullable_parameter_into_a_required_property() {
    let err = check_err(&query("insert Person { name: $maybe }"));
    assert_error(&err, "T7", 2, 23);
    assert_eq!(err.found.as_deref(), Some("String?"));
}

#[test]
fn update_of_the_key_is_rejected() {
    let err = check_err(&query(
        "update Person set { age: 1, name: $name } where name = \"a\"",
    ));
    assert_error(&err, "T13", 2, 29);
}

#[test]
fn update_of_an_edge_is_rejected() {
    let err = check_err(&query("update Knows set { since: $d }"));
    assert_error(&err, "T13", 2, 8);
}

#[test]
fn update_of_an_unknown_type_or_property() {
    assert_error(
        &check_err(&query("update Persn set { age: 1 }")),
        "T1",
        2,
        8,
    );
    assert_error(
        &check_err(&query("update Person set { agee: 1 }")),
        "T6",
        2,
        21,
    );
}

#[test]
fn update_with_a_value_of_the_wrong_type() {
    let err = check_err(&query("update Person set { age: $name }"));
    assert_error(&err, "T7", 2, 26);
}

#[test]
fn where_on_an_unknown_property() {
    let err = check_err(&query("update Person set { age: 1 } where nam = $name"));
    assert_error(&err, "T6", 2, 36);
    let err = check_err(&query("delete Knows where src = $name"));
    assert_error(&err, "T6", 2, 20);
    assert_eq!(
        err.expected.as_deref(),
        Some("one of: from, to, since, weight")
    );
}

#[test]
fn where_with_a_value_of_the_wrong_type() {
    let err = check_err(&query("delete Person where age = $name"));
    assert_error(&err, "T7", 2, 27);
    let err = check_err(&query("delete Knows where from = 3"));
    assert_error(&err, "T7", 2, 27);
    let err = check_err(&query("delete Person where age contains 3"));
    assert_error(&err, "T7", 2, 25);
}

#[test]
fn unknown_parameter_in_a_mutation() {
    let err = check_err(&query("delete Person where name = $who"));
    assert_error(&err, "T10", 2, 28);
}

#[test]
fn delete_of_an_unknown_type() {
    let err = check_err(&query("delete Nobody"));
    assert_error(&err, "T1", 2, 8);
}
