//! Checking of `return` and `order`: projections, aggregates and sort keys.

use crate::catalog::{BaseType, PropType};
use crate::error::{LangError, LangResult};
use crate::query::ast::{ExprAst, OrderItemAst, ReturnItemAst};
use crate::query::check::compat::is_orderable_type;
use crate::query::check::find_node_property;
use crate::query::check::scope::VarTable;
use crate::query::check::{search, Ctx};
use crate::query::typed::{AggFunc, Literal, OrderKey, ProjExpr, Projection, ResultType};
use crate::span::Span;

pub(crate) fn check_returns(
    ctx: &Ctx,
    vars: &VarTable,
    items: &[ReturnItemAst],
) -> LangResult<Vec<Projection>> {
    let mut out: Vec<Projection> = Vec::new();
    for item in items {
        let checked = check_expr(ctx, vars, &item.expr)?;
        let (column, span) = match &item.alias {
            Some(alias) => (alias.name.clone(), alias.span),
            None => (checked.column, item.expr.span()),
        };
        if out.iter().any(|p| p.column == column) {
            return Err(LangError::coded(
                "T14",
                format!("duplicate column `{column}`; give one of them another name with `as`"),
                span,
            ));
        }
        out.push(Projection {
            column,
            expr: checked.expr,
            result_type: checked.result_type,
            hidden: false,
        });
    }
    Ok(out)
}

pub(crate) fn check_order(
    ctx: &Ctx,
    vars: &VarTable,
    items: &[OrderItemAst],
    returns: &mut Vec<Projection>,
) -> LangResult<Vec<OrderKey>> {
    let mut keys = Vec::new();
    for item in items {
        let column = match &item.expr {
            ExprAst::Column(name) => visible_column(returns, &name.name, name.span)?,
            expr => {
                let checked = check_expr(ctx, vars, expr)?;
                match returns.iter().position(|p| p.expr == checked.expr) {
                    Some(index) => index,
                    None => add_hidden(returns, checked, expr.span())?,
                }
            }
        };
        // A relevance score (bm25, rrf) orders best first unless `asc` is written.
        let best_first =
            matches!(&returns[column].expr, ProjExpr::Search(e) if e.higher_is_better());
        keys.push(OrderKey {
            column,
            descending: item.descending || (best_first && !item.explicit),
        });
    }
    Ok(keys)
}

fn visible_column(returns: &[Projection], name: &str, span: Span) -> LangResult<usize> {
    returns
        .iter()
        .position(|p| !p.hidden && p.column == name)
        .ok_or_else(|| {
            let columns: Vec<&str> = returns.iter().map(|p| p.column.as_str()).collect();
            LangError::coded("T14", format!("unknown column `{name}` in order"), span)
                .expected(format!(
                    "a returned column ({}) or an expression such as `$p.age`",
                    columns.join(", ")
                ))
                .found(format!("`{name}`"))
        })
}

/// Sorting by an expression that is not returned: a hidden column, as long as it does
/// not change the grouping of an aggregate query.
fn add_hidden(
    returns: &mut Vec<Projection>,
    checked: CheckedExpr,
    span: Span,
) -> LangResult<usize> {
    let aggregate_query = returns.iter().any(|p| p.expr.is_aggregate());
    if checked.expr.is_aggregate() && !aggregate_query {
        return Err(LangError::coded(
            "T14",
            "cannot order by an aggregate when return has none",
            span,
        ));
    }
    if !checked.expr.is_aggregate() && aggregate_query {
        return Err(LangError::coded(
            "T14",
            format!(
                "`{}` is not a group key: an aggregate query can only be ordered by its returned columns or aggregates",
                checked.column
            ),
            span,
        ));
    }
    let mut column = checked.column.clone();
    let mut suffix = 2;
    while returns.iter().any(|p| p.column == column) {
        column = format!("{}#{suffix}", checked.column);
        suffix += 1;
    }
    returns.push(Projection {
        column,
        expr: checked.expr,
        result_type: checked.result_type,
        hidden: true,
    });
    Ok(returns.len() - 1)
}

struct CheckedExpr {
    expr: ProjExpr,
    result_type: ResultType,
    /// The column name when no alias is given.
    column: String,
}

