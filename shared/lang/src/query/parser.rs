//! Parser for the query language (.gq): text to `QueryDecl`s.

use std::collections::HashMap;

use crate::cursor::TokenCursor;
use crate::error::{LangError, LangResult};
use crate::lexer::TokenKind;
use crate::query::ast::*;
use crate::query::typed::{AggFunc, CompareOp, Literal, SearchFunc, NOW_PARAM};
use crate::span::{Ident, Span};
use crate::types::parse_type_expr;

pub fn parse_query_decls(source: &str, source_name: &str) -> LangResult<Vec<QueryDecl>> {
    let mut cursor = TokenCursor::new(source)?;
    let mut decls: Vec<QueryDecl> = Vec::new();
    let mut seen: HashMap<String, Span> = HashMap::new();
    while !cursor.at_eof() {
        let decl = parse_query(&mut cursor, source_name)?;
        if let Some(first) = seen.get(&decl.name.name) {
            return Err(LangError::coded(
                "T15",
                format!(
                    "duplicate query name `{}` (first at {first})",
                    decl.name.name
                ),
                decl.name.span,
            ));
        }
        seen.insert(decl.name.name.clone(), decl.name.span);
        decls.push(decl);
    }
    Ok(decls)
}

fn parse_query(cursor: &mut TokenCursor, source_name: &str) -> LangResult<QueryDecl> {
    let span = cursor.span();
    if !cursor.eat_keyword("query") {
        return Err(cursor.unexpected("`query`"));
    }
    let name = cursor.expect_ident("a query name")?;
    let params = parse_params(cursor)?;
    let (mut description, mut instruction) = (None, None);
    while cursor.at(&TokenKind::At) {
        let at = cursor.bump().span;
        let annotation = cursor.expect_ident("`description` or `instruction`")?;
        let slot = match annotation.name.as_str() {
            "description" => &mut description,
            "instruction" => &mut instruction,
            other => {
                return Err(LangError::syntax(
                    format!("unknown query annotation `@{other}`"),
                    annotation.span,
                )
                .expected("@description(\"...\") or @instruction(\"...\")"))
            }
        };
        if slot.is_some() {
            return Err(LangError::syntax(
                format!("`@{}` given twice", annotation.name),
                at,
            ));
        }
        cursor.expect(&TokenKind::LParen)?;
        let TokenKind::Str(text) = cursor.kind().clone() else {
            return Err(cursor.unexpected("a string"));
        };
        cursor.bump();
        cursor.expect(&TokenKind::RParen)?;
        *slot = Some(text);
    }
    cursor.expect(&TokenKind::LBrace)?;
    let body = parse_body(cursor)?;
    cursor.expect(&TokenKind::RBrace)?;
    Ok(QueryDecl {
        name,
        params,
        description,
        instruction,
        body,
        span,
        source_name: source_name.to_string(),
    })
}

fn parse_params(cursor: &mut TokenCursor) -> LangResult<Vec<ParamAst>> {
    cursor.expect(&TokenKind::LParen)?;
    let mut params = Vec::new();
    while !cursor.eat(&TokenKind::RParen) {
        let name = cursor.expect_var("a parameter like `$name` or `)`")?;
        if name.name.starts_with("__") {
            return Err(LangError::syntax(
                format!(
                    "`${}` is reserved: parameter names beginning with `__` are the system's (`now()`)",
                    name.name
                ),
                name.span,
            ));
        }
        cursor.expect(&TokenKind::Colon)?;
        let ty = parse_type_expr(cursor)?;
        let nullable = cursor.eat(&TokenKind::Question);
        params.push(ParamAst { name, ty, nullable });
        if !cursor.eat(&TokenKind::Comma) {
            cursor.expect(&TokenKind::RParen)?;
            break;
        }
    }
    Ok(params)
}

fn parse_body(cursor: &mut TokenCursor) -> LangResult<BodyAst> {
    if cursor.at_keyword("match") {
        return parse_read(cursor).map(BodyAst::Read);
    }
    let mut statements = Vec::new();
    while is_mutation_start(cursor) {
        statements.push(parse_mutation(cursor)?);
        cursor.eat_separator();
    }
    if statements.is_empty() {
        return Err(cursor.unexpected("`match`, `insert`, `update` or `delete`"));
    }
    Ok(BodyAst::Mutation(statements))
}

fn is_mutation_start(cursor: &TokenCursor) -> bool {
    ["insert", "update", "delete"]
        .iter()
        .any(|k| cursor.at_keyword(k))
}

