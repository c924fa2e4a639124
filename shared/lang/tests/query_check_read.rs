//! Type checking of read queries: the typed form of every construct.
//! Bodies start on line 2, column 1 (see `common::query`).

use crate::common;

use common::{query, read_ok};
use omnigraph_lang::*;

fn body(clauses: &str, returns: &str) -> String {
    query(&format!("match {{\n{clauses}\n}}\nreturn {{ {returns} }}"))
}

#[test]
fn binding_props_and_filters_resolve_to_var_indexes() {
    let r = read_ok(&body(
        "$p: Person { name: $name, age: 30 }\n$p.score > 1",
        "$p.name",
    ));
    assert_eq!(
        r.vars,
        vec![VarInfo {
            name: "p".into(),
            node_type: "Person".into(),
            anonymous: false,
            negated: false,
            edge: false,
        }]
    );
    assert_eq!(
        r.clauses[0],
        Clause::Bind {
            var: 0,
            props: vec![
                ("name".into(), Operand::Param("name".into())),
                ("age".into(), Operand::Literal(Literal::Int(30))),
            ],
        }
    );
}

#[test]
fn variable_types_are_inferred_from_traversals() {
    let r = read_ok(&body("$p worksAt $c\n$c.size > 10", "$p.name, $c.name"));
    let types: Vec<&str> = r.vars.iter().map(|v| v.node_type.as_str()).collect();
    assert_eq!(types, ["Person", "Company"]);
}

#[test]
fn variable_may_be_used_before_its_binding() {
    let r = read_ok(&body("$f.age > 3\n$p knows $f\n$p: Person", "$f.name"));
    assert_eq!(r.clauses.len(), 3);
    assert!(matches!(r.clauses[0], Clause::Filter { .. }));
}

#[test]
fn property_to_property_and_param_comparisons() {
    let r = read_ok(&body(
        "$a knows $b\n$a.age < $b.age\n$age <= $a.age\n$b.nick = $maybe",
        "$a",
    ));
    assert_eq!(
        r.clauses[1],
        Clause::Filter {
            lhs: Operand::Prop {
                var: 0,
                prop: "age".into()
            },
            op: CompareOp::Lt,
            rhs: Operand::Prop {
                var: 1,
                prop: "age".into()
            },
        }
    );
}

#[test]
fn numeric_literals_fit_any_numeric_property() {
    read_ok(&body(
        "$p: Person\n$p.score > 1\n$p.age > 17.5\n$p.level >= 0\n$p.age = $f\n$p.score != $age",
        "$p",
    ));
}

#[test]
fn dates_accept_string_literals_and_string_params() {
    read_ok(&body(
        "$p: Person\n$p.born >= \"2000-01-31\"\n$p.seen < \"2024-05-06T07:08:09.123Z\"\n$p.born = $name\n$p.born != $d",
        "$p",
    ));
}

#[test]
fn enums_compare_with_their_values_and_strings() {
    read_ok(&body(
        "$p: Person { role: \"admin\" }\n$p.role != $name\n$p.role starts_with \"ad\"",
        "$p",
    ));
}

#[test]
fn contains_on_strings_and_lists() {
    read_ok(&body(
        "$p: Person\n$p.nick contains \"x\"\n$p.tags contains $name\n$p.scores contains 3",
        "$p",
    ));
}

#[test]
fn null_compares_with_anything() {
    read_ok(&body("$p: Person\n$p.age = null\n$p.tags != null", "$p"));
}

#[test]
fn negation_scopes_its_own_variables() {
    let r = read_ok(&body(
        "$p: Person\nnot { $p knows $x\n$x.age > 3 }\nnot { $x worksAt $p2 }",
        "$p",
    ));
    let vars: Vec<(&str, bool)> = r
        .vars
        .iter()
        .map(|v| (v.name.as_str(), v.negated))
        .collect();
    assert_eq!(vars, [("p", false), ("x", true), ("x", true), ("p2", true)]);
}

