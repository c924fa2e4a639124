//! The schema as written, with positions; `validate` turns it into a `Catalog`.

use serde::{Deserialize, Serialize};

use crate::span::{Ident, Span};
use crate::types::TypeExpr;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaAst {
    pub decls: Vec<TypeDecl>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TypeDecl {
    Node(NodeDecl),
    /// `interface Name { ... }`: properties and constraints copied into implementing nodes.
    Interface(NodeDecl),
    Edge(EdgeDecl),
}

impl TypeDecl {
    pub fn name(&self) -> &Ident {
        match self {
            TypeDecl::Node(n) | TypeDecl::Interface(n) => &n.name,
            TypeDecl::Edge(e) => &e.name,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self {
            TypeDecl::Node(_) => "node type",
            TypeDecl::Interface(_) => "interface",
            TypeDecl::Edge(_) => "edge type",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeDecl {
    pub name: Ident,
    pub implements: Vec<Ident>,
    /// Annotations between the name and the body, such as `@rename_from("Old")`.
    pub annotations: Vec<Annotation>,
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeDecl {
    pub name: Ident,
    pub from: Ident,
    pub to: Ident,
    /// Annotations after the endpoints, such as `@card(0..1)` or `@rename_from("Old")`.
    pub annotations: Vec<Annotation>,
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Member {
    Property(PropDecl),
    /// A body-level constraint such as `@unique(a, b)`.
    Constraint(Annotation),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    pub nullable: bool,
    /// Inline annotations: `@key`, `@unique`, `@index`.
    pub annotations: Vec<Annotation>,
}

/// `@name` or `@name(args)`; `name.span` is the position of the `@`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    pub name: Ident,
    /// `None` when written without parentheses.
    pub args: Option<Vec<AnnotationArg>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AnnotationArg {
    Name(Ident),
    Str {
        value: String,
        span: Span,
    },
    Number(NumberLit),
    /// `name = value`, as in `@embed("text", model = "all-MiniLM-L6-v2")`.
    Named {
        name: Ident,
        value: Box<AnnotationArg>,
    },
    /// `min..max`, either end optional.
    Range {
        min: Option<NumberLit>,
        max: Option<NumberLit>,
        span: Span,
    },
}

impl AnnotationArg {
    pub fn span(&self) -> Span {
        match self {
            AnnotationArg::Name(ident) | AnnotationArg::Named { name: ident, .. } => ident.span,
            AnnotationArg::Str { span, .. } | AnnotationArg::Range { span, .. } => *span,
            AnnotationArg::Number(n) => n.span,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            AnnotationArg::Name(ident) => format!("`{}`", ident.name),
            AnnotationArg::Str { value, .. } => format!("string {value:?}"),
            AnnotationArg::Number(n) => format!("number `{}`", n.value),
            AnnotationArg::Range { .. } => "a range".to_string(),
            AnnotationArg::Named { name, value } => format!("{} = {}", name.name, value.describe()),
        }
    }
}

/// A number in an annotation; `int` is set when it was written without a fraction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NumberLit {
    pub value: f64,
    pub int: Option<i64>,
    pub span: Span,
}