fn parse_read(cursor: &mut TokenCursor) -> LangResult<ReadAst> {
    cursor.expect_keyword("match")?;
    let clauses = parse_clause_block(cursor, 0)?;
    cursor.expect_keyword("return")?;
    let returns = parse_items(cursor, "a column such as `$p.name`", parse_return_item)?;
    let mut order = Vec::new();
    if cursor.eat_keyword("order") {
        order = parse_items(
            cursor,
            "an order key such as `$p.age desc`",
            parse_order_item,
        )?;
    }
    let mut limit = None;
    if cursor.eat_keyword("limit") {
        limit = Some(cursor.expect_u64("a non-negative integer")?);
    }
    Ok(ReadAst {
        clauses,
        returns,
        order,
        limit,
    })
}

/// `{ item [,] item ... }` with at least one item.
fn parse_items<T>(
    cursor: &mut TokenCursor,
    what: &str,
    mut item: impl FnMut(&mut TokenCursor) -> LangResult<T>,
) -> LangResult<Vec<T>> {
    cursor.expect(&TokenKind::LBrace)?;
    if cursor.at(&TokenKind::RBrace) {
        return Err(cursor.unexpected(what));
    }
    let mut items = Vec::new();
    while !cursor.eat(&TokenKind::RBrace) {
        items.push(item(cursor)?);
        cursor.eat_separator();
    }
    Ok(items)
}

/// Deepest `not { }` nesting accepted; deeper input is refused before it can exhaust the stack.
const MAX_NOT_DEPTH: usize = 32;

fn parse_clause_block(cursor: &mut TokenCursor, depth: usize) -> LangResult<Vec<ClauseAst>> {
    cursor.expect(&TokenKind::LBrace)?;
    let mut clauses = Vec::new();
    while !cursor.eat(&TokenKind::RBrace) {
        clauses.push(parse_clause(cursor, depth)?);
        cursor.eat_separator();
    }
    Ok(clauses)
}

fn parse_clause(cursor: &mut TokenCursor, depth: usize) -> LangResult<ClauseAst> {
    let span = cursor.span();
    if cursor.at_keyword("not") && cursor.peek_at(1).kind == TokenKind::LBrace {
        if depth >= MAX_NOT_DEPTH {
            return Err(LangError::syntax(
                format!("`not` blocks nested more than {MAX_NOT_DEPTH} deep"),
                span,
            ));
        }
        cursor.bump();
        let clauses = parse_clause_block(cursor, depth + 1)?;
        return Ok(ClauseAst::Not { clauses, span });
    }
    if let TokenKind::Ident(name) = cursor.kind().clone() {
        if cursor.peek_at(1).kind == TokenKind::LParen && name != "now" {
            let ident = Ident::new(name, span);
            return match SearchFunc::by_name(&ident.name) {
                Some(func) => Ok(ClauseAst::Search(parse_search_call(cursor, func, span)?)),
                None => Err(function_error(&ident, "a match clause")),
            };
        }
    }
    if let TokenKind::Var(_) = cursor.kind() {
        let next = cursor.peek_at(1).kind.clone();
        match next {
            TokenKind::Colon => return parse_bind(cursor),
            TokenKind::Ident(ref op) if !is_word_operator(op) => return parse_traversal(cursor),
            // `$a $w:knows $b`: an edge binding.
            TokenKind::Var(_) if cursor.peek_at(2).kind == TokenKind::Colon => {
                return parse_traversal(cursor)
            }
            // `$a <knows> $b`; `$lo < $p.age` stays a filter (no `>` after one word).
            TokenKind::Lt if is_undirected_edge(cursor, 1) => return parse_traversal(cursor),
            _ => {}
        }
    }
    parse_filter(cursor)
}

fn parse_bind(cursor: &mut TokenCursor) -> LangResult<ClauseAst> {
    let var = parse_var(cursor)?;
    cursor.expect(&TokenKind::Colon)?;
    let node_type = cursor.expect_ident("a node type")?;
    let props = if cursor.at(&TokenKind::LBrace) {
        parse_assignments(cursor, true)?
    } else {
        Vec::new()
    };
    Ok(ClauseAst::Bind {
        var,
        node_type,
        props,
    })
}

/// `<word>` at `ahead`: an undirected edge name, not a comparison with a literal.
fn is_undirected_edge(cursor: &TokenCursor, ahead: usize) -> bool {
    let is_edge_name = matches!(
        &cursor.peek_at(ahead + 1).kind,
        TokenKind::Ident(word) if !matches!(word.as_str(), "true" | "false" | "null")
    );
    cursor.peek_at(ahead).kind == TokenKind::Lt
        && is_edge_name
        && cursor.peek_at(ahead + 2).kind == TokenKind::Gt
}

