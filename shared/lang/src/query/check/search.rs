//! Checking of search function calls (error code `T16`).
//!
//! - `search`, `match_text`, `fuzzy` (Bool) and `bm25` (F64) take a String property and a
//!   String query (literal or parameter); `match_text` and `fuzzy` need `@index` (a
//!   full-text index), `search` and `bm25` scan an unindexed column;
//!   `fuzzy` takes an optional maximum edit distance, a literal 0, 1 or 2.
//! - `nearest` (F64, cosine distance) takes a Vector(n) property and a Vector(n) parameter,
//!   or a String (literal or parameter) when the property has `@embed` (the same model
//!   embeds the query).
//! - `rrf` (F64) takes two rankings (`nearest` or `bm25`) of the same variable and an
//!   optional literal k >= 1 (60 when absent).
//! - Only the Bool ones are conditions in `match`; all are values in `return` and `order`.

use crate::catalog::{BaseType, NodeType, PropType, Property};
use crate::error::{LangError, LangResult};
use crate::query::ast::{OperandAst, SearchArgAst, SearchCallAst};
use crate::query::check::compat::StaticType;
use crate::query::check::scope::VarTable;
use crate::query::check::Ctx;
use crate::query::typed::{Literal, Operand, ResultType, SearchExpr, SearchFunc, TextMode};

/// Default `k` of reciprocal rank fusion.
pub const RRF_DEFAULT_K: u32 = 60;

/// A checked call: the expression, its result type, and its column name without an alias.
pub(crate) struct CheckedSearch {
    pub expr: SearchExpr,
    pub result_type: ResultType,
    pub column: String,
}

/// A call standing as a clause of `match`: one of the Bool functions.
pub(crate) fn check_condition(
    ctx: &Ctx,
    vars: &VarTable,
    call: &SearchCallAst,
) -> LangResult<SearchExpr> {
    if !call.func.is_predicate() {
        return Err(LangError::coded(
            "T16",
            format!(
                "`{}` is a score, not a condition: use it in return or order",
                call.func.name()
            ),
            call.span,
        )
        .expected("search, match_text or fuzzy in match"));
    }
    Ok(check_call(ctx, vars, call)?.expr)
}

pub(crate) fn check_call(
    ctx: &Ctx,
    vars: &VarTable,
    call: &SearchCallAst,
) -> LangResult<CheckedSearch> {
    match call.func {
        SearchFunc::Search | SearchFunc::MatchText | SearchFunc::Fuzzy | SearchFunc::Bm25 => {
            check_text(ctx, vars, call)
        }
        SearchFunc::Nearest => check_nearest(ctx, vars, call),
        SearchFunc::Rrf => check_rrf(ctx, vars, call),
    }
}

fn check_text(ctx: &Ctx, vars: &VarTable, call: &SearchCallAst) -> LangResult<CheckedSearch> {
    let max_args = if call.func == SearchFunc::Fuzzy { 3 } else { 2 };
    arity(call, 2, max_args)?;
    let (var, node, prop) = property_arg(ctx, vars, call, &call.args[0])?;
    if prop.ty != PropType::Base(BaseType::String) {
        return Err(LangError::coded(
            "T16",
            format!(
                "{} needs a String property; `{}` is {}",
                call.func.name(),
                prop.name,
                prop.ty
            ),
            call.args[0].span(),
        )
        .expected("a String property with @index"));
    }
    // `search` and `bm25` are term matches, which Lance also answers by a scan of a column
    // without an inverted index (as Omnigraph accepts them); phrase and fuzzy matching
    // need the index.
    let scan_allowed = matches!(call.func, SearchFunc::Search | SearchFunc::Bm25);
    if !scan_allowed && !node.indexed.iter().any(|n| n == &prop.name) {
        return Err(LangError::coded(
            "T16",
            format!(
                "{} needs a full-text index: `{}.{}` has no @index",
                call.func.name(),
                node.name,
                prop.name
            ),
            call.args[0].span(),
        )
        .expected(format!("`{}: String @index` in the schema", prop.name)));
    }
    let query = text_query(ctx, vars, call, &call.args[1])?;
    let column = format!(
        "{}({}.{})",
        call.func.name(),
        vars.vars[var].name,
        prop.name
    );
    let (expr, ty) = match call.func {
        SearchFunc::Bm25 => (
            SearchExpr::Bm25 {
                var,
                prop: prop.name.clone(),
                query,
            },
            BaseType::F64,
        ),
        func => {
            let mode = match func {
                SearchFunc::Search => TextMode::AllTerms,
                SearchFunc::MatchText => TextMode::Phrase,
                _ => TextMode::Fuzzy {
                    max_edits: call.args.get(2).map(max_edits).transpose()?,
                },
            };
            (
                SearchExpr::Text {
                    var,
                    prop: prop.name.clone(),
                    query,
                    mode,
                },
                BaseType::Bool,
            )
        }
    };
    Ok(CheckedSearch {
        expr,
        result_type: ResultType {
            ty: PropType::Base(ty),
            nullable: false,
        },
        column,
    })
}

