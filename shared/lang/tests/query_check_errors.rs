//! Type errors of read queries and query selection: every error with its code and
//! position. Bodies start on line 2, column 1 (see `common::query`).

use crate::common;

use common::{assert_error, check_err, query, query_catalog, read_ok};
use omnigraph_lang::*;

fn body(clauses: &str, returns: &str) -> String {
    query(&format!("match {{\n{clauses}\n}}\nreturn {{ {returns} }}"))
}

#[test]
fn unknown_node_type_in_binding() {
    let err = check_err(&body("$p: Persn", "$p"));
    assert_error(&err, "T1", 3, 5);
    assert_eq!(
        err.expected.as_deref(),
        Some("one of: Person, Company, Badge")
    );
}

#[test]
fn edge_type_used_as_node_type() {
    let err = check_err(&body("$p: Knows", "$p"));
    assert_error(&err, "T1", 3, 5);
    assert!(err.message.contains("`$a knows $b`"), "{err}");
}

#[test]
fn unknown_edge() {
    let err = check_err(&body("$p: Person\n$p likes $q", "$p"));
    assert_error(&err, "T4", 4, 4);
    assert_eq!(err.expected.as_deref(), Some("one of: knows, worksAt"));
}

#[test]
fn edge_type_name_instead_of_query_name() {
    let err = check_err(&body("$p Knows $q", "$p"));
    assert_error(&err, "T4", 3, 4);
    assert!(err.message.contains("`knows`"), "{err}");
}

#[test]
fn unknown_property_in_filter() {
    let err = check_err(&body("$p: Person\n$p.agee > 3", "$p"));
    assert_error(&err, "T6", 4, 4);
    assert!(
        err.to_string()
            .contains("unknown property `agee` on Person"),
        "{err}"
    );
    assert_eq!(err.found.as_deref(), Some("`agee`"));
}

#[test]
fn unknown_property_in_binding() {
    let err = check_err(&body("$p: Person { nam: $name }", "$p"));
    assert_error(&err, "T6", 3, 14);
}

#[test]
fn unknown_property_in_return_and_order() {
    let err = check_err(&body("$p: Person", "$p.nam"));
    assert_error(&err, "T6", 5, 13);
    let err = check_err(&query(
        "match { $p: Person }\nreturn { $p }\norder { $p.nam }",
    ));
    assert_error(&err, "T6", 4, 12);
}

#[test]
fn unbound_variable_in_return() {
    let err = check_err(&body("$p: Person", "$q.name"));
    assert_error(&err, "T6", 5, 10);
    assert!(err.message.contains("unbound variable `$q`"), "{err}");
}

#[test]
fn unbound_variable_in_filter() {
    let err = check_err(&body("$p: Person\n$q.age > 3", "$p"));
    assert_error(&err, "T6", 4, 1);
}

#[test]
fn variable_bound_only_in_negation_is_not_visible_outside() {
    let err = check_err(&body("$p: Person\nnot { $p worksAt $c }", "$c.name"));
    assert_error(&err, "T6", 6, 10);
    assert!(err.message.contains("only bound inside a `not`"), "{err}");
}

#[test]
fn anonymous_variable_cannot_be_returned_or_filtered() {
    let err = check_err(&body("$p knows $_", "$_"));
    assert_error(&err, "T6", 5, 10);
    let err = check_err(&body("$p knows $_\n$_.age > 3", "$p"));
    assert_error(&err, "T6", 4, 1);
}

#[test]
fn string_property_compared_with_integer_literal() {
    let err = check_err(&body("$p: Person\n$p.name = 3", "$p"));
    assert_error(&err, "T7", 4, 11);
    assert_eq!(err.expected.as_deref(), Some("String"));
    assert_eq!(err.found.as_deref(), Some("integer literal 3"));
}

#[test]
fn integer_property_compared_with_string_literal() {
    let err = check_err(&body("$p: Person { age: \"old\" }", "$p"));
    assert_error(&err, "T7", 3, 19);
}

#[test]
fn string_parameter_compared_with_integer_property() {
    let err = check_err(&body("$p: Person\n$p.age > $name", "$p"));
    assert_error(&err, "T7", 4, 10);
    assert_eq!(err.found.as_deref(), Some("String"));
}

