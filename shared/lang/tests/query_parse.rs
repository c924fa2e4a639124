//! The query grammar: every construct parses to the expected AST; syntax errors are
//! positioned.

use crate::common;

use common::assert_error;
use omnigraph_lang::query::ast::*;
use omnigraph_lang::types::TypeExprKind;
use omnigraph_lang::{
    parse_queries, parse_queries_named, AggFunc, CompareOp, LangError, Literal, SearchFunc,
};

fn one(source: &str) -> QueryDecl {
    let mut decls = parse_queries(source).unwrap_or_else(|e| panic!("parses: {e}"));
    assert_eq!(decls.len(), 1);
    decls.remove(0)
}

fn read_ast(source: &str) -> ReadAst {
    match one(source).body {
        BodyAst::Read(read) => read,
        other => panic!("expected read, got {other:?}"),
    }
}

fn parse_err(source: &str) -> LangError {
    match parse_queries(source) {
        Ok(decls) => panic!("should not parse: {decls:#?}"),
        Err(err) => err,
    }
}

#[test]
fn params_with_types_nullability_and_trailing_comma() {
    let decl = one("query q($a: String, $b: I32?, $c: [String], $v: Vector(4), $e: enum(x, y),) { delete Person }");
    let names: Vec<(&str, bool)> = decl
        .params
        .iter()
        .map(|p| (p.name.name.as_str(), p.nullable))
        .collect();
    assert_eq!(
        names,
        [
            ("a", false),
            ("b", true),
            ("c", false),
            ("v", false),
            ("e", false)
        ]
    );
    assert!(matches!(decl.params[3].ty.kind, TypeExprKind::Vector(4)));
    assert_eq!((decl.name.span.line, decl.name.span.column), (1, 7));
}

