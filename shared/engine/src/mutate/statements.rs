//! The five mutation statements, applied to the overlays in order, each enforcing the
//! schema's constraints against everything live (stored and written earlier in this mutation).

use omnigraph_lang::query::typed::{Literal, Operand, Predicate};
use omnigraph_lang::{EdgeType, PropType};
use serde_json::Value as Json;

use super::overlay::{RowAt, RowFilter, Test};
use super::rows::{canonical, display_name};
use super::Mutator;
use crate::columns::{coerce_key, key_text};
use crate::embedding::{embedded_properties, fill_missing};
use crate::error::{EngineError, Result};
use crate::query::data::probe_stored_key;
use crate::query::value::Scalar;
use crate::table_key::TableKey;

impl Mutator {
    pub(super) async fn insert_node(
        &mut self,
        node_type: &str,
        values: &[(String, Operand)],
    ) -> Result<()> {
        let tk = TableKey::node(node_type);
        let row = self.new_row(&tk, values, vec![]).await?;
        let cols = &self.overlay(&tk).await?.columns;
        let key_index = cols
            .key
            .ok_or_else(|| EngineError::Corrupt(format!("{node_type} has no key column")))?;
        let key = scalar_of(&row[key_index], &cols.types[key_index])?;
        if self.key_exists(&tk, key_index, key).await? {
            return Err(EngineError::Constraint(format!(
                "{node_type} `{}` already exists (a node's @key must be unique; use update to change it)",
                text(&row[key_index])
            )));
        }
        self.check_unique(&tk, &row, None).await?;
        self.overlay(&tk).await?.insert(row);
        self.counts.nodes_inserted += 1;
        Ok(())
    }

    pub(super) async fn insert_edge(
        &mut self,
        edge_type: &str,
        from: &Operand,
        to: &Operand,
        values: &[(String, Operand)],
    ) -> Result<()> {
        let edge = self.edge_type(edge_type)?;
        let tk = TableKey::edge(edge_type);
        let mut ends = vec![];
        for (node_type, operand) in [(&edge.from, from), (&edge.to, to)] {
            ends.push(self.endpoint_key(node_type, operand).await?);
        }
        let row = self.new_row(&tk, values, ends).await?;
        if let Some(max) = edge.card.and_then(|c| c.max) {
            let src = scalar_of(&row[0], &self.overlay(&tk).await?.columns.types[0])?;
            let existing = self
                .overlay(&tk)
                .await?
                .live_rows(&[RowFilter::eq(0, src)])
                .await?
                .len();
            if existing as u64 >= u64::from(max) {
                return Err(EngineError::Constraint(format!(
                    "@card: {} `{}` already has {existing} {edge_type} edge(s), at most {max} allowed",
                    edge.from,
                    text(&row[0])
                )));
            }
        }
        self.check_unique(&tk, &row, None).await?;
        self.overlay(&tk).await?.insert(row);
        self.counts.edges_inserted += 1;
        Ok(())
    }

    /// The canonical key of an edge endpoint, which must be a live node.
    async fn endpoint_key(&mut self, node_type: &str, operand: &Operand) -> Result<Json> {
        let tk = TableKey::node(node_type);
        self.read_deps.insert(tk.clone());
        let cols = &self.overlay(&tk).await?.columns;
        let key_index = cols
            .key
            .ok_or_else(|| EngineError::Corrupt(format!("{node_type} has no key column")))?;
        let key_type = cols.types[key_index].clone();
        let operand = self.json(operand)?;
        let given = coerce_key(&operand, &key_type);
        let key = canonical(&key_type, &given)
            .map_err(|e| EngineError::Constraint(format!("edge endpoint {node_type}: {e}")))?;
        if key.is_null() {
            return Err(EngineError::Constraint(format!(
                "edge endpoint {node_type} key is null"
            )));
        }
        if !self
            .key_exists(&tk, key_index, scalar_of(&key, &key_type)?)
            .await?
        {
            return Err(EngineError::Constraint(format!(
                "edge endpoint {node_type} `{}` does not exist",
                text(&key)
            )));
        }
        Ok(key)
    }

