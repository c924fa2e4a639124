//! Parser for the schema language (.pg): text to `SchemaAst`.

use crate::cursor::TokenCursor;
use crate::error::{LangError, LangResult};
use crate::lexer::TokenKind;
use crate::schema::ast::*;
use crate::span::Ident;
use crate::types::parse_type_expr;

/// The annotation that names a type's or property's previous name (schema apply).
pub const RENAME_FROM: &str = "rename_from";

pub fn parse_schema_ast(source: &str) -> LangResult<SchemaAst> {
    let mut cursor = TokenCursor::new(source)?;
    let mut decls = Vec::new();
    while !cursor.at_eof() {
        decls.push(parse_decl(&mut cursor)?);
    }
    Ok(SchemaAst { decls })
}

fn parse_decl(cursor: &mut TokenCursor) -> LangResult<TypeDecl> {
    if cursor.eat_keyword("node") {
        return Ok(TypeDecl::Node(parse_node_like(cursor, true)?));
    }
    if cursor.eat_keyword("interface") {
        return Ok(TypeDecl::Interface(parse_node_like(cursor, false)?));
    }
    if cursor.eat_keyword("edge") {
        return Ok(TypeDecl::Edge(parse_edge(cursor)?));
    }
    Err(cursor.unexpected("`node`, `edge` or `interface`"))
}

fn parse_node_like(cursor: &mut TokenCursor, allow_implements: bool) -> LangResult<NodeDecl> {
    let name = cursor.expect_ident("a type name")?;
    let mut implements = Vec::new();
    if allow_implements && cursor.eat_keyword("implements") {
        implements.push(cursor.expect_ident("an interface name")?);
        while cursor.eat(&TokenKind::Comma) {
            implements.push(cursor.expect_ident("an interface name")?);
        }
    }
    let mut annotations = Vec::new();
    while cursor.at(&TokenKind::At) {
        annotations.push(parse_annotation(cursor)?);
    }
    let members = parse_body(cursor)?;
    Ok(NodeDecl {
        name,
        implements,
        annotations,
        members,
    })
}

fn parse_edge(cursor: &mut TokenCursor) -> LangResult<EdgeDecl> {
    let name = cursor.expect_ident("an edge type name")?;
    cursor.expect(&TokenKind::Colon)?;
    let from = cursor.expect_ident("the source node type")?;
    cursor.expect(&TokenKind::Arrow)?;
    let to = cursor.expect_ident("the target node type")?;
    let mut annotations = Vec::new();
    while cursor.at(&TokenKind::At) {
        annotations.push(parse_annotation(cursor)?);
    }
    let members = if cursor.at(&TokenKind::LBrace) {
        parse_body(cursor)?
    } else {
        Vec::new()
    };
    Ok(EdgeDecl {
        name,
        from,
        to,
        annotations,
        members,
    })
}

fn parse_body(cursor: &mut TokenCursor) -> LangResult<Vec<Member>> {
    cursor.expect(&TokenKind::LBrace)?;
    let mut members = Vec::new();
    while !cursor.eat(&TokenKind::RBrace) {
        let member = match cursor.kind() {
            TokenKind::At => Member::Constraint(parse_annotation(cursor)?),
            TokenKind::Ident(_) => Member::Property(parse_property(cursor)?),
            _ => return Err(cursor.unexpected("a property, a constraint or `}`")),
        };
        members.push(member);
        cursor.eat_separator();
    }
    Ok(members)
}

fn parse_property(cursor: &mut TokenCursor) -> LangResult<PropDecl> {
    let name = cursor.expect_ident("a property name")?;
    cursor.expect(&TokenKind::Colon)?;
    let ty = parse_type_expr(cursor)?;
    let nullable = cursor.eat(&TokenKind::Question);
    let mut annotations = Vec::new();
    while cursor.at(&TokenKind::At) && is_inline_annotation(cursor) {
        annotations.push(parse_annotation(cursor)?);
    }
    Ok(PropDecl {
        name,
        ty,
        nullable,
        annotations,
    })
}

