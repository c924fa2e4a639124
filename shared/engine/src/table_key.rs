//! Names of a graph's tables: one per node type and one per edge type.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableKind {
    Node,
    Edge,
}

/// `node:Person` or `edge:Knows`: the stable name of a table in the manifest and on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableKey {
    pub kind: TableKind,
    pub type_name: String,
}

impl TableKey {
    pub fn node(name: &str) -> Self {
        TableKey {
            kind: TableKind::Node,
            type_name: name.to_string(),
        }
    }
    pub fn edge(name: &str) -> Self {
        TableKey {
            kind: TableKind::Edge,
            type_name: name.to_string(),
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        let (kind, name) = s.split_once(':')?;
        match kind {
            "node" => Some(Self::node(name)),
            "edge" => Some(Self::edge(name)),
            _ => None,
        }
    }
}

impl fmt::Display for TableKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            TableKind::Node => "node",
            TableKind::Edge => "edge",
        };
        write!(f, "{kind}:{}", self.type_name)
    }
}