fn check_nearest(ctx: &Ctx, vars: &VarTable, call: &SearchCallAst) -> LangResult<CheckedSearch> {
    arity(call, 2, 2)?;
    let (var, node, prop) = property_arg(ctx, vars, call, &call.args[0])?;
    let PropType::Vector(dim) = prop.ty else {
        return Err(LangError::coded(
            "T16",
            format!(
                "nearest needs a Vector property; `{}` is {}",
                prop.name, prop.ty
            ),
            call.args[0].span(),
        )
        .expected("a Vector(n) property"));
    };
    let SearchArgAst::Operand(arg) = &call.args[1] else {
        return Err(query_error(call, &call.args[1], "a call"));
    };
    let (query, ty) = query_operand(ctx, vars, call, arg)?;
    let fits = match &ty {
        StaticType::Typed {
            ty: PropType::Vector(n),
            ..
        } => *n == dim,
        StaticType::Typed {
            ty: PropType::Base(BaseType::String),
            ..
        }
        | StaticType::Literal(Literal::String(_)) => {
            if prop.embed.is_none() {
                return Err(LangError::coded(
                    "T16",
                    format!(
                        "nearest with a String query needs `@embed` on `{}.{}`, so that the query is embedded by the same model",
                        node.name, prop.name
                    ),
                    arg.span(),
                )
                .expected(format!("a Vector({dim}) parameter")));
            }
            true
        }
        _ => false,
    };
    if !fits {
        return Err(LangError::coded(
            "T16",
            format!(
                "nearest compares `{}` (Vector({dim})) with {}",
                prop.name,
                ty.describe()
            ),
            arg.span(),
        )
        .expected(format!("a Vector({dim}) parameter, or a String to embed")));
    }
    Ok(CheckedSearch {
        column: format!("nearest({}.{})", vars.vars[var].name, prop.name),
        expr: SearchExpr::Nearest {
            var,
            prop: prop.name.clone(),
            query,
        },
        result_type: ResultType {
            ty: PropType::Base(BaseType::F64),
            nullable: true,
        },
    })
}

fn check_rrf(ctx: &Ctx, vars: &VarTable, call: &SearchCallAst) -> LangResult<CheckedSearch> {
    arity(call, 2, 3)?;
    let ranking = |arg: &SearchArgAst| -> LangResult<CheckedSearch> {
        match arg {
            SearchArgAst::Call(inner)
                if matches!(inner.func, SearchFunc::Nearest | SearchFunc::Bm25) =>
            {
                check_call(ctx, vars, inner)
            }
            other => Err(
                LangError::coded("T16", "rrf fuses two rankings", other.span())
                    .expected("nearest(...) or bm25(...)"),
            ),
        }
    };
    let first = ranking(&call.args[0])?;
    let second = ranking(&call.args[1])?;
    if first.expr.var() != second.expr.var() {
        return Err(LangError::coded(
            "T16",
            "rrf fuses two rankings of the same variable",
            call.args[1].span(),
        )
        .expected(format!(
            "a ranking of `${}`",
            vars.vars[first.expr.var()].name
        )));
    }
    let k = match call.args.get(2) {
        None => RRF_DEFAULT_K,
        Some(SearchArgAst::Operand(OperandAst::Literal {
            value: Literal::Int(k),
            ..
        })) if *k >= 1 && *k <= i64::from(u32::MAX) => *k as u32,
        Some(other) => {
            return Err(
                LangError::coded("T16", "rrf's k is a positive integer", other.span())
                    .expected("an integer literal such as 60"),
            )
        }
    };
    Ok(CheckedSearch {
        column: format!("rrf({}, {})", first.column, second.column),
        expr: SearchExpr::Rrf {
            first: Box::new(first.expr),
            second: Box::new(second.expr),
            k,
        },
        result_type: ResultType {
            ty: PropType::Base(BaseType::F64),
            nullable: false,
        },
    })
}

