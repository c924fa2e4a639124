//! Checking of match clauses: bindings, traversals, filters and negations.
//!
//! Within one block, bindings are checked first, then traversals, then filters, then
//! nested `not` blocks, so a variable may be used before the clause that types it and a
//! traversal against a bound variable reports a wrong direction rather than a clash.

use crate::catalog::EdgeType;
use crate::error::{LangError, LangResult};
use crate::query::ast::{ClauseAst, HopsAst, OperandAst, VarRef};
use crate::query::check::compat::check_comparison;
use crate::query::check::scope::VarTable;
use crate::query::check::search;
use crate::query::check::Ctx;
use crate::query::typed::{Clause, CompareOp};
use crate::span::{Ident, Span};

pub(crate) fn check_block<'a>(
    ctx: &Ctx<'a>,
    vars: &mut VarTable<'a>,
    clauses: &[ClauseAst],
) -> LangResult<Vec<Clause>> {
    let mut out: Vec<Option<Clause>> = clauses.iter().map(|_| None).collect();
    let mut bound = Vec::new();
    for (i, clause) in clauses.iter().enumerate() {
        if let ClauseAst::Bind { var, node_type, .. } = clause {
            let node = ctx.node_type(node_type)?;
            bound.push((i, vars.bind(var, node)?));
        }
    }
    for (i, clause) in clauses.iter().enumerate() {
        if let ClauseAst::Traverse {
            src,
            edge,
            hops,
            dst,
            undirected,
            edge_var,
        } = clause
        {
            let shape = Shape {
                hops: hops.as_ref(),
                undirected: *undirected,
                edge_var: edge_var.as_ref(),
            };
            out[i] = Some(check_traversal(ctx, vars, src, edge, shape, dst)?);
        }
    }
    for (i, index) in bound {
        if let ClauseAst::Bind { props, .. } = &clauses[i] {
            out[i] = Some(check_bind_props(ctx, vars, index, props)?);
        }
    }
    for (i, clause) in clauses.iter().enumerate() {
        if let ClauseAst::Filter {
            lhs,
            op,
            op_span,
            rhs,
        } = clause
        {
            out[i] = Some(check_filter(ctx, vars, lhs, *op, *op_span, rhs)?);
        }
    }
    for (i, clause) in clauses.iter().enumerate() {
        if let ClauseAst::Search(call) = clause {
            out[i] = Some(Clause::Search(search::check_condition(ctx, vars, call)?));
        }
    }
    for (i, clause) in clauses.iter().enumerate() {
        if let ClauseAst::Not { clauses: inner, .. } = clause {
            vars.push_scope();
            let checked = check_block(ctx, vars, inner);
            vars.pop_scope();
            out[i] = Some(Clause::Not(checked?));
        }
    }
    Ok(out.into_iter().flatten().collect())
}

fn check_bind_props(
    ctx: &Ctx,
    vars: &VarTable,
    var: usize,
    props: &[(Ident, OperandAst)],
) -> LangResult<Clause> {
    let node = vars.node(var);
    let mut checked = Vec::new();
    for (name, operand) in props {
        let prop = ctx.node_property(node, name)?;
        let lhs = ctx.prop_type(prop);
        let (rhs_operand, rhs) = ctx.operand(Some(vars), operand)?;
        check_comparison(&lhs, CompareOp::Eq, name.span, &rhs, operand.span())?;
        checked.push((prop.name.clone(), rhs_operand));
    }
    Ok(Clause::Bind {
        var,
        props: checked,
    })
}

fn check_filter(
    ctx: &Ctx,
    vars: &VarTable,
    lhs: &OperandAst,
    op: CompareOp,
    op_span: Span,
    rhs: &OperandAst,
) -> LangResult<Clause> {
    let (lhs_operand, lhs_type) = ctx.operand(Some(vars), lhs)?;
    let (rhs_operand, rhs_type) = ctx.operand(Some(vars), rhs)?;
    check_comparison(&lhs_type, op, op_span, &rhs_type, rhs.span())?;
    Ok(Clause::Filter {
        lhs: lhs_operand,
        op,
        rhs: rhs_operand,
    })
}

/// How a traversal is written, besides its endpoints and edge.
struct Shape<'t> {
    hops: Option<&'t HopsAst>,
    /// `<edge>`
    undirected: bool,
    /// `$w:edge`
    edge_var: Option<&'t VarRef>,
}