    /// Whether a live node of `tk` has this key. Stored keys are looked up in the query cache
    /// when a read already built node ids of this or an earlier version, otherwise by Lance
    /// filter pushdown.
    async fn key_exists(&mut self, tk: &TableKey, key_index: usize, key: Scalar) -> Result<bool> {
        let filter = [RowFilter::eq(key_index, key.clone())];
        if !self.overlay(tk).await?.inserted_rows(&filter).is_empty() {
            return Ok(true);
        }
        let node = self.snap.catalog.node(&tk.type_name).cloned();
        let probed = match &node {
            Some(node) => probe_stored_key(&self.snap, node, &key).await?,
            None => None,
        };
        let overlay = self.overlay(tk).await?;
        match probed {
            Some(addr) => Ok(addr.is_some_and(|a| !overlay.is_deleted(a))),
            None => Ok(!overlay.live_rows(&filter).await?.is_empty()),
        }
    }

    pub(super) async fn update_nodes(
        &mut self,
        node_type: &str,
        set: &[(String, Operand)],
        filter: Option<&Predicate>,
    ) -> Result<()> {
        let tk = TableKey::node(node_type);
        let assignments = self.assignments(&tk, set).await?;
        let key_index = self.overlay(&tk).await?.columns.key;
        if assignments.iter().any(|(i, _)| Some(*i) == key_index) {
            return Err(EngineError::Invalid(format!(
                "the @key of {node_type} cannot be updated; delete and insert instead"
            )));
        }
        let filters = self.row_filters(&tk, filter).await?;
        let matched = self.overlay(&tk).await?.live_rows(&filters).await?;
        // A new source text makes its old `@embed` vector stale, unless the update sets it.
        let names = self.overlay(&tk).await?.columns.names.clone();
        let at = |name: &str| names.iter().position(|n| n == name);
        let sets = |i: Option<usize>| assignments.iter().any(|(j, _)| Some(*j) == i);
        let stale: Vec<usize> = self
            .snap
            .catalog
            .node(node_type)
            .map(embedded_properties)
            .unwrap_or_default()
            .iter()
            .filter(|p| sets(at(&p.source)) && !sets(at(&p.vector)))
            .filter_map(|p| at(&p.vector))
            .collect();
        let mut rows: Vec<Vec<Json>> = matched
            .iter()
            .map(|live| {
                let mut row = live.values.clone();
                for (i, v) in &assignments {
                    row[*i] = v.clone();
                }
                for i in &stale {
                    row[*i] = Json::Null;
                }
                row
            })
            .collect();
        if !stale.is_empty() {
            self.embed_rows(&tk, &mut rows).await?;
        }
        for (live, row) in matched.into_iter().zip(rows) {
            self.overlay(&tk).await?.columns.check_row(&row)?;
            self.check_unique(&tk, &row, Some(live.at)).await?;
            self.overlay(&tk).await?.replace(live.at, row);
            self.counts.nodes_updated += 1;
        }
        Ok(())
    }

    /// Delete matching nodes and every edge touching them.
    pub(super) async fn delete_nodes(
        &mut self,
        node_type: &str,
        filter: Option<&Predicate>,
    ) -> Result<()> {
        let tk = TableKey::node(node_type);
        let filters = self.row_filters(&tk, filter).await?;
        let overlay = self.overlay(&tk).await?;
        let matched = overlay.live_rows(&filters).await?;
        let key_index = overlay
            .columns
            .key
            .ok_or_else(|| EngineError::Corrupt(format!("{node_type} has no key column")))?;
        let keys = overlay.column_values(&matched, key_index);
        for live in &matched {
            overlay.delete(live.at);
        }
        self.counts.nodes_deleted += matched.len() as u64;
        if keys.is_empty() {
            return Ok(());
        }
        let touching: Vec<(String, usize)> = self
            .snap
            .catalog
            .edges
            .iter()
            .flat_map(|e| [(e, 0usize, &e.from), (e, 1usize, &e.to)])
            .filter(|(_, _, end)| end.as_str() == node_type)
            .map(|(e, column, _)| (e.name.clone(), column))
            .collect();
        for (edge_type, column) in touching {
            let etk = TableKey::edge(&edge_type);
            // Written or not, the edge table was checked: a concurrent edge insert must conflict.
            self.read_deps.insert(etk.clone());
            let overlay = self.overlay(&etk).await?;
            let filter = RowFilter {
                column,
                test: Test::OneOf(keys.clone()),
            };
            let doomed = overlay.live_rows(&[filter]).await?;
            for live in &doomed {
                overlay.delete(live.at);
            }
            self.counts.edges_deleted += doomed.len() as u64;
        }
        Ok(())
    }

