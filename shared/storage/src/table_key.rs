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

/// Folder of the markers left for table data deleted by a schema apply.
pub const DROPPED_DIR: &str = "_dropped";

/// The folder of `key`'s table, named with an id unique to one graph creation or schema
/// apply (so that the clean-up of a failed one can never touch another's files):
/// `nodes/<Type>.<id>.lance` or `edges/<Type>.<id>.lance`.
pub fn table_dir(key: &TableKey, id: &str) -> String {
    match key.kind {
        TableKind::Node => format!("nodes/{}.{id}.lance", key.type_name),
        TableKind::Edge => format!("edges/{}.{id}.lance", key.type_name),
    }
}

/// A new 12-hex-digit id for [`table_dir`].
pub fn new_table_dir_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Where the marker of a deleted table directory is.
pub fn dropped_marker(path: &str) -> String {
    format!("{DROPPED_DIR}/{}.json", path.trim_end_matches('/'))
}