#[test]
fn properties_of_different_types_compared() {
    let err = check_err(&body("$p knows $q\n$p.name = $q.age", "$p"));
    assert_error(&err, "T7", 4, 11);
}

#[test]
fn bool_compared_with_string() {
    let err = check_err(&body("$p: Person\n$p.active = $name", "$p"));
    assert_error(&err, "T7", 4, 13);
    read_ok(&body(
        "$p: Person\n$p.active = $flag\n$p.active != true",
        "$p",
    ));
}

#[test]
fn contains_on_a_number_is_rejected() {
    let err = check_err(&body("$p: Person\n$p.age contains 3", "$p"));
    assert_error(&err, "T7", 4, 8);
    assert_eq!(err.expected.as_deref(), Some("a String or a list"));
}

#[test]
fn starts_with_on_a_list_is_rejected() {
    let err = check_err(&body("$p: Person\n$p.tags starts_with \"a\"", "$p"));
    assert_error(&err, "T7", 4, 9);
}

#[test]
fn contains_with_wrong_element_type() {
    let err = check_err(&body("$p: Person\n$p.scores contains \"a\"", "$p"));
    assert_error(&err, "T7", 4, 20);
    let err = check_err(&body("$p: Person\n$p.nick contains 3", "$p"));
    assert_error(&err, "T7", 4, 18);
}

#[test]
fn ordering_operator_on_unordered_types() {
    let err = check_err(&body("$p: Person\n$p.active < true", "$p"));
    assert_error(&err, "T7", 4, 11);
    let err = check_err(&body("$p: Person\n$p.tags > $tags", "$p"));
    assert_error(&err, "T7", 4, 9);
}

#[test]
fn enum_literal_outside_its_values() {
    let err = check_err(&body("$p: Person { role: \"owner\" }", "$p"));
    assert_error(&err, "T7", 3, 20);
    assert!(
        err.message.contains("not a value of enum(admin, member)"),
        "{err}"
    );
}

#[test]
fn malformed_date_literal() {
    let err = check_err(&body("$p: Person\n$p.born > \"2020-13-01\"", "$p"));
    assert_error(&err, "T7", 4, 11);
    let err = check_err(&body("$p: Person\n$p.seen > \"soon\"", "$p"));
    assert_error(&err, "T7", 4, 11);
}

#[test]
fn variable_used_with_two_types() {
    let err = check_err(&body("$p: Person\n$p: Company", "$p"));
    assert_error(&err, "T8", 4, 1);
    assert!(
        err.message
            .contains("used as Company here but is a Person (from 3:1)"),
        "{err}"
    );
}

#[test]
fn variable_typed_by_two_traversals_differently() {
    let err = check_err(&body("$p worksAt $c\n$c knows $x", "$p"));
    assert_error(&err, "T9", 4, 1);
    assert_eq!(
        (err.expected.as_deref(), err.found.as_deref()),
        (Some("Person"), Some("Company"))
    );
}

#[test]
fn traversal_in_wrong_direction() {
    let err = check_err(&body("$co: Company\n$co worksAt $p", "$p"));
    assert_error(&err, "T9", 4, 1);
    assert!(
        err.message
            .contains("wrong direction, write `$p worksAt $co`"),
        "{err}"
    );
    assert_eq!(
        (err.expected.as_deref(), err.found.as_deref()),
        (Some("Person"), Some("Company"))
    );
}

#[test]
fn traversal_target_of_wrong_type() {
    let err = check_err(&body("$p: Person\n$b: Badge\n$p worksAt $b", "$p"));
    assert_error(&err, "T9", 5, 12);
    assert!(!err.message.contains("wrong direction"), "{err}");
}

#[test]
fn invalid_hop_bounds() {
    assert_error(&check_err(&body("$p knows{0,2} $q", "$p")), "T9", 3, 9);
    assert_error(&check_err(&body("$p knows{3,1} $q", "$p")), "T9", 3, 9);
}

