//! Variables of a read query: their node types and where they are visible.
//!
//! The match block is the root scope; each `not { }` opens a child scope. A name is looked
//! up outward; a name first seen inside a `not` belongs to that `not` only.
//!
//! An edge variable (`$a $w:knows $b`) lives in the same table: only its properties can be
//! used (`$w.since`), never the variable itself, and its name is never bound again.

use std::collections::HashMap;

use crate::catalog::{EdgeType, NodeType, Property};
use crate::error::{LangError, LangResult};
use crate::query::ast::VarRef;
use crate::query::check::find_property;
use crate::query::typed::VarInfo;
use crate::span::{Ident, Span};

pub(crate) struct VarTable<'a> {
    pub vars: Vec<VarInfo>,
    /// Per variable: its node type (for an edge variable, its edge's source type, which
    /// nothing reads: `resolve` refuses edge variables).
    nodes: Vec<&'a NodeType>,
    /// Per variable: its edge type when it is an edge variable.
    edges: Vec<Option<&'a EdgeType>>,
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
            edges: Vec::new(),
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

    /// The node type of a visible node variable.
    pub fn type_of(&self, name: &str) -> Option<&str> {
        self.lookup(name)
            .filter(|i| !self.vars[*i].edge)
            .map(|i| self.vars[i].node_type.as_str())
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
            Some(index) if self.vars[index].edge => Err(self.edge_misuse(var, index)),
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

    /// Binds `var` (of `$src $var:edge $dst`) to the edge: a new variable, never one bound
    /// before (T23). `src` is the edge's source node type.
    pub fn bind_edge(
        &mut self,
        var: &VarRef,
        edge: &'a EdgeType,
        src: &'a NodeType,
    ) -> LangResult<usize> {
        if var.name == "_" {
            return Err(LangError::coded(
                "T23",
                "an edge binding needs a name; leave it out to match without binding the edge",
                var.span,
            ));
        }
        if let Some(index) = self.lookup(&var.name) {
            return Err(LangError::coded(
                "T23",
                format!(
                    "`${}` is already bound (at {}); an edge binding needs a new name",
                    var.name, self.typed_at[index]
                ),
                var.span,
            ));
        }
        let index = self.declare(var, src);
        self.vars[index].edge = true;
        self.vars[index].node_type = edge.name.clone();
        self.edges[index] = Some(edge);
        Ok(index)
    }

    /// `$var.prop` when `$var` is a visible edge variable: the variable and the edge's
    /// property. None when `$var` is not an edge variable.
    pub fn edge_property(
        &self,
        var: &VarRef,
        prop: &Ident,
    ) -> LangResult<Option<(usize, &'a Property)>> {
        let Some(index) = self.lookup(&var.name) else {
            return Ok(None);
        };
        let Some(edge) = self.edges[index] else {
            return Ok(None);
        };
        let property = find_property(&edge.name, &edge.properties, prop)?;
        Ok(Some((index, property)))
    }

    fn edge_misuse(&self, var: &VarRef, index: usize) -> LangError {
        LangError::coded(
            "T23",
            format!(
                "`${}` is bound to a {} edge (at {}): only its properties can be used, as `${}.prop`",
                var.name, self.vars[index].node_type, self.typed_at[index], var.name
            ),
            var.span,
        )
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
            edge: false,
        });
        self.typed_at.push(var.span);
        self.nodes.push(node);
        self.edges.push(None);
        if !anonymous {
            if let Some(scope) = self.scopes.last_mut() {
                scope.insert(name, index);
            }
        }
        index
    }

    /// A node variable used in a filter, return or order: it must be visible and bound. An
    /// edge variable is refused (T23): `edge_property` resolves its properties.
    pub fn resolve(&self, var: &VarRef) -> LangResult<usize> {
        if let Some(index) = self.lookup(&var.name) {
            if self.vars[index].edge {
                return Err(self.edge_misuse(var, index));
            }
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
