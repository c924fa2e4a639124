//! Examples of every construct of docs/languages.md (sections 1 and 2) parse and type-check.

use crate::common;

use common::spec_catalog;
use omnigraph_lang::*;

const SPEC_READ_QUERIES: &str = r#"
query friends_of($name: String) {
    match {
        $p: Person { name: $name }     // binding: variable, type, optional property equalities
        $p knows $f                    // traversal along edge Knows (source -> target)
        $f.age >= 18                   // filter: = != < <= > >= contains starts_with
    }
    return { $f.name, $f.age as years }
    order { $f.age desc, $f.name }
    limit 10
}

query fof($name: String) {             // multi-hop by chaining
    match { $p: Person { name: $name }  $p knows $m  $m knows $x }
    return { $x.name }
}

query reach($name: String) {           // bounded variable-length traversal, 1 to 3 hops
    match { $p: Person { name: $name }  $p knows{1,3} $x }
    return { $x.name }
}

query employees_of($c: String) {       // reverse direction: the variable order says which end
    match { $co: Company { name: $c }  $p worksAt $co }
    return { $p.name }
}

query unemployed() {                   // negation; $_ is an anonymous variable
    match { $p: Person  not { $p worksAt $_ } }
    return { $p.name }
}

query age_stats() {                    // aggregates group by the non-aggregate projections
    match { $p: Person  $p worksAt $c }
    return { $c.name, count($p) as headcount, avg($p.age) as avg_age,
             min($p.age) as youngest, max($p.age) as oldest, sum($p.age) as total }
    order { headcount desc }
}
"#;

const SPEC_MUTATIONS: &str = r#"
query add_person($name: String, $age: I32) {
    insert Person { name: $name, age: $age }
}
query befriend($a: String, $b: String) {
    insert Knows { from: $a, to: $b }          // edge endpoints by the endpoints' @key values
}
query birthday($name: String) {
    update Person set { age: 31 } where name = $name
}
query forget($name: String) {
    delete Person where name = $name           // also deletes every edge touching the node
}
query rename_and_link($old: String, $new: String, $co: String) {
    insert Person { name: $new }                // several statements = ONE atomic change:
    insert WorksAt { from: $new, to: $co }      // later statements see earlier ones' writes,
    delete Person where name = $old             // and all of it is published once, or not at all
}
"#;

const SPEC_RESULT_EXAMPLE: &str = "query q() { match { $p: Person $p knows $f } return { $p.name, count($f) as friends } order { friends desc } }";

/// The spec's Person requires `email`, `role`, `bio` and `joined`; inserts that omit them are
/// refused, so the mutation examples run against the same schema with those nullable.
fn mutation_catalog() -> Catalog {
    let schema = common::SPEC_SCHEMA
        .replace("email: String @unique", "email: String? @unique")
        .replace("role: enum(admin, member)", "role: enum(admin, member)?")
        .replace("bio: String @index", "bio: String? @index")
        .replace("joined: Date", "joined: Date?");
    parse_schema(&schema).unwrap()
}

fn read(query: &TypedQuery) -> &ReadQuery {
    match &query.body {
        QueryBody::Read(read) => read,
        QueryBody::Mutation(_) => panic!("expected a read query"),
    }
}

#[test]
fn every_spec_read_query_type_checks() {
    let catalog = spec_catalog();
    let typed = compile_all(&catalog, SPEC_READ_QUERIES, "spec.gq").unwrap();
    let names: Vec<&str> = typed.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "friends_of",
            "fof",
            "reach",
            "employees_of",
            "unemployed",
            "age_stats"
        ]
    );
}

#[test]
fn spec_friends_of_has_expected_shape() {
    let q = compile(&spec_catalog(), SPEC_READ_QUERIES, Some("friends_of")).unwrap();
    assert_eq!(
        q.params,
        vec![ParamDecl {
            name: "name".into(),
            ty: PropType::Base(BaseType::String),
            nullable: false
        }]
    );
    let r = read(&q);
    let vars: Vec<(&str, &str)> = r
        .vars
        .iter()
        .map(|v| (v.name.as_str(), v.node_type.as_str()))
        .collect();
    assert_eq!(vars, [("p", "Person"), ("f", "Person")]);
    assert_eq!(
        r.clauses,
        vec![
            Clause::Bind {
                var: 0,
                props: vec![("name".into(), Operand::Param("name".into()))]
            },
            Clause::Traverse {
                src: 0,
                edge: "Knows".into(),
                dst: 1,
                min_hops: 1,
                max_hops: 1,
                undirected: false,
                edge_var: None,
            },
            Clause::Filter {
                lhs: Operand::Prop {
                    var: 1,
                    prop: "age".into()
                },
                op: CompareOp::Ge,
                rhs: Operand::Literal(Literal::Int(18)),
            },
        ]
    );
    assert_eq!(r.columns(), ["f.name", "years"]);
    assert_eq!(
        r.order,
        vec![
            OrderKey {
                column: 1,
                descending: true
            },
            OrderKey {
                column: 0,
                descending: false
            }
        ]
    );
    assert_eq!(r.limit, Some(10));
}