#[test]
fn multi_hop_needs_a_self_edge() {
    let err = check_err(&body("$p worksAt{1,2} $c", "$p"));
    assert_error(&err, "T9", 3, 11);
}

#[test]
fn unknown_parameter() {
    let err = check_err(&body("$p: Person { name: $nme }", "$p"));
    assert_error(&err, "T10", 3, 20);
    assert!(err.message.contains("unknown parameter `$nme`"), "{err}");
}

#[test]
fn variable_used_where_a_value_is_expected() {
    let err = check_err(&body("$p knows $q\n$p.name = $q", "$p"));
    assert_error(&err, "T10", 4, 11);
    assert!(
        err.message.contains("is a variable, not a parameter"),
        "{err}"
    );
}

#[test]
fn duplicate_parameter() {
    let err = check_err("query q($a: String, $a: I32) { delete Person }");
    assert_error(&err, "T10", 1, 21);
}

#[test]
fn unknown_parameter_type() {
    let err = check_err("query q($a: Strng) { delete Person }");
    assert_error(&err, "T1", 1, 13);
    let err = check_err("query q($a: Person) { delete Person }");
    assert_error(&err, "T1", 1, 13);
}

#[test]
fn sum_over_non_numeric_property() {
    let err = check_err(&body("$p: Person", "sum($p.name) as s"));
    assert_error(&err, "T11", 5, 10);
    assert_eq!(err.found.as_deref(), Some("String"));
}

#[test]
fn avg_over_a_variable() {
    let err = check_err(&body("$p: Person", "$p.name, avg($p) as a"));
    assert_error(&err, "T11", 5, 19);
}

#[test]
fn min_over_unordered_property() {
    let err = check_err(&body("$p: Person", "min($p.tags)"));
    assert_error(&err, "T11", 5, 10);
    let err = check_err(&body("$p: Person", "max($p.active)"));
    assert_error(&err, "T11", 5, 10);
}

#[test]
fn duplicate_return_column() {
    let err = check_err(&body("$p knows $q", "$p.name, $q.name as p.name"));
    assert!(
        err.code.as_deref() == Some("P1"),
        "alias must be a plain name: {err}"
    );
    let err = check_err(&body("$p knows $q", "$p.name as n, $q.name as n"));
    assert_error(&err, "T14", 5, 35);
    let err = check_err(&body("$p: Person", "$p.name, $p.name"));
    assert_error(&err, "T14", 5, 19);
}

#[test]
fn order_by_unknown_column() {
    let err = check_err(&query(
        "match { $p: Person }\nreturn { $p.name }\norder { name }",
    ));
    assert_error(&err, "T14", 4, 9);
    assert!(err.expected.as_deref().unwrap().contains("p.name"), "{err}");
}

#[test]
fn aggregate_query_cannot_order_by_a_non_group_expression() {
    let err = check_err(&query(
        "match { $p worksAt $c }\nreturn { $c.name, count($p) as n }\norder { $p.age }",
    ));
    assert_error(&err, "T14", 4, 9);
}

#[test]
fn non_aggregate_query_cannot_order_by_an_aggregate() {
    let err = check_err(&query(
        "match { $p: Person }\nreturn { $p.name }\norder { count($p) }",
    ));
    assert_error(&err, "T14", 4, 9);
}

#[test]
fn errors_carry_the_source_name() {
    let err =
        compile_named(&query_catalog(), &body("$p: Persn", "$p"), None, "app.gq").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("app.gq:3:5: error[T1]: unknown node type `Persn`"),
        "{err}"
    );
}

// ---- query selection ----

#[test]
fn compile_needs_a_name_when_there_are_several_queries() {
    let source = "query a() { delete Person }\nquery b() { delete Badge }";
    let err = compile(&query_catalog(), source, None).unwrap_err();
    assert_error(&err, "T15", 1, 1);
    assert_eq!(err.expected.as_deref(), Some("one of: a, b"));
    let q = compile(&query_catalog(), source, Some("b")).unwrap();
    assert_eq!(q.name, "b");
}

#[test]
fn compile_rejects_an_unknown_name() {
    let err = compile(&query_catalog(), "query a() { delete Person }", Some("c")).unwrap_err();
    assert_error(&err, "T15", 1, 1);
    assert_eq!(err.found.as_deref(), Some("`c`"));
}

