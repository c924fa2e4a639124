//! Type expressions as written (`String`, `[I32]`, `enum(a, b)`, `Vector(384)`), shared by
//! schema properties and query parameters, and their resolution to `PropType`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalog::{BaseType, PropType};
use crate::cursor::TokenCursor;
use crate::error::{LangError, LangResult};
use crate::lexer::TokenKind;
use crate::span::{Ident, Span};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TypeExprKind {
    /// A bare name: a base type, or (an error) anything else.
    Named(String),
    List(Box<TypeExpr>),
    Enum(Vec<Ident>),
    Vector(u64),
}

pub const BASE_TYPES: [BaseType; 11] = [
    BaseType::String,
    BaseType::Bool,
    BaseType::I32,
    BaseType::I64,
    BaseType::U32,
    BaseType::U64,
    BaseType::F32,
    BaseType::F64,
    BaseType::Date,
    BaseType::DateTime,
    BaseType::Blob,
];

pub fn base_type_by_name(name: &str) -> Option<BaseType> {
    BASE_TYPES.iter().copied().find(|b| b.name() == name)
}

fn base_type_names() -> String {
    let names: Vec<&str> = BASE_TYPES.iter().map(|b| b.name()).collect();
    format!(
        "a base type ({}), [Base], enum(...) or Vector(N)",
        names.join(", ")
    )
}

pub(crate) fn parse_type_expr(cursor: &mut TokenCursor) -> LangResult<TypeExpr> {
    parse_type_at_depth(cursor, 0)
}

/// Lists nest at most this deep in the syntax (only one level is a valid type; the rest
/// is parsed so the error can say so, without recursing on hostile input).
const MAX_TYPE_DEPTH: usize = 8;

fn parse_type_at_depth(cursor: &mut TokenCursor, depth: usize) -> LangResult<TypeExpr> {
    let span = cursor.span();
    if depth >= MAX_TYPE_DEPTH {
        return Err(LangError::syntax("type nested too deeply", span));
    }
    if cursor.eat(&TokenKind::LBracket) {
        let inner = parse_type_at_depth(cursor, depth + 1)?;
        cursor.expect(&TokenKind::RBracket)?;
        return Ok(TypeExpr {
            kind: TypeExprKind::List(Box::new(inner)),
            span,
        });
    }
    let name = cursor.expect_ident("a type")?;
    let kind = match name.name.as_str() {
        "enum" => TypeExprKind::Enum(parse_enum_values(cursor)?),
        "Vector" => TypeExprKind::Vector(parse_vector_dim(cursor)?),
        _ => TypeExprKind::Named(name.name),
    };
    Ok(TypeExpr { kind, span })
}

fn parse_enum_values(cursor: &mut TokenCursor) -> LangResult<Vec<Ident>> {
    cursor.expect(&TokenKind::LParen)?;
    let mut values = vec![parse_enum_value(cursor)?];
    while cursor.eat(&TokenKind::Comma) {
        if cursor.at(&TokenKind::RParen) {
            break;
        }
        values.push(parse_enum_value(cursor)?);
    }
    cursor.expect(&TokenKind::RParen)?;
    Ok(values)
}

/// An enum value is a name, possibly hyphenated and possibly starting with a digit
/// (`side-project`, `phase-3`, `partner-1on1`), as real schemas use.
fn parse_enum_value(cursor: &mut TokenCursor) -> LangResult<Ident> {
    let span = cursor.span();
    let mut text = enum_value_part(cursor)?;
    while cursor.eat(&TokenKind::Minus) {
        text.push('-');
        text.push_str(&enum_value_part(cursor)?);
    }
    Ok(Ident::new(text, span))
}

fn enum_value_part(cursor: &mut TokenCursor) -> LangResult<String> {
    match cursor.kind().clone() {
        TokenKind::Ident(name) | TokenKind::DigitWord(name) => {
            cursor.bump();
            Ok(name)
        }
        TokenKind::Int(value) => {
            cursor.bump();
            Ok(value.to_string())
        }
        _ => Err(cursor.unexpected("an enum value")),
    }
}

fn parse_vector_dim(cursor: &mut TokenCursor) -> LangResult<u64> {
    cursor.expect(&TokenKind::LParen)?;
    let (dim, _) = cursor.expect_u64("the vector dimension")?;
    cursor.expect(&TokenKind::RParen)?;
    Ok(dim)
}

/// Resolves a type expression; errors carry `code` (the schema and query languages use
/// different codes for the same mistake).
pub(crate) fn resolve_type(ty: &TypeExpr, code: &str) -> LangResult<PropType> {
    match &ty.kind {
        TypeExprKind::Named(name) => resolve_base(name, ty.span, code).map(PropType::Base),
        TypeExprKind::List(inner) => match &inner.kind {
            TypeExprKind::Named(name) => resolve_base(name, inner.span, code).map(PropType::List),
            _ => Err(
                LangError::coded(code, "list elements must be a base type", inner.span)
                    .expected("[Base]")
                    .found(type_expr_text(inner)),
            ),
        },
        TypeExprKind::Enum(values) => resolve_enum(values, code),
        TypeExprKind::Vector(dim) => match u32::try_from(*dim) {
            Ok(dim) if dim > 0 => Ok(PropType::Vector(dim)),
            _ => Err(LangError::coded(code, "invalid vector dimension", ty.span)
                .expected("a dimension between 1 and 4294967295")
                .found(dim.to_string())),
        },
    }
}

fn resolve_base(name: &str, span: Span, code: &str) -> LangResult<BaseType> {
    base_type_by_name(name).ok_or_else(|| {
        LangError::coded(code, format!("unknown type `{name}`"), span)
            .expected(base_type_names())
            .found(format!("`{name}`"))
    })
}

fn resolve_enum(values: &[Ident], code: &str) -> LangResult<PropType> {
    let mut seen: Vec<&str> = Vec::new();
    for value in values {
        if seen.contains(&value.name.as_str()) {
            return Err(LangError::coded(
                code,
                format!("duplicate enum value `{}`", value.name),
                value.span,
            ));
        }
        seen.push(&value.name);
    }
    Ok(PropType::Enum(
        values.iter().map(|v| v.name.clone()).collect(),
    ))
}

fn type_expr_text(ty: &TypeExpr) -> String {
    match &ty.kind {
        TypeExprKind::Named(name) => name.clone(),
        TypeExprKind::List(inner) => format!("[{}]", type_expr_text(inner)),
        TypeExprKind::Enum(values) => {
            let names: Vec<&str> = values.iter().map(|v| v.name.as_str()).collect();
            format!("enum({})", names.join(", "))
        }
        TypeExprKind::Vector(dim) => format!("Vector({dim})"),
    }
}

impl fmt::Display for PropType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropType::Base(base) => write!(f, "{}", base.name()),
            PropType::List(base) => write!(f, "[{}]", base.name()),
            PropType::Enum(values) => write!(f, "enum({})", values.join(", ")),
            PropType::Vector(dim) => write!(f, "Vector({dim})"),
        }
    }
}

impl BaseType {
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            BaseType::I32 | BaseType::I64 | BaseType::U32 | BaseType::U64
        )
    }

    pub fn is_float(&self) -> bool {
        matches!(self, BaseType::F32 | BaseType::F64)
    }
}

impl PropType {
    /// The base type of a scalar property (`None` for lists, enums and vectors).
    pub fn base(&self) -> Option<BaseType> {
        match self {
            PropType::Base(base) => Some(*base),
            _ => None,
        }
    }

    pub fn is_numeric(&self) -> bool {
        self.base().is_some_and(|b| b.is_numeric())
    }
}
