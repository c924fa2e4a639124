//! Search functions as columns of a variable: `search`/`match_text`/`fuzzy` (Bool),
//! `bm25` (F64, 0 without a match), `nearest` (F64 cosine distance, null without a vector)
//! and `rrf` (F64).
//!
//! Each call is a value of one variable's node, so before planning a query is *lowered*:
//! every call becomes a virtual property `#sN` of its variable (a search clause in `match`
//! becomes the filter `$x.#sN = true`), and its values are computed once per query into an
//! Arrow array indexed by node id, exactly like a loaded property column. The executor,
//! ordering, projection and JSON rendering then need nothing new.
//!
//! Values come from Lance at the table version the query reads: full-text queries from the
//! inverted index (plus a flat scan of the rows it does not cover yet), `nearest` from the
//! vector index when the query is a plain top-k over one node type, and otherwise exactly
//! from the vectors of the candidates. `rrf` ranks both of its rankings among the
//! candidates of the match (filter first, then rank), so it is computed after the match.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, Float64Array, RecordBatch,
};
use futures::TryStreamExt;
use lance::dataset::scanner::Scanner;
use lance_index::scalar::inverted::query::{
    BooleanQuery, FtsQuery, MatchQuery, Occur, Operator, PhraseQuery,
};
use lance_index::scalar::FullTextSearchQuery;
use lance_linalg::distance::MetricType;
use omnigraph_lang::query::typed::{
    Clause, CompareOp, Literal, Operand, ProjExpr, ReadQuery, SearchExpr, TextMode,
};
use omnigraph_lang::{Catalog, PropType};

use super::data::NodeData;
use super::params::BoundParams;
use super::value::Scalar;
use crate::embedding::{EmbedTarget, Provider};
use crate::error::{EngineError, Result};

/// Partitions probed and candidates re-ranked exactly per result by an indexed `nearest`.
const NPROBES: usize = 24;
const REFINE_FACTOR: u32 = 10;

/// A query whose search calls are virtual properties of their variables.
pub struct Lowered {
    pub query: ReadQuery,
    /// `#sN` -> the call, in first-appearance order.
    pub calls: Vec<(String, SearchExpr)>,
}

impl Lowered {
    pub fn has_calls(&self) -> bool {
        !self.calls.is_empty()
    }
}

/// True for the name of a virtual property.
pub fn is_virtual(prop: &str) -> bool {
    prop.starts_with('#')
}

pub fn lower(q: &ReadQuery) -> Lowered {
    let mut calls: Vec<(String, SearchExpr)> = Vec::new();
    let mut name_of = |e: &SearchExpr| -> String {
        if let Some((name, _)) = calls.iter().find(|(_, c)| c == e) {
            return name.clone();
        }
        let name = format!("#s{}", calls.len());
        calls.push((name.clone(), e.clone()));
        name
    };
    let mut query = q.clone();
    query.clauses = lower_clauses(&q.clauses, &mut name_of);
    for p in &mut query.returns {
        if let ProjExpr::Search(e) = &p.expr {
            p.expr = ProjExpr::Prop {
                var: e.var(),
                prop: name_of(e),
            };
        }
    }
    Lowered { query, calls }
}

fn lower_clauses(
    clauses: &[Clause],
    name_of: &mut dyn FnMut(&SearchExpr) -> String,
) -> Vec<Clause> {
    clauses
        .iter()
        .map(|c| match c {
            Clause::Search(e) => Clause::Filter {
                lhs: Operand::Prop {
                    var: e.var(),
                    prop: name_of(e),
                },
                op: CompareOp::Eq,
                rhs: Operand::Literal(Literal::Bool(true)),
            },
            Clause::Not(inner) => Clause::Not(lower_clauses(inner, name_of)),
            other => other.clone(),
        })
        .collect()
}

