//! The checked form of a query: every name resolved against the catalog, so an executor
//! can run it without looking anything up by query-language names again.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalog::PropType;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypedQuery {
    pub name: String,
    pub params: Vec<ParamDecl>,
    pub body: QueryBody,
}

/// The parameter that stands for `now()`: declared by the checker when a query uses
/// `now()` (a non-null DateTime), bound by the engine to the time the query runs, never
/// given by a caller. Names beginning with `__` are refused in queries.
pub const NOW_PARAM: &str = "__now";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamDecl {
    /// Without the `$`.
    pub name: String,
    pub ty: PropType,
    pub nullable: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum QueryBody {
    Read(ReadQuery),
    /// Statements in order; they form one atomic change.
    Mutation(Vec<MutationStmt>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadQuery {
    pub vars: Vec<VarInfo>,
    /// Clauses in source order.
    pub clauses: Vec<Clause>,
    /// Visible columns first in source order, then hidden ones added for `order`.
    pub returns: Vec<Projection>,
    pub order: Vec<OrderKey>,
    pub limit: Option<u64>,
}

impl ReadQuery {
    /// True when some projection aggregates: the non-aggregate projections are then the
    /// group keys.
    pub fn is_aggregate(&self) -> bool {
        self.returns.iter().any(|p| p.expr.is_aggregate())
    }

    /// Indexes into `returns` of the group keys (empty for a non-aggregate query).
    pub fn group_keys(&self) -> Vec<usize> {
        if !self.is_aggregate() {
            return Vec::new();
        }
        (0..self.returns.len())
            .filter(|i| !self.returns[*i].expr.is_aggregate())
            .collect()
    }

    /// Names of the visible columns, in order.
    pub fn columns(&self) -> Vec<&str> {
        self.returns
            .iter()
            .filter(|p| !p.hidden)
            .map(|p| p.column.as_str())
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VarInfo {
    /// Without the `$`; anonymous variables are named `_1`, `_2`, ...
    pub name: String,
    pub node_type: String,
    pub anonymous: bool,
    /// Introduced inside a `not { }` block: exists only within that block.
    pub negated: bool,
    /// An edge variable (`$a $w:knows $b`): it ranges over the edges of the traversal that
    /// binds it, and `node_type` then names its edge type (e.g. "Knows").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub edge: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Clause {
    /// `$p: Person { name: $name }`: `var` ranges over nodes of its type whose listed
    /// properties equal the operands.
    Bind {
        var: usize,
        props: Vec<(String, Operand)>,
    },
    /// Edge of type `edge` (its type name, e.g. "Knows") from `src` to `dst`, as stored.
    /// For `{m,n}` the pair is connected by a path of m to n such edges (reachability);
    /// `max_hops` is `u32::MAX` for `{m,}` (no upper bound).
    Traverse {
        src: usize,
        edge: String,
        dst: usize,
        min_hops: u32,
        max_hops: u32,
        /// `$a <knows> $b`: an edge in either direction (only for an edge whose endpoints
        /// are one node type). Without an edge variable, each connected pair once.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        undirected: bool,
        /// `$a $w:knows $b`: the edge variable (an index into `vars`) bound to each matching
        /// edge, one row per edge; only with one hop.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        edge_var: Option<usize>,
    },
    Filter {
        lhs: Operand,
        op: CompareOp,
        rhs: Operand,
    },
    /// No match of the inner clauses exists for the outer bindings.
    Not(Vec<Clause>),
    /// The variable's node matches a full-text predicate (`SearchExpr::Text`).
    Search(SearchExpr),
}

/// The search functions of the query language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SearchFunc {
    /// Every term of the query occurs (after tokenizing and stemming).
    Search,
    /// The query occurs as a phrase: its terms adjacent and in order.
    MatchText,
    /// Every term occurs within an edit distance.
    Fuzzy,
    /// The BM25 relevance of the text to the query (0 when no term occurs).
    Bm25,
    /// The cosine distance of the vector to the query vector.
    Nearest,
    /// Reciprocal rank fusion of two rankings.
    Rrf,
}

impl SearchFunc {
    pub fn name(&self) -> &'static str {
        match self {
            SearchFunc::Search => "search",
            SearchFunc::MatchText => "match_text",
            SearchFunc::Fuzzy => "fuzzy",
            SearchFunc::Bm25 => "bm25",
            SearchFunc::Nearest => "nearest",
            SearchFunc::Rrf => "rrf",
        }
    }

    pub fn by_name(name: &str) -> Option<SearchFunc> {
        [
            SearchFunc::Search,
            SearchFunc::MatchText,
            SearchFunc::Fuzzy,
            SearchFunc::Bm25,
            SearchFunc::Nearest,
            SearchFunc::Rrf,
        ]
        .into_iter()
        .find(|f| f.name() == name)
    }

    /// `search`, `match_text`, `fuzzy`: a yes/no match usable in `match`.
    pub fn is_predicate(&self) -> bool {
        matches!(
            self,
            SearchFunc::Search | SearchFunc::MatchText | SearchFunc::Fuzzy
        )
    }
}

/// How a full-text predicate matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TextMode {
    /// `search`: every term occurs.
    AllTerms,
    /// `match_text`: the terms occur adjacent and in order.
    Phrase,
    /// `fuzzy`: every term occurs within `max_edits` edits (by term length when absent:
    /// 0 up to 2 characters, 1 up to 5, 2 beyond).
    Fuzzy { max_edits: Option<u32> },
}

/// A checked search function call; every one is a value of one variable's node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SearchExpr {
    /// Bool: the String property matches the text query.
    Text {
        var: usize,
        prop: String,
        query: Operand,
        mode: TextMode,
    },
    /// F64: BM25 score of the String property for the text query, 0 without a match.
    Bm25 {
        var: usize,
        prop: String,
        query: Operand,
    },
    /// F64: cosine distance of the Vector property to the query (a Vector, or a String that
    /// the property's `@embed` model embeds); null where the node has no vector.
    Nearest {
        var: usize,
        prop: String,
        query: Operand,
    },
    /// F64: sum over the two rankings of 1 / (k + rank), rank counted from 1 among the
    /// candidates; a node a ranking does not rank adds nothing.
    Rrf {
        first: Box<SearchExpr>,
        second: Box<SearchExpr>,
        k: u32,
    },
}

impl SearchExpr {
    /// The variable whose node the value belongs to.
    pub fn var(&self) -> usize {
        match self {
            SearchExpr::Text { var, .. }
            | SearchExpr::Bm25 { var, .. }
            | SearchExpr::Nearest { var, .. } => *var,
            SearchExpr::Rrf { first, .. } => first.var(),
        }
    }

    /// True for the scores that rank higher-is-better (`bm25`, `rrf`).
    pub fn higher_is_better(&self) -> bool {
        matches!(self, SearchExpr::Bm25 { .. } | SearchExpr::Rrf { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Operand {
    Literal(Literal),
    /// A parameter name, without the `$`.
    Param(String),
    Prop {
        var: usize,
        prop: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => write!(f, "null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => write!(f, "{x}"),
            Literal::String(s) => write!(f, "{s:?}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// Substring of a String, or element of a list.
    Contains,
    StartsWith,
}

impl CompareOp {
    pub fn symbol(&self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Contains => "contains",
            CompareOp::StartsWith => "starts_with",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    /// `"f.name"`, the alias, `"p"` for a bare variable, or e.g. `"count(f)"`.
    pub column: String,
    pub expr: ProjExpr,
    pub result_type: ResultType,
    /// Added only so `order` can sort by it; not part of the result.
    pub hidden: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProjExpr {
    Prop {
        var: usize,
        prop: String,
    },
    /// The node's key value.
    VarKey {
        var: usize,
    },
    Agg {
        func: AggFunc,
        arg: Box<ProjExpr>,
    },
    /// A search function's value for the variable's node.
    Search(SearchExpr),
    /// `now()`: the time the query runs, the value of the parameter `NOW_PARAM` (one value
    /// for every row).
    Now,
    /// A literal, the same in every row; its type is the projection's `result_type`.
    Literal(Literal),
}

impl ProjExpr {
    pub fn is_aggregate(&self) -> bool {
        matches!(self, ProjExpr::Agg { .. })
    }
}

/// The type of a result column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultType {
    pub ty: PropType,
    pub nullable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AggFunc {
    /// Integer count of rows (`count($x)`) or of non-null values (`count($x.prop)`).
    Count,
    /// Float sum of non-null values.
    Sum,
    /// Float mean of non-null values.
    Avg,
    Min,
    Max,
}

impl AggFunc {
    pub fn name(&self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Avg => "avg",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
        }
    }

    pub fn by_name(name: &str) -> Option<AggFunc> {
        [
            AggFunc::Count,
            AggFunc::Sum,
            AggFunc::Avg,
            AggFunc::Min,
            AggFunc::Max,
        ]
        .into_iter()
        .find(|f| f.name() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderKey {
    /// Index into `returns`.
    pub column: usize,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MutationStmt {
    /// Values in source order; omitted properties are null.
    InsertNode {
        node_type: String,
        values: Vec<(String, Operand)>,
    },
    /// `from`/`to` are the endpoints' key values.
    InsertEdge {
        edge_type: String,
        from: Operand,
        to: Operand,
        values: Vec<(String, Operand)>,
    },
    Update {
        node_type: String,
        set: Vec<(String, Operand)>,
        filter: Option<Predicate>,
    },
    DeleteNode {
        node_type: String,
        filter: Option<Predicate>,
    },
    /// The predicate's `prop` may be "from" or "to" (endpoint keys).
    DeleteEdge {
        edge_type: String,
        filter: Option<Predicate>,
    },
}

/// `prop op value` in a `where`; `value` is a literal or a parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predicate {
    pub prop: String,
    pub op: CompareOp,
    pub value: Operand,
}