    pub(super) async fn delete_edges(
        &mut self,
        edge_type: &str,
        filter: Option<&Predicate>,
    ) -> Result<()> {
        let tk = TableKey::edge(edge_type);
        let filters = self.row_filters(&tk, filter).await?;
        let overlay = self.overlay(&tk).await?;
        let doomed = overlay.live_rows(&filters).await?;
        for live in &doomed {
            overlay.delete(live.at);
        }
        self.counts.edges_deleted += doomed.len() as u64;
        Ok(())
    }

    /// A new row of `tk` from `values` (after the `leading` columns, for edge endpoints),
    /// canonicalised and checked against the per-row rules.
    async fn new_row(
        &mut self,
        tk: &TableKey,
        values: &[(String, Operand)],
        leading: Vec<Json>,
    ) -> Result<Vec<Json>> {
        let assignments = self.assignments(tk, values).await?;
        let width = self.overlay(tk).await?.columns.names.len();
        let mut row = leading;
        row.resize(width, Json::Null);
        for (i, v) in assignments {
            row[i] = v;
        }
        self.fill_system_id(tk, &mut row).await?;
        let mut rows = [row];
        self.embed_rows(tk, &mut rows).await?;
        let [row] = rows;
        self.overlay(tk).await?.columns.check_row(&row)?;
        Ok(row)
    }

    /// The system `id` of a node type without a single `@key`: derived from the composite
    /// key or generated, and checked when given (crate::identity).
    async fn fill_system_id(&mut self, tk: &TableKey, row: &mut [Json]) -> Result<()> {
        let Some(node) = self.snap.catalog.node(&tk.type_name).cloned() else {
            return Ok(());
        };
        if !node.system_id {
            return Ok(());
        }
        let names = self.overlay(tk).await?.columns.names.clone();
        let at = |name: &str| names.iter().position(|n| n == name);
        let get = |name: &str| at(name).map(|i| row[i].clone());
        let id = crate::identity::system_id(&node, &get).map_err(EngineError::Constraint)?;
        if let (Some(id), Some(i)) = (id, at(&node.key)) {
            row[i] = Json::String(id);
        }
        Ok(())
    }

    /// Computes the missing `@embed` vectors of node rows of `tk` (see `crate::embedding`).
    async fn embed_rows(&mut self, tk: &TableKey, rows: &mut [Vec<Json>]) -> Result<()> {
        let Some(node) = self.snap.catalog.node(&tk.type_name) else {
            return Ok(());
        };
        let props = embedded_properties(node);
        if props.is_empty() {
            return Ok(());
        }
        let names = self.overlay(tk).await?.columns.names.clone();
        let at = |name: &str| names.iter().position(|n| n == name);
        fill_missing(
            &props,
            rows,
            |row, name| at(name).map(|i| row[i].clone()),
            |row, name, value| {
                if let Some(i) = at(name) {
                    row[i] = value;
                }
            },
        )
        .await?;
        Ok(())
    }

    /// `prop: value` pairs as (column index, canonical value).
    async fn assignments(
        &mut self,
        tk: &TableKey,
        values: &[(String, Operand)],
    ) -> Result<Vec<(usize, Json)>> {
        let mut out = vec![];
        for (prop, operand) in values {
            let json = self.json(operand)?;
            let cols = &self.overlay(tk).await?.columns;
            let i = cols.index(prop)?;
            let v = canonical(&cols.types[i], &json)
                .map_err(|e| EngineError::Constraint(format!("{}.{prop}: {e}", cols.owner)))?;
            out.push((i, v));
        }
        Ok(out)
    }