/// A plain top-k: one variable bound to every node of its type, nothing else in `match`,
/// no aggregate, a limit, and a first order key that is `nearest` (ascending) or `bm25`
/// (descending). Its ranking call may then be answered by the index with `limit` results.
struct TopK {
    call: String,
    k: usize,
}

fn top_k(lowered: &Lowered) -> Option<TopK> {
    let q = &lowered.query;
    let k = usize::try_from(q.limit?).ok()?;
    let plain = q.vars.len() == 1
        && matches!(q.clauses.as_slice(), [Clause::Bind { props, .. }] if props.is_empty());
    if !plain || q.is_aggregate() {
        return None;
    }
    let first = q.order.first()?;
    let ProjExpr::Prop { prop, .. } = &q.returns.get(first.column)?.expr else {
        return None;
    };
    let (_, call) = lowered.calls.iter().find(|(n, _)| n == prop)?;
    let fits = match call {
        SearchExpr::Nearest { .. } => !first.descending,
        SearchExpr::Bm25 { .. } => first.descending,
        _ => false,
    };
    fits.then(|| TopK {
        call: prop.clone(),
        k,
    })
}

/// The computed values of a query's search calls, by (variable, `#sN`).
#[derive(Default)]
pub struct SearchColumns {
    pub arrays: HashMap<(usize, String), ArrayRef>,
    /// `rrf` calls, fused once the candidates are known.
    pub fusions: Vec<Fusion>,
}

pub struct Fusion {
    pub var: usize,
    pub name: String,
    pub k: u32,
    /// Each ranking's values, and whether higher is better (bm25) or lower (nearest).
    pub rankings: [(ArrayRef, bool); 2],
}

/// What computing a call needs about the query's variables.
pub struct SearchInputs<'a> {
    pub catalog: &'a Catalog,
    pub nodes: &'a [Arc<NodeData>],
    /// Per variable: its node type's key property.
    pub keys: &'a [String],
    pub params: &'a BoundParams,
}

/// Computes every call of `lowered` except the fusions' final scores; may add a filter to
/// `lowered.query` that keeps only the index's top-k (see [`TopK`]).
pub async fn compute(lowered: &mut Lowered, inputs: &SearchInputs<'_>) -> Result<SearchColumns> {
    let mut out = SearchColumns::default();
    let top = top_k(lowered);
    for (name, call) in &lowered.calls {
        let var = call.var();
        match call {
            SearchExpr::Rrf { first, second, k } => {
                out.fusions.push(Fusion {
                    var,
                    name: name.clone(),
                    k: *k,
                    rankings: [
                        (
                            values(first, inputs, None).await?.0,
                            first.higher_is_better(),
                        ),
                        (
                            values(second, inputs, None).await?.0,
                            second.higher_is_better(),
                        ),
                    ],
                });
            }
            _ => {
                let limit = top.as_ref().filter(|t| &t.call == name).map(|t| t.k);
                let (array, complete) = values(call, inputs, limit).await?;
                if !complete {
                    // Only the index's top k carry a value: keep just those rows.
                    lowered.query.clauses.push(keep_ranked(var, name, call));
                }
                out.arrays.insert((var, name.clone()), array);
            }
        }
    }
    Ok(out)
}

/// The filter that keeps the rows a top-k ranking ranked.
fn keep_ranked(var: usize, name: &str, call: &SearchExpr) -> Clause {
    let (op, bound) = match call {
        SearchExpr::Nearest { .. } => (CompareOp::Lt, Literal::Float(f64::MAX)),
        _ => (CompareOp::Gt, Literal::Float(0.0)),
    };
    Clause::Filter {
        lhs: Operand::Prop {
            var,
            prop: name.to_string(),
        },
        op,
        rhs: Operand::Literal(bound),
    }
}