fn arity(call: &SearchCallAst, min: usize, max: usize) -> LangResult<()> {
    let n = call.args.len();
    if n >= min && n <= max {
        return Ok(());
    }
    let expected = match call.func {
        SearchFunc::Fuzzy => "fuzzy($x.prop, $query) or fuzzy($x.prop, $query, max_edits)",
        SearchFunc::Nearest => "nearest($x.vector, $query)",
        SearchFunc::Rrf => "rrf(ranking, ranking) or rrf(ranking, ranking, k)",
        SearchFunc::Bm25 => "bm25($x.prop, $query)",
        SearchFunc::Search => "search($x.prop, $query)",
        SearchFunc::MatchText => "match_text($x.prop, $query)",
    };
    Err(LangError::coded(
        "T16",
        format!(
            "{} takes {} arguments, not {n}",
            call.func.name(),
            if min == max {
                min.to_string()
            } else {
                format!("{min} or {max}")
            }
        ),
        call.span,
    )
    .expected(expected))
}

/// The first argument: `$x.prop` of a bound variable.
fn property_arg<'a>(
    ctx: &Ctx,
    vars: &VarTable<'a>,
    call: &SearchCallAst,
    arg: &SearchArgAst,
) -> LangResult<(usize, &'a NodeType, &'a Property)> {
    let SearchArgAst::Operand(OperandAst::Prop { var, prop }) = arg else {
        return Err(LangError::coded(
            "T16",
            format!("{}'s first argument is a property", call.func.name()),
            arg.span(),
        )
        .expected("`$x.prop`"));
    };
    let index = vars.resolve(var)?;
    let node = vars.node(index);
    let property = ctx.node_property(node, prop)?;
    Ok((index, node, property))
}

/// A String literal or parameter.
fn text_query(
    ctx: &Ctx,
    vars: &VarTable,
    call: &SearchCallAst,
    arg: &SearchArgAst,
) -> LangResult<Operand> {
    let SearchArgAst::Operand(operand) = arg else {
        return Err(query_error(call, arg, "a call"));
    };
    let (query, ty) = query_operand(ctx, vars, call, operand)?;
    match ty {
        StaticType::Literal(Literal::String(_))
        | StaticType::Typed {
            ty: PropType::Base(BaseType::String),
            ..
        } => Ok(query),
        other => Err(query_error(call, arg, &other.describe())),
    }
}

/// A literal or parameter (not a property).
fn query_operand(
    ctx: &Ctx,
    vars: &VarTable,
    call: &SearchCallAst,
    operand: &OperandAst,
) -> LangResult<(Operand, StaticType)> {
    if let OperandAst::Prop { var, prop } = operand {
        return Err(query_error(
            call,
            &SearchArgAst::Operand(operand.clone()),
            &format!("the property `${}.{}`", var.name, prop.name),
        ));
    }
    ctx.operand(Some(vars), operand)
}

fn query_error(call: &SearchCallAst, arg: &SearchArgAst, found: &str) -> LangError {
    let expected = match call.func {
        SearchFunc::Nearest => "a Vector parameter, or a String to embed",
        _ => "a String literal or parameter",
    };
    LangError::coded(
        "T16",
        format!("{}'s query is {found}", call.func.name()),
        arg.span(),
    )
    .expected(expected)
    .found(found.to_string())
}

fn max_edits(arg: &SearchArgAst) -> LangResult<u32> {
    match arg {
        SearchArgAst::Operand(OperandAst::Literal {
            value: Literal::Int(n),
            ..
        }) if (0..=2).contains(n) => Ok(*n as u32),
        other => Err(LangError::coded(
            "T16",
            "fuzzy's maximum edit distance is 0, 1 or 2",
            other.span(),
        )
        .expected("an integer literal 0, 1 or 2")),
    }
}