#[test]
fn negation_may_restate_an_outer_binding() {
    let r = read_ok(&body(
        "$p: Person\nnot { $p: Person { name: \"x\" } }",
        "$p",
    ));
    assert_eq!(
        r.clauses[1],
        Clause::Not(vec![Clause::Bind {
            var: 0,
            props: vec![("name".into(), Operand::Literal(Literal::String("x".into())))]
        }])
    );
}

#[test]
fn each_anonymous_variable_is_fresh() {
    let r = read_ok(&body(
        "$p: Person\n$p knows $_\n$_ knows $p\n$p worksAt $_",
        "$p",
    ));
    let vars: Vec<(&str, &str, bool)> = r
        .vars
        .iter()
        .map(|v| (v.name.as_str(), v.node_type.as_str(), v.anonymous))
        .collect();
    assert_eq!(
        vars,
        [
            ("p", "Person", false),
            ("_1", "Person", true),
            ("_2", "Person", true),
            ("_3", "Company", true)
        ]
    );
}

#[test]
fn bare_variable_returns_the_key() {
    let r = read_ok(&query("match { $b: Badge }\nreturn { $b, $b.label }"));
    assert_eq!(r.returns[0].column, "b");
    assert_eq!(r.returns[0].expr, ProjExpr::VarKey { var: 0 });
    assert_eq!(
        r.returns[0].result_type,
        ResultType {
            ty: PropType::Base(BaseType::I64),
            nullable: false
        }
    );
}

#[test]
fn projection_columns_and_result_types() {
    let r = read_ok(&body(
        "$p knows $f",
        "$f.name, $f.age as years, count($f) as n, count($f.age), sum($f.age), avg($f.score), min($f.born), max($f.nick)",
    ));
    let columns: Vec<&str> = r.returns.iter().map(|p| p.column.as_str()).collect();
    assert_eq!(
        columns,
        [
            "f.name",
            "years",
            "n",
            "count(f.age)",
            "sum(f.age)",
            "avg(f.score)",
            "min(f.born)",
            "max(f.nick)"
        ]
    );
    let types: Vec<(String, bool)> = r
        .returns
        .iter()
        .map(|p| (p.result_type.ty.to_string(), p.result_type.nullable))
        .collect();
    assert_eq!(
        types,
        [
            ("String".into(), false),
            ("I32".into(), true),
            ("I64".into(), false),
            ("I64".into(), false),
            ("F64".into(), true),
            ("F64".into(), true),
            ("Date".into(), true),
            ("String".into(), true),
        ]
    );
    assert_eq!(r.group_keys(), vec![0, 1]);
    assert_eq!(
        r.returns[2].expr,
        ProjExpr::Agg {
            func: AggFunc::Count,
            arg: Box::new(ProjExpr::VarKey { var: 1 })
        }
    );
}

#[test]
fn aggregates_without_group_keys() {
    let r = read_ok(&body("$p: Person", "count($p) as total"));
    assert!(r.is_aggregate());
    assert!(r.group_keys().is_empty());
}

#[test]
fn order_by_returned_alias_expression_or_hidden_column() {
    let r = read_ok(&query(
        "match { $p: Person }\nreturn { $p.name as who, $p.age }\norder { who desc, $p.age, $p.score desc, $p }\nlimit 5",
    ));
    assert_eq!(r.columns(), ["who", "p.age"]);
    assert_eq!(r.returns.len(), 4);
    assert!(r.returns[2].hidden && r.returns[3].hidden);
    assert_eq!(r.returns[2].column, "p.score");
    assert_eq!(
        r.order,
        vec![
            OrderKey {
                column: 0,
                descending: true
            },
            OrderKey {
                column: 1,
                descending: false
            },
            OrderKey {
                column: 2,
                descending: true
            },
            OrderKey {
                column: 3,
                descending: false
            },
        ]
    );
    assert_eq!(r.limit, Some(5));
}

#[test]
fn aggregate_query_orders_by_group_key_or_hidden_aggregate() {
    let r = read_ok(&query("match { $p knows $f }\nreturn { $p.name, count($f) as n }\norder { $p.name, max($f.age) desc }"));
    assert_eq!(
        r.order[0],
        OrderKey {
            column: 0,
            descending: false
        }
    );
    assert_eq!(
        r.order[1],
        OrderKey {
            column: 2,
            descending: true
        }
    );
    assert!(r.returns[2].hidden);
    assert_eq!(r.group_keys(), vec![0]);
}