fn check_traversal<'a>(
    ctx: &Ctx<'a>,
    vars: &mut VarTable<'a>,
    src: &VarRef,
    edge_name: &Ident,
    shape: Shape,
    dst: &VarRef,
) -> LangResult<Clause> {
    let edge = ctx.edge_by_query_name(edge_name)?;
    if shape.undirected && edge.from != edge.to {
        return Err(LangError::coded(
            "T22",
            format!(
                "`<{}>` matches the edge in either direction, but `{}` goes from {} to {}; write `${} {} ${}`",
                edge_name.name, edge_name.name, edge.from, edge.to, src.name, edge_name.name, dst.name
            ),
            edge_name.span,
        )
        .expected("an edge whose source and target types are the same"));
    }
    let (min_hops, max_hops) = check_hops(edge, edge_name, shape.hops)?;
    if let (Some(var), Some(hops)) = (shape.edge_var, shape.hops) {
        if max_hops > 1 {
            return Err(LangError::coded(
                "T23",
                format!(
                    "`${}` cannot be bound over {{{min_hops},{max_hops}}} hops: a path has many edges",
                    var.name
                ),
                hops.span,
            )
            .expected("a one-hop traversal, `$a $w:edge $b`"));
        }
    }
    check_direction(vars, edge, edge_name, src, dst)?;
    let from = ctx.endpoint(edge, &edge.from, edge_name.span)?;
    let src_index = vars.bind(src, from)?;
    let dst_index = vars.bind(dst, ctx.endpoint(edge, &edge.to, edge_name.span)?)?;
    let edge_var = match shape.edge_var {
        Some(var) => Some(vars.bind_edge(var, edge, from)?),
        None => None,
    };
    Ok(Clause::Traverse {
        src: src_index,
        edge: edge.name.clone(),
        dst: dst_index,
        min_hops,
        max_hops,
        undirected: shape.undirected,
        edge_var,
    })
}

/// Hop bounds: `1 <= min <= max`; more than one hop needs an edge that can chain.
fn check_hops(edge: &EdgeType, name: &Ident, hops: Option<&HopsAst>) -> LangResult<(u32, u32)> {
    let Some(hops) = hops else {
        return Ok((1, 1));
    };
    // `{min,}`: no upper bound, which the breadth-first search makes finite (each node is
    // expanded at most once).
    let unbounded = hops.max == u64::MAX;
    let max = if unbounded {
        Ok(u32::MAX)
    } else {
        u32::try_from(hops.max)
    };
    let (Ok(min), Ok(max)) = (u32::try_from(hops.min), max) else {
        return Err(LangError::coded("T9", "hop count too large", hops.span));
    };
    if min == 0 || max < min || (unbounded && min == u32::MAX) {
        let shown = if unbounded {
            format!("{{{min},}}")
        } else {
            format!("{{{min},{max}}}")
        };
        return Err(
            LangError::coded("T9", format!("invalid hop bounds {shown}"), hops.span)
                .expected("{min,max} with 1 <= min <= max, or {min,}"),
        );
    }
    if max > 1 && edge.from != edge.to {
        return Err(LangError::coded(
            "T9",
            format!(
                "`{}` goes from {} to {}, so it cannot be followed more than once",
                name.name, edge.from, edge.to
            ),
            hops.span,
        )
        .expected("an edge whose source and target types are the same"));
    }
    Ok((min, max))
}

/// Already-typed endpoints must match the edge's source and target types.
fn check_direction(
    vars: &VarTable,
    edge: &EdgeType,
    name: &Ident,
    src: &VarRef,
    dst: &VarRef,
) -> LangResult<()> {
    let src_type = vars.type_of(&src.name);
    let dst_type = vars.type_of(&dst.name);
    let src_ok = src_type.is_none_or(|t| t == edge.from);
    let dst_ok = dst_type.is_none_or(|t| t == edge.to);
    if src_ok && dst_ok {
        return Ok(());
    }
    let reversed = src_type.is_none_or(|t| t == edge.to) && dst_type.is_none_or(|t| t == edge.from);
    let (var, actual, expected) = if src_ok {
        (dst, dst_type.unwrap_or_default(), &edge.to)
    } else {
        (src, src_type.unwrap_or_default(), &edge.from)
    };
    let hint = if reversed {
        format!(
            "; wrong direction, write `${} {} ${}`",
            dst.name, name.name, src.name
        )
    } else {
        String::new()
    };
    Err(LangError::coded(
        "T9",
        format!(
            "`{}` goes from {} to {}, but `${}` is a {actual}{hint}",
            name.name, edge.from, edge.to, var.name
        ),
        var.span,
    )
    .expected(expected.clone())
    .found(actual.to_string()))
}