/// The values of one (non-fusion) call for every node id of its variable; with `limit`,
/// only the best `limit` carry a value. The flag is true when every node got its exact value
/// (no limit applied, or fewer matches than the limit).
async fn values(
    call: &SearchExpr,
    inputs: &SearchInputs<'_>,
    limit: Option<usize>,
) -> Result<(ArrayRef, bool)> {
    let var = call.var();
    let node = inputs
        .nodes
        .get(var)
        .ok_or_else(|| EngineError::Corrupt(format!("search names variable #{var}")))?;
    let key = &inputs.keys[var];
    let n = node.id_count();
    match call {
        SearchExpr::Text {
            prop, query, mode, ..
        } => {
            let mut hits = vec![false; n];
            if let Some(text) = text_param(query, inputs.params)? {
                let fts = match mode {
                    TextMode::AllTerms => MatchQuery::new(text).with_operator(Operator::And).into(),
                    TextMode::Phrase => FtsQuery::Phrase(PhraseQuery::new(text)),
                    TextMode::Fuzzy { max_edits } => fuzzy_query(&text, *max_edits),
                };
                for (id, _) in full_text(node, key, prop, fts, None).await? {
                    hits[id as usize] = true;
                }
            }
            Ok((Arc::new(BooleanArray::from(hits)), true))
        }
        SearchExpr::Bm25 { prop, query, .. } => {
            let mut scores = vec![0.0f64; n];
            let mut found = 0;
            if let Some(text) = text_param(query, inputs.params)? {
                let fts = MatchQuery::new(text).with_operator(Operator::Or).into();
                let hits = full_text(node, key, prop, fts, limit).await?;
                found = hits.len();
                for (id, score) in hits {
                    scores[id as usize] = score;
                }
            }
            let complete = limit.is_none_or(|k| found < k);
            Ok((Arc::new(Float64Array::from(scores)), complete))
        }
        SearchExpr::Nearest { prop, query, .. } => {
            let q = query_vector(inputs.catalog, node, prop, query, inputs.params).await?;
            match limit {
                Some(k) => {
                    let mut dist = vec![f64::INFINITY; n];
                    let hits = indexed_nearest(node, key, prop, &q, k).await?;
                    let complete = hits.len() < k;
                    for (id, d) in hits {
                        dist[id as usize] = d;
                    }
                    Ok((Arc::new(Float64Array::from(dist)), complete))
                }
                None => Ok((exact_nearest(node, prop, &q).await?, true)),
            }
        }
        SearchExpr::Rrf { .. } => Err(EngineError::Corrupt(
            "rrf is fused after the match, not computed up front".into(),
        )),
    }
}

/// Every word of `text` within `max_edits` edits, or, when absent, within the distance its
/// length allows (0 up to 2 characters, 1 up to 5, 2 beyond). Lance plans an unset distance
/// as exact, so the automatic one is set per word here.
fn fuzzy_query(text: &str, max_edits: Option<u32>) -> FtsQuery {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let word_query = |w: &str| -> FtsQuery {
        let edits = max_edits.unwrap_or_else(|| MatchQuery::auto_fuzziness(w));
        MatchQuery::new(w.to_string())
            .with_fuzziness(Some(edits))
            .into()
    };
    match words.as_slice() {
        [one] => word_query(one),
        _ => BooleanQuery::new(words.iter().map(|w| (Occur::Must, word_query(w)))).into(),
    }
}

/// The text of a String query operand; `None` for null or a text without any word.
fn text_param(query: &Operand, params: &BoundParams) -> Result<Option<String>> {
    let text = match query {
        Operand::Literal(Literal::String(s)) => s.clone(),
        Operand::Param(name) => match params.scalar(name)? {
            Scalar::Str(s) => s.clone(),
            Scalar::Null => return Ok(None),
            other => {
                return Err(EngineError::Invalid(format!(
                    "parameter `${name}` is {other:?}, not a String"
                )))
            }
        },
        other => {
            return Err(EngineError::Invalid(format!(
                "a text query must be a String, not {other:?}"
            )))
        }
    };
    Ok(text.chars().any(char::is_alphanumeric).then_some(text))
}

