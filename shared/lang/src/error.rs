//! The one error type of this crate: a positioned diagnostic.
//!
//! Error codes:
//!
//! Syntax (both languages)
//! - `P1` syntax error (unexpected token, bad literal, unterminated string or comment)
//!
//! Schema (.pg) validation
//! - `S1` duplicate type name (nodes, edges and interfaces share one namespace)
//! - `S2` duplicate property name
//! - `S3` node type without exactly one `@key`, or `@key` on an edge
//! - `S4` `@key` property is not a non-nullable String or integer
//! - `S5` edge endpoint is not a declared node type; unknown interface
//! - `S6` reserved name (leading `_`; `from`/`to` on edges)
//! - `S7` wrong name case (types upper-case, properties lower-case)
//! - `S8` constraint names an unknown property
//! - `S9` invalid `@range` (non-numeric property, min above max)
//! - `S10` invalid `@check` (non-String property, pattern does not compile)
//! - `S11` unknown or invalid type (unknown name, list of non-base type, `Vector(0)`, duplicate enum value)
//! - `S12` invalid `@card`
//! - `S13` unknown or misplaced annotation
//!
//! Query (.gq) type checking (T1, T4, T6, T7, T22, T23 are the public Omnigraph codes; T8 to
//! T16 are ours)
//! - `T1` unknown node type (or unknown type name in a parameter)
//! - `T4` unknown edge
//! - `T6` unbound variable or unknown property
//! - `T7` operand types do not fit (comparison, operator, assigned value, literal format)
//! - `T8` a variable used with two different node types
//! - `T9` traversal endpoints do not match the edge (wrong direction), bad hop bounds
//! - `T10` unknown, duplicate or shadowed parameter
//! - `T11` aggregate over a property of the wrong type
//! - `T12` insert without a required property, or a property set twice
//! - `T13` update of a `@key` property or of an edge type
//! - `T14` return/order column problems (duplicate column, unknown column, ordering outside groups)
//! - `T15` query selection (no query, several queries and no name, unknown name, duplicate name)
//! - `T16` search function misuse (arity, property not indexed or of the wrong type, query type,
//!   a score used as a condition, rrf of two variables)
//! - `T22` undirected traversal `$a <edge> $b` over an edge between two different node types
//! - `T23` edge binding misuse (`$a $w:edge $b`): over more than one hop, a name already bound,
//!   no name (`$_`), or the variable used itself (`return { $w }`) rather than a property

use serde::{Deserialize, Serialize};

use crate::span::Span;

/// A parse, validation or type error, positioned in its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}", self.render())]
pub struct LangError {
    pub code: Option<String>,
    pub message: String,
    pub line: u32,
    pub column: u32,
    /// `"request"` for inline text, otherwise the file name.
    pub source_name: String,
    pub expected: Option<String>,
    pub found: Option<String>,
}

pub type LangResult<T> = Result<T, LangError>;

/// Source name used when none is given.
pub const DEFAULT_SOURCE_NAME: &str = "request";

impl LangError {
    pub fn new(code: Option<&str>, message: impl Into<String>, span: Span) -> Self {
        LangError {
            code: code.map(str::to_string),
            message: message.into(),
            line: span.line,
            column: span.column,
            source_name: DEFAULT_SOURCE_NAME.to_string(),
            expected: None,
            found: None,
        }
    }

    /// An error with one of the codes listed in this module's documentation.
    pub fn coded(code: &str, message: impl Into<String>, span: Span) -> Self {
        Self::new(Some(code), message, span)
    }

    /// A syntax error (`P1`).
    pub fn syntax(message: impl Into<String>, span: Span) -> Self {
        Self::coded("P1", message, span)
    }

    pub fn expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    pub fn found(mut self, found: impl Into<String>) -> Self {
        self.found = Some(found.into());
        self
    }

    pub fn with_source_name(mut self, source_name: &str) -> Self {
        self.source_name = source_name.to_string();
        self
    }

    pub fn span(&self) -> Span {
        Span::new(self.line, self.column)
    }

    fn render(&self) -> String {
        let mut out = format!("{}:{}:{}: error", self.source_name, self.line, self.column);
        if let Some(code) = &self.code {
            out.push_str(&format!("[{code}]"));
        }
        out.push_str(": ");
        out.push_str(&self.message);
        match (&self.expected, &self.found) {
            (Some(e), Some(f)) => out.push_str(&format!(" (expected {e}, found {f})")),
            (Some(e), None) => out.push_str(&format!(" (expected {e})")),
            (None, Some(f)) => out.push_str(&format!(" (found {f})")),
            (None, None) => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_source_position_code_expected_and_found() {
        let err = LangError::coded("T6", "unknown property `agee` on Person", Span::new(3, 7))
            .expected("one of: name, age")
            .found("`agee`");
        assert_eq!(
            err.to_string(),
            "request:3:7: error[T6]: unknown property `agee` on Person (expected one of: name, age, found `agee`)"
        );
    }

    #[test]
    fn display_without_code_or_details() {
        let err = LangError::new(None, "boom", Span::new(1, 2)).with_source_name("s.pg");
        assert_eq!(err.to_string(), "s.pg:1:2: error: boom");
    }
}