#[test]
fn spec_reach_is_bounded_variable_length() {
    let q = compile(&spec_catalog(), SPEC_READ_QUERIES, Some("reach")).unwrap();
    assert!(read(&q).clauses.contains(&Clause::Traverse {
        src: 0,
        edge: "Knows".into(),
        dst: 1,
        min_hops: 1,
        max_hops: 3,
        undirected: false,
        edge_var: None,
    }));
}

#[test]
fn spec_employees_of_traverses_source_to_target() {
    let q = compile(&spec_catalog(), SPEC_READ_QUERIES, Some("employees_of")).unwrap();
    let r = read(&q);
    assert_eq!(r.vars[0].name, "co");
    assert_eq!(r.vars[1].name, "p");
    assert_eq!(
        r.clauses[1],
        Clause::Traverse {
            src: 1,
            edge: "WorksAt".into(),
            dst: 0,
            min_hops: 1,
            max_hops: 1,
            undirected: false,
            edge_var: None,
        }
    );
}

#[test]
fn spec_unemployed_uses_negation_with_anonymous_variable() {
    let q = compile(&spec_catalog(), SPEC_READ_QUERIES, Some("unemployed")).unwrap();
    let r = read(&q);
    assert_eq!(
        r.vars[1],
        VarInfo {
            name: "_1".into(),
            node_type: "Company".into(),
            anonymous: true,
            negated: true,
            edge: false,
        }
    );
    assert_eq!(
        r.clauses[1],
        Clause::Not(vec![Clause::Traverse {
            src: 0,
            edge: "WorksAt".into(),
            dst: 1,
            min_hops: 1,
            max_hops: 1,
            undirected: false,
            edge_var: None,
        }])
    );
}

#[test]
fn spec_age_stats_groups_by_company_name() {
    let q = compile(&spec_catalog(), SPEC_READ_QUERIES, Some("age_stats")).unwrap();
    let r = read(&q);
    assert_eq!(
        r.columns(),
        [
            "c.name",
            "headcount",
            "avg_age",
            "youngest",
            "oldest",
            "total"
        ]
    );
    assert_eq!(r.group_keys(), vec![0]);
    let types: Vec<String> = r
        .returns
        .iter()
        .map(|p| p.result_type.ty.to_string())
        .collect();
    assert_eq!(types, ["String", "I64", "F64", "I32", "I32", "F64"]);
    assert_eq!(
        r.order,
        vec![OrderKey {
            column: 1,
            descending: true
        }]
    );
}

#[test]
fn spec_result_example_type_checks() {
    let q = compile(&spec_catalog(), SPEC_RESULT_EXAMPLE, None).unwrap();
    assert_eq!(read(&q).columns(), ["p.name", "friends"]);
}

#[test]
fn every_spec_mutation_type_checks() {
    let typed = compile_all(&mutation_catalog(), SPEC_MUTATIONS, "spec.gq").unwrap();
    assert_eq!(typed.len(), 5);
    let QueryBody::Mutation(statements) = &typed[4].body else {
        panic!("rename_and_link is a mutation");
    };
    assert_eq!(
        statements,
        &vec![
            MutationStmt::InsertNode {
                node_type: "Person".into(),
                values: vec![("name".into(), Operand::Param("new".into()))],
            },
            MutationStmt::InsertEdge {
                edge_type: "WorksAt".into(),
                from: Operand::Param("new".into()),
                to: Operand::Param("co".into()),
                values: vec![],
            },
            MutationStmt::DeleteNode {
                node_type: "Person".into(),
                filter: Some(Predicate {
                    prop: "name".into(),
                    op: CompareOp::Eq,
                    value: Operand::Param("old".into()),
                }),
            },
        ]
    );
}

#[test]
fn spec_add_person_against_spec_schema_reports_missing_required_properties() {
    let err = compile(&spec_catalog(), SPEC_MUTATIONS, Some("add_person")).unwrap_err();
    common::assert_error(&err, "T12", 3, 12);
    assert_eq!(
        err.expected.as_deref(),
        Some("values for: email, role, bio, joined")
    );
}

#[test]
fn typed_queries_round_trip_through_json() {
    for q in compile_all(&spec_catalog(), SPEC_READ_QUERIES, "spec.gq").unwrap() {
        let json = serde_json::to_string(&q).unwrap();
        assert_eq!(serde_json::from_str::<TypedQuery>(&json).unwrap(), q);
    }
}
