//! Queries as written, with positions; `check_query` turns them into `TypedQuery`.

use serde::{Deserialize, Serialize};

use crate::query::typed::{AggFunc, CompareOp, Literal, SearchFunc};
use crate::span::{Ident, Span};
use crate::types::TypeExpr;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryDecl {
    pub name: Ident,
    pub params: Vec<ParamAst>,
    /// `@description("...")` after the parameters: what the query is for (for people and
    /// tools; it does not change what the query does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `@instruction("...")`: how to use the query (for tools such as agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction: Option<String>,
    pub body: BodyAst,
    /// Span of the `query` keyword.
    pub span: Span,
    /// File name or "request", for the errors of later phases.
    pub source_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamAst {
    /// Without the `$`.
    pub name: Ident,
    pub ty: TypeExpr,
    pub nullable: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BodyAst {
    Read(ReadAst),
    Mutation(Vec<MutationAst>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadAst {
    pub clauses: Vec<ClauseAst>,
    pub returns: Vec<ReturnItemAst>,
    pub order: Vec<OrderItemAst>,
    pub limit: Option<(u64, Span)>,
}

/// A variable occurrence, without the `$`; `$_` has the name `_`.
pub type VarRef = Ident;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClauseAst {
    /// `$p: Person { name: $name }`
    Bind {
        var: VarRef,
        node_type: Ident,
        props: Vec<(Ident, OperandAst)>,
    },
    /// `$a knows $b`, `$a knows{1,3} $b`, `$a <knows> $b` (either direction),
    /// `$a $w:knows $b` (the edge bound to `$w`)
    Traverse {
        src: VarRef,
        edge: Ident,
        hops: Option<HopsAst>,
        dst: VarRef,
        /// Written `<edge>`: the edge in either direction.
        undirected: bool,
        /// `$w:` before the edge name.
        edge_var: Option<VarRef>,
    },
    /// `$x.prop >= 18`
    Filter {
        lhs: OperandAst,
        op: CompareOp,
        op_span: Span,
        rhs: OperandAst,
    },
    /// `not { ... }`
    Not { clauses: Vec<ClauseAst>, span: Span },
    /// `search($d.body, $q)`, `match_text(...)`, `fuzzy(...)`: keep the nodes that match.
    Search(SearchCallAst),
}

/// A search function call as written: `search($d.body, $q)`, `nearest($d.embedding, $v)`,
/// `rrf(nearest(...), bm25(...), 60)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchCallAst {
    pub func: SearchFunc,
    /// Span of the function name.
    pub span: Span,
    pub args: Vec<SearchArgAst>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SearchArgAst {
    Operand(OperandAst),
    Call(SearchCallAst),
}

impl SearchArgAst {
    pub fn span(&self) -> Span {
        match self {
            SearchArgAst::Operand(o) => o.span(),
            SearchArgAst::Call(c) => c.span,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HopsAst {
    pub min: u64,
    /// `u64::MAX` for `{min,}`: no upper bound.
    pub max: u64,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OperandAst {
    Literal {
        value: Literal,
        span: Span,
    },
    /// `$name` standing alone: a parameter.
    Param(Ident),
    /// `$x.prop`
    Prop {
        var: VarRef,
        prop: Ident,
    },
}

impl OperandAst {
    pub fn span(&self) -> Span {
        match self {
            OperandAst::Literal { span, .. } => *span,
            OperandAst::Param(ident) => ident.span,
            OperandAst::Prop { var, .. } => var.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ExprAst {
    /// `$x.prop`
    Prop { var: VarRef, prop: Ident },
    /// `$x`: the node's key
    Var(VarRef),
    /// `count($x)`, `avg($x.prop)`
    Agg {
        func: AggFunc,
        span: Span,
        arg: Box<ExprAst>,
    },
    /// A bare name: a column alias, only in `order`.
    Column(Ident),
    /// A search function: a Bool (`search`, `match_text`, `fuzzy`) or a score
    /// (`bm25`, `nearest`, `rrf`).
    Search(SearchCallAst),
    /// `now()`: the time the query runs.
    Now(Span),
    /// A literal in `return`: `"person" as kind`, `1`, `true`.
    Literal { value: Literal, span: Span },
}

impl ExprAst {
    pub fn span(&self) -> Span {
        match self {
            ExprAst::Prop { var, .. } | ExprAst::Var(var) => var.span,
            ExprAst::Agg { span, .. } => *span,
            ExprAst::Column(ident) => ident.span,
            ExprAst::Search(call) => call.span,
            ExprAst::Now(span) | ExprAst::Literal { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnItemAst {
    pub expr: ExprAst,
    pub alias: Option<Ident>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderItemAst {
    pub expr: ExprAst,
    pub descending: bool,
    /// `asc` or `desc` was written (a score orders best first unless told otherwise).
    pub explicit: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MutationAst {
    /// `insert Type { prop: value, ... }` (node or edge type)
    Insert {
        type_name: Ident,
        values: Vec<(Ident, OperandAst)>,
        span: Span,
    },
    /// `update Type set { prop: value, ... } [where prop op value]`
    Update {
        type_name: Ident,
        set: Vec<(Ident, OperandAst)>,
        filter: Option<PredicateAst>,
        span: Span,
    },
    /// `delete Type [where prop op value]`
    Delete {
        type_name: Ident,
        filter: Option<PredicateAst>,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredicateAst {
    pub prop: Ident,
    pub op: CompareOp,
    pub op_span: Span,
    pub value: OperandAst,
}
