//! Variables of a read query: their node types and where they are visible.
//!
//! The match block is the root scope; each `not { }` opens a child scope. A name is looked
//! up outward; a name first seen inside a `not` belongs to that `not` only.

use std::collections::HashMap;

use crate::catalog::NodeType;
use crate::error::{LangError, LangResult};
use crate::query::ast::VarRef;
use crate::query::typed::VarInfo;
use crate::span::Span;

pub(crate) struct VarTable<'a> {
    pub vars: Vec<VarInfo>,
    nodes: Vec<&'a NodeType>,
    /// Where each variable got its type.
    typed_at: Vec<Span>,
    scopes: Vec<HashMap<String, usize>>,
    anonymous_count: u32,
    /// Names that were local to a closed `not` block, for a better unbound-variable error.
    closed_names: HashMap<String, Span>,
}

impl<'a> VarTable<'a> {
    pub fn new() -> Self {
        VarTable {
            vars: Vec::new(),
            nodes: Vec::new(),
            typed_at: Vec::new(),
            scopes: vec![HashMap::new()],
            anonymous_count: 0,
            closed_names: HashMap::new(),
        }
    }

    pub fn push_scope(&mut self) {
        self.scopes.push(HashMap::new());
    }

    pub fn pop_scope(&mut self) {
        if self.scopes.len() > 1 {
            if let Some(scope) = self.scopes.pop() {
                for (name, index) in scope {
                    self.closed_names.insert(name, self.typed_at[index]);
                }
            }
        }
    }

    /// The visible variable of this name (never an anonymous one).
    pub fn lookup(&self, name: &str) -> Option<usize> {
        if name == "_" {
            return None;
        }
        self.scopes.iter().rev().find_map(|s| s.get(name).copied())
    }

    /// The node type of a visible variable.
    pub fn type_of(&self, name: &str) -> Option<&str> {
        self.lookup(name).map(|i| self.vars[i].node_type.as_str())
    }

    /// The node type of variable `index`.
    pub fn node(&self, index: usize) -> &'a NodeType {
        self.nodes[index]
    }

    /// Binds `var` to `node_type`: a new variable, or the visible one if its type agrees.
    /// `$_` always makes a fresh variable.
    pub fn bind(&mut self, var: &VarRef, node: &'a NodeType) -> LangResult<usize> {
        let node_type = node.name.as_str();
        match self.lookup(&var.name) {
            Some(index) if self.vars[index].node_type == node_type => Ok(index),
            Some(index) => Err(LangError::coded(
                "T8",
                format!(
                    "variable `${}` is used as {node_type} here but is a {} (from {})",
                    var.name, self.vars[index].node_type, self.typed_at[index]
                ),
                var.span,
            )
            .expected(self.vars[index].node_type.clone())
            .found(node_type.to_string())),
            None => Ok(self.declare(var, node)),
        }
    }

    fn declare(&mut self, var: &VarRef, node: &'a NodeType) -> usize {
        let anonymous = var.name == "_";
        let name = if anonymous {
            self.anonymous_count += 1;
            format!("_{}", self.anonymous_count)
        } else {
            var.name.clone()
        };
        let index = self.vars.len();
        self.vars.push(VarInfo {
            name: name.clone(),
            node_type: node.name.clone(),
            anonymous,
            negated: self.scopes.len() > 1,
        });
        self.typed_at.push(var.span);
        self.nodes.push(node);
        if !anonymous {
            if let Some(scope) = self.scopes.last_mut() {
                scope.insert(name, index);
            }
        }
        index
    }

    /// A variable used in a filter, return or order: it must be visible and bound.
    pub fn resolve(&self, var: &VarRef) -> LangResult<usize> {
        if let Some(index) = self.lookup(&var.name) {
            return Ok(index);
        }
        let message = if var.name == "_" {
            "the anonymous variable `$_` can only stand in a binding or traversal".to_string()
        } else if let Some(at) = self.closed_names.get(&var.name) {
            format!(
                "variable `${}` is only bound inside a `not` block (at {at})",
                var.name
            )
        } else {
            format!(
                "unbound variable `${}`: bind it with `${}: Type` or a traversal",
                var.name, var.name
            )
        };
        Err(LangError::coded("T6", message, var.span).found(format!("`${}`", var.name)))
    }
}