/// (node id, BM25 score) of the rows matching `query` on `prop`, best first.
async fn full_text(
    node: &NodeData,
    key: &str,
    prop: &str,
    query: FtsQuery,
    limit: Option<usize>,
) -> Result<Vec<(u32, f64)>> {
    let query = FullTextSearchQuery::new_query(query)
        .with_column(prop.to_string())?
        .limit(limit.map(|l| l as i64));
    let mut scan = node.dataset().scan();
    scan.full_text_search(query)?;
    ranked_rows(node, key, scan, "_score").await
}

/// (node id, value of `value_column`) of each row Lance's ranked scan answers, in its
/// order: the scan's key column turned into node ids (rows unknown to `node` skipped).
async fn ranked_rows(
    node: &NodeData,
    key: &str,
    mut scan: Scanner,
    value_column: &str,
) -> Result<Vec<(u32, f64)>> {
    scan.project(&[key])?;
    let batches: Vec<RecordBatch> = scan.try_into_stream().await?.try_collect().await?;
    let mut out = Vec::new();
    for b in &batches {
        let (Some(keys), Some(values)) = (b.column_by_name(key), b.column_by_name(value_column))
        else {
            return Err(EngineError::Corrupt(format!(
                "ranked answer without the key or {value_column}"
            )));
        };
        let ids = node.lookup_all(keys.as_ref());
        for (row, id) in ids.into_iter().enumerate() {
            if id != u32::MAX {
                out.push((id, score_at(values.as_ref(), row)));
            }
        }
    }
    Ok(out)
}

fn score_at(array: &dyn Array, row: usize) -> f64 {
    match Scalar::from_array(array, row) {
        Scalar::Float(f) => f,
        _ => 0.0,
    }
}

/// The query vector: a Vector parameter, or a String embedded by the property's model.
async fn query_vector(
    catalog: &Catalog,
    node: &NodeData,
    prop: &str,
    query: &Operand,
    params: &BoundParams,
) -> Result<Vec<f32>> {
    let property = catalog
        .node(&node.type_name)
        .and_then(|n| n.property(prop))
        .ok_or_else(|| EngineError::Invalid(format!("unknown property {prop}")))?;
    let PropType::Vector(dim) = property.ty else {
        return Err(EngineError::Invalid(format!("`{prop}` is not a Vector")));
    };
    let value = match query {
        Operand::Literal(Literal::String(s)) => Scalar::Str(s.clone()),
        Operand::Param(name) => params.scalar(name)?.clone(),
        other => return Err(EngineError::Invalid(format!("nearest to {other:?}"))),
    };
    match value {
        Scalar::List(items) => {
            let v: Vec<f32> = items
                .iter()
                .map(|s| s.as_f64().map(|f| f as f32))
                .collect::<Option<_>>()
                .ok_or_else(|| EngineError::Invalid("the query vector has a non-number".into()))?;
            if v.len() != dim as usize {
                return Err(EngineError::Invalid(format!(
                    "the query vector has {} dimensions; `{}.{prop}` is Vector({dim})",
                    v.len(),
                    node.type_name
                )));
            }
            Ok(v)
        }
        Scalar::Str(text) => {
            let spec = property.embed.as_ref().ok_or_else(|| {
                EngineError::Invalid(format!(
                    "nearest with a String needs @embed on `{}.{prop}`",
                    node.type_name
                ))
            })?;
            let target = EmbedTarget {
                property: format!("{}.{prop}", node.type_name),
                model: spec.model.as_deref(),
                dim,
            };
            let mut vectors = Provider::from_env()?.embed(&[text], &target).await?;
            vectors
                .pop()
                .ok_or_else(|| EngineError::Invalid("the provider returned no vector".into()))
        }
        Scalar::Null => Err(EngineError::Invalid(
            "nearest needs a query vector, not null".into(),
        )),
        other => Err(EngineError::Invalid(format!(
            "nearest needs a Vector or a String, not {other:?}"
        ))),
    }
}