fn parse_traversal(cursor: &mut TokenCursor) -> LangResult<ClauseAst> {
    let src = parse_var(cursor)?;
    let edge_var = if matches!(cursor.kind(), TokenKind::Var(_)) {
        let var = parse_var(cursor)?;
        cursor.expect(&TokenKind::Colon)?;
        Some(var)
    } else {
        None
    };
    let undirected = is_undirected_edge(cursor, 0);
    if undirected {
        cursor.bump();
    }
    let edge = cursor.expect_ident("an edge name")?;
    if undirected {
        cursor.expect(&TokenKind::Gt)?;
    }
    let hops = if cursor.at(&TokenKind::LBrace) {
        Some(parse_hops(cursor)?)
    } else {
        None
    };
    let dst = parse_var(cursor)?;
    Ok(ClauseAst::Traverse {
        src,
        edge,
        hops,
        dst,
        undirected,
        edge_var,
    })
}

/// `{n}`, `{min,max}` or `{min,}` (no upper bound: `max` is `u64::MAX`).
fn parse_hops(cursor: &mut TokenCursor) -> LangResult<HopsAst> {
    let span = cursor.expect(&TokenKind::LBrace)?;
    let (min, _) = cursor.expect_u64("a hop count")?;
    let max = if !cursor.eat(&TokenKind::Comma) {
        min
    } else if cursor.at(&TokenKind::RBrace) {
        u64::MAX
    } else {
        cursor
            .expect_u64("the maximum hop count, or `}` for no maximum")?
            .0
    };
    cursor.expect(&TokenKind::RBrace)?;
    Ok(HopsAst { min, max, span })
}

fn parse_filter(cursor: &mut TokenCursor) -> LangResult<ClauseAst> {
    let lhs = parse_operand(cursor, true)?;
    let Some((op, op_span)) = parse_compare_op(cursor) else {
        return Err(cursor.unexpected("a comparison (=, !=, <, <=, >, >=, contains, starts_with)"));
    };
    let rhs = parse_operand(cursor, true)?;
    Ok(ClauseAst::Filter {
        lhs,
        op,
        op_span,
        rhs,
    })
}

fn is_word_operator(word: &str) -> bool {
    word == "contains" || word == "starts_with"
}

fn parse_compare_op(cursor: &mut TokenCursor) -> Option<(CompareOp, Span)> {
    let op = match cursor.kind() {
        TokenKind::Eq => CompareOp::Eq,
        TokenKind::Ne => CompareOp::Ne,
        TokenKind::Lt => CompareOp::Lt,
        TokenKind::Le => CompareOp::Le,
        TokenKind::Gt => CompareOp::Gt,
        TokenKind::Ge => CompareOp::Ge,
        TokenKind::Ident(word) if word == "contains" => CompareOp::Contains,
        TokenKind::Ident(word) if word == "starts_with" => CompareOp::StartsWith,
        _ => return None,
    };
    Some((op, cursor.bump().span))
}

/// A variable; names beginning with `_` other than `$_` itself are reserved for the
/// names given to anonymous variables.
fn parse_var(cursor: &mut TokenCursor) -> LangResult<VarRef> {
    let var = cursor.expect_var("a variable such as `$p`")?;
    check_var_name(&var)?;
    Ok(var)
}

fn check_var_name(var: &Ident) -> LangResult<()> {
    if var.name.starts_with('_') && var.name != "_" {
        return Err(LangError::syntax(
            format!(
                "`${}` is reserved: names beginning with `_` are for anonymous variables",
                var.name
            ),
            var.span,
        )
        .expected("`$_` or a name starting with a letter"));
    }
    Ok(())
}

/// A literal, a `$param`, or (when `allow_props`) a `$var.prop`.
fn parse_operand(cursor: &mut TokenCursor, allow_props: bool) -> LangResult<OperandAst> {
    let span = cursor.span();
    if let TokenKind::Var(name) = cursor.kind().clone() {
        cursor.bump();
        let ident = Ident::new(name, span);
        if ident.name.starts_with("__") {
            return Err(LangError::syntax(
                format!(
                    "`${}` is reserved: names beginning with `__` are the system's",
                    ident.name
                ),
                span,
            )
            .expected("`now()` for the current time"));
        }
        if !cursor.at(&TokenKind::Dot) {
            return Ok(OperandAst::Param(ident));
        }
        if !allow_props {
            return Err(LangError::syntax("a property is not allowed here", span)
                .expected("a literal or a `$parameter`")
                .found(format!("`${}.`", ident.name)));
        }
        check_var_name(&ident)?;
        cursor.bump();
        let prop = cursor.expect_ident("a property name")?;
        return Ok(OperandAst::Prop { var: ident, prop });
    }
    if cursor.at_keyword("now") && cursor.peek_at(1).kind == TokenKind::LParen {
        cursor.bump();
        cursor.bump();
        cursor.expect(&TokenKind::RParen)?;
        // The current time, one value for the whole query: a parameter the checker
        // declares and the engine binds (docs/languages.md, section 2).
        return Ok(OperandAst::Param(Ident::new(NOW_PARAM, span)));
    }
    let value = parse_literal(cursor)?;
    Ok(OperandAst::Literal { value, span })
}