#[test]
fn hidden_column_names_do_not_collide() {
    let r = read_ok(&query(
        "match { $p: Person }\nreturn { $p.name as p }\norder { $p }",
    ));
    assert_eq!(r.returns[1].column, "p#2");
}

#[test]
fn bounded_variable_length_traversal() {
    let r = read_ok(&body("$p knows{2,4} $q", "$q"));
    assert_eq!(
        r.clauses[0],
        Clause::Traverse {
            src: 0,
            edge: "Knows".into(),
            dst: 1,
            min_hops: 2,
            max_hops: 4,
            undirected: false,
            edge_var: None,
        }
    );
}

#[test]
fn params_are_typed_in_output() {
    let q = common::check_ok(&body("$p: Person", "$p"));
    let n = q.params.iter().find(|p| p.name == "n").unwrap();
    assert_eq!(
        (n.ty.clone(), n.nullable),
        (PropType::Base(BaseType::I64), true)
    );
    let tags = q.params.iter().find(|p| p.name == "tags").unwrap();
    assert_eq!(tags.ty, PropType::List(BaseType::String));
}

/// Undirected traversals, edge bindings and `now()` (docs/languages.md, section 2).
mod traversal_forms_and_now {
    use super::*;
    use crate::common::{check_ok, mutation_ok};

    #[test]
    fn undirected_traversal_keeps_its_hops() {
        let r = read_ok(&body("$p <knows>{1,3} $q\nnot { $q <knows> $_ }", "$q"));
        assert_eq!(
            r.clauses[0],
            Clause::Traverse {
                src: 0,
                edge: "Knows".into(),
                dst: 1,
                min_hops: 1,
                max_hops: 3,
                undirected: true,
                edge_var: None,
            }
        );
        assert!(matches!(&r.clauses[1], Clause::Not(inner)
            if matches!(inner[0], Clause::Traverse { undirected: true, .. })));
    }

    #[test]
    fn edge_binding_is_a_variable_with_the_edge_properties() {
        let r = read_ok(&query(
            "match {\n$a $w:knows $b\n$w.since > \"2020-01-01\"\n}\nreturn { $b.name, $w.since, $w.weight as w }\norder { $w.weight desc }",
        ));
        assert_eq!(
            r.vars[2],
            VarInfo {
                name: "w".into(),
                node_type: "Knows".into(),
                anonymous: false,
                negated: false,
                edge: true,
            }
        );
        assert_eq!(
            r.clauses[0],
            Clause::Traverse {
                src: 0,
                edge: "Knows".into(),
                dst: 1,
                min_hops: 1,
                max_hops: 1,
                undirected: false,
                edge_var: Some(2),
            }
        );
        assert_eq!(
            r.clauses[1],
            Clause::Filter {
                lhs: Operand::Prop {
                    var: 2,
                    prop: "since".into()
                },
                op: CompareOp::Gt,
                rhs: Operand::Literal(Literal::String("2020-01-01".into())),
            }
        );
        assert_eq!(r.columns(), ["b.name", "w.since", "w"]);
        assert_eq!(
            r.returns[1].result_type,
            ResultType {
                ty: PropType::Base(BaseType::Date),
                nullable: true
            }
        );
        assert_eq!(r.order[0].column, 2);
    }

    #[test]
    fn edge_binding_on_an_asymmetric_edge_undirected_and_inside_not() {
        let r = read_ok(&body(
            "$p $e:worksAt $c\n$e.title starts_with \"Dr\"",
            "$e.title, $c.name",
        ));
        assert!(r.vars[2].edge);
        assert_eq!(r.vars[2].node_type, "WorksAt");
        let r = read_ok(&body("$a $w:<knows>{1,1} $b", "$w.weight"));
        assert!(matches!(
            r.clauses[0],
            Clause::Traverse {
                undirected: true,
                edge_var: Some(2),
                ..
            }
        ));
        let r = read_ok(&body(
            "$a: Person\nnot { $a $w:knows $b\n$w.weight > 0.5 }",
            "$a.name",
        ));
        assert!(r.vars[2].edge && r.vars[2].negated);
    }