    /// Every @unique set of `row` (without nulls) must be free among live rows other than `except`.
    async fn check_unique(
        &mut self,
        tk: &TableKey,
        row: &[Json],
        except: Option<RowAt>,
    ) -> Result<()> {
        let sets = self.overlay(tk).await?.columns.unique.clone();
        for set in sets {
            if set.iter().any(|i| row[*i].is_null()) {
                continue;
            }
            let cols = &self.overlay(tk).await?.columns;
            let filters = set
                .iter()
                .map(|i| Ok(RowFilter::eq(*i, scalar_of(&row[*i], &cols.types[*i])?)))
                .collect::<Result<Vec<_>>>()?;
            let names: Vec<&str> = set.iter().map(|i| display_name(&cols.names[*i])).collect();
            let message = format!(
                "{}: @unique({}) value already in use",
                cols.owner,
                names.join(", ")
            );
            let clash = self.overlay(tk).await?.live_rows(&filters).await?;
            if clash.iter().any(|r| Some(r.at) != except) {
                return Err(EngineError::Constraint(message));
            }
        }
        Ok(())
    }

    /// A `where` predicate as a row filter (`from`/`to` name an edge's endpoint columns).
    async fn row_filters(
        &mut self,
        tk: &TableKey,
        filter: Option<&Predicate>,
    ) -> Result<Vec<RowFilter>> {
        let Some(p) = filter else { return Ok(vec![]) };
        let column_name = match p.prop.as_str() {
            "from" if tk.kind == crate::TableKind::Edge => crate::columns::SRC_COLUMN,
            "to" if tk.kind == crate::TableKind::Edge => crate::columns::DST_COLUMN,
            other => other,
        };
        let cols = &self.overlay(tk).await?.columns;
        let column = cols.index(column_name)?;
        let ty = match &cols.types[column] {
            PropType::List(b) => PropType::Base(*b),
            t => t.clone(),
        };
        let value = match &p.value {
            Operand::Param(name) => self.params.scalar(name)?.clone(),
            Operand::Literal(lit) => Scalar::from_literal(lit, &ty)
                .map_err(|e| EngineError::Invalid(format!("where {} {}: {e}", p.prop, lit)))?,
            Operand::Prop { .. } => {
                return Err(EngineError::Invalid(
                    "a where predicate compares with a value".into(),
                ))
            }
        };
        Ok(vec![RowFilter {
            column,
            test: Test::Compare(p.op, value),
        }])
    }

    fn edge_type(&self, name: &str) -> Result<EdgeType> {
        self.snap
            .catalog
            .edge(name)
            .cloned()
            .ok_or_else(|| EngineError::Invalid(format!("unknown edge type `{name}`")))
    }

    /// The JSON of a literal or parameter operand.
    fn json(&self, operand: &Operand) -> Result<Json> {
        Ok(match operand {
            Operand::Param(name) => self.params.json(name)?.clone(),
            Operand::Literal(lit) => match lit {
                Literal::Null => Json::Null,
                Literal::Bool(b) => Json::Bool(*b),
                Literal::Int(i) => Json::from(*i),
                Literal::Float(f) => serde_json::Number::from_f64(*f)
                    .map(Json::Number)
                    .unwrap_or(Json::Null),
                Literal::String(s) => Json::String(s.clone()),
            },
            Operand::Prop { .. } => {
                return Err(EngineError::Invalid(
                    "mutations take values, not properties".into(),
                ))
            }
        })
    }
}

fn scalar_of(v: &Json, ty: &PropType) -> Result<Scalar> {
    Scalar::from_json(v, ty)
        .map_err(|e| EngineError::Corrupt(format!("canonical value does not parse: {e}")))
}

fn text(v: &Json) -> String {
    key_text(v).map_or_else(|| v.to_string(), |k| k.into_owned())
}