fn parse_literal(cursor: &mut TokenCursor) -> LangResult<Literal> {
    let span = cursor.span();
    let negative = cursor.at(&TokenKind::Minus);
    if negative {
        cursor.bump();
    }
    let literal = match cursor.kind().clone() {
        TokenKind::Int(value) => int_literal(value, negative, span)?,
        TokenKind::Float(value) => Literal::Float(if negative { -value } else { value }),
        TokenKind::Str(text) if !negative => Literal::String(text),
        TokenKind::Ident(word) if !negative => match word.as_str() {
            "true" => Literal::Bool(true),
            "false" => Literal::Bool(false),
            "null" => Literal::Null,
            _ => return Err(cursor.unexpected("a value (literal or `$parameter`)")),
        },
        _ if negative => return Err(cursor.unexpected("a number")),
        _ => return Err(cursor.unexpected("a value (literal or `$parameter`)")),
    };
    cursor.bump();
    Ok(literal)
}

fn int_literal(value: u64, negative: bool, span: Span) -> LangResult<Literal> {
    let signed = if negative {
        0i64.checked_sub_unsigned(value)
    } else {
        i64::try_from(value).ok()
    };
    signed
        .map(Literal::Int)
        .ok_or_else(|| LangError::syntax("integer literal does not fit in 64 bits", span))
}

/// `{ name: value, ... }`, commas optional.
fn parse_assignments(
    cursor: &mut TokenCursor,
    allow_props: bool,
) -> LangResult<Vec<(Ident, OperandAst)>> {
    cursor.expect(&TokenKind::LBrace)?;
    let mut pairs = Vec::new();
    while !cursor.eat(&TokenKind::RBrace) {
        let name = cursor.expect_ident("a property name or `}`")?;
        cursor.expect(&TokenKind::Colon)?;
        pairs.push((name, parse_operand(cursor, allow_props)?));
        cursor.eat_separator();
    }
    Ok(pairs)
}

fn parse_return_item(cursor: &mut TokenCursor) -> LangResult<ReturnItemAst> {
    let literal = match cursor.kind() {
        TokenKind::Str(_) | TokenKind::Int(_) | TokenKind::Float(_) | TokenKind::Minus => true,
        TokenKind::Ident(word) => matches!(word.as_str(), "true" | "false" | "null"),
        _ => false,
    };
    let expr = if literal {
        let span = cursor.span();
        ExprAst::Literal {
            value: parse_literal(cursor)?,
            span,
        }
    } else {
        parse_expr(cursor, false)?
    };
    let alias = if cursor.eat_keyword("as") {
        Some(cursor.expect_ident("a column name")?)
    } else {
        None
    };
    Ok(ReturnItemAst { expr, alias })
}

fn parse_order_item(cursor: &mut TokenCursor) -> LangResult<OrderItemAst> {
    let expr = parse_expr(cursor, true)?;
    let (descending, explicit) = if cursor.eat_keyword("desc") {
        (true, true)
    } else {
        (false, cursor.eat_keyword("asc"))
    };
    Ok(OrderItemAst {
        expr,
        descending,
        explicit,
    })
}

/// `$x.prop`, `$x`, `agg(...)`, or (in `order`) a column name.
fn parse_expr(cursor: &mut TokenCursor, allow_column: bool) -> LangResult<ExprAst> {
    match cursor.kind().clone() {
        TokenKind::Var(_) => parse_var_expr(cursor),
        TokenKind::Ident(name) => {
            let ident = Ident::new(name, cursor.span());
            if cursor.peek_at(1).kind == TokenKind::LParen {
                return parse_call(cursor, ident);
            }
            if allow_column {
                cursor.bump();
                return Ok(ExprAst::Column(ident));
            }
            Err(cursor.unexpected("`$var`, `$var.prop` or an aggregate"))
        }
        _ => Err(cursor.unexpected("`$var`, `$var.prop` or an aggregate")),
    }
}