/// Property annotations are written without arguments (`@key`); an annotation with
/// arguments after a property starts the next body-level constraint (`@unique(a, b)`).
/// `@embed("...")` and `@rename_from("old")` are the exceptions: they belong to the property.
fn is_inline_annotation(cursor: &TokenCursor) -> bool {
    let name = &cursor.peek_at(1).kind;
    let has_args = cursor.peek_at(2).kind == TokenKind::LParen;
    !has_args || matches!(name, TokenKind::Ident(n) if n == "embed" || n == RENAME_FROM)
}

fn parse_annotation(cursor: &mut TokenCursor) -> LangResult<Annotation> {
    let at = cursor.expect(&TokenKind::At)?;
    let name = cursor.expect_ident("an annotation name")?;
    let name = Ident::new(name.name, at);
    if !cursor.eat(&TokenKind::LParen) {
        return Ok(Annotation { name, args: None });
    }
    let mut args = Vec::new();
    while !cursor.eat(&TokenKind::RParen) {
        args.push(parse_annotation_arg(cursor)?);
        if !cursor.eat(&TokenKind::Comma) {
            cursor.expect(&TokenKind::RParen)?;
            break;
        }
    }
    Ok(Annotation {
        name,
        args: Some(args),
    })
}

fn parse_annotation_arg(cursor: &mut TokenCursor) -> LangResult<AnnotationArg> {
    let span = cursor.span();
    match cursor.kind().clone() {
        TokenKind::Ident(name) => {
            cursor.bump();
            let name = Ident::new(name, span);
            if cursor.eat(&TokenKind::Eq) {
                let value = parse_annotation_arg(cursor)?;
                return Ok(AnnotationArg::Named {
                    name,
                    value: Box::new(value),
                });
            }
            Ok(AnnotationArg::Name(name))
        }
        TokenKind::Str(value) => {
            cursor.bump();
            Ok(AnnotationArg::Str { value, span })
        }
        TokenKind::DotDot => {
            cursor.bump();
            let max = parse_optional_number(cursor)?;
            Ok(AnnotationArg::Range {
                min: None,
                max,
                span,
            })
        }
        _ => parse_number_or_range(cursor),
    }
}

fn parse_number_or_range(cursor: &mut TokenCursor) -> LangResult<AnnotationArg> {
    let span = cursor.span();
    let Some(min) = parse_optional_number(cursor)? else {
        return Err(cursor.unexpected("a property name, a string, a number or a range"));
    };
    if !cursor.eat(&TokenKind::DotDot) {
        return Ok(AnnotationArg::Number(min));
    }
    let max = parse_optional_number(cursor)?;
    Ok(AnnotationArg::Range {
        min: Some(min),
        max,
        span,
    })
}

fn parse_optional_number(cursor: &mut TokenCursor) -> LangResult<Option<NumberLit>> {
    let span = cursor.span();
    let negative = cursor.at(&TokenKind::Minus);
    let at_number = matches!(
        cursor.peek_at(usize::from(negative)).kind,
        TokenKind::Int(_) | TokenKind::Float(_)
    );
    if !at_number {
        if negative {
            cursor.bump();
            return Err(cursor.unexpected("a number"));
        }
        return Ok(None);
    }
    if negative {
        cursor.bump();
    }
    let sign = if negative { -1.0 } else { 1.0 };
    let number = match cursor.bump().kind {
        TokenKind::Int(value) => NumberLit {
            value: sign * value as f64,
            int: signed_int(value, negative),
            span,
        },
        TokenKind::Float(value) => NumberLit {
            value: sign * value,
            int: None,
            span,
        },
        _ => return Err(LangError::syntax("expected a number", span)),
    };
    Ok(Some(number))
}

fn signed_int(value: u64, negative: bool) -> Option<i64> {
    if negative {
        0i64.checked_sub_unsigned(value)
    } else {
        i64::try_from(value).ok()
    }
}