#[test]
fn several_queries_in_one_source() {
    let decls =
        parse_queries("query a() { delete A }\n// between\nquery b() { delete B }").unwrap();
    let names: Vec<&str> = decls.iter().map(|d| d.name.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(decls[1].span.line, 3);
}

#[test]
fn binding_with_and_without_property_equalities() {
    let read = read_ast(
        "query q() { match { $p: Person { name: $name, age: 30 } $c: Company } return { $p } }",
    );
    let ClauseAst::Bind {
        var,
        node_type,
        props,
    } = &read.clauses[0]
    else {
        panic!()
    };
    assert_eq!(
        (var.name.as_str(), node_type.name.as_str()),
        ("p", "Person")
    );
    assert_eq!(props.len(), 2);
    assert!(matches!(&props[0].1, OperandAst::Param(p) if p.name == "name"));
    assert!(matches!(
        &props[1].1,
        OperandAst::Literal {
            value: Literal::Int(30),
            ..
        }
    ));
    assert!(matches!(&read.clauses[1], ClauseAst::Bind { props, .. } if props.is_empty()));
}

#[test]
fn traversals_with_and_without_hops() {
    let read = read_ast(
        "query q() { match { $a knows $b  $a knows{1,3} $c  $a knows {2} $d } return { $a } }",
    );
    let hops: Vec<Option<(u64, u64)>> = read
        .clauses
        .iter()
        .map(|c| match c {
            ClauseAst::Traverse { hops, .. } => hops.map(|h| (h.min, h.max)),
            _ => panic!("traversal expected"),
        })
        .collect();
    assert_eq!(hops, [None, Some((1, 3)), Some((2, 2))]);
}

#[test]
fn filters_with_every_operator() {
    let read = read_ast(
        "query q() { match { $p.a = 1 $p.a != 1 $p.a < 1 $p.a <= 1 $p.a > 1 $p.a >= 1 $p.a contains \"x\" $p.a starts_with \"x\" } return { $p } }",
    );
    let ops: Vec<CompareOp> = read
        .clauses
        .iter()
        .map(|c| match c {
            ClauseAst::Filter { op, .. } => *op,
            _ => panic!("filter expected"),
        })
        .collect();
    use CompareOp::*;
    assert_eq!(ops, [Eq, Ne, Lt, Le, Gt, Ge, Contains, StartsWith]);
}

#[test]
fn literal_operands() {
    let read = read_ast(
        "query q() { match { $p.a = \"s\" $p.a = -5 $p.a = 2.5 $p.a = -0.5 $p.a = true $p.a = false $p.a = null $p.a = 9223372036854775807 $p.a = -9223372036854775808 } return { $p } }",
    );
    let values: Vec<Literal> = read
        .clauses
        .iter()
        .map(|c| match c {
            ClauseAst::Filter {
                rhs: OperandAst::Literal { value, .. },
                ..
            } => value.clone(),
            _ => panic!("literal filter expected"),
        })
        .collect();
    assert_eq!(
        values,
        [
            Literal::String("s".into()),
            Literal::Int(-5),
            Literal::Float(2.5),
            Literal::Float(-0.5),
            Literal::Bool(true),
            Literal::Bool(false),
            Literal::Null,
            Literal::Int(i64::MAX),
            Literal::Int(i64::MIN),
        ]
    );
}

#[test]
fn property_and_parameter_operands_on_either_side() {
    let read = read_ast("query q() { match { $a.age < $b.age  $min <= $a.age } return { $a } }");
    assert!(matches!(
        &read.clauses[0],
        ClauseAst::Filter { lhs: OperandAst::Prop { .. }, rhs: OperandAst::Prop { var, prop }, .. }
            if var.name == "b" && prop.name == "age"
    ));
    assert!(
        matches!(&read.clauses[1], ClauseAst::Filter { lhs: OperandAst::Param(p), .. } if p.name == "min")
    );
}

#[test]
fn negation_blocks_nest() {
    let read = read_ast(
        "query q() { match { $p: Person not { $p knows $_ not { $_ knows $p } } } return { $p } }",
    );
    let ClauseAst::Not { clauses, span } = &read.clauses[1] else {
        panic!()
    };
    assert_eq!((span.line, span.column), (1, 32));
    assert!(matches!(&clauses[1], ClauseAst::Not { .. }));
}

#[test]
fn return_items_with_aliases_aggregates_and_optional_commas() {
    let read = read_ast(
        "query q() { match { $p: Person } return {\n $p.name\n $p as who, count($p) as n\n count($p.age) sum($p.age) avg($p.age) min($p.age) max($p.age) } }",
    );
    assert_eq!(read.returns.len(), 8);
    assert_eq!(read.returns[1].alias.as_ref().unwrap().name, "who");
    assert!(matches!(read.returns[1].expr, ExprAst::Var(_)));
    let funcs: Vec<AggFunc> = read.returns[2..]
        .iter()
        .map(|r| match &r.expr {
            ExprAst::Agg { func, .. } => *func,
            _ => panic!("aggregate expected"),
        })
        .collect();
    use AggFunc::*;
    assert_eq!(funcs, [Count, Count, Sum, Avg, Min, Max]);
}

#[test]
fn order_and_limit() {
    let read = read_ast("query q() { match { $p: Person } return { $p.name as n } order { n asc, $p.age desc $p count($p) } limit 7 }");
    let descending: Vec<bool> = read.order.iter().map(|o| o.descending).collect();
    assert_eq!(descending, [false, true, false, false]);
    assert!(matches!(&read.order[0].expr, ExprAst::Column(c) if c.name == "n"));
    assert_eq!(read.limit.map(|(n, _)| n), Some(7));
}

#[test]
fn mutation_statements() {
    let decl = one(
        "query m($a: String) {\n insert Person { name: $a, age: 3 }\n update Person set { age: 4 } where name = $a\n update Person set { age: 5 }\n delete Knows where from = $a\n delete Person\n}",
    );
    let BodyAst::Mutation(statements) = decl.body else {
        panic!()
    };
    assert_eq!(statements.len(), 5);
    assert!(matches!(&statements[0], MutationAst::Insert { values, .. } if values.len() == 2));
    assert!(
        matches!(&statements[1], MutationAst::Update { filter: Some(p), .. } if p.prop.name == "name")
    );
    assert!(matches!(
        &statements[2],
        MutationAst::Update { filter: None, .. }
    ));
    assert!(
        matches!(&statements[3], MutationAst::Delete { filter: Some(p), .. } if p.prop.name == "from")
    );
    assert!(
        matches!(&statements[4], MutationAst::Delete { filter: None, span, .. } if span.line == 6)
    );
}

#[test]
fn keywords_are_contextual() {
    read_ast("query q() { match { $order: Person $order.match = 1 } return { $order.limit } order { $order.order } }");
}

#[test]
fn errors_name_the_source_file() {
    let err = parse_queries_named("query q() {\n  oops }", "app.gq").unwrap_err();
    assert_eq!(err.to_string(), "app.gq:2:3: error[P1]: unexpected `oops` (expected `match`, `insert`, `update` or `delete`, found `oops`)");
}

#[test]
fn missing_query_keyword() {
    assert_error(&parse_err("  frobnicate q() {}"), "P1", 1, 3);
}

#[test]
fn missing_parameter_list() {
    assert_error(&parse_err("query q {\n}"), "P1", 1, 9);
}

#[test]
fn parameter_without_dollar() {
    assert_error(&parse_err("query q(name: String) { delete A }"), "P1", 1, 9);
}

#[test]
fn empty_return_is_rejected() {
    let err = parse_err("query q() {\nmatch { $p: Person }\nreturn { }\n}");
    assert_error(&err, "P1", 3, 10);
}

#[test]
fn missing_return_is_rejected() {
    assert_error(
        &parse_err("query q() {\nmatch { $p: Person }\n}"),
        "P1",
        3,
        1,
    );
}

#[test]
fn filter_without_operator() {
    let err = parse_err("query q() {\nmatch {\n$p.age 30\n}\nreturn { $p }\n}");
    assert_error(&err, "P1", 3, 8);
}

#[test]
fn double_equals_is_not_an_operator() {
    let err = parse_err("query q() { match { $p.age == 3 } return { $p } }");
    assert_error(&err, "P1", 1, 29);
}

#[test]
fn bare_word_is_not_a_value() {
    let err = parse_err("query q() { match { $p.name = alice } return { $p } }");
    assert_error(&err, "P1", 1, 31);
}

#[test]
fn malformed_hop_bounds_are_rejected() {
    // `{1,}` has no upper bound (see `traversal_forms_and_now`); `{1,x}` is an error.
    let err = parse_err("query q() { match { $a knows{1,x} $b } return { $a } }");
    assert_error(&err, "P1", 1, 32);
}

#[test]
fn reserved_variable_name_is_rejected() {
    let err = parse_err("query q() {\nmatch { $_x: Person }\nreturn { $_x }\n}");
    assert_error(&err, "P1", 2, 9);
}

#[test]
fn unknown_function_is_rejected() {
    let err = parse_err("query q() { match { $p: Person } return { median($p.age) } }");
    assert_error(&err, "P1", 1, 43);
    let err = parse_err("query q() { match { $p: Person\n frob($p) } return { $p } }");
    assert_error(&err, "P1", 2, 2);
}

#[test]
fn search_functions_parse_in_match_return_and_order() {
    let read = read_ast(
        "query q($v: Vector(3), $s: String) { match { $d: Doc search($d.body, $s) fuzzy($d.body, $s, 2) } return { bm25($d.body, $s) as s } order { rrf(nearest($d.e, $v), bm25($d.body, $s), 30) } limit 3 }",
    );
    let ClauseAst::Search(call) = &read.clauses[1] else {
        panic!("a search clause: {:?}", read.clauses[1])
    };
    assert_eq!(call.func, SearchFunc::Search);
    assert_eq!(call.args.len(), 2);
    let ClauseAst::Search(call) = &read.clauses[2] else {
        panic!("a fuzzy clause")
    };
    assert_eq!((call.func, call.args.len()), (SearchFunc::Fuzzy, 3));
    assert!(matches!(&read.returns[0].expr, ExprAst::Search(c) if c.func == SearchFunc::Bm25));
    let ExprAst::Search(rrf) = &read.order[0].expr else {
        panic!("rrf in order")
    };
    assert_eq!(rrf.func, SearchFunc::Rrf);
    assert!(matches!(&rrf.args[0], SearchArgAst::Call(c) if c.func == SearchFunc::Nearest));
    assert!(!read.order[0].explicit);
}

#[test]
fn unknown_function_inside_a_search_call_is_positioned() {
    let err = parse_err("query q() { match { $d: Doc } return { $d } order { rrf(median($d.e), bm25($d.b, \"x\")) } }");
    assert_error(&err, "P1", 1, 57);
}

#[test]
fn aggregate_argument_must_be_a_variable_or_property() {
    let err = parse_err("query q() { match { $p: Person } return { count(count($p)) } }");
    assert_error(&err, "P1", 1, 49);
}

#[test]
fn mutation_values_cannot_be_properties() {
    let err = parse_err("query q() {\n insert Person { name: $p.name }\n}");
    assert_error(&err, "P1", 2, 24);
}

#[test]
fn update_needs_set_and_a_property() {
    assert_error(
        &parse_err("query q() { update Person { age: 1 } }"),
        "P1",
        1,
        27,
    );
    assert_error(
        &parse_err("query q() { update Person set { } }"),
        "P1",
        1,
        33,
    );
}

#[test]
fn where_needs_a_comparison() {
    let err = parse_err("query q() { delete Person where name $a }");
    assert_error(&err, "P1", 1, 38);
}

#[test]
fn mixing_read_and_mutation_is_rejected() {
    let err = parse_err("query q() { match { $p: Person } return { $p }\n delete Person }");
    assert_error(&err, "P1", 2, 2);
}

#[test]
fn negative_limit_is_rejected() {
    let err = parse_err("query q() { match { $p: Person } return { $p } limit -1 }");
    assert_error(&err, "P1", 1, 54);
}

#[test]
fn integer_literal_overflow_is_rejected() {
    let err = parse_err("query q() { match { $p.age = 9223372036854775808 } return { $p } }");
    assert_error(&err, "P1", 1, 30);
}

#[test]
fn unterminated_string_is_rejected() {
    let err = parse_err("query q() {\n match { $p.name = \"abc }\n}");
    assert_error(&err, "P1", 2, 20);
}

#[test]
fn duplicate_query_name_is_rejected() {
    let err = parse_err("query a() { delete A }\nquery a() { delete B }");
    assert_error(&err, "T15", 2, 7);
}

/// Undirected traversals, edge bindings and `now()` (docs/languages.md, section 2).
mod traversal_forms_and_now {
    use super::*;

    fn traversal(clause: &ClauseAst) -> (bool, Option<&str>, Option<(u64, u64)>) {
        match clause {
            ClauseAst::Traverse {
                undirected,
                edge_var,
                hops,
                ..
            } => (
                *undirected,
                edge_var.as_ref().map(|v| v.name.as_str()),
                hops.map(|h| (h.min, h.max)),
            ),
            other => panic!("traversal expected, got {other:?}"),
        }
    }

    #[test]
    fn undirected_edge_binding_and_their_combinations() {
        let read = read_ast(
            "query q() { match { $a <knows> $b  $a <knows>{1,3} $c  $a $w:knows $d  $a $v:<knows> $e  $a knows $f } return { $a } }",
        );
        let forms: Vec<_> = read.clauses.iter().map(traversal).collect();
        assert_eq!(
            forms,
            [
                (true, None, None),
                (true, None, Some((1, 3))),
                (false, Some("w"), None),
                (true, Some("v"), None),
                (false, None, None),
            ]
        );
        match &read.clauses[2] {
            ClauseAst::Traverse { edge, dst, .. } => {
                assert_eq!((edge.name.as_str(), dst.name.as_str()), ("knows", "d"));
            }
            other => panic!("traversal expected, got {other:?}"),
        }
    }

    #[test]
    fn hop_bounds_without_a_maximum() {
        let read =
            read_ast("query q() { match { $a knows{2,} $b  $a <knows>{1,} $c } return { $a } }");
        let forms: Vec<_> = read.clauses.iter().map(traversal).collect();
        assert_eq!(
            forms,
            [
                (false, None, Some((2, u64::MAX))),
                (true, None, Some((1, u64::MAX)))
            ]
        );
    }

    #[test]
    fn undirected_traversal_inside_not() {
        let read =
            read_ast("query q() { match { $a: Person not { $a <knows> $_ } } return { $a } }");
        match &read.clauses[1] {
            ClauseAst::Not { clauses, .. } => {
                assert_eq!(traversal(&clauses[0]), (true, None, None))
            }
            other => panic!("not expected, got {other:?}"),
        }
    }

    #[test]
    fn a_parameter_left_of_less_than_is_still_a_filter() {
        let read =
            read_ast("query q($lo: I32) { match { $p: Person $lo < $p.age } return { $p } }");
        assert!(
            matches!(
                &read.clauses[1],
                ClauseAst::Filter {
                    op: CompareOp::Lt,
                    ..
                }
            ),
            "{:?}",
            read.clauses[1]
        );
    }

    #[test]
    fn unclosed_undirected_edge_is_a_syntax_error() {
        let err = parse_err("query q() { match { $a <knows $b } return { $a } }");
        assert_eq!(err.code.as_deref(), Some("P1"), "{err}");
    }

    #[test]
    fn now_is_the_reserved_parameter_in_filters_bindings_and_mutations() {
        let read = read_ast(
            "query q() { match { $p: Person { seen: now() } $p.seen < now() now() > $p.seen } return { $p } }",
        );
        let now = OperandAst::Param(omnigraph_lang::Ident::new(
            omnigraph_lang::NOW_PARAM,
            omnigraph_lang::Span::new(1, 40),
        ));
        match &read.clauses[0] {
            ClauseAst::Bind { props, .. } => assert_eq!(props[0].1, now),
            other => panic!("binding expected, got {other:?}"),
        }
        assert!(matches!(&read.clauses[1],
            ClauseAst::Filter { rhs: OperandAst::Param(p), .. } if p.name == omnigraph_lang::NOW_PARAM));
        assert!(matches!(&read.clauses[2],
            ClauseAst::Filter { lhs: OperandAst::Param(p), .. } if p.name == omnigraph_lang::NOW_PARAM));
        let decl = one("query m() { insert Person { name: \"a\", seen: now() } update Person set { seen: now() } where seen < now() }");
        let BodyAst::Mutation(statements) = decl.body else {
            panic!("mutation expected")
        };
        assert_eq!(statements.len(), 2);
    }

    #[test]
    fn system_parameter_names_are_reserved() {
        let err = parse_err("query q() { match { $p: Person $p.seen < $__now } return { $p } }");
        assert_error(&err, "P1", 1, 42);
        let err = parse_err("query q($__now: DateTime) { delete Person }");
        assert_error(&err, "P1", 1, 9);
    }
}

/// `@description` and `@instruction` after a query's parameters.
mod query_annotations {
    use super::*;

    #[test]
    fn description_and_instruction_are_kept() {
        let decl = one(
            "query q($n: String)\n  @description(\"Friends of a person\") @instruction(\"Pass a name\") {\n match { $p: Person { name: $n } } return { $p.name } }",
        );
        assert_eq!(decl.description.as_deref(), Some("Friends of a person"));
        assert_eq!(decl.instruction.as_deref(), Some("Pass a name"));
        let decl = one("query q() @instruction(\"x\") { delete Person }");
        assert_eq!(
            (decl.description, decl.instruction.as_deref()),
            (None, Some("x"))
        );
    }

    #[test]
    fn unknown_repeated_or_malformed_annotations_are_syntax_errors() {
        let err = parse_err("query q() @summary(\"x\") { delete Person }");
        assert_error(&err, "P1", 1, 12);
        let err = parse_err("query q() @description(\"a\") @description(\"b\") { delete Person }");
        assert_error(&err, "P1", 1, 29);
        let err = parse_err("query q() @description(3) { delete Person }");
        assert_error(&err, "P1", 1, 24);
    }
}