fn parse_var_expr(cursor: &mut TokenCursor) -> LangResult<ExprAst> {
    let var = parse_var(cursor)?;
    if cursor.eat(&TokenKind::Dot) {
        let prop = cursor.expect_ident("a property name")?;
        return Ok(ExprAst::Prop { var, prop });
    }
    Ok(ExprAst::Var(var))
}

fn parse_call(cursor: &mut TokenCursor, name: Ident) -> LangResult<ExprAst> {
    if name.name == "now" {
        cursor.bump();
        cursor.expect(&TokenKind::LParen)?;
        cursor.expect(&TokenKind::RParen)?;
        return Ok(ExprAst::Now(name.span));
    }
    if let Some(func) = SearchFunc::by_name(&name.name) {
        return Ok(ExprAst::Search(parse_search_call(cursor, func, name.span)?));
    }
    let Some(func) = AggFunc::by_name(&name.name) else {
        return Err(function_error(&name, "an expression"));
    };
    cursor.bump();
    cursor.expect(&TokenKind::LParen)?;
    let arg = parse_var_expr(cursor)?;
    cursor.expect(&TokenKind::RParen)?;
    Ok(ExprAst::Agg {
        func,
        span: name.span,
        arg: Box::new(arg),
    })
}

/// `name(arg, ...)` of a search function, the name at the cursor; arguments are operands
/// or (for `rrf`) further search calls. Arity and types are checked later.
fn parse_search_call(
    cursor: &mut TokenCursor,
    func: SearchFunc,
    span: Span,
) -> LangResult<SearchCallAst> {
    cursor.bump();
    cursor.expect(&TokenKind::LParen)?;
    let mut args = Vec::new();
    while !cursor.eat(&TokenKind::RParen) {
        let nested = match cursor.kind().clone() {
            TokenKind::Ident(name) if cursor.peek_at(1).kind == TokenKind::LParen => {
                let ident = Ident::new(name, cursor.span());
                match SearchFunc::by_name(&ident.name) {
                    Some(inner) => Some(parse_search_call(cursor, inner, ident.span)?),
                    None => return Err(function_error(&ident, "a search function's arguments")),
                }
            }
            _ => None,
        };
        args.push(match nested {
            Some(call) => SearchArgAst::Call(call),
            None => SearchArgAst::Operand(parse_operand(cursor, true)?),
        });
        if !cursor.eat(&TokenKind::Comma) {
            cursor.expect(&TokenKind::RParen)?;
            break;
        }
    }
    Ok(SearchCallAst { func, span, args })
}

fn function_error(name: &Ident, place: &str) -> LangError {
    LangError::syntax(
        format!("unknown function `{}` in {place}", name.name),
        name.span,
    )
    .expected("count, sum, avg, min, max, now, or a search function (search, match_text, fuzzy, bm25, nearest, rrf)")
    .found(format!("`{}`", name.name))
}

fn parse_mutation(cursor: &mut TokenCursor) -> LangResult<MutationAst> {
    let span = cursor.span();
    if cursor.eat_keyword("insert") {
        let type_name = cursor.expect_ident("a node or edge type")?;
        let values = parse_assignments(cursor, false)?;
        return Ok(MutationAst::Insert {
            type_name,
            values,
            span,
        });
    }
    if cursor.eat_keyword("update") {
        let type_name = cursor.expect_ident("a node type")?;
        cursor.expect_keyword("set")?;
        if cursor.at(&TokenKind::LBrace) && cursor.peek_at(1).kind == TokenKind::RBrace {
            cursor.bump();
            return Err(cursor.unexpected("a property to set"));
        }
        let set = parse_assignments(cursor, false)?;
        let filter = parse_where(cursor)?;
        return Ok(MutationAst::Update {
            type_name,
            set,
            filter,
            span,
        });
    }
    cursor.expect_keyword("delete")?;
    let type_name = cursor.expect_ident("a node or edge type")?;
    let filter = parse_where(cursor)?;
    Ok(MutationAst::Delete {
        type_name,
        filter,
        span,
    })
}

fn parse_where(cursor: &mut TokenCursor) -> LangResult<Option<PredicateAst>> {
    if !cursor.eat_keyword("where") {
        return Ok(None);
    }
    let prop = cursor.expect_ident("a property name")?;
    let Some((op, op_span)) = parse_compare_op(cursor) else {
        return Err(cursor.unexpected("a comparison (=, !=, <, <=, >, >=, contains, starts_with)"));
    };
    let value = parse_operand(cursor, false)?;
    Ok(Some(PredicateAst {
        prop,
        op,
        op_span,
        value,
    }))
}
