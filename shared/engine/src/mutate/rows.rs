//! Rows of one table as the mutation overlay holds them: one canonical JSON value per column
//! (the result format: dates as strings, ...), checked against the schema's per-row rules.

use arrow::array::{make_builder, ArrayRef};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use omnigraph_lang::{Catalog, EdgeType, NodeType, PropType};
use serde_json::Value as Json;

use crate::columns::{
    append_json, arrow_type, cell_json, edge_schema, node_schema, DST_COLUMN, SRC_COLUMN,
};
use crate::constraints::RowRules;
use crate::error::{EngineError, Result};

/// The columns of a node or edge table, with the rules every row must pass.
pub struct TableColumns {
    /// `Person` or `Knows`, for messages.
    pub owner: String,
    pub names: Vec<String>,
    pub types: Vec<PropType>,
    required: Vec<bool>,
    schema: SchemaRef,
    rules: RowRules,
    /// Column indexes of each `@unique` set.
    pub unique: Vec<Vec<usize>>,
    /// Column index of the node key (nodes only).
    pub key: Option<usize>,
}

impl TableColumns {
    pub fn node(node: &NodeType) -> Result<TableColumns> {
        let names: Vec<String> = node.properties.iter().map(|p| p.name.clone()).collect();
        let unique = index_sets(&names, &node.unique)?;
        Ok(TableColumns {
            owner: node.name.clone(),
            key: names.iter().position(|n| *n == node.key),
            types: node.properties.iter().map(|p| p.ty.clone()).collect(),
            required: node.properties.iter().map(|p| !p.nullable).collect(),
            schema: node_schema(node),
            rules: RowRules::new(&node.ranges, &node.checks)?,
            unique,
            names,
        })
    }

    pub fn edge(catalog: &Catalog, edge: &EdgeType) -> Result<TableColumns> {
        let key_type = |t: &str| {
            catalog
                .node(t)
                .map(|n| n.key_property().ty.clone())
                .ok_or_else(|| {
                    EngineError::Corrupt(format!("edge {} names unknown node type {t}", edge.name))
                })
        };
        let mut names = vec![SRC_COLUMN.to_string(), DST_COLUMN.to_string()];
        names.extend(edge.properties.iter().map(|p| p.name.clone()));
        let mut types = vec![key_type(&edge.from)?, key_type(&edge.to)?];
        types.extend(edge.properties.iter().map(|p| p.ty.clone()));
        let mut required = vec![true, true];
        required.extend(edge.properties.iter().map(|p| !p.nullable));
        Ok(TableColumns {
            owner: edge.name.clone(),
            unique: index_sets(&names, &edge.unique)?,
            key: None,
            types,
            required,
            schema: edge_schema(catalog, edge),
            rules: RowRules::new(&edge.ranges, &edge.checks)?,
            names,
        })
    }

    pub fn index(&self, name: &str) -> Result<usize> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| EngineError::Invalid(format!("{} has no property `{name}`", self.owner)))
    }

    /// Required properties present, @range and @check satisfied.
    pub fn check_row(&self, row: &[Json]) -> Result<()> {
        for ((name, required), v) in self.names.iter().zip(&self.required).zip(row) {
            if *required && v.is_null() {
                return Err(EngineError::Constraint(format!(
                    "{}: required property `{}` is null",
                    self.owner,
                    display_name(name)
                )));
            }
        }
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        let values: Vec<&Json> = row.iter().collect();
        self.rules
            .check(&names, &values)
            .map_err(|e| EngineError::Constraint(format!("{}: {e}", self.owner)))
    }

    /// The rows as one Arrow batch of the table's schema.
    pub fn batch<'r>(&self, rows: impl Iterator<Item = &'r Vec<Json>>) -> Result<RecordBatch> {
        let mut builders: Vec<_> = self
            .schema
            .fields()
            .iter()
            .map(|f| make_builder(f.data_type(), 16))
            .collect();
        for row in rows {
            for ((b, ty), v) in builders.iter_mut().zip(&self.types).zip(row) {
                append_json(b.as_mut(), ty, v)
                    .map_err(|e| EngineError::Invalid(format!("{}: {e}", self.owner)))?;
            }
        }
        let arrays: Vec<ArrayRef> = builders.iter_mut().map(|b| b.finish()).collect();
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

/// The value as the table stores and reports it (`"2020-1-5"` -> `"2020-01-05"`, ints for
/// integer columns, ...); Err says why it does not fit the column.
pub fn canonical(ty: &PropType, v: &Json) -> std::result::Result<Json, String> {
    if v.is_null() {
        return Ok(Json::Null);
    }
    let mut builder = make_builder(&arrow_type(ty), 1);
    append_json(builder.as_mut(), ty, v)?;
    let array = builder.finish();
    Ok(cell_json(array.as_ref(), 0))
}

/// `_src`/`_dst` are `from`/`to` in the language.
pub fn display_name(column: &str) -> &str {
    match column {
        SRC_COLUMN => "from",
        DST_COLUMN => "to",
        other => other,
    }
}

fn index_sets(names: &[String], sets: &[Vec<String>]) -> Result<Vec<Vec<usize>>> {
    sets.iter()
        .map(|set| {
            set.iter()
                .map(|p| {
                    // An edge's set may name its endpoints (`from`/`to`: `_src`/`_dst`).
                    let column = match p.as_str() {
                        "from" if !names.iter().any(|n| n == p) => SRC_COLUMN,
                        "to" if !names.iter().any(|n| n == p) => DST_COLUMN,
                        other => other,
                    };
                    names.iter().position(|n| n == column).ok_or_else(|| {
                        EngineError::Corrupt(format!("@unique names unknown property {p}"))
                    })
                })
                .collect()
        })
        .collect()
}
