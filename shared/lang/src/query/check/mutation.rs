//! Checking of mutation statements: insert, update and delete.
//!
//! An edge is addressed through the columns `from` and `to` (the endpoints' key values,
//! typed like those keys) alongside its own properties.

use crate::catalog::{EdgeType, NodeType, Property};
use crate::error::{LangError, LangResult};
use crate::query::ast::{MutationAst, OperandAst, PredicateAst};
use crate::query::check::compat::{check_assignable, check_comparison};
use crate::query::check::{find_property, id_alias, one_of, Ctx};
use crate::query::typed::{MutationStmt, Operand, Predicate};
use crate::span::{Ident, Span};

pub(crate) fn check_mutations(
    ctx: &Ctx,
    statements: &[MutationAst],
) -> LangResult<Vec<MutationStmt>> {
    statements.iter().map(|s| check_statement(ctx, s)).collect()
}

fn check_statement(ctx: &Ctx, statement: &MutationAst) -> LangResult<MutationStmt> {
    match statement {
        MutationAst::Insert {
            type_name, values, ..
        } => match target(ctx, type_name)? {
            Target::Node(node) => insert_node(ctx, node, type_name, values),
            Target::Edge(edge) => insert_edge(ctx, edge, type_name, values),
        },
        MutationAst::Update {
            type_name,
            set,
            filter,
            ..
        } => match target(ctx, type_name)? {
            Target::Node(node) => update_node(ctx, node, set, filter.as_ref()),
            Target::Edge(edge) => Err(LangError::coded(
                "T13",
                format!(
                    "edges cannot be updated; delete and insert `{}` instead",
                    edge.name
                ),
                type_name.span,
            )),
        },
        MutationAst::Delete {
            type_name, filter, ..
        } => match target(ctx, type_name)? {
            Target::Node(node) => Ok(MutationStmt::DeleteNode {
                node_type: node.name.clone(),
                filter: node_predicate(ctx, node, filter.as_ref())?,
            }),
            Target::Edge(edge) => Ok(MutationStmt::DeleteEdge {
                edge_type: edge.name.clone(),
                filter: predicate(
                    ctx,
                    &edge.name,
                    &edge_columns(ctx, edge, type_name.span)?,
                    filter.as_ref(),
                )?,
            }),
        },
    }
}

enum Target<'a> {
    Node(&'a NodeType),
    Edge(&'a EdgeType),
}

/// Mutations name node and edge types by their type names (`Knows`, not `knows`).
fn target<'a>(ctx: &Ctx<'a>, name: &Ident) -> LangResult<Target<'a>> {
    if let Some(node) = ctx.catalog.node(&name.name) {
        return Ok(Target::Node(node));
    }
    if let Some(edge) = ctx.catalog.edge(&name.name) {
        return Ok(Target::Edge(edge));
    }
    let names = ctx
        .catalog
        .nodes
        .iter()
        .map(|n| n.name.as_str())
        .chain(ctx.catalog.edges.iter().map(|e| e.name.as_str()));
    Err(
        LangError::coded("T1", format!("unknown type `{}`", name.name), name.span)
            .expected(one_of(names))
            .found(format!("`{}`", name.name)),
    )
}

fn insert_node(
    ctx: &Ctx,
    node: &NodeType,
    name: &Ident,
    values: &[(Ident, OperandAst)],
) -> LangResult<MutationStmt> {
    let values = assignments(ctx, &node.name, &node.properties, values)?;
    // The system id is generated (no key) or derived from the composite key when not given.
    let required: Vec<Property> = node
        .properties
        .iter()
        .filter(|p| !(node.system_id && p.name == node.key))
        .cloned()
        .collect();
    require_all(&node.name, &required, &values, name.span)?;
    Ok(MutationStmt::InsertNode {
        node_type: node.name.clone(),
        values,
    })
}

fn insert_edge(
    ctx: &Ctx,
    edge: &EdgeType,
    name: &Ident,
    values: &[(Ident, OperandAst)],
) -> LangResult<MutationStmt> {
    let columns = edge_columns(ctx, edge, name.span)?;
    let mut values = assignments(ctx, &edge.name, &columns, values)?;
    require_all(&edge.name, &columns, &values, name.span)?;
    let from = take_value(&mut values, "from", name.span)?;
    let to = take_value(&mut values, "to", name.span)?;
    Ok(MutationStmt::InsertEdge {
        edge_type: edge.name.clone(),
        from,
        to,
        values,
    })
}

fn take_value(
    values: &mut Vec<(String, Operand)>,
    column: &str,
    span: Span,
) -> LangResult<Operand> {
    let index = values
        .iter()
        .position(|(name, _)| name == column)
        .ok_or_else(|| LangError::coded("T12", format!("missing `{column}`"), span))?;
    Ok(values.remove(index).1)
}