#[test]
fn compile_rejects_a_source_without_queries() {
    let err = compile(&query_catalog(), "// nothing here\n", None).unwrap_err();
    assert_error(&err, "T15", 1, 1);
}

#[test]
fn check_query_works_on_parsed_declarations() {
    let decls = parse_queries(
        "query a() { delete Person }\nquery b() { match { $p: Person } return { $p } }",
    )
    .unwrap();
    let checked: Vec<TypedQuery> = decls
        .iter()
        .map(|d| check_query(&query_catalog(), d).unwrap())
        .collect();
    assert!(matches!(checked[1].body, QueryBody::Read(_)));
}

/// Undirected traversals (T22), edge bindings (T23) and `now()`.
mod traversal_forms_and_now {
    use super::*;

    #[test]
    fn undirected_traversal_needs_one_endpoint_type() {
        let err = check_err(&body("$p <worksAt> $c", "$p"));
        assert_error(&err, "T22", 3, 5);
    }

    #[test]
    fn edge_binding_over_several_hops_is_refused() {
        let err = check_err(&body("$a $w:knows{1,2} $b", "$a"));
        assert_error(&err, "T23", 3, 12);
        let err = check_err(&body("$a $w:<knows>{2,3} $b", "$a"));
        assert_error(&err, "T23", 3, 14);
    }

    #[test]
    fn unbounded_traversal_needs_a_chainable_edge_and_no_binding() {
        let err = check_err(&body("$p worksAt{1,} $c", "$p"));
        assert_error(&err, "T9", 3, 11);
        let err = check_err(&body("$a knows{0,} $b", "$a"));
        assert_error(&err, "T9", 3, 9);
        assert!(err.message.contains("{0,}"), "{err}");
        let err = check_err(&body("$a $w:knows{1,} $b", "$a"));
        assert_error(&err, "T23", 3, 12);
    }

    #[test]
    fn edge_binding_needs_a_new_name() {
        let err = check_err(&body("$a: Person\n$w: Person\n$a $w:knows $b", "$a"));
        assert_error(&err, "T23", 5, 4);
        let err = check_err(&body("$a $a:knows $b", "$a"));
        assert_error(&err, "T23", 3, 4);
        let err = check_err(&body("$a $w:knows $b\n$b $w:knows $c", "$a"));
        assert_error(&err, "T23", 4, 4);
        let err = check_err(&body("$a $_:knows $b", "$a"));
        assert_error(&err, "T23", 3, 4);
    }

    #[test]
    fn edge_variable_is_not_a_value_or_a_node() {
        let err = check_err(&body("$a $w:knows $b", "$w"));
        assert_error(&err, "T23", 5, 10);
        let err = check_err(&body("$a $w:knows $b", "count($w)"));
        assert_error(&err, "T23", 5, 16);
        let err = check_err(&body("$a $w:knows $b\n$w knows $c", "$a"));
        assert_error(&err, "T23", 4, 1);
    }

    #[test]
    fn edge_variable_properties_are_checked() {
        let err = check_err(&body("$a $w:knows $b", "$w.age"));
        assert_error(&err, "T6", 5, 13);
        assert_eq!(err.expected.as_deref(), Some("one of: since, weight"));
        let err = check_err(&body("$a $w:knows $b\n$w.since > 3", "$a"));
        assert_eq!(err.code.as_deref(), Some("T7"), "{err}");
    }

    #[test]
    fn edge_variable_of_a_not_block_stays_inside_it() {
        let err = check_err(&body("$a: Person\nnot { $a $w:knows $b }", "$w.since"));
        assert_error(&err, "T6", 6, 10);
    }

    #[test]
    fn now_is_a_datetime() {
        let err = check_err(&body("$p: Person\n$p.born < now()", "$p"));
        assert_eq!(err.code.as_deref(), Some("T7"), "{err}");
        let err = check_err(&query("insert Person { name: $name, age: now() }"));
        assert_eq!(err.code.as_deref(), Some("T7"), "{err}");
    }
}