fn check_expr(ctx: &Ctx, vars: &VarTable, expr: &ExprAst) -> LangResult<CheckedExpr> {
    match expr {
        ExprAst::Prop { var, prop } => {
            let (index, property) = match vars.edge_property(var, prop)? {
                Some(found) => found,
                None => {
                    let index = vars.resolve(var)?;
                    (index, find_node_property(vars.node(index), prop)?)
                }
            };
            Ok(CheckedExpr {
                expr: ProjExpr::Prop {
                    var: index,
                    prop: property.name.clone(),
                },
                result_type: ResultType {
                    ty: property.ty.clone(),
                    nullable: property.nullable,
                },
                // As written: `$c.id` is the column `c.id` even where `id` names the key.
                column: format!("{}.{}", vars.vars[index].name, prop.name),
            })
        }
        ExprAst::Var(var) => {
            let index = vars.resolve(var)?;
            let node = vars.node(index);
            let key_type = node
                .property(&node.key)
                .map(|p| p.ty.clone())
                .unwrap_or(PropType::Base(BaseType::String));
            Ok(CheckedExpr {
                expr: ProjExpr::VarKey { var: index },
                result_type: ResultType {
                    ty: key_type,
                    nullable: false,
                },
                column: vars.vars[index].name.clone(),
            })
        }
        ExprAst::Agg { func, span, arg } => check_aggregate(ctx, vars, *func, *span, arg),
        ExprAst::Search(call) => {
            let checked = search::check_call(ctx, vars, call)?;
            Ok(CheckedExpr {
                expr: ProjExpr::Search(checked.expr),
                result_type: checked.result_type,
                column: checked.column,
            })
        }
        ExprAst::Now(_) => Ok(CheckedExpr {
            expr: ProjExpr::Now,
            result_type: ResultType {
                ty: PropType::Base(BaseType::DateTime),
                nullable: false,
            },
            column: "now()".to_string(),
        }),
        ExprAst::Literal { value, .. } => {
            let (base, nullable) = match value {
                Literal::Null => (BaseType::String, true),
                Literal::Bool(_) => (BaseType::Bool, false),
                Literal::Int(_) => (BaseType::I64, false),
                Literal::Float(_) => (BaseType::F64, false),
                Literal::String(_) => (BaseType::String, false),
            };
            Ok(CheckedExpr {
                expr: ProjExpr::Literal(value.clone()),
                result_type: ResultType {
                    ty: PropType::Base(base),
                    nullable,
                },
                column: value.to_string(),
            })
        }
        ExprAst::Column(name) => Err(LangError::coded(
            "T14",
            "a bare column name is only allowed in order",
            name.span,
        )),
    }
}

fn check_aggregate(
    ctx: &Ctx,
    vars: &VarTable,
    func: AggFunc,
    span: Span,
    arg: &ExprAst,
) -> LangResult<CheckedExpr> {
    let inner = check_expr(ctx, vars, arg)?;
    let column = format!("{}({})", func.name(), inner.column);
    let is_prop = matches!(inner.expr, ProjExpr::Prop { .. });
    let arg_type = &inner.result_type.ty;
    let result_type = match func {
        AggFunc::Count => ResultType {
            ty: PropType::Base(BaseType::I64),
            nullable: false,
        },
        AggFunc::Sum | AggFunc::Avg if is_prop && arg_type.is_numeric() => ResultType {
            ty: PropType::Base(BaseType::F64),
            nullable: true,
        },
        AggFunc::Min | AggFunc::Max if is_orderable_type(arg_type) => ResultType {
            ty: arg_type.clone(),
            nullable: true,
        },
        _ => return Err(aggregate_type_error(func, span, &inner)),
    };
    Ok(CheckedExpr {
        expr: ProjExpr::Agg {
            func,
            arg: Box::new(inner.expr),
        },
        result_type,
        column,
    })
}

fn aggregate_type_error(func: AggFunc, span: Span, inner: &CheckedExpr) -> LangError {
    let expected = match func {
        AggFunc::Sum | AggFunc::Avg => "a numeric property, as in `sum($p.age)`",
        _ => "a number, String, enum, Date or DateTime property",
    };
    let found = match inner.expr {
        ProjExpr::VarKey { .. } => format!("the variable `${}`", inner.column),
        _ => inner.result_type.ty.to_string(),
    };
    LangError::coded(
        "T11",
        format!("{} over `{}` is not defined", func.name(), inner.column),
        span,
    )
    .expected(expected)
    .found(found)
}
