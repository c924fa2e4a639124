//! The checked form of a schema: what the engine stores and the query checker reads.
//! Produced only by `schema::parse_schema`, so every `Catalog` is valid.

use serde::{Deserialize, Serialize};

/// A base (scalar) type of the schema language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BaseType {
    String,
    Bool,
    I32,
    I64,
    U32,
    U64,
    F32,
    F64,
    Date,
    DateTime,
    Blob,
}

impl BaseType {
    pub fn name(&self) -> &'static str {
        match self {
            BaseType::String => "String",
            BaseType::Bool => "Bool",
            BaseType::I32 => "I32",
            BaseType::I64 => "I64",
            BaseType::U32 => "U32",
            BaseType::U64 => "U64",
            BaseType::F32 => "F32",
            BaseType::F64 => "F64",
            BaseType::Date => "Date",
            BaseType::DateTime => "DateTime",
            BaseType::Blob => "Blob",
        }
    }
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            BaseType::I32
                | BaseType::I64
                | BaseType::U32
                | BaseType::U64
                | BaseType::F32
                | BaseType::F64
        )
    }
}

/// The type of a property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PropType {
    Base(BaseType),
    List(BaseType),
    /// Closed set of string values, in declaration order.
    Enum(Vec<String>),
    /// Fixed-size f32 vector of this dimension.
    Vector(u32),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Property {
    pub name: String,
    pub ty: PropType,
    pub nullable: bool,
    /// `@rename_from("old")`: the name this property had before (read by schema apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// `@embed("source")` on a Vector property: the vector is computed from `source` by
    /// the embedding provider when a row comes without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embed: Option<EmbedSpec>,
}

/// Where an `@embed` vector comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedSpec {
    /// The String property of the same type that is embedded.
    pub source: String,
    /// `model = "..."`: the model the vectors must come from; the provider's model when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// Inclusive numeric bounds of `@range(prop, min..max)`; either end may be open (`..max`, `min..`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeConstraint {
    pub property: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// `@check(prop, "regex")`: every non-null value must match the whole pattern.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckConstraint {
    pub property: String,
    pub pattern: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeType {
    pub name: String,
    /// `@rename_from("Old")`: the name this type had before (read by schema apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// Properties in declaration order.
    pub properties: Vec<Property>,
    /// The identity column: the one `@key` property, or `id` (the system identity) for a
    /// type without `@key` or with a composite `@key(a, b)`. Edges refer to nodes by it.
    pub key: String,
    /// True when `key` is the system `id` column (String): generated on insert for a type
    /// without `@key`, derived from `key_parts` for a composite key. Catalogs written
    /// before system ids existed read as false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub system_id: bool,
    /// The properties of a composite `@key(a, b)`, in declaration order; empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_parts: Vec<String>,
    /// Each entry is one `@unique` set (a single property, or several together).
    pub unique: Vec<Vec<String>>,
    /// Properties with `@index`.
    pub indexed: Vec<String>,
    pub ranges: Vec<RangeConstraint>,
    pub checks: Vec<CheckConstraint>,
}

/// `@card(min..max)` on an edge type: edges of this type per source node. `max: None` = unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cardinality {
    pub min: u32,
    pub max: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeType {
    pub name: String,
    /// `@rename_from("Old")`: the name this type had before (read by schema apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// Source node type name.
    pub from: String,
    /// Target node type name.
    pub to: String,
    pub properties: Vec<Property>,
    pub card: Option<Cardinality>,
    pub unique: Vec<Vec<String>>,
    pub indexed: Vec<String>,
    pub ranges: Vec<RangeConstraint>,
    pub checks: Vec<CheckConstraint>,
}

impl EdgeType {
    /// The name used in queries: the type name with its first letter lower-cased.
    pub fn query_name(&self) -> String {
        let mut chars = self.name.chars();
        match chars.next() {
            Some(first) => first.to_lowercase().chain(chars).collect(),
            None => String::new(),
        }
    }
}

/// A validated schema. Node and edge types keep declaration order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub nodes: Vec<NodeType>,
    pub edges: Vec<EdgeType>,
}

impl Catalog {
    pub fn node(&self, name: &str) -> Option<&NodeType> {
        self.nodes.iter().find(|n| n.name == name)
    }
    pub fn edge(&self, name: &str) -> Option<&EdgeType> {
        self.edges.iter().find(|e| e.name == name)
    }
    /// Look up an edge by its query name (`knows` for `Knows`).
    pub fn edge_by_query_name(&self, name: &str) -> Option<&EdgeType> {
        self.edges.iter().find(|e| e.query_name() == name)
    }
}

impl NodeType {
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }
    /// The name of the system identity column of node types without a single-property key.
    pub const SYSTEM_ID: &'static str = "id";

    /// The properties whose values make the node's identity: the single `@key`, the parts
    /// of a composite key, or none (a generated id).
    pub fn identity_properties(&self) -> Vec<&str> {
        if !self.system_id {
            vec![self.key.as_str()]
        } else {
            self.key_parts.iter().map(String::as_str).collect()
        }
    }

    pub fn key_property(&self) -> &Property {
        // A Catalog is only built by the validator, which guarantees the key exists.
        self.property(&self.key)
            .expect("validated catalog: key property exists")
    }
}

impl EdgeType {
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }
}