    #[test]
    fn string_predicates_keep_their_operands_in_place() {
        let r = read_ok(&body(
            "$p: Person\n\"a haystack\" contains $p.nick\n$name starts_with $p.nick",
            "$p",
        ));
        assert_eq!(
            r.clauses[1],
            Clause::Filter {
                lhs: Operand::Literal(Literal::String("a haystack".into())),
                op: CompareOp::Contains,
                rhs: Operand::Prop {
                    var: 0,
                    prop: "nick".into()
                },
            }
        );
        assert!(matches!(
            &r.clauses[2],
            Clause::Filter { lhs: Operand::Param(p), op: CompareOp::StartsWith, .. } if p == "name"
        ));
    }

    #[test]
    fn now_declares_a_datetime_parameter() {
        let q = check_ok(&body("$p: Person\n$p.seen < now()", "$p.name"));
        let now = q.params.iter().find(|p| p.name == NOW_PARAM).unwrap();
        assert_eq!(
            (now.ty.clone(), now.nullable),
            (PropType::Base(BaseType::DateTime), false)
        );
        let r = read_ok(&body("$p: Person { seen: now() }", "$p.name"));
        assert_eq!(
            r.clauses[0],
            Clause::Bind {
                var: 0,
                props: vec![("seen".into(), Operand::Param(NOW_PARAM.into()))],
            }
        );
        let q = check_ok(&body("$p: Person", "$p.name"));
        assert!(q.params.iter().all(|p| p.name != NOW_PARAM));
    }

    #[test]
    fn now_as_a_return_column() {
        let q = check_ok(&body("$p: Person", "$p.name, now() as t, now()"));
        assert!(q.params.iter().any(|p| p.name == NOW_PARAM));
        let QueryBody::Read(r) = q.body else {
            panic!("read expected")
        };
        assert_eq!(r.columns(), ["p.name", "t", "now()"]);
        assert_eq!(r.returns[1].expr, ProjExpr::Now);
        assert_eq!(
            r.returns[1].result_type,
            ResultType {
                ty: PropType::Base(BaseType::DateTime),
                nullable: false
            }
        );
    }

    #[test]
    fn unbounded_traversal_has_no_maximum() {
        let r = read_ok(&body("$p knows{2,} $q", "$q"));
        assert!(matches!(
            r.clauses[0],
            Clause::Traverse {
                min_hops: 2,
                max_hops: u32::MAX,
                ..
            }
        ));
    }

    #[test]
    fn literals_as_return_columns() {
        let r = read_ok(&body(
            "$p: Person",
            "\"person\" as kind, 1, -2.5, true, null, $p.name",
        ));
        assert_eq!(r.columns(), ["kind", "1", "-2.5", "true", "null", "p.name"]);
        assert_eq!(
            r.returns[0].expr,
            ProjExpr::Literal(Literal::String("person".into()))
        );
        let types: Vec<(PropType, bool)> = r.returns[..5]
            .iter()
            .map(|p| (p.result_type.ty.clone(), p.result_type.nullable))
            .collect();
        assert_eq!(
            types,
            [
                (PropType::Base(BaseType::String), false),
                (PropType::Base(BaseType::I64), false),
                (PropType::Base(BaseType::F64), false),
                (PropType::Base(BaseType::Bool), false),
                (PropType::Base(BaseType::String), true),
            ]
        );
    }

    #[test]
    fn now_in_mutation_values_and_predicates() {
        let statements = mutation_ok(&query(
            "insert Person { name: $name, seen: now() }\nupdate Person set { seen: now() } where seen < now()",
        ));
        match &statements[0] {
            MutationStmt::InsertNode { values, .. } => {
                assert_eq!(values[1], ("seen".into(), Operand::Param(NOW_PARAM.into())));
            }
            other => panic!("insert expected, got {other:?}"),
        }
    }
}