/// (node id, cosine distance) of the `k` rows nearest to `q`, from the vector index (and a
/// flat scan of the rows it does not cover).
async fn indexed_nearest(
    node: &NodeData,
    key: &str,
    prop: &str,
    q: &[f32],
    k: usize,
) -> Result<Vec<(u32, f64)>> {
    let query = Float32Array::from(q.to_vec());
    let mut scan = node.dataset().scan();
    scan.nearest(prop, &query, k)?;
    scan.distance_metric(MetricType::Cosine)
        .nprobes(NPROBES)
        .refine(REFINE_FACTOR);
    ranked_rows(node, key, scan, "_distance").await
}

/// The cosine distance of every node's vector to `q` (infinite, shown as null, where a node
/// has no vector or a zero one).
async fn exact_nearest(node: &NodeData, prop: &str, q: &[f32]) -> Result<ArrayRef> {
    let column = node.load_column(prop).await?;
    let list = column
        .as_any()
        .downcast_ref::<FixedSizeListArray>()
        .ok_or_else(|| EngineError::Corrupt(format!("{prop} is not a vector column")))?;
    let values = list
        .values()
        .as_any()
        .downcast_ref::<Float32Array>()
        .ok_or_else(|| EngineError::Corrupt(format!("{prop} is not a float vector column")))?;
    let dim = list.value_length() as usize;
    let q_norm = norm(q);
    let raw = values.values();
    let dist: Vec<f64> = (0..list.len())
        .map(|i| {
            if list.is_null(i) || q_norm == 0.0 {
                return f64::INFINITY;
            }
            let start = list.value_offset(i) as usize;
            let v = &raw[start..start + dim];
            let (dot, vn) = v.iter().zip(q).fold((0.0f64, 0.0f64), |(d, n), (a, b)| {
                (
                    d + f64::from(*a) * f64::from(*b),
                    n + f64::from(*a) * f64::from(*a),
                )
            });
            if vn == 0.0 {
                f64::INFINITY
            } else {
                1.0 - dot / (vn.sqrt() * q_norm)
            }
        })
        .collect();
    Ok(Arc::new(Float64Array::from(dist)))
}

fn norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt()
}

/// The reciprocal rank fusion of two rankings among `candidates` (node ids that some match
/// binds): each ranks the candidates that it scores (bm25 above 0, nearest with a vector),
/// best first, ties by key; a node's score is the sum of 1 / (k + rank) over the rankings
/// that rank it.
pub fn fuse(f: &Fusion, candidates: &[bool], node: &NodeData) -> ArrayRef {
    let mut fused = vec![0.0f64; candidates.len()];
    for (ranking, higher_is_better) in &f.rankings {
        let higher_is_better = *higher_is_better;
        let Some(values) = ranking.as_any().downcast_ref::<Float64Array>() else {
            continue;
        };
        let mut ranked: Vec<(u32, f64)> = (0..candidates.len())
            .filter(|id| candidates[*id])
            .filter_map(|id| {
                let v = values.value(id);
                let ranks = if higher_is_better {
                    v > 0.0
                } else {
                    v.is_finite()
                };
                ranks.then_some((id as u32, v))
            })
            .collect();
        ranked.sort_by(|a, b| {
            let by_value = if higher_is_better {
                b.1.total_cmp(&a.1)
            } else {
                a.1.total_cmp(&b.1)
            };
            by_value.then_with(|| node.rank(a.0).cmp(&node.rank(b.0)))
        });
        for (rank, (id, _)) in ranked.into_iter().enumerate() {
            fused[id as usize] += 1.0 / (f64::from(f.k) + rank as f64 + 1.0);
        }
    }
    Arc::new(Float64Array::from(fused))
}