fn update_node(
    ctx: &Ctx,
    node: &NodeType,
    set: &[(Ident, OperandAst)],
    filter: Option<&PredicateAst>,
) -> LangResult<MutationStmt> {
    let identity = node.identity_properties();
    let fixed =
        |name: &str| name == node.key || identity.contains(&name) || id_alias(node, name).is_some();
    if let Some((key, _)) = set.iter().find(|(name, _)| fixed(&name.name)) {
        let what = if node.system_id && key.name == node.key {
            "the system id"
        } else {
            "part of the @key"
        };
        return Err(LangError::coded(
            "T13",
            format!(
                "`{}` is {what} of {} and cannot be updated; delete and insert instead",
                key.name, node.name
            ),
            key.span,
        ));
    }
    Ok(MutationStmt::Update {
        node_type: node.name.clone(),
        set: assignments(ctx, &node.name, &node.properties, set)?,
        filter: node_predicate(ctx, node, filter)?,
    })
}

/// `from` and `to` typed like the endpoints' keys, then the edge's own properties.
fn edge_columns(ctx: &Ctx, edge: &EdgeType, span: Span) -> LangResult<Vec<Property>> {
    let mut columns = Vec::new();
    for (column, node_name) in [("from", &edge.from), ("to", &edge.to)] {
        let node = ctx.endpoint(edge, node_name, span)?;
        let key = node.property(&node.key).ok_or_else(|| {
            LangError::coded("T6", format!("{} has no key property", node.name), span)
        })?;
        columns.push(Property {
            name: column.to_string(),
            ty: key.ty.clone(),
            nullable: false,
            renamed_from: None,
            embed: None,
        });
    }
    columns.extend(edge.properties.iter().cloned());
    Ok(columns)
}

/// `prop: value` pairs: known properties, each once, with values that fit.
fn assignments(
    ctx: &Ctx,
    owner: &str,
    props: &[Property],
    values: &[(Ident, OperandAst)],
) -> LangResult<Vec<(String, Operand)>> {
    let mut out: Vec<(String, Operand)> = Vec::new();
    for (name, value) in values {
        if out.iter().any(|(n, _)| *n == name.name) {
            return Err(LangError::coded(
                "T12",
                format!("property `{}` is set twice", name.name),
                name.span,
            ));
        }
        let prop = find_property(owner, props, name)?;
        let (operand, value_type) = ctx.operand(None, value)?;
        check_assignable(&value_type, &prop.ty, prop.nullable, value.span())?;
        out.push((prop.name.clone(), operand));
    }
    Ok(out)
}

fn require_all(
    owner: &str,
    props: &[Property],
    values: &[(String, Operand)],
    span: Span,
) -> LangResult<()> {
    let missing: Vec<&str> = props
        .iter()
        .filter(|p| !p.nullable && !values.iter().any(|(n, _)| *n == p.name))
        // An `@embed` vector is computed from its source when the insert gives none.
        .filter(|p| {
            p.embed
                .as_ref()
                .is_none_or(|e| !values.iter().any(|(n, _)| *n == e.source))
        })
        .map(|p| p.name.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(LangError::coded(
        "T12",
        format!(
            "insert into {owner} is missing required property `{}`",
            missing.join("`, `")
        ),
        span,
    )
    .expected(format!("values for: {}", missing.join(", "))))
}

/// A node's `where` clause, where `id` may name the key (`find_node_property`).
fn node_predicate(
    ctx: &Ctx,
    node: &NodeType,
    filter: Option<&PredicateAst>,
) -> LangResult<Option<Predicate>> {
    match filter.and_then(|f| id_alias(node, &f.prop.name)) {
        Some(key) => predicate(
            ctx,
            &node.name,
            std::slice::from_ref(key),
            filter
                .map(|f| {
                    let mut f = f.clone();
                    f.prop.name = key.name.clone();
                    f
                })
                .as_ref(),
        ),
        None => predicate(ctx, &node.name, &node.properties, filter),
    }
}

fn predicate(
    ctx: &Ctx,
    owner: &str,
    props: &[Property],
    filter: Option<&PredicateAst>,
) -> LangResult<Option<Predicate>> {
    let Some(filter) = filter else {
        return Ok(None);
    };
    let prop = find_property(owner, props, &filter.prop)?;
    let (value, value_type) = ctx.operand(None, &filter.value)?;
    check_comparison(
        &ctx.prop_type(prop),
        filter.op,
        filter.op_span,
        &value_type,
        filter.value.span(),
    )?;
    Ok(Some(Predicate {
        prop: prop.name.clone(),
        op: filter.op,
        value,
    }))
}
